/** `npm run studio` as a process of its own, for the demo and the browser test: ready once it serves its config. */
import path from "node:path";
import { repoRoot } from "../../scripts/lib/localChain.ts";
import { startService, type Service } from "../../scripts/lib/services.ts";

/**
 * Starts studio/server/main.ts on `port` for `network`, reading the indexer and the store at the URLs given; `env`
 * adds to this process's environment (OPENPOA_RPC_URL, OPENPOA_DEPLOYMENTS_DIR). The Model Factory keeps its jobs
 * and the base models it trains on in `dir`. The first start builds the app.
 */
export function startStudioService({
  port,
  indexerUrl,
  contentUrl,
  network = "localhost",
  dir,
  env = {},
}: {
  port: number;
  indexerUrl: string;
  contentUrl: string;
  dir: string;
  network?: string;
  env?: NodeJS.ProcessEnv;
}): Promise<Service & { url: string }> {
  const url = `http://127.0.0.1:${port}`;
  return startService({
    name: "studio",
    command: process.execPath,
    args: [path.join(repoRoot, "studio", "server", "main.ts")],
    cwd: repoRoot,
    env: {
      ...process.env,
      PATH: `${path.join(repoRoot, "node_modules", ".bin")}:${process.env.PATH}`,
      OPENPOA_NETWORK: network,
      OPENPOA_STUDIO_PORT: String(port),
      OPENPOA_INDEXER_URL: indexerUrl,
      OPENPOA_CONTENT_URL: contentUrl,
      OPENPOA_STUDIO_JOBS_DIR: path.join(dir, "jobs"),
      OPENPOA_ARTIFACT_CACHE_DIR: path.join(dir, "artifacts"),
      ...env,
    },
    ready: async () => (await fetch(`${url}/api/config`)).ok,
    // The first start builds the app (vite, a few seconds; more on a busy machine).
    timeoutMs: 180_000,
  }).then((service) => ({ ...service, url }));
}
