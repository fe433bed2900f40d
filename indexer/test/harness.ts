/** Test and benchmark plumbing: a local chain with the suite deployed, and `ponder start` as a child process. */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { repoRoot, rpc, startLocalChain, type LocalChain } from "../../scripts/lib/localChain.ts";
import type { Deployment } from "../../scripts/lib/deployments.ts";

const run = promisify(execFile);
export const indexerRoot = path.join(repoRoot, "indexer");
const bin = path.join(repoRoot, "node_modules", ".bin");

export type DeployedChain = {
  chain: LocalChain;
  deploymentsDir: string;
  deployment: Deployment;
  stop(): Promise<void>;
};

/** Starts `hardhat node` on `port` and deploys the suite with `npm run deploy` (into a temporary deployments dir). */
export async function startDeployedChain(port: number): Promise<DeployedChain> {
  const chain = await startLocalChain({ port });
  const deploymentsDir = await mkdtemp(path.join(tmpdir(), "openpoa-indexer-deployments-"));
  // Ignition keys its journal by the genesis hash, the same for every fresh hardhat node: start clean.
  const genesis = await rpc<{ hash: string }>(chain.url, "eth_getBlockByNumber", ["0x0", false]);
  const journal = path.join(repoRoot, "ignition", "deployments", `localhost-31337-${genesis.hash.slice(2, 10)}`);
  await rm(journal, { recursive: true, force: true });
  const env = { ...process.env, OPENPOA_RPC_URL: chain.url, OPENPOA_DEPLOYMENTS_DIR: deploymentsDir };
  await run("npm", ["run", "deploy", "--", "--network", "localhost"], { cwd: repoRoot, env });
  await rm(journal, { recursive: true, force: true });
  const deployment = JSON.parse(await readFile(path.join(deploymentsDir, "localhost.json"), "utf8")) as Deployment;
  return {
    chain,
    deploymentsDir,
    deployment,
    async stop() {
      await chain.stop();
      await rm(deploymentsDir, { recursive: true, force: true });
    },
  };
}

export type IndexerOptions = {
  port: number;
  rpcUrl: string;
  deploymentsDir: string;
  /** PostgreSQL connection string; PGlite in `pgliteDir` otherwise. */
  databaseUrl?: string;
  pgliteDir?: string;
  schema?: string;
  contentDir?: string;
  env?: Record<string, string>;
};

export type Indexer = {
  url: string;
  process: ChildProcess;
  /** When the HTTP server first answered /health, and when /ready turned 200 (backfill done), in ms since epoch. */
  healthyAt: number;
  readyAt: number;
  output(): string;
  stop(): Promise<void>;
};

/** `ponder start` in indexer/, resolved once it answers /ready (historical backfill done). */
export async function startIndexer(options: IndexerOptions, timeoutMs = 120_000): Promise<Indexer> {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PATH: `${bin}:${process.env.PATH}`,
    PONDER_TELEMETRY_DISABLED: "true",
    OPENPOA_NETWORK: "localhost",
    OPENPOA_RPC_URL: options.rpcUrl,
    OPENPOA_DEPLOYMENTS_DIR: options.deploymentsDir,
    OPENPOA_POLLING_MS: "100",
    ...(options.contentDir ? { OPENPOA_CONTENT_DIR: options.contentDir } : {}),
    ...options.env,
  };
  delete env.DATABASE_URL;
  if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
  else env.OPENPOA_PGLITE_DIR = options.pgliteDir ?? (await mkdtemp(path.join(tmpdir(), "openpoa-pglite-")));
  const url = `http://127.0.0.1:${options.port}`;
  // A leftover server on the port would answer in this one's place.
  const busy = await fetch(`${url}/health`).then(
    () => true,
    () => false,
  );
  if (busy) throw new Error(`port ${options.port} is already serving`);
  // Ponder's GraphQL middleware writes generated/schema.graphql into its working directory: keep that out of the
  // tree (--root points it at indexer/).
  const cwd = await mkdtemp(path.join(tmpdir(), "openpoa-ponder-cwd-"));
  const child = spawn(
    path.join(bin, "ponder"),
    [
      "--root",
      indexerRoot,
      "start",
      "--schema",
      options.schema ?? "openpoa",
      "--port",
      String(options.port),
      "--log-level",
      process.env.OPENPOA_PONDER_LOG_LEVEL ?? "warn",
    ],
    { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: false },
  );
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
    await rm(cwd, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  let healthyAt = 0;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`ponder exited early (${child.exitCode}):\n${output}`);
    try {
      const response = await fetch(`${url}/ready`);
      healthyAt ||= Date.now();
      if (response.status === 200) {
        return { url, process: child, healthyAt, readyAt: Date.now(), output: () => output, stop };
      }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, healthyAt ? 50 : 250));
  }
  await stop();
  throw new Error(`ponder not ready within ${timeoutMs} ms:\n${output}`);
}

/** Waits until the indexer has processed every block up to `block` (default: the chain's head). */
export async function waitForBlock(
  indexer: Indexer,
  rpcUrl: string,
  block?: number,
  timeoutMs = 60_000,
): Promise<void> {
  const head = block ?? Number(await rpc<string>(rpcUrl, "eth_blockNumber"));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const status = (await (await fetch(`${indexer.url}/status`)).json()) as Record<
      string,
      { block?: { number: number } }
    >;
    const block = Object.values(status)[0]?.block?.number ?? 0;
    if (block >= head) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`indexer did not reach block ${head} within ${timeoutMs} ms:\n${indexer.output().slice(-4000)}`);
}

export async function graphqlQuery<T = unknown>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ status: number; body: { data?: T; errors?: unknown[] } }> {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as { data?: T; errors?: unknown[] } };
}
