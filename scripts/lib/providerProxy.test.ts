import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { HARDHAT_ACCOUNT_0_KEY } from "./contracts.ts";
import { rpc, startLocalChain, type LocalChain } from "./localChain.ts";
import { startProviderProxy, type DropKind, type ProviderProxy } from "./providerProxy.ts";

type Posted = { status: number; retryAfter: string | null; body: unknown } | { reset: true };

/** One raw HTTP request: what came back, or that the connection was reset. */
async function post(url: string, body: unknown): Promise<Posted> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // a 503's plain text
    }
    return { status: response.status, retryAfter: response.headers.get("retry-after"), body: parsed };
  } catch {
    return { reset: true };
  }
}
const call = (method: string, params: unknown[] = [], id = 1) => ({ jsonrpc: "2.0", id, method, params });
const errorOf = (posted: Posted) => (posted as { body: { error?: { code: number; message: string } } }).body.error;

describe("providerProxy against hardhat node", () => {
  let chain: LocalChain;
  let head: bigint;
  const proxies: ProviderProxy[] = [];
  const proxy = async (options: Partial<Parameters<typeof startProviderProxy>[0]> = {}) => {
    const started = await startProviderProxy({ upstream: chain.url, seed: 1, ...options });
    proxies.push(started);
    return started;
  };

  before(async () => {
    chain = await startLocalChain({ port: 17_000 + (process.pid % 400) });
    // Three logs (LOG0 in init code that returns no code), then 300 empty blocks.
    const from = privateKeyToAccount(HARDHAT_ACCOUNT_0_KEY).address;
    for (let i = 0; i < 3; i++) await rpc(chain.url, "eth_sendTransaction", [{ from, data: "0x60006000a000" }]);
    await rpc(chain.url, "hardhat_mine", [toHex(300)]);
    head = BigInt(await rpc<string>(chain.url, "eth_blockNumber"));
  });
  after(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    await chain?.stop();
  });

  it("test_providerProxy_refusesStateOlderThanTheWindowAsAPrunedNodeDoes", async () => {
    const p = await proxy({ stateWindowBlocks: 128 });
    const address = privateKeyToAccount(HARDHAT_ACCOUNT_0_KEY).address;
    const balanceAt = (block: unknown) => post(p.urlFor("reader"), call("eth_getBalance", [address, block]));
    assert.equal(errorOf(await balanceAt(toHex(head - 128n))), undefined);
    assert.equal(errorOf(await balanceAt("latest")), undefined);
    for (const old of [toHex(head - 129n), "earliest", { blockNumber: toHex(1n) }]) {
      const error = errorOf(await balanceAt(old));
      assert.equal(error?.code, -32000);
      assert.match(error!.message, /^missing trie node [0-9a-f]{64} /);
    }
    const blockHash = (await rpc<{ hash: string }>(chain.url, "eth_getBlockByNumber", ["0x1", false])).hash;
    assert.match(errorOf(await balanceAt({ blockHash }))!.message, /missing trie node/);
    const oldCall = await post(p.urlFor("reader"), call("eth_call", [{ to: address, data: "0x" }, "0x1"]));
    assert.match(errorOf(oldCall)!.message, /missing trie node/);
    assert.deepEqual(p.stats().reader!.refused, { stateTooOld: 5 });
    assert.deepEqual(p.stats().reader!.methods.eth_getBalance!.refused, { stateTooOld: 4 });
  });

  it("test_providerProxy_capsLogQueriesByBlockRangeAndByResults", async () => {
    const p = await proxy({ maxLogBlockRange: 100, maxLogResults: 2 });
    const logs = (fromBlock: bigint, toBlock: bigint | string) =>
      post(p.urlFor("indexer"), call("eth_getLogs", [{ fromBlock: toHex(fromBlock), toBlock }]));
    // toBlock − fromBlock up to the cap passes (101 blocks here), as geth forks count.
    assert.deepEqual(errorOf(await logs(head - 101n, toHex(head))), {
      code: -32000,
      message: "exceed maximum block range: 100",
    });
    assert.deepEqual(errorOf(await logs(head - 100n, "latest")), undefined);
    assert.deepEqual(errorOf(await logs(1n, toHex(3n))), {
      code: -32005,
      message: "query returned more than 2 results",
    });
    const two = (await logs(1n, toHex(2n))) as { body: { result: unknown[] } };
    assert.equal(two.body.result.length, 2);
    assert.deepEqual(p.stats().indexer!.refused, { logBlockRange: 1, logResults: 1 });
  });

  it("test_providerProxy_answers429WithAJsonRpcBodyBeyondTheRatePerComponent", async () => {
    let now = 1_000_000;
    const p = await proxy({ maxRequestsPerSecond: 3, retryAfterSeconds: 2, now: () => now });
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await post(p.urlFor("gateway"), call("eth_chainId")));
    assert.deepEqual(
      answers.map((a) => (a as { status: number }).status),
      [200, 200, 200, 429, 429],
    );
    assert.equal((answers[3] as { retryAfter: string }).retryAfter, "2");
    assert.deepEqual(errorOf(answers[3]!), { code: 429, message: "Too Many Requests" });
    // Another component has its own allowance; a second later the first one has its own back.
    assert.equal(((await post(p.urlFor("cli"), call("eth_chainId"))) as { status: number }).status, 200);
    now += 1_000;
    assert.equal(((await post(p.urlFor("gateway"), call("eth_chainId"))) as { status: number }).status, 200);
    const gateway = p.stats().gateway!;
    assert.deepEqual([gateway.calls, gateway.refused, gateway.retries], [6, { rateLimited: 2 }, 2]);
  });

  it("test_providerProxy_dropsTheSameRequestsForTheSameSeed", async () => {
    const outcomes = async (seed: number) => {
      const p = await proxy({ seed, dropRate: 0.3 });
      const seen: string[] = [];
      for (let i = 0; i < 40; i++) {
        const posted = await post(p.urlFor("x"), call("eth_chainId", [], i));
        seen.push("reset" in posted ? "reset" : String(posted.status));
      }
      return { seen, stats: p.stats().x! };
    };
    const first = await outcomes(42);
    const second = await outcomes(42);
    assert.deepEqual(second.seen, first.seen);
    assert.notDeepEqual((await outcomes(43)).seen, first.seen);
    const dropped = Object.values(first.stats.dropped).reduce((a, b) => a + b, 0);
    assert.equal(dropped, first.seen.filter((s) => s !== "200").length);
    assert.ok(dropped >= 4 && dropped <= 24, `${dropped} of 40 dropped`);
    assert.deepEqual(Object.keys(first.stats.dropped).sort(), [
      "http503",
      "resetAfterForward",
      "resetBeforeForward",
    ] satisfies DropKind[]);
    assert.equal(first.seen.filter((s) => s === "503").length, first.stats.dropped.http503);
  });

  it("test_providerProxy_resetAfterForwardingASendStillLandsTheTransaction", async () => {
    const p = await proxy();
    const account = privateKeyToAccount(HARDHAT_ACCOUNT_0_KEY);
    const nonce = Number(await rpc<string>(chain.url, "eth_getTransactionCount", [account.address, "latest"]));
    const serialized = await account.signTransaction({
      chainId: 31337,
      type: "legacy",
      to: account.address,
      value: 1n,
      nonce,
      gas: 21_000n,
      gasPrice: 10n ** 10n,
    });
    p.failNext({ method: "eth_sendRawTransaction", kind: "resetAfterForward" });
    assert.deepEqual(await post(p.urlFor("settler"), call("eth_sendRawTransaction", [serialized])), { reset: true });
    const receipt = await rpc<{ status: string } | null>(chain.url, "eth_getTransactionReceipt", [
      keccak256(serialized),
    ]);
    assert.equal(receipt?.status, "0x1");
    p.failNext({ method: "eth_sendRawTransaction", kind: "resetBeforeForward" });
    const next = await account.signTransaction({
      chainId: 31337,
      type: "legacy",
      to: account.address,
      value: 1n,
      nonce: nonce + 1,
      gas: 21_000n,
      gasPrice: 10n ** 10n,
    });
    assert.deepEqual(await post(p.urlFor("settler"), call("eth_sendRawTransaction", [next])), { reset: true });
    assert.equal(await rpc(chain.url, "eth_getTransactionReceipt", [keccak256(next)]), null);
    assert.deepEqual(p.stats().settler!.dropped, { resetAfterForward: 1, resetBeforeForward: 1 });
  });

  it("test_providerProxy_answersBatchesCallByCallAndCountsPerComponentAndMethod", async () => {
    const p = await proxy({ stateWindowBlocks: 10 });
    const address = privateKeyToAccount(HARDHAT_ACCOUNT_0_KEY).address;
    const batch = [
      call("eth_chainId", [], 1),
      call("eth_getCode", [address, "0x1"], 2),
      call("eth_blockNumber", [], 3),
    ];
    const answered = (await post(p.urlFor("epoch"), batch)) as { body: { id: number; result?: string }[] };
    assert.deepEqual(
      answered.body.map((a) => a.id),
      [1, 2, 3],
    );
    assert.equal(answered.body[0]!.result, "0x7a69");
    assert.match(errorOf({ status: 200, retryAfter: null, body: answered.body[1] })!.message, /missing trie node/);
    assert.equal(answered.body[2]!.result, await rpc(chain.url, "eth_blockNumber"));
    await post(p.urlFor("epoch"), call("eth_getCode", [address, "0x1"]));
    const epoch = p.stats().epoch!;
    assert.deepEqual(
      { calls: epoch.calls, retries: epoch.retries, refused: epoch.refused },
      { calls: 4, retries: 1, refused: { stateTooOld: 2 } },
    );
    assert.deepEqual(epoch.methods.eth_getCode, { calls: 2, retries: 1, refused: { stateTooOld: 2 }, dropped: {} });
    assert.deepEqual(epoch.methods.eth_chainId, { calls: 1, retries: 0, refused: {}, dropped: {} });
  });
});
