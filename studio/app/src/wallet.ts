/**
 * Wallets: any injected EIP-1193 wallet (wagmi's `injected`, plus wallets announcing themselves by EIP-6963), and on
 * a local chain the development wallet: an EIP-1193 provider whose requests go to the backend's /rpc, so Hardhat's
 * unlocked test accounts sign on the local node. No key is ever in the browser or the backend.
 */
import { createConfig, http } from "wagmi";
import { injected } from "wagmi/connectors";
import { defineChain, getAddress, type Address, type Chain } from "viem";
import { rpcUrlOf, type StudioConfig } from "./config.ts";

export const DEV_WALLET_ID = "openpoa-dev";
export const DEV_WALLET_NAME = "Development wallet (Hardhat test accounts, local chain only)";
const selectedKey = "openpoa.devAccount";
const connectedKey = "openpoa.devWalletConnected";

/** A JSON-RPC error, shaped as EIP-1193 says (code, message, data) so that viem maps it and finds revert data. */
export class ProviderRpcError extends Error {
  readonly code: number;
  readonly data: unknown;
  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = "ProviderRpcError";
    this.code = code;
    this.data = data;
  }
}

type Listener = (...args: unknown[]) => void;

/** Sends one JSON-RPC request to `url`; JSON-RPC errors are thrown as ProviderRpcError. */
export async function jsonRpc<T>(url: string, method: string, params: unknown = []): Promise<T> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await response.json()) as { result?: T; error?: { code: number; message: string; data?: unknown } };
  if (body.error) throw new ProviderRpcError(body.error.code, body.error.message, body.error.data);
  return body.result as T;
}

/** The development wallet's provider: one selected account at a time (an account picker changes it). */
export function createDevProvider(rpcUrl: string) {
  const listeners = new Map<string, Set<Listener>>();
  let selected = (localStorage.getItem(selectedKey) as Address | null) ?? undefined;
  // Like any wallet, it shows no account to a page until the user connects (eth_requestAccounts).
  let connected = localStorage.getItem(connectedKey) === "yes";
  const emit = (event: string, ...args: unknown[]) => listeners.get(event)?.forEach((listener) => listener(...args));
  const accounts = async () => (await jsonRpc<Address[]>(rpcUrl, "eth_accounts")).map((a) => getAddress(a));
  const current = async () => {
    if (!selected) selected = (await accounts())[0];
    return selected ? [selected] : [];
  };
  const setConnected = (value: boolean) => {
    connected = value;
    if (value) localStorage.setItem(connectedKey, "yes");
    else localStorage.removeItem(connectedKey);
  };
  const permissions = async () => [
    { parentCapability: "eth_accounts", caveats: [{ type: "restrictReturnedAccounts", value: await current() }] },
  ];
  return {
    async request({ method, params }: { method: string; params?: unknown }): Promise<unknown> {
      switch (method) {
        case "eth_accounts":
          return connected ? current() : [];
        case "eth_requestAccounts":
          setConnected(true);
          return current();
        case "wallet_requestPermissions":
          setConnected(true);
          return permissions();
        case "wallet_getPermissions":
          return connected ? permissions() : [];
        case "wallet_revokePermissions":
          setConnected(false);
          return null;
        case "wallet_switchEthereumChain": {
          const wanted = (params as [{ chainId: string }] | undefined)?.[0]?.chainId;
          if (wanted !== (await jsonRpc<string>(rpcUrl, "eth_chainId")))
            throw new ProviderRpcError(4902, "the development wallet only knows the local chain");
          return null;
        }
        default:
          return jsonRpc(rpcUrl, method, params ?? []);
      }
    },
    on(event: string, listener: Listener) {
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event)!.add(listener);
    },
    removeListener(event: string, listener: Listener) {
      listeners.get(event)?.delete(listener);
    },
    /** Every account the local node can sign for. */
    accounts,
    select(address: Address) {
      selected = address;
      localStorage.setItem(selectedKey, address);
      emit("accountsChanged", [address]);
    },
  };
}
export type DevProvider = ReturnType<typeof createDevProvider>;

export function chainOf(config: StudioConfig): Chain {
  return defineChain({
    id: config.chainId,
    name: config.network,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrlOf(config)] } },
  });
}

/** wagmi's configuration for `config`'s chain; `devProvider` only when the chain is local. */
export function wagmiConfigOf(config: StudioConfig, devProvider?: DevProvider) {
  const chain = chainOf(config);
  const connectors = [injected()];
  if (devProvider) {
    connectors.unshift(
      injected({
        target: () => ({
          id: DEV_WALLET_ID,
          name: DEV_WALLET_NAME,
          provider: devProvider as never,
        }),
        shimDisconnect: true,
      }),
    );
  }
  return createConfig({
    chains: [chain],
    connectors,
    transports: { [chain.id]: http(rpcUrlOf(config)) },
    pollingInterval: 1_000,
  });
}
