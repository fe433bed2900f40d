/**
 * `npm run worker`: gateway + engine against the network in deployments/<network>.json. Configuration by
 * environment (see inference/README.md, "Running a worker"); keys and the network's RPC URL may instead be in
 * Hardhat's keystore, under the same names.
 */
import type { Address } from "viem";
import { ConfigurationError, rpcUrlOf } from "../../scripts/lib/contracts.ts";
import { ArtifactError, artifactCacheSettings } from "../artifacts/index.ts";
import { DeploymentNotFoundError, readDeployment } from "../../scripts/lib/deployments.ts";
import {
  fromEnvironment as env,
  optionalFromEnvironment as optional,
  optionalSecretFromEnvironment as optionalSecret,
  secretFromEnvironment as secret,
} from "../../scripts/lib/environment.ts";
import { startGateway } from "./index.ts";
import { BaseError as AttributionError } from "../../attribution/src/index.ts";
import { ServingRulesUnmetError } from "./governed.ts";
import { jsonLogger } from "./log.ts";

const logLevels = ["debug", "info", "warn", "error"] as const;

async function start() {
  const level = env("OPENPOA_LOG_LEVEL", "text", "info");
  if (!logLevels.includes(level as never))
    throw new ConfigurationError(`OPENPOA_LOG_LEVEL must be one of ${logLevels.join(", ")}, not "${level}"`);
  const log = jsonLogger(level as (typeof logLevels)[number]);
  const network = env("OPENPOA_NETWORK", "text", "localhost");
  const { contracts } = await readDeployment(network);
  const deployed = (name: string) => {
    const contract = contracts[name];
    if (!contract)
      throw new ConfigurationError(
        `The deployment of network "${network}" has no ${name}: deploy again (npm run deploy -- --network ${network})`,
      );
    return contract;
  };
  const address = (name: string) => deployed(name).address as Address;
  const contentStore = optional("OPENPOA_CONTENT_DIR", "text") ?? optional("OPENPOA_CONTENT_URL", "url");

  const gateway = await startGateway({
    // OPENPOA_RPC_URL, else the network's <NETWORK>_RPC_URL (environment or keystore), as the CLI reads it.
    rpcUrl: await rpcUrlOf(network),
    contracts: {
      InferencePayments: address("InferencePayments"),
      ModelRegistry: address("ModelRegistry"),
      NodeRegistry: address("NodeRegistry"),
      AttributionRewards: address("AttributionRewards"),
      ServingRules: address("ServingRules"),
    },
    // Keys: the environment variable, else Hardhat's keystore (scripts/lib/environment.ts).
    operatorKey: await secret("OPENPOA_OPERATOR_KEY", "privateKey"),
    signingKey: await optionalSecret("OPENPOA_SIGNING_KEY", "privateKey"),
    modelDir: optional("OPENPOA_MODEL_DIR", "text"),
    artifacts: artifactCacheSettings(contentStore),
    usageLogFile: env("OPENPOA_USAGE_LOG", "text", "openpoa-usage.sqlite"),
    port: env("OPENPOA_PORT", "port", "8080"),
    host: env("OPENPOA_HOST", "text", "127.0.0.1"),
    basePricePer1kTokens: env("OPENPOA_BASE_PRICE", "wei", "500000000000000"),
    // Attribution is on when a content store holds the datanets' contents (and receives the records).
    attribution: contentStore
      ? {
          datanetRegistry: address("DatanetRegistry"),
          datanetRegistryBlock: BigInt(deployed("DatanetRegistry").startBlock),
          contentStore,
          indexDir: env("OPENPOA_INDEX_DIR", "text", "openpoa-indexes"),
        }
      : undefined,
    thresholds: {
      minAmount: env("OPENPOA_SETTLE_MIN_AMOUNT", "wei", "1000000000000000000"),
      maxAgeMs: env("OPENPOA_SETTLE_MAX_AGE_MS", "positiveNumber", "3600000"),
    },
    settleIntervalMs: env("OPENPOA_SETTLE_INTERVAL_MS", "positiveNumber", "5000"),
    limits: {
      maxInFlightPerChannel: env("OPENPOA_MAX_IN_FLIGHT_PER_CHANNEL", "positiveNumber", "8"),
      maxInFlight: env("OPENPOA_MAX_IN_FLIGHT", "positiveNumber", "256"),
      maxUnvouchedReceipts: env("OPENPOA_MAX_UNVOUCHED_RECEIPTS", "positiveNumber", "32"),
    },
    log,
  });

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      log("info", "shutting down", { signal });
      gateway.close().then(() => process.exit(0));
    });
  }
}

try {
  await start();
} catch (error) {
  // A bad setting (a base model that is not the registered one, serving rules this worker cannot meet) is one line
  // naming it; anything else keeps its stack.
  const oneLine =
    error instanceof ConfigurationError ||
    error instanceof DeploymentNotFoundError ||
    error instanceof ArtifactError ||
    error instanceof ServingRulesUnmetError ||
    // An attribution policy in force that this worker does not implement.
    error instanceof AttributionError;
  if (!oneLine) throw error;
  console.error(`openpoa worker: ${error.message}`);
  process.exit(2);
}
