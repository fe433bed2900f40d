/**
 * `npm run store`: the content store over OPENPOA_STORE_DIR, its writers admitted by the suite deployed on
 * OPENPOA_NETWORK (store/README.md, "Configuration"). A bad setting stops it with one line naming it (exit 2).
 */
import { ConfigurationError, connectSuite } from "../scripts/lib/contracts.ts";
import { DeploymentNotFoundError } from "../scripts/lib/deployments.ts";
import { fromEnvironment as env, optionalFromEnvironment as optional } from "../scripts/lib/environment.ts";
import { jsonLogger } from "../inference/gateway/log.ts";
import { defaultSizeLimits, type SizeLimits } from "./limits.ts";
import { chainWritePolicy } from "./policy.ts";
import { startStoreServer } from "./server.ts";

const logLevels = ["debug", "info", "warn", "error"] as const;

/** Every setting, read before anything starts, so a bad one costs no chain connection. */
function readConfiguration() {
  const level = env("OPENPOA_LOG_LEVEL", "text", "info");
  if (!logLevels.includes(level as never))
    throw new ConfigurationError(`OPENPOA_LOG_LEVEL must be one of ${logLevels.join(", ")}, not "${level}"`);
  const limits: SizeLimits = {
    contribution: optional("OPENPOA_STORE_MAX_CONTRIBUTION_BYTES", "positiveNumber") ?? defaultSizeLimits.contribution,
    record: optional("OPENPOA_STORE_MAX_RECORD_BYTES", "positiveNumber") ?? defaultSizeLimits.record,
    usage: optional("OPENPOA_STORE_MAX_USAGE_BYTES", "positiveNumber") ?? defaultSizeLimits.usage,
    distribution: optional("OPENPOA_STORE_MAX_DISTRIBUTION_BYTES", "positiveNumber") ?? defaultSizeLimits.distribution,
    artifact: optional("OPENPOA_STORE_MAX_ARTIFACT_BYTES", "positiveNumber") ?? defaultSizeLimits.artifact,
  };
  return {
    log: jsonLogger(level as (typeof logLevels)[number]),
    dir: env("OPENPOA_STORE_DIR", "text"),
    port: env("OPENPOA_STORE_PORT", "port", "8789"),
    host: env("OPENPOA_STORE_HOST", "text", "127.0.0.1"),
    network: env("OPENPOA_NETWORK", "text", "localhost"),
    minBalance: env("OPENPOA_STORE_MIN_BALANCE", "wei", "1000000000000000000"),
    roleCacheMs: env("OPENPOA_STORE_ROLE_CACHE_MS", "positiveNumber", "30000"),
    limits,
  };
}

async function start() {
  const config = readConfiguration();
  // The RPC URL is OPENPOA_RPC_URL (or the network's own variable), read by connectSuite. The store sends nothing.
  const suite = await connectSuite({ network: config.network, readOnly: true });
  const policy = chainWritePolicy({
    client: suite.publicClient,
    contracts: {
      OpenToken: suite.address("OpenToken"),
      ModelRegistry: suite.address("ModelRegistry"),
      NodeRegistry: suite.address("NodeRegistry"),
      AttributionRewards: suite.address("AttributionRewards"),
    },
    minBalance: config.minBalance,
    cacheMs: config.roleCacheMs,
  });
  const server = await startStoreServer({ ...config, policy });
  config.log("info", "store listening", { url: server.url, dir: config.dir, network: config.network });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      config.log("info", "shutting down", { signal });
      server.close().then(() => process.exit(0));
    });
  }
}

try {
  await start();
} catch (error) {
  // A bad setting is one line naming it; anything else keeps its stack.
  if (!(error instanceof ConfigurationError || error instanceof DeploymentNotFoundError)) throw error;
  console.error(`openpoa store: ${error.message}`);
  process.exit(2);
}
