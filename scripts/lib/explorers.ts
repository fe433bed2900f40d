/**
 * Block explorers of the chains the suite is deployed to, for links in what the CLI and the deploy print and for
 * hardhat.config.ts (where `hardhat ignition verify` submits sources). A local chain has none.
 */
import type { Hex } from "viem";
import { optionalFromEnvironment } from "./environment.ts";

/** Chains whose explorer is set in the environment (it is the network's, not ours), by the variables' prefix. */
const explorerVariables: Readonly<Record<number, string>> = { 161201: "OPENLEDGER_TESTNET" };
/** Chains whose explorer is fixed: the one Hardhat's own chain descriptor names first. */
const knownExplorers: Readonly<Record<number, string>> = { 11155111: "https://sepolia.etherscan.io" };

/** The explorer's base URL for `chainId`, without a trailing slash; undefined where none is configured. */
export function explorerUrlOf(chainId: number): string | undefined {
  const prefix = explorerVariables[chainId];
  const url = prefix ? optionalFromEnvironment(`${prefix}_EXPLORER_URL`, "url") : knownExplorers[chainId];
  return url?.replace(/\/+$/, "");
}

/**
 * hardhat.config.ts's `blockExplorers` for `chainId`: a Blockscout explorer from `<PREFIX>_EXPLORER_URL` and
 * `<PREFIX>_EXPLORER_API_URL`, when both are set.
 */
export function blockscoutOf(chainId: number) {
  const prefix = explorerVariables[chainId]!;
  const url = optionalFromEnvironment(`${prefix}_EXPLORER_URL`, "url");
  const apiUrl = optionalFromEnvironment(`${prefix}_EXPLORER_API_URL`, "url");
  return url && apiUrl ? { blockscout: { name: `${prefix} explorer`, url, apiUrl } } : {};
}

/** Where the explorer shows a transaction, or undefined without an explorer. */
export function transactionLink(chainId: number, hash: Hex): string | undefined {
  const explorer = explorerUrlOf(chainId);
  return explorer && `${explorer}/tx/${hash}`;
}

/** Where the explorer shows an account or contract, or undefined without an explorer. */
export function addressLink(chainId: number, address: string): string | undefined {
  const explorer = explorerUrlOf(chainId);
  return explorer && `${explorer}/address/${address}`;
}

/** One "explorer: <link>" line per transaction, or none without an explorer (a local chain). */
export function explorerLines(chainId: number, hashes: readonly Hex[]): string[] {
  return hashes.flatMap((hash) => {
    const link = transactionLink(chainId, hash);
    return link ? [`explorer: ${link}`] : [];
  });
}
