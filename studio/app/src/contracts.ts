/**
 * The suite's ABIs from Hardhat's build output (the SDK's, as bundled for browsers: inference/sdk/abis.browser.ts,
 * named imports so that bundlers keep each ABI and drop the bytecode) and their addresses from the Studio's
 * configuration.
 */
import type { Abi, Address } from "viem";
import { abiOf, contractNames, type ContractName } from "#sdk/abis";
import { addressOf, type StudioConfig } from "./config.ts";

export const abis = Object.fromEntries(contractNames.map((name) => [name, abiOf(name)])) as Record<ContractName, Abi>;

/** Every ABI of the suite: what a revert is decoded against (lib/errors.ts). */
export const allAbis: readonly Abi[] = Object.values(abis);

/** `{ address, abi }` of a deployed contract, ready for wagmi's and viem's contract calls. */
export const contractOf = (config: StudioConfig, name: ContractName): { address: Address; abi: Abi } => ({
  address: addressOf(config, name),
  abi: abis[name],
});
