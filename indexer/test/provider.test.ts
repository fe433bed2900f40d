/**
 * The indexer through a provider like a public testnet's (scripts/lib/providerProxy.ts): eth_getLogs capped below
 * Ponder's first guess, a rate limit, one request in ten dropped, and 1,500 empty blocks between the scenario's
 * events and the head. Backfill and realtime sync must find every event the chain holds. Prints one JSON line with
 * what the proxy counted.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { toHex } from "viem";
import { rpc } from "../../scripts/lib/localChain.ts";
import { startProviderProxy, type ProviderProxy } from "../../scripts/lib/providerProxy.ts";
import { graphqlQuery, startDeployedChain, startIndexer, waitForBlock, type DeployedChain } from "./harness.ts";
import { runScenario } from "./scenario.ts";
import { contributeMany } from "./workload.ts";

const PORTS = { chain: 18_660, indexer: 18_661 };
const MAX_LOG_BLOCK_RANGE = 250;

let chain: DeployedChain;
let proxy: ProviderProxy;
const cleanups: (() => Promise<unknown>)[] = [];

before(async () => {
  chain = await startDeployedChain(PORTS.chain);
  cleanups.push(() => chain.stop());
  const contentDir = await mkdtemp(path.join(tmpdir(), "openpoa-content-"));
  cleanups.push(() => rm(contentDir, { recursive: true, force: true }));
  await runScenario(chain.chain.url, chain.deployment, contentDir);
  await rpc(chain.chain.url, "hardhat_mine", [toHex(1_500)]);
  // The blocks hardhat_mine reserves report a zero parentHash, which Ponder's realtime sync (from 30 blocks below
  // the head) takes for a reorg beyond its finalized block: the last blocks are mined one by one.
  for (let i = 0; i < 40; i++) await rpc(chain.chain.url, "evm_mine");
  proxy = await startProviderProxy({
    upstream: chain.chain.url,
    seed: 21,
    stateWindowBlocks: 128,
    maxLogBlockRange: MAX_LOG_BLOCK_RANGE,
    maxLogResults: 200,
    maxRequestsPerSecond: 20,
    dropRate: 0.1,
  });
  cleanups.push(() => proxy.close());
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

test(
  "test_indexer_backfillsAndFollowsTheChainThroughAProviderThatCapsRateLimitsAndDrops",
  { timeout: 300_000 },
  async () => {
    const indexer = await startIndexer(
      {
        port: PORTS.indexer,
        rpcUrl: proxy.urlFor("indexer"),
        deploymentsDir: chain.deploymentsDir,
        // What a public network gets by default: Ponder learns the cap from the provider's refusals.
        env: { OPENPOA_INDEXER_LOG_BLOCK_RANGE: "auto" },
      },
      240_000,
    );
    cleanups.push(() => indexer.stop());
    // Realtime: more events once the backfill is done.
    await contributeMany(chain.chain.url, chain.deployment, 5);
    const lastEventBlock = Number(await rpc<string>(chain.chain.url, "eth_blockNumber"));
    await waitForBlock(indexer, chain.chain.url, lastEventBlock, 120_000);

    // Every log of the suite's contracts, as the node itself has them, is in the events table.
    const head = await rpc<string>(chain.chain.url, "eth_blockNumber");
    const logs = await rpc<{ blockNumber: string; logIndex: string }[]>(chain.chain.url, "eth_getLogs", [
      { fromBlock: "0x0", toBlock: head, address: Object.values(chain.deployment.contracts).map((c) => c.address) },
    ]);
    const { status, body } = await graphqlQuery<{
      events: { totalCount: number; items: { blockNumber: string; logIndex: number }[] };
    }>(indexer.url, "{ events(limit: 1000) { totalCount items { blockNumber logIndex } } }");
    assert.equal(status, 200, JSON.stringify(body.errors));
    assert.equal(body.data!.events.totalCount, logs.length);
    assert.deepEqual(
      body.data!.events.items.map((e) => `${e.blockNumber}-${e.logIndex}`).sort(),
      logs.map((l) => `${Number(l.blockNumber)}-${Number(l.logIndex)}`).sort(),
    );

    const stats = proxy.stats().indexer!;
    console.log(JSON.stringify({ test: "indexer through a public provider", proxy: proxy.stats() }));
    assert.ok((stats.refused.logBlockRange ?? 0) >= 1, "Ponder met the cap, and learnt it from the refusal");
    assert.equal(stats.refused.stateTooOld, undefined, "the indexer reads no historical state");
  },
);
