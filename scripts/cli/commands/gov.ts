/** Governance: propose governed actions, list and show proposals, vote, queue, execute, and the Governor's settings. */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { keccak256, toBytes } from "viem";
import {
  decodeAction,
  decodeProposal,
  describeActions,
  readableDuration,
  governedActions,
  proposalState,
  readProposals,
  requireAction,
  revertAsTimelock,
  slashWindowAfter,
  type ActionArgs,
  type ActionCall,
  type DecodedAction,
  type GovernedAction,
  type Proposal,
  type ProposalStateName,
  proposalOperation,
  voteSupport,
  when,
} from "../../lib/governance.ts";
import { slashEscape } from "../../lib/slashWindow.ts";
import { read, send, type Sent } from "../../lib/transactions.ts";
import type { Suite } from "../../lib/contracts.ts";
import { parseId, requireValue, UsageError } from "../args.ts";
import { firstEvent, open, requireSigner, str, type Command, type OptionSpec, type Values } from "../shared.ts";

/** A proposal is not in the state a command needs; says which it is and when that changes. */
export class ProposalStateError extends Error {
  readonly state: ProposalStateName;
  constructor(proposalId: bigint, state: ProposalStateName, why: string) {
    super(`Proposal ${proposalId} is ${state}: ${why}`);
    this.name = "ProposalStateError";
    this.state = state;
  }
}

/** Every action's flags, so that the first action's flags parse on `gov propose`'s own command line. */
const actionFlags: Record<string, OptionSpec> = {};
for (const action of governedActions) {
  for (const param of action.params.filter((p) => p.flag)) {
    const prior = actionFlags[param.name];
    actionFlags[param.name] = {
      type: "string",
      description: prior
        ? `${prior.description}; ${action.name}: ${param.description}`
        : `${action.name}: ${param.description}`,
    };
  }
}

/** Words as a shell splits them, for `--action "<action> <args…>"`: "double" (JSON escapes) and 'single' quotes. */
function splitWords(text: string): string[] {
  const words: string[] = [];
  for (const match of text.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g)) {
    words.push(match[1] !== undefined ? (JSON.parse(`"${match[1]}"`) as string) : (match[2] ?? match[3]!));
  }
  return words;
}

/** An `--action` text: the action and its arguments, with the action's own flags. */
export function parseActionText(text: string): { action: GovernedAction; args: ActionArgs } {
  const [name, ...rest] = splitWords(text);
  const action = requireAction(name);
  const options = Object.fromEntries(
    action.params.filter((p) => p.flag).map((p) => [p.name, { type: "string" as const }]),
  );
  try {
    const { values, positionals } = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
    return {
      action,
      args: { positionals, flags: values as Record<string, string | undefined>, readFile: readFileSync },
    };
  } catch (error) {
    throw new UsageError(`--action "${text}": ${(error as Error).message}; ${action.usage}`);
  }
}

/** The actions of `gov propose`: the first on its own command line, then each `--action`. */
function writtenActions(positionals: string[], values: Values): Array<{ action: GovernedAction; args: ActionArgs }> {
  const flags = Object.fromEntries(Object.keys(actionFlags).map((name) => [name, str(values, name)]));
  const written = [];
  if (positionals.length > 0) {
    const [name, ...rest] = positionals;
    written.push({ action: requireAction(name), args: { positionals: rest, flags, readFile: readFileSync } });
  } else {
    const stray = Object.keys(flags).find((name) => flags[name] !== undefined);
    if (stray) throw new UsageError(`--${stray} belongs to an action: write the action first`);
  }
  for (const text of (values.action as string[] | undefined) ?? []) written.push(parseActionText(text));
  if (written.length === 0) throw new UsageError(`Name an action; the actions are:\n${describeActions()}`);
  return written;
}

// --- Time ---------------------------------------------------------------------------------------------------

async function chainNow(suite: Suite): Promise<bigint> {
  return (await suite.publicClient.getBlock()).timestamp;
}

// --- Proposals ----------------------------------------------------------------------------------------------

async function findProposal(suite: Suite, proposalId: bigint): Promise<Proposal> {
  const snapshot = await read<bigint>(suite, {
    contract: "OpenGovernor",
    functionName: "proposalSnapshot",
    args: [proposalId],
  });
  const proposal = snapshot === 0n ? undefined : (await readProposals(suite)).find((p) => p.proposalId === proposalId);
  if (!proposal) throw new UsageError(`No proposal ${proposalId} (\`openpoa gov list\` lists them)`);
  return proposal;
}

/** The proposal, its state and the chain's time now: what vote, queue and execute check before sending. */
async function proposalNow(suite: Suite, proposalId: bigint) {
  const proposal = await findProposal(suite, proposalId);
  const state = await proposalState(suite, proposalId);
  return { proposal, state, now: await chainNow(suite) };
}

async function votesOf(suite: Suite, proposalId: bigint) {
  const [against, forVotes, abstain] = await read<readonly [bigint, bigint, bigint]>(suite, {
    contract: "OpenGovernor",
    functionName: "proposalVotes",
    args: [proposalId],
  });
  return { for: forVotes, against, abstain };
}

/** The quorum at the proposal's snapshot, or none while the snapshot is still ahead (the supply may yet change). */
async function quorumAt(suite: Suite, snapshot: bigint): Promise<bigint | undefined> {
  const clock = BigInt(await read<number>(suite, { contract: "OpenGovernor", functionName: "clock" }));
  if (snapshot >= clock) return undefined;
  return read<bigint>(suite, { contract: "OpenGovernor", functionName: "quorum", args: [snapshot] });
}

/** The quorum as of the last block: what a snapshot still ahead would fix if it were now. */
async function quorumNow(suite: Suite): Promise<bigint> {
  const clock = BigInt(await read<number>(suite, { contract: "OpenGovernor", functionName: "clock" }));
  return read<bigint>(suite, { contract: "OpenGovernor", functionName: "quorum", args: [clock - 1n] });
}

async function etaOf(suite: Suite, proposalId: bigint): Promise<bigint> {
  return read<bigint>(suite, { contract: "OpenGovernor", functionName: "proposalEta", args: [proposalId] });
}

const firstLine = (text: string) => text.split("\n")[0]!.trim();
const actionsText = (actions: DecodedAction[]) =>
  actions.map((a, i) => `  ${i + 1}. ${a.text}${a.value > 0n ? ` (sending ${a.value} wei)` : ""}`);

export const govCommands: Record<string, Command> = {
  "gov actions": {
    summary: "The governed actions a proposal can carry, with their arguments",
    usage: "gov actions",
    async run() {
      return {
        text: `Governed actions (\`openpoa gov propose <action> <args…>\`):\n${describeActions()}`,
        data: governedActions.map((a) => ({ name: a.name, usage: a.usage, description: a.description })),
      };
    },
  },

  "gov propose": {
    summary: "Propose governed actions (several with --action) for OPEN holders to vote on; prints the proposal id",
    usage: 'gov propose <action> <args…> [--action "<action> <args…>"]… --description <text> [--no-simulate]',
    options: {
      description: { type: "string", description: "what the proposal does and why (voters read it)" },
      action: { type: "string", multiple: true, description: 'one more action, written "<action> <args…>"' },
      "no-simulate": {
        type: "boolean",
        description: "propose without first running each action as the Timelock against the current state",
      },
      ...actionFlags,
    },
    async run(suite, positionals, values) {
      const proposer = requireSigner(suite);
      const written = writtenActions(positionals, values);
      const description = requireValue(str(values, "description"), "--description");
      const calls: ActionCall[] = [];
      for (const { action, args } of written) calls.push(await action.build(suite, args));
      const actions = calls.map((call) => decodeAction(suite, call));

      if (!values["no-simulate"]) {
        for (const [i, action] of actions.entries()) {
          const reverted = await revertAsTimelock(suite, action);
          if (reverted) {
            throw new UsageError(
              `Action ${i + 1} (${action.text}) would fail if executed now: ${reverted.message}` +
                " (if an earlier action of this proposal makes it valid, propose with --no-simulate)",
            );
          }
        }
      }
      const escape = slashEscape(await slashWindowAfter(suite, actions));
      if (escape) {
        throw new UsageError(
          `After this proposal the ${escape.period === "unbondingPeriod" ? "unbonding" : "freeze"} period ` +
            `(${readableDuration(escape.seconds)}) would not outlast the governance path, voting delay + voting ` +
            `period + timelock delay (${readableDuration(escape.governancePath)}): an operator could escape a slash`,
        );
      }
      // The proposal's block checks the votes as of the block before it: the votes held now.
      const [threshold, votes] = await Promise.all([
        read<bigint>(suite, { contract: "OpenGovernor", functionName: "proposalThreshold" }),
        read<bigint>(suite, { contract: "OpenToken", functionName: "getVotes", args: [proposer] }),
      ]);
      if (votes < threshold) {
        throw new UsageError(
          `${proposer} has ${open(votes)} of votes; proposing takes ${open(threshold)} ` +
            "(OPEN votes once delegated: `openpoa token delegate`)",
        );
      }
      const targets = calls.map((c) => c.target);
      const callValues = calls.map((c) => c.value);
      const calldatas = calls.map((c) => c.calldata);
      const proposalId = await read<bigint>(suite, {
        contract: "OpenGovernor",
        functionName: "hashProposal",
        args: [targets, callValues, calldatas, keccak256(toBytes(description))],
      });
      const existing = await read<bigint>(suite, {
        contract: "OpenGovernor",
        functionName: "proposalSnapshot",
        args: [proposalId],
      });
      if (existing !== 0n) throw new UsageError(`This proposal exists already: ${proposalId} (\`openpoa gov show\`)`);

      const sent = await send(suite, {
        contract: "OpenGovernor",
        functionName: "propose",
        args: [targets, callValues, calldatas, description],
        // Mined in the next block, it counts the votes of this one: a delegation just made already counts.
        simulateAt: "pending",
      });
      const created = firstEvent<Proposal>(suite, sent, "OpenGovernor", "ProposalCreated");
      const now = await chainNow(suite);
      return {
        text: [
          `Proposal ${created.proposalId}`,
          ...actionsText(actions),
          `Voting opens ${when(created.voteStart + 1n, now)} and closes ${when(created.voteEnd, now)}:`,
          `  openpoa gov vote ${created.proposalId} for|against|abstain`,
        ].join("\n"),
        data: {
          proposalId: created.proposalId,
          actions: actions.map((a, i) => ({ text: a.text, ...calls[i] })),
          voteStart: created.voteStart,
          voteEnd: created.voteEnd,
          transactionHash: sent.hash,
        },
      };
    },
  },

  "gov list": {
    summary: "Every proposal, oldest first, with its state",
    usage: "gov list",
    async run(suite) {
      const proposals = await readProposals(suite);
      const listed = [];
      for (const p of proposals) {
        listed.push({
          proposalId: p.proposalId,
          state: await proposalState(suite, p.proposalId),
          proposer: p.proposer,
          actions: decodeProposal(suite, p).map((a) => a.text),
          voteEnd: p.voteEnd,
          description: p.description,
        });
      }
      return {
        text:
          listed.length === 0
            ? "No proposals yet (`openpoa gov propose`)"
            : listed
                .map((p) => `${p.proposalId} ${p.state}: ${firstLine(p.description)} [${p.actions.join("; ")}]`)
                .join("\n"),
        data: listed,
      };
    },
  },

  "gov show": {
    summary: "A proposal: its actions decoded, state, votes, quorum, snapshot, deadline, ETA and description",
    usage: "gov show <proposalId>",
    async run(suite, [idText]) {
      const proposalId = parseId(idText, "proposalId");
      const proposal = await findProposal(suite, proposalId);
      const [state, votes, quorum, eta, now] = await Promise.all([
        proposalState(suite, proposalId),
        votesOf(suite, proposalId),
        quorumAt(suite, proposal.voteStart),
        etaOf(suite, proposalId),
        chainNow(suite),
      ]);
      const actions = decodeProposal(suite, proposal);
      const counted = votes.for + votes.abstain;
      const next: Partial<Record<ProposalStateName, string>> = {
        Pending: `voting opens ${when(proposal.voteStart + 1n, now)}`,
        Active: `vote: openpoa gov vote ${proposalId} for|against|abstain`,
        Succeeded: `queue it: openpoa gov queue ${proposalId}`,
        Queued: `execute it from ${when(eta, now)}: openpoa gov execute ${proposalId}`,
      };
      const lines = [
        `Proposal ${proposalId}: ${state}${next[state] ? `; ${next[state]}` : ""}`,
        `Proposed by ${proposal.proposer}`,
        "Actions:",
        ...actionsText(actions),
        `Snapshot ${when(proposal.voteStart, now)}: votes count as delegated then`,
        `Voting closes ${when(proposal.voteEnd, now)}`,
        `Votes: for ${open(votes.for)}, against ${open(votes.against)}, abstain ${open(votes.abstain)}`,
        quorum === undefined
          ? `Quorum: fixed at the snapshot (${open(await quorumNow(suite))} if it were now)`
          : `Quorum: ${open(quorum)} of for and abstain votes, ${counted >= quorum ? "reached" : `${open(quorum - counted)} short`}`,
        ...(eta > 0n ? [`ETA ${when(eta, now)}`] : []),
        "Description:",
        ...proposal.description.split("\n").map((line) => `  ${line}`),
      ];
      return {
        text: lines.join("\n"),
        data: {
          proposalId,
          state,
          proposer: proposal.proposer,
          actions: actions.map((a) => ({
            text: a.text,
            action: a.action?.name,
            contract: a.contract,
            functionName: a.functionName,
            target: a.target,
            value: a.value,
          })),
          votes,
          quorum,
          snapshot: proposal.voteStart,
          deadline: proposal.voteEnd,
          eta: eta > 0n ? eta : undefined,
          description: proposal.description,
        },
      };
    },
  },

  "gov vote": {
    summary: "Vote on an active proposal with the signer's votes at its snapshot",
    usage: "gov vote <proposalId> for|against|abstain [--reason <text>]",
    options: { reason: { type: "string", description: "why, recorded with the vote" } },
    async run(suite, [idText, supportText], values) {
      const voter = requireSigner(suite);
      const proposalId = parseId(idText, "proposalId");
      const support = voteSupport[supportText as keyof typeof voteSupport];
      if (support === undefined) throw new UsageError(`Vote for, against or abstain, not "${supportText ?? ""}"`);
      const { proposal, state, now } = await proposalNow(suite, proposalId);
      if (state === "Pending") {
        throw new ProposalStateError(proposalId, state, `voting opens ${when(proposal.voteStart + 1n, now)}`);
      }
      if (state !== "Active") {
        throw new ProposalStateError(proposalId, state, `voting closed ${when(proposal.voteEnd, now)}`);
      }
      const [voted, weight] = await Promise.all([
        read<boolean>(suite, { contract: "OpenGovernor", functionName: "hasVoted", args: [proposalId, voter] }),
        read<bigint>(suite, { contract: "OpenGovernor", functionName: "getVotes", args: [voter, proposal.voteStart] }),
      ]);
      if (voted) throw new UsageError(`${voter} has voted on proposal ${proposalId} already`);
      if (weight === 0n) {
        throw new UsageError(
          `${voter} had no votes at the snapshot (${when(proposal.voteStart, now)}): OPEN votes once delegated ` +
            "(`openpoa token delegate`), on the proposals whose snapshot comes after",
        );
      }
      const reason = str(values, "reason");
      const sent: Sent = await send(suite, {
        contract: "OpenGovernor",
        functionName: reason === undefined ? "castVote" : "castVoteWithReason",
        args: reason === undefined ? [proposalId, support] : [proposalId, support, reason],
      });
      const cast = firstEvent<{ weight: bigint }>(suite, sent, "OpenGovernor", "VoteCast");
      return {
        text: `Voted ${supportText} on proposal ${proposalId} with ${open(cast.weight)}; voting closes ${when(proposal.voteEnd, now)}`,
        data: { proposalId, voter, support: supportText, weight: cast.weight, transactionHash: sent.hash },
      };
    },
  },

  "gov queue": {
    summary: "Queue a succeeded proposal in the Timelock, which holds it for its delay",
    usage: "gov queue <proposalId>",
    async run(suite, [idText]) {
      const proposalId = parseId(idText, "proposalId");
      const { proposal, state, now } = await proposalNow(suite, proposalId);
      if (state !== "Succeeded") throw await notQueueable(suite, proposal, state, now);
      const sent = await send(suite, {
        contract: "OpenGovernor",
        functionName: "queue",
        args: proposalOperation(proposal),
      });
      const { etaSeconds } = firstEvent<{ etaSeconds: bigint }>(suite, sent, "OpenGovernor", "ProposalQueued");
      return {
        text: `Queued proposal ${proposalId}; execute it from ${when(etaSeconds, now)}: openpoa gov execute ${proposalId}`,
        data: { proposalId, eta: etaSeconds, transactionHash: sent.hash },
      };
    },
  },

  "gov execute": {
    summary: "Execute a queued proposal once the Timelock's delay has passed",
    usage: "gov execute <proposalId>",
    async run(suite, [idText]) {
      const proposalId = parseId(idText, "proposalId");
      const { proposal, state, now } = await proposalNow(suite, proposalId);
      if (state === "Succeeded") {
        throw new ProposalStateError(proposalId, state, `queue it first: openpoa gov queue ${proposalId}`);
      }
      if (state !== "Queued") throw await notQueueable(suite, proposal, state, now);
      const eta = await etaOf(suite, proposalId);
      if (eta > now) throw new ProposalStateError(proposalId, state, `executable from ${when(eta, now)}`);
      const sent = await send(suite, {
        contract: "OpenGovernor",
        functionName: "execute",
        args: proposalOperation(proposal),
      });
      const actions = decodeProposal(suite, proposal);
      return {
        text: [`Executed proposal ${proposalId}:`, ...actionsText(actions)].join("\n"),
        data: { proposalId, actions: actions.map((a) => a.text), transactionHash: sent.hash },
      };
    },
  },

  "gov params": {
    summary: "The Governor's settings: proposal threshold, voting delay and period, quorum, timelock delay",
    usage: "gov params",
    async run(suite) {
      const governor = (functionName: string) => read<bigint>(suite, { contract: "OpenGovernor", functionName });

      const [threshold, votingDelay, votingPeriod, quorumNumerator, quorumDenominator, quorum] = await Promise.all([
        governor("proposalThreshold"),
        governor("votingDelay"),
        governor("votingPeriod"),
        governor("quorumNumerator"),
        governor("quorumDenominator"),
        quorumNow(suite),
      ]);
      const window = await slashWindowAfter(suite, []);
      const path = window.votingDelay + window.votingPeriod + window.timelockDelay;
      const escape = slashEscape(window);
      const percent = (quorumNumerator * 100n) / quorumDenominator;
      return {
        text: [
          `Proposal threshold  ${open(threshold)} of delegated votes`,
          `Voting delay        ${readableDuration(votingDelay)} (votes count as delegated at its end: the snapshot)`,
          `Voting period       ${readableDuration(votingPeriod)}`,
          `Quorum              ${percent}% of the supply at the snapshot (${open(quorum)} now), for and abstain votes`,
          `Timelock delay      ${readableDuration(window.timelockDelay)}`,
          `Governance path     ${readableDuration(path)}: ` +
            (escape
              ? `NOT shorter than the ${escape.period === "unbondingPeriod" ? "unbonding" : "freeze"} period (${readableDuration(escape.seconds)}): an operator can escape a slash`
              : `shorter than operators' unbonding (${readableDuration(window.unbondingPeriod)}) and freezes (${readableDuration(window.freezePeriod)}), so a slash lands first`),
        ].join("\n"),
        data: {
          proposalThreshold: threshold,
          votingDelay,
          votingPeriod,
          quorumNumerator,
          quorumDenominator,
          quorum,
          timelockDelay: window.timelockDelay,
          governancePath: path,
          unbondingPeriod: window.unbondingPeriod,
          freezePeriod: window.freezePeriod,
        },
      };
    },
  },
};

/** Why a proposal in `state` cannot be queued (or executed), and when that changes if it will. */
async function notQueueable(
  suite: Suite,
  proposal: Proposal,
  state: ProposalStateName,
  now: bigint,
): Promise<ProposalStateError> {
  const id = proposal.proposalId;
  switch (state) {
    case "Pending":
    case "Active":
      return new ProposalStateError(id, state, `voting closes ${when(proposal.voteEnd, now)}`);
    case "Queued":
      return new ProposalStateError(id, state, `queued already, executable from ${when(await etaOf(suite, id), now)}`);
    case "Defeated": {
      const [votes, quorum] = await Promise.all([votesOf(suite, id), quorumAt(suite, proposal.voteStart)]);
      return new ProposalStateError(
        id,
        state,
        `for ${open(votes.for)}, against ${open(votes.against)}, abstain ${open(votes.abstain)}; quorum ${open(quorum ?? 0n)}`,
      );
    }
    default:
      return new ProposalStateError(id, state, "nothing more can happen to it");
  }
}
