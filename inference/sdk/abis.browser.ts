/**
 * abis.ts for browsers (package.json `imports`, condition "browser"): the same ABIs from Hardhat's build output,
 * bundled (named imports, so a bundler keeps each ABI and drops its bytecode) instead of read from disk.
 */
import type { Abi } from "viem";
import { abi as AttributionRewards } from "../../artifacts/contracts/AttributionRewards.sol/AttributionRewards.json";
import { abi as DatanetRegistry } from "../../artifacts/contracts/DatanetRegistry.sol/DatanetRegistry.json";
import { abi as InferencePayments } from "../../artifacts/contracts/InferencePayments.sol/InferencePayments.json";
import { abi as ModelRegistry } from "../../artifacts/contracts/ModelRegistry.sol/ModelRegistry.json";
import { abi as NodeRegistry } from "../../artifacts/contracts/NodeRegistry.sol/NodeRegistry.json";
import { abi as OpenGovernor } from "../../artifacts/contracts/OpenGovernor.sol/OpenGovernor.json";
import { abi as OpenTimelock } from "../../artifacts/contracts/OpenTimelock.sol/OpenTimelock.json";
import { abi as OpenToken } from "../../artifacts/contracts/OpenToken.sol/OpenToken.json";
import { abi as ServingRules } from "../../artifacts/contracts/ServingRules.sol/ServingRules.json";
import type { ContractName } from "./contractNames.ts";

export { contractNames, type ContractName } from "./contractNames.ts";

const abis: Record<ContractName, Abi> = {
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

/** An ABI from Hardhat's build output, bundled. */
export const abiOf = (name: ContractName): Abi => abis[name];
