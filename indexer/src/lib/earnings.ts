/**
 * Per-contribution earnings from the distribution files. When a root is proposed, the epoch's file is read from the
 * content store by the root's contentHash and, when it is the file the root commits to (checkDistributionFile) and
 * its allocations make up its leaves (allocationsIssue), its allocations become `earning` rows and its receipts
 * `epoch_receipt` rows. A revoked root's rows are deleted.
 *
 * A file that cannot be read must not stop the indexer: a handler that throws stops Ponder, and after a restart it
 * fails on the same event again, so nothing else (settlements, claims, governance) would be indexed either. Such an
 * epoch is recorded `unavailable` instead, and a block handler tries again once its wait is over: the wait starts at
 * a minute of chain time and doubles after each failure, up to 64 minutes. Every write
 * goes through context.db, so a reorg rolls it back and a re-run writes it again; what a re-run cannot promise is the
 * store's answer, so a fresh index ends with the same rows once the files can be read, after other attempt counts.
 */
import { distributionRetry, earning, epochDistribution, epochReceipt, rewardRoot } from "ponder:schema";
import {
  allocationsIssue,
  checkDistributionFile,
  createDirectoryContentStore,
  createHttpContentStore,
  getContent,
  type ContentStore,
  type DistributionFile,
} from "../../../attribution/src/index.ts";
import type { Context } from "./register.ts";

type Hex = `0x${string}`;
/** What the chain says of an epoch's root: what its file must match. */
export type ProposedRoot = { epoch: bigint; root: Hex; contentHash: Hex; policyId: bigint };

/** The first wait (chain time) before an unavailable file is read again; it doubles after each failure, 6 times. */
const retrySeconds = 60n;
const maxRetryDoublings = 6;
/** A store that does not answer costs at most this per attempt (one attempt per block). */
const storeTimeoutMs = 10_000;

/** The content store distribution files are read from (OPENPOA_CONTENT_DIR, else OPENPOA_CONTENT_URL), if any. */
export function distributionStore(): ContentStore | null {
  if (process.env.OPENPOA_CONTENT_DIR) return createDirectoryContentStore({ dir: process.env.OPENPOA_CONTENT_DIR });
  if (process.env.OPENPOA_CONTENT_URL) {
    return createHttpContentStore({ baseUrl: process.env.OPENPOA_CONTENT_URL, timeoutMs: storeTimeoutMs });
  }
  return null;
}

type Outcome =
  | { status: "verified"; file: DistributionFile }
  | { status: "unavailable"; reason: string }
  | { status: "invalid"; reason: string };

/** Reading may fail for now (unavailable); bytes that hash right and do not check never will (invalid). */
async function readDistribution(root: ProposedRoot): Promise<Outcome> {
  const store = distributionStore();
  if (!store)
    return { status: "unavailable", reason: "no content store: set OPENPOA_CONTENT_DIR or OPENPOA_CONTENT_URL" };
  let bytes: Uint8Array;
  try {
    bytes = await getContent(store, { contentHash: root.contentHash });
  } catch (error) {
    return { status: "unavailable", reason: (error as Error).message.split("\n")[0]! };
  }
  try {
    const { file } = checkDistributionFile(new TextDecoder().decode(bytes), root);
    const issue = allocationsIssue(file);
    return issue === null ? { status: "verified", file } : { status: "invalid", reason: issue };
  } catch (error) {
    return { status: "invalid", reason: (error as Error).message };
  }
}

/**
 * Reads `root`'s distribution file (attempt number `attempts`, at chain time `now`) and records the outcome: the
 * file's rows when it verifies, else why not and, when it may yet be read, when to try again.
 */
export async function indexDistribution(
  context: Context,
  root: ProposedRoot,
  { now, attempts }: { now: bigint; attempts: number },
): Promise<void> {
  const outcome = await readDistribution(root);
  const { epoch } = root;
  let counts = { allocationCount: 0, receiptCount: 0, amount: 0n };
  if (outcome.status === "verified") {
    const { file } = outcome;
    const allocations = file.allocations.map((a, index) => ({
      epoch,
      index,
      account: a.contributor.toLowerCase() as Hex,
      contributionId: a.contributionId,
      datanetId: a.datanetId,
      version: a.version,
      adapterId: a.adapterId,
      amount: a.amount,
      policyId: file.policyId,
    }));
    const receipts = file.receipts.map((r, index) => ({ epoch, index, ...r }));
    if (allocations.length > 0) await context.db.insert(earning).values(allocations);
    if (receipts.length > 0) await context.db.insert(epochReceipt).values(receipts);
    counts = {
      allocationCount: allocations.length,
      receiptCount: receipts.length,
      amount: allocations.reduce((sum, a) => sum + a.amount, 0n),
    };
  }
  const wait = retrySeconds << BigInt(Math.min(attempts - 1, maxRetryDoublings));
  const row = {
    contentHash: root.contentHash,
    status: outcome.status,
    reason: outcome.status === "verified" ? null : outcome.reason,
    ...counts,
    attempts,
    nextAttemptAt: outcome.status === "unavailable" ? now + wait : null,
  };
  await context.db
    .insert(epochDistribution)
    .values({ epoch, ...row })
    .onConflictDoUpdate(row);
  await setPending(context, epoch, outcome.status === "unavailable");
}

/** Deletes a revoked epoch's rows (found by their count: keys are (epoch, 0..count-1)) and stops its retries. */
export async function revokeDistribution(context: Context, epoch: bigint): Promise<void> {
  const row = await context.db.find(epochDistribution, { epoch });
  if (!row) return;
  for (let index = 0; index < row.allocationCount; index++) await context.db.delete(earning, { epoch, index });
  for (let index = 0; index < row.receiptCount; index++) await context.db.delete(epochReceipt, { epoch, index });
  await context.db.update(epochDistribution, { epoch }).set({
    status: "revoked",
    reason: null,
    allocationCount: 0,
    receiptCount: 0,
    amount: 0n,
    nextAttemptAt: null,
  });
  await setPending(context, epoch, false);
}

/**
 * One new block: tries again the oldest unavailable file whose wait is over. One read per block at most, so a store
 * that is down costs one timeout per block however many epochs wait on it.
 */
export async function retryDistributions(context: Context, now: bigint): Promise<void> {
  const pending = await context.db.find(distributionRetry, { id: 1 });
  for (const epoch of (pending?.epochs ?? []) as bigint[]) {
    const row = await context.db.find(epochDistribution, { epoch });
    if (row.nextAttemptAt > now) continue;
    const root = await context.db.find(rewardRoot, { epoch });
    await indexDistribution(context, root, { now, attempts: row.attempts + 1 });
    return;
  }
}

async function setPending(context: Context, epoch: bigint, pending: boolean): Promise<void> {
  const row = await context.db.find(distributionRetry, { id: 1 });
  const others = ((row?.epochs ?? []) as bigint[]).filter((e) => e !== epoch);
  const epochs = pending ? [...others, epoch].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) : others;
  if (!row && epochs.length === 0) return;
  await context.db.insert(distributionRetry).values({ id: 1, epochs }).onConflictDoUpdate({ epochs });
}
