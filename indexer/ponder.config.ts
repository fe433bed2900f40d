/**
 * Addresses and start blocks from deployments/<network>.json (written by `npm run deploy -- --network <name>`),
 * ABIs from Hardhat's build output. Environment:
 *   OPENPOA_NETWORK          deployment to index (default localhost)
 *   OPENPOA_DEPLOYMENTS_DIR  folder of deployment files (default deployments/)
 *   OPENPOA_RPC_URL          JSON-RPC URL (default: http://127.0.0.1:8545 on localhost, else <NETWORK>_RPC_URL, as
 *                            the CLI reads it)
 *   OPENPOA_INDEXER_RPC_URLS JSON-RPC URLs for the indexer alone, comma-separated (default OPENPOA_RPC_URL): Ponder
 *                            spreads requests over them and throttles each one on its own, starting at 20
 *                            requests/s, so a node without rate limits may be listed more than once
 *   OPENPOA_POLLING_MS       how often to poll for new blocks (default 1000)
 *   OPENPOA_INDEXER_LOG_BLOCK_RANGE  blocks per eth_getLogs, or "auto": Ponder starts at 500 and follows what the
 *                            provider's refusals say (its cap in their words, or halving on "too many results"),
 *                            which a fixed number turns off. Default: auto, but 10000 on localhost (a local node
 *                            answers any range)
 *   DATABASE_URL             PostgreSQL connection string; without it, embedded PGlite in OPENPOA_PGLITE_DIR
 *                            (default indexer/.ponder/pglite)
 * DATABASE_URL and <NETWORK>_RPC_URL are secrets: the environment variable, else Hardhat's keystore under the same
 * name (scripts/lib/environment.ts).
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createConfig } from "ponder";
import { readDeployment } from "../scripts/lib/deployments.ts";
import { rpcUrlOf } from "../scripts/lib/contracts.ts";
import { fromEnvironment, optionalSecretFromEnvironment } from "../scripts/lib/environment.ts";
import { contractNames, abiOf } from "./lib/abis.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
// Checked before anything starts: a bad value stops the indexer with a line naming its variable.
const networkName = fromEnvironment("OPENPOA_NETWORK", "text", "localhost");
const deployment = await readDeployment(networkName);

const rpcUrls = process.env.OPENPOA_INDEXER_RPC_URLS
  ? fromEnvironment("OPENPOA_INDEXER_RPC_URLS", "urlList")
  : [await rpcUrlOf(networkName)];
const pollingInterval = fromEnvironment("OPENPOA_POLLING_MS", "positiveNumber", "1000");
const logBlockRange =
  (process.env.OPENPOA_INDEXER_LOG_BLOCK_RANGE || (networkName === "localhost" ? "10000" : "auto")) === "auto"
    ? undefined
    : fromEnvironment("OPENPOA_INDEXER_LOG_BLOCK_RANGE", "positiveNumber", "10000");

const databaseUrl = await optionalSecretFromEnvironment("DATABASE_URL", "postgresUrl");

const contracts = Object.fromEntries(
  contractNames.map((name) => {
    const deployed = deployment.contracts[name];
    if (!deployed) throw new Error(`deployments/${networkName}.json has no ${name}`);
    return [name, { chain: networkName, abi: abiOf(name), address: deployed.address, startBlock: deployed.startBlock }];
  }),
);

export default createConfig({
  database: databaseUrl
    ? { kind: "postgres", connectionString: databaseUrl }
    : { kind: "pglite", directory: process.env.OPENPOA_PGLITE_DIR ?? path.join(here, ".ponder", "pglite") },
  chains: {
    [networkName]: {
      id: deployment.chainId,
      rpc: rpcUrls,
      pollingInterval,
      ethGetLogsBlockRange: logBlockRange,
    },
  },
  contracts: contracts as Record<
    string,
    { chain: string; abi: ReturnType<typeof abiOf>; address: `0x${string}`; startBlock: number }
  >,
  // Every new block tries again the distribution files that were unavailable (src/lib/earnings.ts). From the head
  // on: blocks of the past are not fetched for it, and a backfill's unavailable files are retried once it is live.
  blocks: { DistributionRetry: { chain: networkName, startBlock: "latest", interval: 1 } },
});
