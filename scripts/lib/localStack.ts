/**
 * The pieces of a whole local OpenPoA stack as processes of their own, shared by `npm run demo` and the Studio's
 * browser test: Hardhat's funded test accounts, OPEN handed out from the genesis treasury, the indexer (Ponder on
 * PGlite) and a worker (gateway + engine). The chain is scripts/lib/localChain.ts, the store store/service.ts.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { toHex, type Address, type Hex } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import type { Suite } from "./contracts.ts";
import { repoRoot } from "./localChain.ts";
import { startService, type Service } from "./services.ts";
import { send } from "./transactions.ts";

const bin = path.join(repoRoot, "node_modules", ".bin");

/** Hardhat's development mnemonic: the local chain funds these accounts with ETH for gas. */
export const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";

/** The private key of Hardhat's test account `index`. */
export const hardhatKey = (index: number): Hex =>
  toHex(mnemonicToAccount(HARDHAT_MNEMONIC, { addressIndex: index }).getHdKey().privateKey!);

/** Sends `amount` OPEN (wei) from `treasury` (the deployer holding the genesis supply) to each of `recipients`. */
export async function handOutOpen(treasury: Suite, recipients: readonly Address[], amount: bigint): Promise<void> {
  for (const recipient of recipients)
    await send(treasury, { contract: "OpenToken", functionName: "transfer", args: [recipient, amount] });
}

/**
 * `ponder start` in indexer/ on `port` over PGlite in `pgliteDir`, for the deployment `env` names (OPENPOA_RPC_URL,
 * OPENPOA_DEPLOYMENTS_DIR; this process's environment otherwise); ready once backfilled (/ready).
 */
export function startIndexerService({
  port,
  pgliteDir,
  contentUrl,
  env = {},
}: {
  port: number;
  pgliteDir: string;
  contentUrl: string;
  env?: NodeJS.ProcessEnv;
}): Promise<Service> {
  return startService({
    name: "indexer",
    command: path.join(bin, "ponder"),
    args: ["start", "--schema", "openpoa", "--port", String(port), "--log-level", "warn"],
    cwd: path.join(repoRoot, "indexer"),
    env: {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      PONDER_TELEMETRY_DISABLED: "true",
      OPENPOA_NETWORK: "localhost",
      OPENPOA_PGLITE_DIR: pgliteDir,
      OPENPOA_CONTENT_URL: contentUrl,
      OPENPOA_POLLING_MS: "200",
      ...env,
    },
    ready: async () => (await fetch(`http://127.0.0.1:${port}/ready`)).ok,
    timeoutMs: 180_000,
  });
}

/**
 * The worker (inference/gateway/worker.ts) on `port`, operated by `operatorKey`, serving the operator's base model
 * fetched by its on-chain URI into `dir` (with its usage log); ready once /health says the engine is up.
 */
export async function startWorkerService({
  port,
  operatorKey,
  dir,
  contentUrl,
  env = {},
}: {
  port: number;
  operatorKey: Hex;
  dir: string;
  contentUrl: string;
  env?: NodeJS.ProcessEnv;
}): Promise<Service> {
  await mkdir(dir, { recursive: true });
  return startService({
    name: "worker",
    command: process.execPath,
    args: ["inference/gateway/worker.ts"],
    cwd: repoRoot,
    env: {
      ...process.env,
      OPENPOA_NETWORK: "localhost",
      OPENPOA_OPERATOR_KEY: operatorKey,
      // The base model and the adapters are fetched by their on-chain URIs and checked against their hashes.
      OPENPOA_ARTIFACT_CACHE_DIR: path.join(dir, "worker-artifacts"),
      OPENPOA_CONTENT_URL: contentUrl,
      OPENPOA_USAGE_LOG: path.join(dir, "usage.sqlite"),
      OPENPOA_PORT: String(port),
      OPENPOA_SETTLE_MIN_AMOUNT: "1",
      OPENPOA_SETTLE_INTERVAL_MS: "500",
      OPENPOA_LOG_LEVEL: "warn",
      ...env,
    },
    ready: async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok,
    timeoutMs: 120_000,
  });
}
