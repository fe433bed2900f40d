/**
 * `npm run bench:indexer`: emits ≥ 50,000 events on a local chain through a real contract path (settlements over
 * many adapters: one settle() emits ChannelSettled, one AdapterRevenue and one DataShareAllocated per adapter, and
 * the reward pool's Funded + Transfer), indexes them from scratch with PGlite, then times a GraphQL query: a page of
 * 100 settlements of one adapter ordered by block. Writes bench/results/indexer.json.
 *
 * Environment: BENCH_ADAPTERS (default 192 adapters, settled over channels of at most MAX_VOUCHER_ADAPTERS = 64
 * each), BENCH_EVENTS (default 50,000), BENCH_QUERIES (default 500).
 */
import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Contract, JsonRpcProvider, sha256, toUtf8Bytes, ZeroAddress, type Signer } from "ethers";
import { commitmentOf, newSalt } from "../../scripts/lib/commitments.ts";
import { repoRoot, rpc } from "../../scripts/lib/localChain.ts";
import { abiOf, type ContractName } from "../lib/abis.ts";
import { graphqlQuery, startDeployedChain, startIndexer } from "../test/harness.ts";
import { voucherDomain, voucherTypes } from "../../inference/sdk/index.ts";

const ADAPTERS = Number(process.env.BENCH_ADAPTERS ?? 192);
/** InferencePayments.MAX_VOUCHER_ADAPTERS: what one channel's vouchers may list. */
const ADAPTERS_PER_CHANNEL = 64;
const TARGET_EVENTS = Number(process.env.BENCH_EVENTS ?? 50_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 500);
const OPEN = 10n ** 18n;
const hashOf = (text: string) => sha256(toUtf8Bytes(text));
const log = (message: string) => console.log(`[bench:indexer] ${message}`);

const chain = await startDeployedChain(18700);
const pgliteDir = await mkdtemp(path.join(tmpdir(), "openpoa-bench-pglite-"));
try {
  const { deployment } = chain;
  const provider = new JsonRpcProvider(chain.chain.url, undefined, { staticNetwork: true, cacheTimeout: -1 });
  provider.pollingInterval = 10;
  const [deployer, alice, bob, carol] = (await Promise.all([0, 1, 2, 3].map((i) => provider.getSigner(i)))) as Signer[];
  const at = (name: ContractName, signer: Signer) =>
    new Contract(deployment.contracts[name]!.address, abiOf(name), signer);
  const call = async (contract: Contract, method: string, ...args: unknown[]) =>
    (await (await contract.getFunction(method)(...args)).wait()) as { logs: unknown[] };

  const token = at("OpenToken", deployer!);
  for (const who of [alice!, bob!, carol!]) await call(token, "transfer", await who.getAddress(), 1_000_000n * OPEN);
  const datanets = at("DatanetRegistry", carol!);
  await call(datanets, "createDatanet", {
    metadataURI: "ipfs://bench",
    license: "MIT",
    curated: false,
    minStake: 0n,
    treasury: await carol!.getAddress(),
    curators: [],
  });
  // Registrations reveal a commitment made in an earlier block (ICommitments).
  const carolAddress = (await carol!.getAddress()) as `0x${string}`;
  const committed = async (contract: Contract, hash: string) => {
    const salt = newSalt();
    await call(contract, "commit", commitmentOf(carolAddress, hash as `0x${string}`, salt));
    return salt;
  };
  const contentHash = hashOf("bench-c");
  await call(
    datanets,
    "contribute",
    1n,
    contentHash,
    "ipfs://bench-c",
    100n,
    0n,
    await committed(datanets, contentHash),
  );
  await call(datanets, "publishVersion", 1n, hashOf("bench-root"));
  const models = at("ModelRegistry", carol!);
  const baseHash = hashOf("bench-base");
  await call(
    models,
    "registerBaseModel",
    "bench-base",
    baseHash,
    "ipfs://bench-base",
    await committed(models, baseHash),
  );
  await provider.send("evm_setAutomine", [false]);
  const salts: string[] = [];
  const commits: Promise<unknown>[] = [];
  for (let i = 1; i <= ADAPTERS; i++) {
    salts[i] = newSalt();
    const commitment = commitmentOf(
      carolAddress,
      hashOf(`bench-adapter-${i}`) as `0x${string}`,
      salts[i] as `0x${string}`,
    );
    commits.push((await models.getFunction("commit")(commitment, { gasLimit: 100_000n })).wait());
  }
  await provider.send("evm_mine", []);
  await Promise.all(commits);
  const registered: Promise<unknown>[] = [];
  for (let i = 1; i <= ADAPTERS; i++) {
    const tx = await models.getFunction("registerAdapter")(
      {
        baseModelId: 1n,
        artifactHash: hashOf(`bench-adapter-${i}`),
        uri: `ipfs://bench-adapter-${i}`,
        rank: 8,
        targetModules: 3,
        pricePer1kTokens: 1_000n,
        ownerShareBps: 7_000,
        dataShareBps: 3_000,
        lineage: [{ datanetId: 1n, version: 1n, weightBps: 10_000 }],
      },
      salts[i],
      { gasLimit: 1_000_000n },
    );
    registered.push(tx.wait());
  }
  await provider.send("evm_mine", []);
  await provider.send("evm_setAutomine", [true]);
  await Promise.all(registered);
  await call(at("OpenToken", bob!), "approve", deployment.contracts.NodeRegistry!.address, 2n ** 256n - 1n);
  await call(
    at("NodeRegistry", bob!),
    "register",
    "https://bench.example",
    [1n],
    await bob!.getAddress(),
    10_000n * OPEN,
  );
  await call(at("OpenToken", alice!), "approve", deployment.contracts.InferencePayments!.address, 2n ** 256n - 1n);
  const payments = at("InferencePayments", bob!);
  const channels = Math.ceil(ADAPTERS / ADAPTERS_PER_CHANNEL);
  for (let c = 0; c < channels; c++) {
    await call(at("InferencePayments", alice!), "openChannel", await bob!.getAddress(), 1_000n * OPEN, ZeroAddress);
  }
  log(`setup done: ${ADAPTERS} adapters`);

  const domain = voucherDomain(deployment.chainId, deployment.contracts.InferencePayments!.address as `0x${string}`);
  const types = { Voucher: [...voucherTypes.Voucher] };
  // Channel c + 1 pays adapters 64c + 1 … 64c + 64.
  const adapterIdsOf = (c: number) =>
    Array.from({ length: Math.min(ADAPTERS_PER_CHANNEL, ADAPTERS - c * ADAPTERS_PER_CHANNEL) }, (_, i) =>
      BigInt(c * ADAPTERS_PER_CHANNEL + i + 1),
    );
  const emitTimer = Date.now();
  let round = 0;
  const baseEvents = Number(await countLogs());
  // Many settlements per block: automine off, send a batch, mine it. Fewer, fuller blocks, as on a busy chain.
  const perRound = 2 * ADAPTERS + 3 * channels;
  const rounds = Math.ceil((TARGET_EVENTS - baseEvents) / perRound);
  let gasLimit = 0n;
  const pending: Promise<unknown>[] = [];
  await provider.send("evm_setAutomine", [false]);
  while (round < rounds) {
    round++;
    for (let c = 0; c < channels; c++) {
      const adapterIds = adapterIdsOf(c);
      // Every adapter's cumulative amount grows by 1,000 wei (+ its id, so that amounts differ) each round.
      const amounts = adapterIds.map((id) => BigInt(round) * (1_000n + id));
      const voucher = {
        channelId: BigInt(c + 1),
        cumulativeAmount: amounts.reduce((s, a) => s + a, 0n),
        adapterIds,
        adapterAmounts: amounts,
        usageRoot: hashOf(`bench-usage-${round}-${c}`),
        expiry: 2n ** 63n,
      };
      const signature = await alice!.signTypedData(domain, types, voucher);
      if (gasLimit === 0n)
        gasLimit = ((await payments.getFunction("settle").estimateGas(voucher, signature)) * 12n) / 10n;
      const tx = await payments.getFunction("settle")(voucher, signature, { gasLimit });
      pending.push(tx.wait());
    }
    if (round % 8 === 0) await provider.send("evm_mine", []);
  }
  while ((await provider.send("eth_getBlockByNumber", ["pending", false]))?.transactions?.length) {
    await provider.send("evm_mine", []);
  }
  await provider.send("evm_mine", []);
  await Promise.all(pending);
  await provider.send("evm_setAutomine", [true]);
  const events = Number(await countLogs());
  const lastEventBlock = Number(await rpc<string>(chain.chain.url, "eth_blockNumber"));
  await rpc(chain.chain.url, "hardhat_mine", ["0x20"]); // all final: indexed by the backfill
  provider.destroy();
  log(
    `emitted ${events} events in ${round} rounds of ${channels} settlements (${((Date.now() - emitTimer) / 1000).toFixed(1)} s)`,
  );

  const indexer = await startIndexer(
    {
      port: 18701,
      rpcUrl: chain.chain.url,
      deploymentsDir: chain.deploymentsDir,
      pgliteDir,
      env: {
        OPENPOA_POLLING_MS: "1000",
        // Ponder throttles each endpoint it knows, starting at 20 requests/s: a backfill asks for one eth_getLogs per
        // event type (~75) per block range, so with one endpoint about a third of the backfill waits on the
        // throttle. The local node has no rate limit: four lanes to it (measured: 8 lanes gain nothing more).
        OPENPOA_INDEXER_RPC_URLS: Array(4).fill(chain.chain.url).join(","),
      },
    },
    600_000,
  );
  try {
    const backfillSeconds = (indexer.readyAt - indexer.healthyAt) / 1000;
    const indexed = await graphqlQuery<{ events: { totalCount: number } }>(indexer.url, "{ events { totalCount } }");
    const indexedEvents = indexed.body.data!.events.totalCount;
    if (indexedEvents !== events) throw new Error(`indexed ${indexedEvents} events, the chain has ${events}`);
    log(`backfill: ${events} events in ${backfillSeconds.toFixed(1)} s (to block ${lastEventBlock})`);

    const query = `query Page($adapterId: BigInt!) {
      settlementAdapters(where: { adapterId: $adapterId }, orderBy: "blockNumber", orderDirection: "asc", limit: 100) {
        items { id settlementId channelId adapterId adapterOwner amount protocolFee operatorFee ownerShare dataShare blockNumber timestamp }
        pageInfo { hasNextPage endCursor }
      }
    }`;
    const times: number[] = [];
    for (let i = 0; i < QUERIES + 50; i++) {
      const adapterId = String(1 + (i % ADAPTERS));
      const start = performance.now();
      const { status, body } = await graphqlQuery<{ settlementAdapters: { items: unknown[] } }>(indexer.url, query, {
        adapterId,
      });
      const elapsed = performance.now() - start;
      if (status !== 200 || body.errors || body.data!.settlementAdapters.items.length !== Math.min(100, round)) {
        throw new Error(`bad answer: ${JSON.stringify(body).slice(0, 500)}`);
      }
      if (i >= 50) times.push(elapsed); // the first 50 warm up
    }
    times.sort((a, b) => a - b);
    const quantile = (q: number) => times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)]!;
    const result = {
      events,
      backfillEventsPerSec: Math.round(events / backfillSeconds),
      graphqlP50Ms: Number(quantile(0.5).toFixed(2)),
      graphqlP99Ms: Number(quantile(0.99).toFixed(2)),
    };
    const out = path.join(repoRoot, "bench", "results", "indexer.json");
    await mkdir(path.dirname(out), { recursive: true });
    await writeFile(out, JSON.stringify(result, null, 2) + "\n");
    log(`wrote ${out}: ${JSON.stringify(result)}`);
    log(`blocks: ${lastEventBlock}`);
    if (process.env.BENCH_METRICS) {
      const metrics = await (await fetch(`${indexer.url}/metrics`)).text();
      console.log(
        metrics
          .split("\n")
          .filter((l) =>
            /indexing_function_duration_(sum|count)|ponder_historical|rpc_request_duration_(sum|count)|database_method_duration_(sum|count)/.test(
              l,
            ),
          )
          .join("\n"),
      );
    }
  } finally {
    await indexer.stop();
  }

  async function countLogs(): Promise<number> {
    const head = await rpc<string>(chain.chain.url, "eth_blockNumber");
    const logs = await rpc<unknown[]>(chain.chain.url, "eth_getLogs", [
      { fromBlock: "0x0", toBlock: head, address: Object.values(deployment.contracts).map((c) => c.address) },
    ]);
    return logs.length;
  }
} finally {
  await chain.stop();
  await rm(pgliteDir, { recursive: true, force: true });
}
