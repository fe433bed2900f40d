/**
 * `npm run worker`: gateway + engine against the network in deployments/<network>.json. Configuration by
 * environment (see inference/README.md, "Running a worker").
 */
import type { Address, Hex } from "viem";
import { readDeployment } from "../../scripts/lib/deployments.ts";
import { startGateway } from "./index.ts";
import { jsonLogger } from "./log.ts";

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
};

/** A whole number ≥ 1 from the environment; anything else stops the worker with one line naming the variable. */
const count = (name: string, fallback: string): number => {
  const text = env(name, fallback);
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a whole number ≥ 1, got "${text}"`);
  return value;
};

const log = jsonLogger((process.env.OPENPOA_LOG_LEVEL as "info") ?? "info");
const network = env("OPENPOA_NETWORK", "localhost");
const { contracts } = await readDeployment(network);
const address = (name: string) => contracts[name]!.address as Address;
const contentStore = process.env.OPENPOA_CONTENT_DIR ?? process.env.OPENPOA_CONTENT_URL;

const gateway = await startGateway({
  rpcUrl: env("OPENPOA_RPC_URL", "http://127.0.0.1:8545"),
  contracts: {
    InferencePayments: address("InferencePayments"),
    ModelRegistry: address("ModelRegistry"),
    NodeRegistry: address("NodeRegistry"),
  },
  operatorKey: env("OPENPOA_OPERATOR_KEY") as Hex,
  signingKey: process.env.OPENPOA_SIGNING_KEY as Hex | undefined,
  modelDir: env("OPENPOA_MODEL_DIR"),
  artifactStore: env("OPENPOA_ARTIFACT_STORE"),
  usageLogFile: env("OPENPOA_USAGE_LOG", "openpoa-usage.sqlite"),
  port: Number(env("OPENPOA_PORT", "8080")),
  host: env("OPENPOA_HOST", "127.0.0.1"),
  basePricePer1kTokens: BigInt(env("OPENPOA_BASE_PRICE", "500000000000000")),
  // Attribution is on when a content store holds the datanets' contents (and receives the records).
  attribution: contentStore
    ? {
        datanetRegistry: address("DatanetRegistry"),
        datanetRegistryBlock: BigInt(contracts.DatanetRegistry!.startBlock),
        contentStore,
        indexDir: env("OPENPOA_INDEX_DIR", "openpoa-indexes"),
      }
    : undefined,
  thresholds: {
    minAmount: BigInt(env("OPENPOA_SETTLE_MIN_AMOUNT", "1000000000000000000")),
    maxAgeMs: Number(env("OPENPOA_SETTLE_MAX_AGE_MS", "3600000")),
  },
  settleIntervalMs: Number(env("OPENPOA_SETTLE_INTERVAL_MS", "5000")),
  limits: {
    maxInFlightPerChannel: count("OPENPOA_MAX_IN_FLIGHT_PER_CHANNEL", "8"),
    maxInFlight: count("OPENPOA_MAX_IN_FLIGHT", "256"),
    maxUnvouchedReceipts: count("OPENPOA_MAX_UNVOUCHED_RECEIPTS", "32"),
  },
  log,
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log("info", "shutting down", { signal });
    gateway.close().then(() => process.exit(0));
  });
}
