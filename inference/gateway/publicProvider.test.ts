/**
 * The gateway and the CLI's epoch path through a provider like a public testnet's (scripts/lib/providerProxy.ts):
 * state older than 128 blocks pruned, eth_getLogs capped at 1,000 blocks, a rate limit, and one request in ten
 * dropped (some after the node got them). The chain holds thousands of blocks between the deployment and the head.
 * Each test prints one JSON line with what the proxy counted per component.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { createPublicClient, createWalletClient, defineChain, toHex, zeroHash, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  createDirectoryContentStore,
  datanetVersionTree,
  getAttributionRecord,
  putContent,
  type ContentStore,
} from "../../attribution/src/index.ts";
import { connectSuite } from "../../scripts/lib/contracts.ts";
import { readAcceptedContributions, registryLocation } from "../../scripts/lib/datanetVersions.ts";
import { attributionPolicyOfEpoch, readEpochInputs } from "../../scripts/lib/epochs.ts";
import { rpc } from "../../scripts/lib/localChain.ts";
import { startProviderProxy, type ProviderProxy } from "../../scripts/lib/providerProxy.ts";
import { rpcTransport } from "../../scripts/lib/rpc.ts";
import { abiOf } from "../sdk/abis.ts";
import { checkpoint, fetchPrices, openChannel, Payer, usageBatchFileName } from "../sdk/index.ts";
import { startGateway, type RunningGateway } from "./index.ts";
import {
  adapterParams,
  adapterUri,
  generatedModel,
  keys,
  OPEN,
  startTestChain,
  testGatewayConfig,
  type TestChain,
} from "./testSupport.ts";

const TEXT = "The lighthouse keeper logged every ship that passed the northern reef, and the tides that brought them.";
const HISTORY_BLOCKS = 1_500;

describe("gateway and epochs through a public provider's RPC", () => {
  const model = generatedModel();
  let tc: TestChain;
  let proxy: ProviderProxy;
  let gateway: RunningGateway;
  let dir: string;
  let store: ContentStore;
  let channelId: bigint;
  let payer: Payer;
  const savedEnv = { url: process.env.OPENPOA_RPC_URL, dir: process.env.OPENPOA_DEPLOYMENTS_DIR };
  const report = (test: string) => console.log(JSON.stringify({ test, proxy: proxy.stats() }));
  const head = async () => BigInt(await rpc<string>(tc.chain.url, "eth_blockNumber"));

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "openpoa-provider-"));
    store = createDirectoryContentStore({ dir: path.join(dir, "content") });
    // Adapters 1 and 2 from the fixture; adapter 3 attributes to datanet 4, whose one text is in the store.
    tc = await startTestChain(16_000 + (process.pid % 500), model, model.adapterHashes.slice(0, 2));
    const contentHash = await putContent(store, { content: new TextEncoder().encode(TEXT) });
    const { DatanetRegistry: datanets, ModelRegistry: models } = tc.contracts;
    await tc.send(keys.carol, datanets, "DatanetRegistry", "createDatanet", [
      {
        metadataURI: "ipfs://lighthouse",
        license: "MIT",
        curated: false,
        minStake: 0n,
        treasury: "0x0000000000000000000000000000000000000000",
        curators: [],
      },
    ]);
    await tc.sendRevealing(keys.carol, datanets, "DatanetRegistry", "contribute", contentHash, [
      4n,
      contentHash,
      "ipfs://lighthouse-1",
      BigInt(TEXT.length),
      0n,
    ]);
    const accepted = await readAcceptedContributions(tc.client, { registry: datanets, fromBlock: 0n, datanetId: 4n });
    await tc.send(keys.carol, datanets, "DatanetRegistry", "publishVersion", [4n, datanetVersionTree(accepted).root]);
    const params = {
      ...adapterParams(model.adapterHashes[2]!, adapterUri(model, model.adapterHashes[2]!)),
      lineage: [{ datanetId: 4n, version: 1n, weightBps: 10_000 }],
    };
    await tc.sendRevealing(keys.carol, models, "ModelRegistry", "registerAdapter", params.artifactHash as Hex, [
      params,
    ]);
    // Everything above is more than 1,000 blocks (and far more than 128) below the head.
    await rpc(tc.chain.url, "hardhat_mine", [toHex(HISTORY_BLOCKS)]);

    proxy = await startProviderProxy({
      upstream: tc.chain.url,
      seed: 15,
      stateWindowBlocks: 128,
      maxLogBlockRange: 1_000,
      maxLogResults: 50,
      maxRequestsPerSecond: 15,
      dropRate: 0.1,
    });
    gateway = await startGateway({
      ...testGatewayConfig(tc, dir),
      rpcUrl: proxy.urlFor("gateway"),
      thresholds: { minAmount: 10n ** 30n, maxAgeMs: 1e12 },
      settleIntervalMs: 3_600_000,
      pollIntervalMs: 200,
      attribution: {
        datanetRegistry: datanets,
        datanetRegistryBlock: 0n,
        contentStore: path.join(dir, "content"),
        indexDir: path.join(dir, "indexes"),
      },
    });
  });
  after(async () => {
    await gateway?.close().catch(() => {});
    await proxy?.close();
    await tc?.stop();
    process.env.OPENPOA_RPC_URL = savedEnv.url;
    process.env.OPENPOA_DEPLOYMENTS_DIR = savedEnv.dir;
    if (savedEnv.url === undefined) delete process.env.OPENPOA_RPC_URL;
    if (savedEnv.dir === undefined) delete process.env.OPENPOA_DEPLOYMENTS_DIR;
    rmSync(dir, { recursive: true, force: true });
  });

  it("test_gateway_servesSettlesAndPublishesThroughAProviderThatPrunesCapsAndDrops", async () => {
    // The payer's own writes go through the provider too (SDK openChannel: approve, then open).
    const viemChain = defineChain({
      id: 31337,
      name: "hardhat",
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: [proxy.urlFor("payer")] } },
    });
    const transport = rpcTransport(proxy.urlFor("payer"));
    const payerClient = createPublicClient({ chain: viemChain, transport, pollingInterval: 50 });
    const payerWallet = createWalletClient({ account: privateKeyToAccount(keys.alice), chain: viemChain, transport });
    channelId = await openChannel(payerWallet, payerClient, {
      payments: tc.contracts.InferencePayments,
      token: tc.contracts.OpenToken,
      operator: tc.operator,
      deposit: 100n * OPEN,
    });
    payer = new Payer({
      account: privateKeyToAccount(keys.alice),
      chainId: 31337,
      payments: tc.contracts.InferencePayments,
      channelId,
      operatorSigningKey: tc.operator,
      prices: await fetchPrices(gateway.url),
    });
    const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", fetch: payer.fetch, maxRetries: 0 });
    for (const [i, adapter] of ["3", "0", "3", "3", "0", "3"].entries()) {
      const completion = await openai.completions.create({ model: adapter, prompt: `ship ${i}`, max_tokens: 6 });
      assert.ok(completion.usage!.completion_tokens > 0);
    }
    // Attribution read datanet 4's version from events more than 1,000 blocks back, and published each record.
    const attributed = payer.receipts.filter(({ receipt }) => receipt.adapterId === 3n);
    assert.equal(attributed.length, 4);
    for (const { receipt } of attributed) {
      assert.notEqual(receipt.attributionHash, zeroHash);
      await getAttributionRecord(store, { attributionHash: receipt.attributionHash });
    }

    // The gateway's event poll after a long gap: more blocks than one eth_getLogs may span.
    await rpc(tc.chain.url, "hardhat_mine", [toHex(2_500)]);
    await gateway.chain.poll();

    await checkpoint(payer, gateway.url);
    const operatorNonce = () => rpc<string>(tc.chain.url, "eth_getTransactionCount", [tc.operator, "latest"]);
    const nonceBefore = BigInt(await operatorNonce());
    // The settlement's broadcast reaches the node, but its answer is lost.
    proxy.failNext({ component: "gateway", method: "eth_sendRawTransaction", kind: "resetAfterForward" });
    gateway.settler.options.thresholds.minAmount = 1n;
    await gateway.settler.tick();
    gateway.settler.options.thresholds.minAmount = 10n ** 30n;

    const channel = (await tc.read("InferencePayments", tc.contracts.InferencePayments, "getChannel", [channelId])) as {
      settled: bigint;
      usageRoot: Hex;
    };
    assert.equal(channel.settled, payer.billedTotal);
    assert.equal(BigInt(await operatorNonce()), nonceBefore + 1n, "exactly one settlement transaction");
    const settled = await tc.client.getContractEvents({
      address: tc.contracts.InferencePayments,
      abi: abiOf("InferencePayments"),
      eventName: "ChannelSettled",
      args: { channelId },
      fromBlock: 0n,
    });
    assert.equal(settled.length, 1);
    assert.deepEqual(
      gateway.usageLog.settlements().map((s) => s.status),
      ["confirmed"],
    );
    assert.ok(await store.read(usageBatchFileName(channel.usageRoot)), "the settlement's receipts are published");

    const stats = proxy.stats();
    // Random drops may add to the one scripted: the arrival order, hence which request a draw hits, varies.
    assert.ok(stats.gateway!.methods.eth_sendRawTransaction!.dropped.resetAfterForward! >= 1);
    // The poll over 2,500 blocks asked each contract's events in three chunks at least.
    assert.ok(stats.gateway!.methods.eth_getLogs!.calls >= 6);
    for (const component of ["gateway", "payer"]) {
      assert.equal(stats[component]!.refused.stateTooOld, undefined, `${component} read no pruned state`);
      assert.equal(stats[component]!.refused.logBlockRange, undefined, `${component} asked no range too wide`);
    }
    report("gateway end to end");
  });

  it("test_epochs_readInputsAndAcceptedContributionsOverMoreThanAThousandBlocks", async () => {
    // The CLI's suite (connectSuite) on a deployment whose contracts start at block 0, the head thousands above.
    const deployments = path.join(dir, "deployments");
    await import("node:fs/promises").then((fs) => fs.mkdir(deployments, { recursive: true }));
    const contracts = Object.fromEntries(
      Object.entries(tc.contracts).map(([name, address]) => [name, { address, startBlock: 0 }]),
    );
    writeFileSync(path.join(deployments, "localhost.json"), JSON.stringify({ chainId: 31337, contracts }));
    process.env.OPENPOA_DEPLOYMENTS_DIR = deployments;
    process.env.OPENPOA_RPC_URL = proxy.urlFor("cli");
    const suite = await connectSuite({ network: "localhost" });
    const toBlock = await head();
    assert.ok(toBlock > 4_000n);

    // `datanet publish` reads the accepted contributions it publishes.
    const accepted = await readAcceptedContributions(suite.publicClient, { ...registryLocation(suite), datanetId: 4n });
    assert.deepEqual(
      accepted.map((c) => [c.contributionId, c.weight, c.uri]),
      [[4n, 1n, "ipfs://lighthouse-1"]],
    );

    const inputs = await readEpochInputs(suite, store, {
      epoch: 1n,
      blocks: { fromBlock: 0n, toBlock },
      indexDir: path.join(dir, "epoch-indexes"),
      policy: await attributionPolicyOfEpoch(suite, 1n),
    });
    assert.deepEqual(
      inputs.settlements.map((s) => [s.adapterId, s.lineage.map((l) => [l.datanetId, l.version])]),
      [[3n, [[4n, 1n]]]],
    );
    assert.deepEqual(
      inputs.datanets.map((d) => [d.datanetId, d.version, d.contributions.length]),
      [[4n, 1n, 1]],
    );
    // Every receipt of the settlement, read from the published batch and checked against the chain.
    assert.deepEqual(inputs.unverified, []);
    assert.deepEqual(
      inputs.receipts.map((r) => r.position),
      payer.receipts.map(({ receipt }) => receipt.position),
    );
    assert.equal(inputs.records.length, 4);
    assert.equal(inputs.rejectedRecords.size, 0);

    const cli = proxy.stats().cli!;
    assert.ok(cli.methods.eth_getLogs!.calls >= 5 * 7, "each event read in chunks of at most 1,000 blocks");
    assert.equal(cli.refused.stateTooOld, undefined, "no historical state read");
    assert.equal(cli.refused.logBlockRange, undefined);
    report("epoch inputs and accepted contributions");
  });
});
