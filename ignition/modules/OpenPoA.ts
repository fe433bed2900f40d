import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { id } from "ethers";
import { attributionPolicyToChain, defaultAttributionPolicy } from "../../attribution/src/policy.ts";
import { ENGINE_PROTOCOL_VERSION } from "../../inference/gateway/engine.ts";
import { receiptSchemaVersion } from "../../inference/sdk/eip712.ts";

/** Role ids of OpenZeppelin's TimelockController. */
const PROPOSER_ROLE = id("PROPOSER_ROLE");
const CANCELLER_ROLE = id("CANCELLER_ROLE");
const DEFAULT_ADMIN_ROLE = "0x" + "00".repeat(32);
const ANYONE = "0x0000000000000000000000000000000000000000";

const DAY = 24 * 60 * 60;

/**
 * Every protocol parameter's default, in one place (ignition/parameters/example.json documents each one). The
 * governance path (voting delay + voting period + timelock delay: 10 days) must end before an operator's unbonding
 * does (14 days), so that a slash voted on the day an operator starts to unbond still reaches its stake;
 * scripts/lib/deployParameters.ts refuses parameters that break this.
 */
export const DEFAULT_PARAMETERS = {
  timelockDelaySeconds: 2 * DAY,
  votingDelaySeconds: DAY,
  votingPeriodSeconds: 7 * DAY,
  proposalThresholdVotes: 1_000_000n * 10n ** 18n,
  quorumPercent: 4,
  stakeLockPeriodSeconds: 7 * DAY,
  minDataShareBps: 1_000,
  minOperatorStake: 10_000n * 10n ** 18n,
  unbondingPeriodSeconds: 14 * DAY,
  freezePeriodSeconds: 14 * DAY,
  claimDelaySeconds: DAY,
  protocolFeeBps: 500,
  operatorFeeBps: 1_000,
  challengePeriodSeconds: DAY,
  /** Policy 1 of AttributionRewards, governing from epoch 1: the attribution as attribution/src does it today. */
  initialAttributionPolicy: attributionPolicyToChain(defaultAttributionPolicy),
  /** Version 1 of ServingRules. */
  initialServingRules: {
    maxOutputTokens: 4096,
    receiptSchemaVersion,
    minEngineProtocolVersion: ENGINE_PROTOCOL_VERSION,
    requireAttributionHash: true,
  },
} as const;

/**
 * The whole on-chain suite. Every parameter can be overridden with an Ignition parameters file
 * (`ignition/parameters/<network>.json` or `--parameters <file>`, read and checked by scripts/deploy.ts). After
 * deployment the Timelock owns every protocol parameter and the deployer keeps no role.
 */
export default buildModule("OpenPoA", (m) => {
  const deployer = m.getAccount(0);
  const parameter = <K extends keyof typeof DEFAULT_PARAMETERS>(name: K) =>
    m.getParameter(name, DEFAULT_PARAMETERS[name]);
  // The genesis supply goes here, and the attestor and guardian are these accounts. They default to the deployer
  // only so that local runs work end to end; scripts/deploy.ts refuses those defaults on any other network.
  const genesisRecipient = m.getParameter("genesisRecipient", deployer);
  const attestor = m.getParameter("attestor", deployer);
  const guardian = m.getParameter("guardian", deployer);

  const token = m.contract("OpenToken", [genesisRecipient]);

  const timelock = m.contract("OpenTimelock", [parameter("timelockDelaySeconds"), [], [ANYONE], deployer]);
  const governor = m.contract("OpenGovernor", [
    token,
    timelock,
    parameter("votingDelaySeconds"),
    parameter("votingPeriodSeconds"),
    parameter("proposalThresholdVotes"),
    parameter("quorumPercent"),
  ]);
  const grantProposer = m.call(timelock, "grantRole", [PROPOSER_ROLE, governor], { id: "grantProposer" });
  const grantCanceller = m.call(timelock, "grantRole", [CANCELLER_ROLE, governor], { id: "grantCanceller" });
  m.call(timelock, "renounceRole", [DEFAULT_ADMIN_ROLE, deployer], {
    id: "renounceAdmin",
    after: [grantProposer, grantCanceller],
  });

  const datanetRegistry = m.contract("DatanetRegistry", [token, timelock, parameter("stakeLockPeriodSeconds")]);
  const modelRegistry = m.contract("ModelRegistry", [datanetRegistry, timelock, parameter("minDataShareBps")]);

  const nodeRegistry = m.contract("NodeRegistry", [
    token,
    timelock,
    timelock,
    guardian,
    parameter("minOperatorStake"),
    parameter("unbondingPeriodSeconds"),
    parameter("freezePeriodSeconds"),
  ]);
  // The attestor proposes reward roots; the guardian may revoke pending ones (and freeze operators).
  const attributionRewards = m.contract("AttributionRewards", [
    token,
    timelock,
    attestor,
    guardian,
    parameter("claimDelaySeconds"),
    parameter("initialAttributionPolicy"),
  ]);
  const inferencePayments = m.contract("InferencePayments", [
    token,
    modelRegistry,
    nodeRegistry,
    attributionRewards,
    timelock,
    // Protocol fees accrue to the Timelock: spending them takes a proposal.
    timelock,
    parameter("protocolFeeBps"),
    parameter("operatorFeeBps"),
    parameter("challengePeriodSeconds"),
  ]);
  // What workers serve under (output limits, receipt schema, engine version); governance sets new versions.
  const servingRules = m.contract("ServingRules", [timelock, parameter("initialServingRules")]);

  return {
    token,
    timelock,
    governor,
    datanetRegistry,
    modelRegistry,
    nodeRegistry,
    attributionRewards,
    inferencePayments,
    servingRules,
  };
});
