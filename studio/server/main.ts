/**
 * `npm run studio`: the Studio for the deployment on OPENPOA_NETWORK (studio/README.md lists the variables). Builds
 * the app first when studio/dist is missing or older than its sources. A bad setting stops it with one line naming
 * it (exit 2).
 */
import { serve } from "@hono/node-server";
import { execFile } from "node:child_process";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { ConfigurationError, connectSuite, rpcUrlOf } from "../../scripts/lib/contracts.ts";
import { DeploymentNotFoundError, readDeployment } from "../../scripts/lib/deployments.ts";
import { fromEnvironment as env, optionalFromEnvironment } from "../../scripts/lib/environment.ts";
import { repoRoot } from "../../scripts/lib/localChain.ts";
import { studioApp } from "./app.ts";
import { createJobRunner } from "./jobs.ts";

const studioDir = path.join(repoRoot, "studio");
const distDir = path.join(studioDir, "dist");

/** The newest modification time under `dir` (ms), 0 when it does not exist. */
async function newestUnder(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  const times = await Promise.all(
    entries.filter((e) => e.isFile()).map(async (e) => (await stat(path.join(e.parentPath, e.name))).mtimeMs),
  );
  return Math.max(0, ...times);
}

/** Runs `npm run studio:build` when the built app is missing or older than anything it is built from. */
async function buildIfStale(): Promise<boolean> {
  const built = await stat(path.join(distDir, "index.html")).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  const sources = Math.max(
    await newestUnder(path.join(studioDir, "app")),
    (await stat(path.join(studioDir, "vite.config.ts"))).mtimeMs,
  );
  if (built > sources) return false;
  await promisify(execFile)(path.join(repoRoot, "node_modules", ".bin", "vite"), [
    "build",
    "--config",
    path.join(studioDir, "vite.config.ts"),
    "--logLevel",
    "warn",
  ]);
  return true;
}

async function start() {
  const network = env("OPENPOA_NETWORK", "text", "localhost");
  const port = env("OPENPOA_STUDIO_PORT", "port", "8790");
  const host = env("OPENPOA_STUDIO_HOST", "text", "127.0.0.1");
  const indexerUrl = env("OPENPOA_INDEXER_URL", "url", "http://127.0.0.1:42069");
  const contentUrl = env("OPENPOA_CONTENT_URL", "url", "http://127.0.0.1:8789");
  const jobsDir = env("OPENPOA_STUDIO_JOBS_DIR", "text", "openpoa-studio-jobs");
  const maxQueued = env("OPENPOA_STUDIO_MAX_QUEUED_JOBS", "positiveNumber", "16");
  const publicOrigin = optionalFromEnvironment("OPENPOA_STUDIO_ORIGIN", "origin");
  const listening = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  // A loopback Studio is opened as localhost too; any other name must be its public origin.
  const loopback = ["127.0.0.1", "::1", "localhost"].includes(host) ? [`http://localhost:${port}`] : [];
  const origins = [listening, ...loopback, ...(publicOrigin ? [publicOrigin] : [])];
  const deployment = await readDeployment(network);
  const rpcUrl = await rpcUrlOf(network);
  if (await buildIfStale()) console.log("built studio/dist");
  // The Model Factory reads the chain and never sends: no key is read.
  const suite = await connectSuite({ network, readOnly: true, progress: false });
  const jobs = await createJobRunner({ dir: path.resolve(jobsDir), suite, content: contentUrl, maxQueued });
  const app = studioApp({ network, deployment, rpcUrl, indexerUrl, contentUrl, distDir, jobs, origins });
  const server = serve({ fetch: app.fetch, port, hostname: host }, () =>
    console.log(`OpenPoA Studio for ${network} (chain ${deployment.chainId}): ${publicOrigin ?? listening}`),
  );
  // A running job's trainer is stopped with the server; the next start records the job as interrupted.
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => void jobs.close().then(() => server.close(() => process.exit(0))));
}

try {
  await start();
} catch (error) {
  if (error instanceof ConfigurationError || error instanceof DeploymentNotFoundError) {
    console.error(error.message);
    process.exit(2);
  }
  throw error;
}
