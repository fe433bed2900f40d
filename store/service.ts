/** `npm run store` as a process of its own, for the demo and the rehearsal: started, and ready once it serves. */
import path from "node:path";
import { repoRoot } from "../scripts/lib/localChain.ts";
import { startService, type Service } from "../scripts/lib/services.ts";

/** Starts store/main.ts on `port` over `dir` for `network`; `env` adds to (and may override) this process's own. */
export function startStoreService({
  port,
  dir,
  network,
  env = {},
}: {
  port: number;
  dir: string;
  network: string;
  env?: NodeJS.ProcessEnv;
}): Promise<Service> {
  const url = `http://127.0.0.1:${port}`;
  return startService({
    name: "store",
    command: process.execPath,
    args: [path.join(repoRoot, "store", "main.ts")],
    cwd: repoRoot,
    env: {
      ...process.env,
      OPENPOA_NETWORK: network,
      OPENPOA_STORE_DIR: dir,
      OPENPOA_STORE_PORT: String(port),
      OPENPOA_LOG_LEVEL: "warn",
      ...env,
    },
    // Up once it answers for an object it does not have.
    ready: async () => (await fetch(`${url}/${"0".repeat(64)}`, { method: "HEAD" })).status === 404,
  });
}
