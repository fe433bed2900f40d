/**
 * What the Earnings pages read: the indexer's earnings REST (a page at a time, by its cursor) and rewards answer, and
 * the chain state a claim is checked against.
 */
import { useEffect, useMemo, useState } from "react";
import type { Abi, Address } from "viem";
import type { Config } from "wagmi";
import { getBlock, readContract } from "wagmi/actions";
import { useIndexerJson, type Pager } from "../../data.ts";
import type { ChainRoot, ClaimChainState, RewardsAnswer } from "../../lib/rewards.ts";

/** One row of GET /accounts/:account/earnings or /contributions/:id/earnings. */
export type EarningRow = {
  epoch: string;
  index: number;
  account: Address;
  contributionId: string;
  datanetId: string;
  version: string;
  adapterId: string;
  amount: string;
  policyId: string;
};

export type EarningsAnswer = {
  epoch: string | null;
  totalAmount: string;
  count: number;
  items: EarningRow[];
  nextCursor: string | null;
  /** Epochs whose distribution file the indexer could not verify: their earnings are not counted. */
  missingEpochs: { epoch: string; status: string; reason: string | null }[];
};

/**
 * A page of an earnings list (`path`, e.g. `/accounts/0x…/earnings?epoch=2`), walked by the indexer's cursor: the
 * cursors of the pages already seen are kept, so Previous goes back without the API reading backwards.
 */
export function useEarningsPage(path: string, limit: number) {
  const [at, setAt] = useState<{ path: string; cursors: string[] }>({ path, cursors: [] });
  const cursors = at.path === path ? at.cursors : [];
  useEffect(() => {
    if (at.path !== path) setAt({ path, cursors: [] });
  }, [at.path, path]);
  const cursor = cursors[cursors.length - 1];
  const separator = path.includes("?") ? "&" : "?";
  const query = useIndexerJson<EarningsAnswer>(
    `${path}${separator}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
  );
  const page = query.data;
  const pager: Pager = useMemo(
    () => ({
      index: cursors.length,
      pageSize: limit,
      total: page?.count,
      hasNext: Boolean(page?.nextCursor),
      hasPrevious: cursors.length > 0,
      next: () => page?.nextCursor && setAt({ path, cursors: [...cursors, page.nextCursor] }),
      previous: () => setAt({ path, cursors: cursors.slice(0, -1) }),
    }),
    [cursors, limit, page, path],
  );
  return { page, pager, query };
}

/** GET /rewards/:account, against the newest claimable root or `epoch`. */
export const useRewards = (account: Address | undefined, epoch?: bigint) =>
  useIndexerJson<RewardsAnswer>(
    account === undefined ? undefined : `/rewards/${account}${epoch === undefined ? "" : `?epoch=${epoch}`}`,
  );

/** What the chain says about the claim `answer` describes: the roots it involves, the index's last claim, the time. */
export async function readClaimChainState(
  wagmi: Config,
  rewards: { address: Address; abi: Abi },
  answer: RewardsAnswer,
): Promise<ClaimChainState> {
  // wagmi's actions, not a whole public client: the page's chunk then carries only the reads it makes.
  const rootOf = (epoch: bigint) =>
    readContract(wagmi, { ...rewards, functionName: "getEpochRoot", args: [epoch] }) as Promise<ChainRoot>;
  const [root, lastClaimedEpoch, block] = await Promise.all([
    rootOf(BigInt(answer.epoch ?? 0)),
    answer.index === null
      ? 0n
      : (readContract(wagmi, {
          ...rewards,
          functionName: "lastClaimedEpoch",
          args: [BigInt(answer.index)],
        }) as Promise<bigint>),
    getBlock(wagmi, { blockTag: "latest" }),
  ]);
  const previousRoot = lastClaimedEpoch > 0n ? await rootOf(lastClaimedEpoch) : undefined;
  return { root, previousRoot, lastClaimedEpoch, now: block.timestamp };
}
