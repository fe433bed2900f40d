import assert from "node:assert/strict";
import { test } from "node:test";
import { createPublicClient, custom, HttpRequestError, pad, toHex, type Log } from "viem";
import { createRandom } from "../../attribution/src/testing.ts";
import { getLogsInChunks, LogQueryError, type BlockRange } from "./logs.ts";

type Filter = { fromBlock: string; toBlock: string };
type Refusal = { code: number; message: string };

/**
 * A provider over a chain whose head is `head`, with one log every `every` blocks: it refuses ranges wider than
 * `maxBlocks` or answers with more than `maxResults` logs (with `refusal`'s words), and drops requests as `drop`
 * says. Records the ranges it was asked for.
 */
function fakeProvider({
  head = 5_000n,
  every = 7n,
  maxBlocks = Infinity,
  maxResults = Infinity,
  refusal = (): Refusal => ({ code: -32000, message: "refused" }),
  drop = () => false,
}: {
  head?: bigint;
  every?: bigint;
  maxBlocks?: number;
  maxResults?: number;
  refusal?: (filter: Filter) => Refusal;
  drop?: () => boolean;
}) {
  const asked: BlockRange[] = [];
  const client = createPublicClient({
    transport: custom(
      {
        async request({ method, params }: { method: string; params: unknown[] }) {
          if (method === "eth_blockNumber") return toHex(head);
          if (method !== "eth_getLogs") throw new Error(`unexpected ${method}`);
          if (drop()) throw new HttpRequestError({ url: "fake", status: 503 });
          const filter = params[0] as Filter;
          const [from, to] = [BigInt(filter.fromBlock), BigInt(filter.toBlock)];
          asked.push({ fromBlock: from, toBlock: to });
          const logs = [];
          for (let block = from + ((every - (from % every)) % every); block <= to; block += every)
            logs.push(logAt(block));
          if (Number(to - from + 1n) > maxBlocks || logs.length > maxResults) throw refusal(filter);
          return logs;
        },
      },
      { retryCount: 0 },
    ),
  });
  return { client, asked };
}
const logAt = (block: bigint) => ({
  address: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
  topics: [pad("0x01")],
  data: "0x",
  blockNumber: toHex(block),
  blockHash: pad(toHex(block)),
  transactionHash: pad(toHex(block), { size: 32 }),
  transactionIndex: "0x0",
  logIndex: "0x0",
  removed: false,
});
const blocksOf = (logs: Log[]) => logs.map((log) => log.blockNumber!);
const expected = (from: bigint, to: bigint, every = 7n) => {
  const blocks = [];
  for (let b = from; b <= to; b++) if (b % every === 0n) blocks.push(b);
  return blocks;
};
const fast = { retryDelayMs: 1, random: createRandom(3).next };

test("test_getLogsInChunks_splitsRangesAtTheProviderCap", async () => {
  const { client, asked } = fakeProvider({ maxBlocks: 1000 });
  const logs = await getLogsInChunks(client, {
    fromBlock: 10n,
    read: (range) => client.getLogs(range),
    ...fast,
  });
  assert.deepEqual(blocksOf(logs), expected(10n, 5_000n));
  assert.deepEqual(
    asked.map((r) => [r.fromBlock, r.toBlock]),
    [
      [10n, 1009n],
      [1010n, 2009n],
      [2010n, 3009n],
      [3010n, 4009n],
      [4010n, 5000n],
    ],
  );
});

test("test_getLogsInChunks_halvesOnRefusalsWhateverTheProvidersWording", async () => {
  // Real providers' answers to a query over too many blocks or with too many results.
  const refusals: Record<string, (filter: Filter) => Refusal> = {
    alchemy: ({ fromBlock }) => ({
      code: -32602,
      message: `Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on the response size, or you can request any block range with a cap of 10K logs in the response. Based on your parameters, this block range should work: [${fromBlock}, 0x1f3]`,
    }),
    infura: () => ({ code: -32005, message: "query returned more than 10000 results" }),
    quicknode: () => ({ code: -32614, message: "eth_getLogs is limited to a 10,000 range" }),
    publicnode: () => ({ code: -32000, message: "exceed maximum block range: 300" }),
  };
  for (const [provider, refusal] of Object.entries(refusals)) {
    const { client, asked } = fakeProvider({ maxBlocks: 300, maxResults: 30, refusal });
    const logs = await getLogsInChunks(client, {
      fromBlock: 0n,
      toBlock: 4_321n,
      maxBlockRange: 4_000n,
      read: (range) => client.getLogs(range),
      ...fast,
    });
    assert.deepEqual(blocksOf(logs), expected(0n, 4_321n), provider);
    // 4000 → 2000 → 1000 → 500 → 250 blocks, then 250 at a time.
    assert.deepEqual(
      asked.slice(0, 5).map((r) => r.toBlock - r.fromBlock + 1n),
      [4000n, 2000n, 1000n, 500n, 250n],
      provider,
    );
    assert.ok(
      asked.slice(5).every((r) => r.toBlock - r.fromBlock + 1n <= 250n),
      provider,
    );
  }
});

test("test_getLogsInChunks_retriesTransientErrorsInPlaceAndKeepsOrder", async () => {
  const random = createRandom(11);
  const { client, asked } = fakeProvider({ maxBlocks: 1000, drop: () => random.next() < 0.3 });
  const logs = await getLogsInChunks(client, {
    fromBlock: 1n,
    read: (range) => client.getLogs(range),
    retryCount: 10,
    ...fast,
  });
  assert.deepEqual(blocksOf(logs), expected(1n, 5_000n));
  assert.equal(asked.length, 5, "a dropped request is asked again with the same range, never halved");
});

test("test_getLogsInChunks_failsWithTheCauseWhenOneBlockIsRefusedOrDropsPersist", async () => {
  const refused = fakeProvider({ maxResults: 0, refusal: () => ({ code: -32602, message: "invalid topic" }) });
  const error = await getLogsInChunks(refused.client, {
    fromBlock: 0n,
    toBlock: 20n,
    read: (range) => refused.client.getLogs(range),
    ...fast,
  }).catch((e: unknown) => e);
  assert.ok(error instanceof LogQueryError);
  assert.deepEqual(error.range, { fromBlock: 0n, toBlock: 0n });
  assert.match(String((error.cause as Error).message), /invalid topic/);

  const down = fakeProvider({ drop: () => true });
  const gaveUp = await getLogsInChunks(down.client, {
    fromBlock: 0n,
    read: (range) => down.client.getLogs(range),
    retryCount: 2,
    ...fast,
  }).catch((e: unknown) => e);
  assert.ok(gaveUp instanceof LogQueryError);
  assert.ok(gaveUp.cause instanceof HttpRequestError);
});
