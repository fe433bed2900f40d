/**
 * The suite's ABIs from Hardhat's build output (named imports, so bundlers keep the ABI and drop the bytecode) and
 * their addresses from the Studio's configuration. The names are inference/sdk/contractNames.ts.
 */
import type { Abi, Address } from "viem";
import { abi as AttributionRewards } from "../../../artifacts/contracts/AttributionRewards.sol/AttributionRewards.json";
import { abi as DatanetRegistry } from "../../../artifacts/contracts/DatanetRegistry.sol/DatanetRegistry.json";
import { abi as InferencePayments } from "../../../artifacts/contracts/InferencePayments.sol/InferencePayments.json";
import { abi as ModelRegistry } from "../../../artifacts/contracts/ModelRegistry.sol/ModelRegistry.json";
import { abi as NodeRegistry } from "../../../artifacts/contracts/NodeRegistry.sol/NodeRegistry.json";
import { abi as OpenGovernor } from "../../../artifacts/contracts/OpenGovernor.sol/OpenGovernor.json";
import { abi as OpenTimelock } from "../../../artifacts/contracts/OpenTimelock.sol/OpenTimelock.json";
import { abi as OpenToken } from "../../../artifacts/contracts/OpenToken.sol/OpenToken.json";
import { abi as ServingRules } from "../../../artifacts/contracts/ServingRules.sol/ServingRules.json";
import type { ContractName } from "../../../inference/sdk/contractNames.ts";
import { addressOf, type StudioConfig } from "./config.ts";

export const abis: Record<ContractName, Abi> = {
  OpenToken: OpenToken as Abi,
  OpenTimelock: OpenTimelock as Abi,
  OpenGovernor: OpenGovernor as Abi,
  DatanetRegistry: DatanetRegistry as Abi,
  ModelRegistry: ModelRegistry as Abi,
  NodeRegistry: NodeRegistry as Abi,
  InferencePayments: InferencePayments as Abi,
  AttributionRewards: AttributionRewards as Abi,
  ServingRules: ServingRules as Abi,
};

/** Every ABI of the suite: what a revert is decoded against (lib/errors.ts). */
export const allAbis: readonly Abi[] = Object.values(abis);

/** `{ address, abi }` of a deployed contract, ready for wagmi's and viem's contract calls. */
export const contractOf = (config: StudioConfig, name: ContractName): { address: Address; abi: Abi } => ({
  address: addressOf(config, name),
  abi: abis[name],
});
