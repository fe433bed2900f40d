/**
 * Governance from Node: the proposals on chain (their events, their state), and the checks `gov propose` makes before
 * sending (each action run as the Timelock, the slash window after the proposal). The governed actions themselves,
 * their encoding and decoding, are governedActions.ts (browser-safe, shared with the Studio), re-exported here.
 */
import type { Suite } from "./contracts.ts";
import { proposalStates, type DecodedAction, type Proposal, type ProposalStateName } from "./governedActions.ts";
import { getContractEventsInChunks } from "./logs.ts";
import type { SlashWindow } from "./slashWindow.ts";
import { ContractRevertedError, decodeRevert, read } from "./transactions.ts";

export * from "./governedActions.ts";

/**
 * Runs a call as the Timelock would if it executed it now, alone, and returns the error it reverts with, if any.
 * Calls to the Governor are not run: it accepts its own settings only while it relays them, executing a proposal.
 */
export async function revertAsTimelock(suite: Suite, call: DecodedAction): Promise<ContractRevertedError | undefined> {
  if (!call.contract || !call.functionName || call.contract === "OpenGovernor") return undefined;
  try {
    await suite.publicClient.simulateContract({
      address: call.target,
      abi: suite.abi(call.contract),
      functionName: call.functionName,
      args: call.args,
      value: call.value,
      account: suite.address("OpenTimelock"),
    });
    return undefined;
  } catch (error) {
    try {
      decodeRevert(`${call.contract}.${call.functionName}`, error);
    } catch (reverted) {
      if (reverted instanceof ContractRevertedError) return reverted;
      throw reverted;
    }
  }
}

/**
 * The periods a slash depends on once `actions` are executed: the ones in force, overridden by the last action of
 * the proposal that sets each.
 */
export async function slashWindowAfter(suite: Suite, actions: readonly DecodedAction[]): Promise<SlashWindow> {
  const [votingDelay, votingPeriod, timelockDelay, unbondingPeriod, freezePeriod] = await Promise.all([
    read<bigint>(suite, { contract: "OpenGovernor", functionName: "votingDelay" }),
    read<bigint>(suite, { contract: "OpenGovernor", functionName: "votingPeriod" }),
    read<bigint>(suite, { contract: "OpenTimelock", functionName: "getMinDelay" }),
    read<bigint>(suite, { contract: "NodeRegistry", functionName: "unbondingPeriod" }),
    read<bigint>(suite, { contract: "NodeRegistry", functionName: "freezePeriod" }),
  ]);
  const window: SlashWindow = { votingDelay, votingPeriod, timelockDelay, unbondingPeriod, freezePeriod };
  const setBy: Record<string, keyof SlashWindow> = {
    "voting-delay": "votingDelay",
    "voting-period": "votingPeriod",
    "timelock-delay": "timelockDelay",
    "unbonding-period": "unbondingPeriod",
    "freeze-period": "freezePeriod",
  };
  for (const decoded of actions) {
    const key = decoded.action && setBy[decoded.action.name];
    if (key) window[key] = BigInt(Object.values(decoded.values!)[0] as bigint | number);
  }
  return window;
}

// --- Proposals ------------------------------------------------------------------------------------------------

/** Every proposal made to the Governor, oldest first, from its ProposalCreated events (read in chunks). */
export async function readProposals(suite: Suite): Promise<Proposal[]> {
  const logs = await getContractEventsInChunks(suite.publicClient, {
    address: suite.address("OpenGovernor"),
    abi: suite.abi("OpenGovernor"),
    eventName: "ProposalCreated",
    fromBlock: BigInt(suite.deployment.contracts.OpenGovernor!.startBlock),
  });
  return logs.map((log) => log.args as Proposal);
}

export async function proposalState(suite: Suite, proposalId: bigint): Promise<ProposalStateName> {
  const state = await read<number>(suite, { contract: "OpenGovernor", functionName: "state", args: [proposalId] });
  return proposalStates[state]!;
}
