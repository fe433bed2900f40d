/**
 * ABIs from Hardhat's build output through the project's one loader (inference/sdk/abis.ts), never pasted: run
 * `npx hardhat build` first (`npm run indexer` does).
 */
import type { Abi } from "viem";
import { abiOf, contractNames, type ContractName } from "../../inference/sdk/abis.ts";

export { abiOf, contractNames, type ContractName };

/** Names of every event in a contract's ABI (inherited OpenZeppelin events included). */
export function eventNames(abi: Abi): string[] {
  return abi.filter((item) => item.type === "event").map((item) => (item as { name: string }).name);
}
