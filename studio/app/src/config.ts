/** What the Studio's backend says about the network it serves (GET /api/config, studio/server/app.ts). */
import type { Address } from "viem";

export type StudioConfig = {
  network: string;
  chainId: number;
  /** Where the browser sends JSON-RPC: the backend's proxy. */
  rpcPath: "/rpc";
  contracts: Record<string, { address: string; startBlock: number }>;
  indexerUrl: string;
  contentUrl: string;
  /** Whether the development wallet (the node's unlocked accounts through /rpc) is offered: local chains only. */
  devWallet: boolean;
};

export class ConfigUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConfigUnavailableError";
  }
}

/** The configuration the backend inlined into the page, else (under Vite's dev server) GET /api/config. */
export async function loadConfig(): Promise<StudioConfig> {
  const inlined = document.getElementById("openpoa-config")?.textContent;
  if (inlined) return JSON.parse(inlined) as StudioConfig;
  const response = await fetch("/api/config").catch((cause: unknown) => {
    throw new ConfigUnavailableError("the Studio's backend did not answer /api/config", { cause });
  });
  if (!response.ok) throw new ConfigUnavailableError(`/api/config answered ${response.status}`);
  return (await response.json()) as StudioConfig;
}

/** The RPC proxy's absolute URL (viem's transports want one). */
export const rpcUrlOf = (config: StudioConfig) => new URL(config.rpcPath, window.location.origin).href;

/** The deployed address of `name`; a deployment without it is a configuration error. */
export function addressOf(config: StudioConfig, name: string): Address {
  const entry = config.contracts[name];
  if (!entry) throw new ConfigUnavailableError(`${name} is not in the deployment of ${config.network}`);
  return entry.address as Address;
}
