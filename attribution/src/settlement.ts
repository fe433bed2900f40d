/**
 * Mirror of the settlement contract's data-share split: an adapter's data
 * amount is divided among its lineage datanet versions by weightBps with
 * integer division, and the remainder goes to the LAST lineage entry (in
 * registry order, which is why the input order is kept).
 */
import { assertLineage, bpsTotal, type LineageEntry } from "./attribute.ts";
import { InvalidEpochInputError } from "./errors.ts";

export type LineageAmount = LineageEntry & { amount: bigint };

/** What one adapter's settlements funded to AttributionRewards in an epoch, per lineage datanet version. */
export type AdapterSettlement = { adapterId: bigint; lineage: readonly LineageAmount[] };

export function splitDataShare({
  amount,
  lineage,
}: {
  amount: bigint;
  lineage: readonly LineageEntry[];
}): LineageAmount[] {
  assertLineage(lineage);
  if (amount < 0n) throw new InvalidEpochInputError({ reason: `negative data amount ${amount}` });
  let assigned = 0n;
  return lineage.map((entry, k) => {
    const share = k === lineage.length - 1 ? amount - assigned : (amount * BigInt(entry.weightBps)) / BigInt(bpsTotal);
    assigned += share;
    return { ...entry, amount: share };
  });
}
