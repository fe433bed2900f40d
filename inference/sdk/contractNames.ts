/**
 * Every contract of the suite, by its artifact name (also its key in deployments/<network>.json). Browser-safe:
 * abis.ts reads the ABIs from disk, the Studio bundles them.
 */
export const contractNames = [
  "OpenToken",
  "OpenTimelock",
  "OpenGovernor",
  "DatanetRegistry",
  "ModelRegistry",
  "NodeRegistry",
  "InferencePayments",
  "AttributionRewards",
  "ServingRules",
] as const;
export type ContractName = (typeof contractNames)[number];
