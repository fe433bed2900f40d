/**
 * Event reads over a block range that survive a public provider: it caps eth_getLogs by blocks (1,000 to 10,000)
 * or by results (10,000), each with its own words and codes, and drops requests now and then.
 */
import type { Abi, Address, Log, PublicClient } from "viem";
import { backoffDelay, isTransientRpcError } from "./rpc.ts";

/** Browser-safe (apps discover operators with it; the Studio reads datanet events). */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export type BlockRange = { fromBlock: bigint; toBlock: bigint };
/** A log decoded against its contract's ABI, as getContractEvents returns it. */
export type DecodedLog = Log<bigint, number, false> & { eventName: string; args: unknown };

/** Blocks per eth_getLogs unless told otherwise: the smallest cap common among providers. */
export const defaultMaxLogBlockRange = 1000n;

export type ChunkOptions = {
  /** The widest range asked for at once. */
  maxBlockRange?: bigint;
  /** Transient failures of one chunk tolerated in a row (the transport has retried each already). */
  retryCount?: number;
  retryDelayMs?: number;
  random?: () => number;
};

export class LogQueryError extends Error {
  readonly range: BlockRange;
  constructor(message: string, range: BlockRange, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LogQueryError";
    this.range = range;
  }
}

/**
 * Every log that `read` finds in [fromBlock, toBlock] (toBlock: the head), in block order, asking for at most
 * `maxBlockRange` blocks at a time. A refusal (a range too wide, too many results: whatever the provider's words)
 * halves the chunk, which stays halved for the rest of the range; a transient error asks again after a backoff;
 * a single block refused is an error.
 */
export async function getLogsInChunks<log>(
  client: PublicClient,
  {
    fromBlock,
    toBlock,
    read,
    maxBlockRange = defaultMaxLogBlockRange,
    retryCount = 3,
    retryDelayMs = 500,
    random = Math.random,
  }: ChunkOptions & { fromBlock: bigint; toBlock?: bigint; read: (range: BlockRange) => Promise<log[]> },
): Promise<log[]> {
  const last = toBlock ?? (await client.getBlockNumber({ cacheTime: 0 }));
  const logs: log[] = [];
  let size = maxBlockRange;
  let failures = 0;
  for (let from = fromBlock; from <= last;) {
    const range = { fromBlock: from, toBlock: from + size - 1n < last ? from + size - 1n : last };
    try {
      logs.push(...(await read(range)));
      from = range.toBlock + 1n;
      failures = 0;
    } catch (error) {
      const blocks = range.toBlock - range.fromBlock + 1n;
      const transient = isTransientRpcError(error);
      if (transient && failures < retryCount) {
        await sleep(backoffDelay({ attempt: failures++, retryDelayMs, maxRetryDelayMs: 30_000, random }));
      } else if (!transient && blocks > 1n) {
        size = blocks / 2n;
      } else {
        throw new LogQueryError(
          `eth_getLogs failed for blocks ${range.fromBlock}..${range.toBlock}: ${(error as Error).message}`,
          range,
          { cause: error },
        );
      }
    }
  }
  return logs;
}

/** getContractEvents over [fromBlock, toBlock] in chunks (getLogsInChunks). */
export function getContractEventsInChunks(
  client: PublicClient,
  {
    address,
    abi,
    eventName,
    args,
    ...range
  }: ChunkOptions & {
    address: Address;
    abi: Abi;
    eventName?: string;
    args?: Record<string, unknown>;
    fromBlock: bigint;
    toBlock?: bigint;
  },
): Promise<DecodedLog[]> {
  return getLogsInChunks(client, {
    ...range,
    read: async (blocks) =>
      (await client.getContractEvents({ address, abi, eventName, args, ...blocks })) as unknown as DecodedLog[],
  });
}
