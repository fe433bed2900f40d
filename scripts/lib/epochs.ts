/**
 * Reward epochs from public data: the settlements' DataShareAllocated events in the epoch's block range, the
 * datanet versions rebuilt from events, the previous distribution file, and attribution records from the content
 * store. `openpoa epoch run` aggregates and proposes; `openpoa epoch verify` recomputes and compares.
 */
import { readFile } from "node:fs/promises";
import type { Hex } from "viem";
import {
  ContentNotFoundError,
  getAttributionRecord,
  type AdapterSettlement,
  type AttributionRecord,
  type ContentStore,
  type DatanetVersion,
  type DistributionFile,
  type EpochBlocks,
  type EpochInputs,
  type UsageReceipt,
} from "../../attribution/src/index.ts";
import { ConfigurationError, type Suite } from "./contracts.ts";
import { readDatanetVersion, registryLocation } from "./datanetVersions.ts";
import { loadDistribution, readEpochRoot } from "./rewards.ts";
import { read } from "./transactions.ts";

type Allocated = { adapterId: bigint; datanetId: bigint; version: bigint; amount: bigint };
type LineageEntry = { datanetId: bigint; version: bigint; weightBps: number };

/** The distribution file of epoch `epoch - 1` (none for the first epoch). */
export async function previousDistribution(suite: Suite, store: ContentStore, epoch: bigint) {
  if (epoch <= 1n) return undefined;
  const root = await readEpochRoot(suite, epoch - 1n);
  if (root.revoked) throw new ConfigurationError(`Epoch ${epoch - 1n} was revoked: propose it again first`);
  return loadDistribution(store, root);
}

/** Where epoch `epoch` starts: after the previous epoch's last block, or at the payments contract's deployment. */
export function epochStartBlock(suite: Suite, previous: DistributionFile | undefined): bigint {
  return previous ? previous.blocks.toBlock + 1n : BigInt(suite.deployment.contracts.InferencePayments!.startBlock);
}

/** Every adapter's data share funded in `blocks`, per lineage entry in registry order (the split's order). */
async function readSettlements(suite: Suite, blocks: EpochBlocks): Promise<AdapterSettlement[]> {
  const logs = await suite.publicClient.getContractEvents({
    address: suite.address("InferencePayments"),
    abi: suite.abi("InferencePayments"),
    eventName: "DataShareAllocated",
    fromBlock: blocks.fromBlock,
    toBlock: blocks.toBlock,
  });
  const byAdapter = new Map<bigint, Allocated[]>();
  for (const log of logs) {
    const allocated = (log as unknown as { args: Allocated }).args;
    byAdapter.set(allocated.adapterId, [...(byAdapter.get(allocated.adapterId) ?? []), allocated]);
  }
  const settlements: AdapterSettlement[] = [];
  for (const [adapterId, allocations] of byAdapter) {
    const lineage = await read<LineageEntry[]>(suite, {
      contract: "ModelRegistry",
      functionName: "getLineage",
      args: [adapterId],
    });
    settlements.push({
      adapterId,
      lineage: lineage.map(({ datanetId, version, weightBps }) => ({
        datanetId,
        version,
        weightBps: Number(weightBps),
        amount: allocations
          .filter((a) => a.datanetId === datanetId && a.version === version)
          .reduce((sum, a) => sum + a.amount, 0n),
      })),
    });
  }
  return settlements;
}

/** The datanet versions that the settlements name, rebuilt from DatanetRegistry events. */
async function readDatanetVersions(suite: Suite, settlements: AdapterSettlement[]): Promise<DatanetVersion[]> {
  const keys = new Map<string, { datanetId: bigint; version: bigint }>();
  for (const { lineage } of settlements) {
    for (const { datanetId, version } of lineage) keys.set(`${datanetId}:${version}`, { datanetId, version });
  }
  const location = registryLocation(suite);
  return Promise.all([...keys.values()].map((key) => readDatanetVersion(suite.publicClient, { ...location, ...key })));
}

/** Published records for the receipts' attribution hashes; an unpublished one is simply absent. */
async function readRecords(store: ContentStore, receipts: readonly UsageReceipt[]): Promise<AttributionRecord[]> {
  const records: AttributionRecord[] = [];
  const zero = `0x${"0".repeat(64)}`;
  for (const hash of new Set(receipts.map((r) => r.attributionHash.toLowerCase()))) {
    if (hash === zero) continue;
    try {
      records.push(await getAttributionRecord(store, { attributionHash: hash as Hex }));
    } catch (error) {
      if (!(error instanceof ContentNotFoundError)) throw error;
    }
  }
  return records;
}

/** Receipts exported by a gateway: a JSON array of { receiptId, adapterId, amount, attributionHash }. */
export async function readReceiptsFile(path: string): Promise<UsageReceipt[]> {
  const raw = JSON.parse(await readFile(path, "utf8")) as {
    receiptId: string;
    adapterId: string;
    amount: string;
    attributionHash: Hex;
  }[];
  return raw.map((r) => ({
    receiptId: BigInt(r.receiptId),
    adapterId: BigInt(r.adapterId),
    amount: BigInt(r.amount),
    attributionHash: r.attributionHash,
  }));
}

/** Everything aggregateEpoch / verifyEpoch need for `epoch`, read from public data. */
export async function readEpochInputs(
  suite: Suite,
  store: ContentStore,
  { epoch, blocks, receipts }: { epoch: bigint; blocks: EpochBlocks; receipts: readonly UsageReceipt[] },
): Promise<EpochInputs> {
  const previous = await previousDistribution(suite, store, epoch);
  const settlements = await readSettlements(suite, blocks);
  return {
    epoch,
    blocks,
    settlements,
    receipts,
    records: await readRecords(store, receipts),
    datanets: await readDatanetVersions(suite, settlements),
    previous: previous?.leaves ?? [],
  };
}
