import { serve, type ServerType } from "@hono/node-server";
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  isAddressEqual,
  type Address,
  type Hex,
  type PublicClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { contentStoreAt } from "../../attribution/src/index.ts";
import {
  ArtifactHashMismatchError,
  hashArtifactDir,
  openArtifactCache,
  type ArtifactCache,
  type ArtifactCacheSettings,
} from "../artifacts/index.ts";
import { rpcTransport } from "../../scripts/lib/rpc.ts";
import { abiOf } from "../sdk/abis.ts";
import { domainSeparator, receiptDomain, receiptSchemaVersion, voucherDomain } from "../sdk/eip712.ts";
import { ServedAdapters } from "./artifacts.ts";
import { createAttributor } from "./attribution.ts";
import { ChainView } from "./chain.ts";
import { Engine, ENGINE_PROTOCOL_VERSION } from "./engine.ts";
import { GatewayError } from "./errors.ts";
import { GovernedRules } from "./governed.ts";
import { jsonLogger, type Logger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { Ledger } from "./payment.ts";
import { createApp, type Gateway, type GatewayLimits } from "./server.ts";
import { digestSigner } from "./signatures.ts";
import { settleBeforeExpiry, Settler, type SettlementThresholds } from "./settler.ts";
import { UsageLog } from "./usageLog.ts";

export type GatewayConfig = {
  rpcUrl: string;
  contracts: {
    InferencePayments: Address;
    ModelRegistry: Address;
    NodeRegistry: Address;
    AttributionRewards: Address;
    ServingRules: Address;
  };
  /** Pays gas for settlements; the channels' operator. */
  operatorKey: Hex;
  /** Signs receipts; must be the operator's registered signing key. Default: the operator key. */
  signingKey?: Hex;
  /**
   * A local copy of the base model, used once its files hash to the on-chain artifact hash. Without it the base
   * model is fetched from its on-chain URI into the artifact cache, and checked the same way.
   */
  modelDir?: string;
  /** Fetched artifacts: where they are kept (least recently used out past `maxBytes`) and how URIs are read. */
  artifacts: ArtifactCacheSettings;
  usageLogFile: string;
  port?: number;
  host?: string;
  /** The base model served. Default: the operator's first registered base model. */
  baseModelId?: bigint;
  /** Price of the base model without adapter (adapter id 0), which has no on-chain price. */
  basePricePer1kTokens: bigint;
  thresholds?: SettlementThresholds;
  pollIntervalMs?: number;
  settleIntervalMs?: number;
  minVoucherLifetimeSec?: bigint;
  limits?: Partial<GatewayLimits>;
  engineMaxSeqLen?: number;
  /**
   * Per-response attribution against the adapters' lineage datanets: their contents come from `contentStore` (a
   * directory or an HTTP base URL), records and each settlement's receipts are published there, and built indexes
   * are kept in `indexDir`. Without it receipts carry a zero attribution hash, and epochs split those requests
   * (and settlements whose receipts are not published) pro rata.
   */
  attribution?: { datanetRegistry: Address; datanetRegistryBlock: bigint; contentStore: string; indexDir: string };
  log?: Logger;
};

export type RunningGateway = Gateway & { url: string; settler: Settler; close(): Promise<void> };

/** Starts engine, chain watcher, settler and HTTP server; refuses to start with a key the chain does not know. */
export async function startGateway(config: GatewayConfig): Promise<RunningGateway> {
  const log = config.log ?? jsonLogger();
  // Retries with backoff, per attempt: a public provider rate-limits and drops requests (scripts/lib/rpc.ts).
  const transport = rpcTransport(config.rpcUrl);
  const client = createPublicClient({ transport, pollingInterval: 100 });
  const chainId = await client.getChainId();
  const chain = defineChain({
    id: chainId,
    name: `chain-${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [config.rpcUrl] } },
  });
  const operator = privateKeyToAccount(config.operatorKey);
  const signer = digestSigner(config.signingKey ?? config.operatorKey);
  const wallet = createWalletClient({ account: operator, chain, transport });
  const { InferencePayments: payments, ModelRegistry: models, NodeRegistry: nodes } = config.contracts;

  const registered = (await client.readContract({
    address: nodes,
    abi: abiOf("NodeRegistry"),
    functionName: "getOperator",
    args: [operator.address],
  })) as {
    signingKey: Address;
    registered: boolean;
    baseModelIds: bigint[];
  };
  if (!registered.registered)
    throw new GatewayError(500, "operator_not_registered", `${operator.address} is not a registered operator`);
  if (!isAddressEqual(registered.signingKey, signer.address)) {
    throw new GatewayError(
      500,
      "signing_key_mismatch",
      `receipt key ${signer.address} is not the registered signing key ${registered.signingKey}`,
    );
  }
  const baseModelId = config.baseModelId ?? registered.baseModelIds[0]!;
  // Before anything is loaded: rules this worker cannot meet refuse the start in one line (governed.ts).
  const rules = await GovernedRules.start({
    client,
    servingRules: config.contracts.ServingRules,
    // The policy records are made under matters only to a worker that makes them.
    rewards: config.attribution && config.contracts.AttributionRewards,
    abilities: {
      receiptSchemaVersion,
      engineProtocolVersion: ENGINE_PROTOCOL_VERSION,
      attributes: config.attribution !== undefined,
    },
    log,
  });

  const chainView = new ChainView({
    client,
    payments,
    models,
    baseModelId,
    basePricePer1kTokens: config.basePricePer1kTokens,
    log,
  });
  await chainView.poll();
  const usageLog = new UsageLog(config.usageLogFile);
  const ledger = new Ledger();
  ledger.restore({
    receipts: usageLog.receipts(),
    vouchers: usageLog
      .channelsWithVouchers()
      .flatMap((id) => usageLog.vouchers(id).map((v) => [v.digest, v.signed] as const)),
    usageVouchers: usageLog.channelsWithUsageVouchers().map((id) => usageLog.latestUsageVoucher(id)!),
  });
  const artifacts = await openArtifactCache(config.artifacts, log);
  const baseModel = await verifiedBaseModel(client, { models, baseModelId, modelDir: config.modelDir, artifacts });
  const engine = new Engine({
    model: baseModel.dir,
    // Adapters may name their base model by its artifact hash (what the chain registered) as well as by its name.
    extraArgs: ["--model-artifact-hash", baseModel.artifactHash],
    adapters: config.artifacts.cacheDir,
    maxSeqLen: config.engineMaxSeqLen,
    log,
  });
  const metrics = new Metrics({ engineRestarts: () => engine.restarts });
  await engine.start();
  const served = new ServedAdapters(artifacts, engine, metrics, log);
  artifacts.onEvict = (artifactHash) => served.evicted(artifactHash);

  // Records and usage batches are the operator's to publish: a content store server (store/) admits them by its key.
  const contentStore = config.attribution && contentStoreAt(config.attribution.contentStore, { signer: operator });
  const gateway: Gateway = {
    engine,
    chain: chainView,
    ledger,
    usageLog,
    payment: {
      chain: chainView,
      chainId,
      payments,
      operator: operator.address,
      voucherSeparator: domainSeparator(voucherDomain(chainId, payments)),
      receiptSeparator: domainSeparator(receiptDomain(chainId, payments)),
      minVoucherLifetimeSec: config.minVoucherLifetimeSec ?? 600n,
    },
    signer,
    attributor:
      config.attribution &&
      createAttributor({
        client,
        models,
        datanets: { registry: config.attribution.datanetRegistry, fromBlock: config.attribution.datanetRegistryBlock },
        contentStore: contentStore!,
        cacheDir: config.attribution.indexDir,
        policy: () => rules.attributionPolicy!,
      }),
    adapters: served,
    rules,
    limits: {
      maxTokens: 512,
      maxBodyBytes: 1 << 20,
      maxInFlightPerChannel: 8,
      maxInFlight: 256,
      maxUnvouchedReceipts: 32,
      ...config.limits,
    },
    metrics,
    log,
  };
  const settler = new Settler({
    client,
    chainId,
    contentStore: contentStore,
    wallet,
    payments,
    usageLog,
    ledger,
    thresholds: config.thresholds ?? { minAmount: 10n ** 18n, maxAgeMs: 3_600_000 },
    expiryMarginSec: settleBeforeExpiry(gateway.payment.minVoucherLifetimeSec),
    log,
    metrics,
  });
  await settler.reconcile();

  const app = createApp(gateway);
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.port ?? 8080, hostname: config.host ?? "127.0.0.1" }, () =>
      resolve(s),
    );
  });
  const address = server.address() as { port: number };
  const url = `http://${config.host ?? "127.0.0.1"}:${address.port}`;

  // A tick whose task still runs (a slow provider, retrying) is skipped rather than piled on top of it.
  const every = (ms: number, task: () => Promise<void>, name: string) => {
    let running = false;
    return setInterval(() => {
      if (running) return;
      running = true;
      task()
        .catch((error) => log("warn", `${name} failed`, { error: String(error) }))
        .finally(() => (running = false));
    }, ms);
  };
  const timers = [
    every(config.pollIntervalMs ?? 1_000, () => chainView.poll(), "chain poll"),
    every(config.pollIntervalMs ?? 1_000, () => rules.poll(), "serving rules poll"),
    every(config.settleIntervalMs ?? 5_000, () => settler.tick(), "settlement"),
  ];
  log("info", "gateway listening", {
    url,
    operator: operator.address,
    baseModelId,
    chainId,
    model: engine.hello?.model.name,
  });

  return {
    ...gateway,
    url,
    settler,
    async close() {
      timers.forEach(clearInterval);
      const closed = new Promise((resolve) => server.close(resolve));
      // Idle keep-alive connections would hold close() open for seconds.
      (server as import("node:http").Server).closeIdleConnections();
      await closed;
      await engine.stop();
      usageLog.close();
    },
  };
}

/**
 * The base model's directory, its files hashing to the chain's artifact hash (lowercase hex): `modelDir` when given,
 * else fetched from the on-chain URI (and held for the worker's life). A mismatch refuses to start, naming both hashes.
 */
async function verifiedBaseModel(
  client: PublicClient,
  {
    models,
    baseModelId,
    modelDir,
    artifacts,
  }: { models: Address; baseModelId: bigint; modelDir?: string; artifacts: ArtifactCache },
): Promise<{ dir: string; artifactHash: string }> {
  const base = (await client.readContract({
    address: models,
    abi: abiOf("ModelRegistry"),
    functionName: "getBaseModel",
    args: [baseModelId],
  })) as { artifactHash: Hex; uri: string; name: string };
  const artifactHash = base.artifactHash.slice(2).toLowerCase();
  if (!modelDir)
    return { dir: (await artifacts.hold({ artifactHash, uri: base.uri, kind: "model" })).dir, artifactHash };
  const actual = (await hashArtifactDir(modelDir, "model")).artifactHash;
  if (actual !== artifactHash)
    throw new ArtifactHashMismatchError({
      what: `base model ${baseModelId} (${base.name})`,
      expected: artifactHash,
      actual,
      source: modelDir,
    });
  return { dir: modelDir, artifactHash };
}
