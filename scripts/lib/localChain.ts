import type { ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startService } from "./services.ts";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const hardhatBin = path.join(repoRoot, "node_modules", ".bin", "hardhat");

export type LocalChain = { url: string; port: number; process: ChildProcess; stop(): Promise<void> };

export class LocalChainError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LocalChainError";
  }
}

/** Sends one JSON-RPC request; throws on transport errors and JSON-RPC errors alike. */
export async function rpc<T = unknown>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await response.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new LocalChainError(`${method} failed: ${body.error.message}`);
  return body.result as T;
}

/**
 * Starts Hardhat's EDR node (`hardhat node`) on 127.0.0.1:`port`, as `npm run node` does, and resolves once it
 * answers JSON-RPC. `network` names a simulated network of hardhat.config.ts (chain id, chain type, mining), e.g.
 * `rehearsalNode`.
 */
export async function startLocalChain({
  port = 8545,
  timeoutMs = 60_000,
  network,
}: { port?: number; timeoutMs?: number; network?: string } = {}): Promise<LocalChain> {
  const url = `http://127.0.0.1:${port}`;
  const service = await startService({
    name: "hardhat node",
    command: hardhatBin,
    args: ["node", "--hostname", "127.0.0.1", "--port", String(port), ...(network ? ["--network", network] : [])],
    cwd: repoRoot,
    env: { ...process.env, PATH: `${path.dirname(hardhatBin)}:${process.env.PATH}` },
    ready: async () => (await rpc(url, "eth_chainId"), true),
    timeoutMs,
  });
  return { url, port, process: service.process, stop: service.stop };
}
