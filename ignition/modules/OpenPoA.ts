import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { id } from "ethers";

/** Role ids of OpenZeppelin's TimelockController. */
const PROPOSER_ROLE = id("PROPOSER_ROLE");
const CANCELLER_ROLE = id("CANCELLER_ROLE");
const DEFAULT_ADMIN_ROLE = "0x" + "00".repeat(32);
const ANYONE = "0x0000000000000000000000000000000000000000";

const DAY = 24 * 60 * 60;

/**
 * The whole on-chain suite. Every parameter can be overridden with an Ignition parameters file
 * (`ignition/parameters/<network>.json`, read by scripts/deploy.ts). After deployment the Timelock owns every
 * protocol parameter and the deployer keeps no role.
 */
export default buildModule("OpenPoA", (m) => {
  const deployer = m.getAccount(0);
  // The genesis supply goes here: a multisig or the Timelock on a public network; the deployer by default,
  // so that local runs can hand out tokens.
  const genesisRecipient = m.getParameter("genesisRecipient", deployer);

  const token = m.contract("OpenToken", [genesisRecipient]);

  const timelock = m.contract("OpenTimelock", [
    m.getParameter("timelockDelaySeconds", 2 * DAY),
    [],
    [ANYONE],
    deployer,
  ]);
  const governor = m.contract("OpenGovernor", [
    token,
    timelock,
    m.getParameter("votingDelaySeconds", DAY),
    m.getParameter("votingPeriodSeconds", 7 * DAY),
    m.getParameter("proposalThresholdVotes", 1_000_000n * 10n ** 18n),
    m.getParameter("quorumPercent", 4),
  ]);
  const grantProposer = m.call(timelock, "grantRole", [PROPOSER_ROLE, governor], { id: "grantProposer" });
  const grantCanceller = m.call(timelock, "grantRole", [CANCELLER_ROLE, governor], { id: "grantCanceller" });
  m.call(timelock, "renounceRole", [DEFAULT_ADMIN_ROLE, deployer], {
    id: "renounceAdmin",
    after: [grantProposer, grantCanceller],
  });

  const datanetRegistry = m.contract("DatanetRegistry", [
    token,
    timelock,
    m.getParameter("stakeLockPeriodSeconds", 7 * DAY),
  ]);
  const modelRegistry = m.contract("ModelRegistry", [
    datanetRegistry,
    timelock,
    m.getParameter("minDataShareBps", 1_000),
  ]);

  const nodeRegistry = m.contract("NodeRegistry", [
    token,
    timelock,
    timelock,
    m.getParameter("minOperatorStake", 10_000n * 10n ** 18n),
    m.getParameter("unbondingPeriodSeconds", 7 * DAY),
  ]);
  // The attestor proposes reward roots; the guardian may revoke a pending one. Both default to the deployer so
  // that a fresh deployment works end to end; governance appoints others with setAttestor / setGuardian.
  const attributionRewards = m.contract("AttributionRewards", [
    token,
    timelock,
    m.getParameter("attestor", deployer),
    m.getParameter("guardian", deployer),
    m.getParameter("claimDelaySeconds", DAY),
  ]);
  const inferencePayments = m.contract("InferencePayments", [
    token,
    modelRegistry,
    nodeRegistry,
    attributionRewards,
    timelock,
    // Protocol fees accrue to the Timelock: spending them takes a proposal.
    timelock,
    m.getParameter("protocolFeeBps", 500),
    m.getParameter("operatorFeeBps", 1_000),
    m.getParameter("challengePeriodSeconds", DAY),
  ]);

  return {
    token,
    timelock,
    governor,
    datanetRegistry,
    modelRegistry,
    nodeRegistry,
    attributionRewards,
    inferencePayments,
  };
});
