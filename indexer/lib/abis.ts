/**
 * ABIs from Hardhat's build output (artifacts/contracts/<Name>.sol/<Name>.json), never pasted: run
 * `npx hardhat build` first (`npm run indexer` does).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Abi } from "viem";

export const contractNames = [
  "OpenToken",
  "OpenTimelock",
  "OpenGovernor",
  "DatanetRegistry",
  "ModelRegistry",
  "NodeRegistry",
  "AttributionRewards",
  "InferencePayments",
] as const;
export type ContractName = (typeof contractNames)[number];

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export function loadAbi(name: ContractName): Abi {
  const file = path.join(repoRoot, "artifacts", "contracts", `${name}.sol`, `${name}.json`);
  try {
    return (JSON.parse(readFileSync(file, "utf8")) as { abi: Abi }).abi;
  } catch (error) {
    throw new Error(`Missing build output ${file}: run \`npx hardhat build\` first`, { cause: error });
  }
}

/** Names of every event in a contract's ABI (inherited OpenZeppelin events included). */
export function eventNames(abi: Abi): string[] {
  return abi.filter((item) => item.type === "event").map((item) => (item as { name: string }).name);
}
