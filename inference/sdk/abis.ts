import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Abi } from "viem";
import type { ContractName } from "./contractNames.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const cache = new Map<string, Abi>();

export { contractNames, type ContractName } from "./contractNames.ts";

/** An ABI from Hardhat's build output (`npx hardhat build --no-tests`): never pasted, so never stale. */
export function abiOf(name: ContractName): Abi {
  let abi = cache.get(name);
  if (abi) return abi;
  const file = path.join(repoRoot, "artifacts", "contracts", `${name}.sol`, `${name}.json`);
  try {
    abi = (JSON.parse(readFileSync(file, "utf8")) as { abi: Abi }).abi;
  } catch (cause) {
    throw new Error(`no build output for ${name} at ${file}: run \`npx hardhat build --no-tests\``, { cause });
  }
  cache.set(name, abi);
  return abi;
}
