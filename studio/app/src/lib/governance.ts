/**
 * Proposals as the Governance pages read them: rows of the indexer made into the Proposal that the shared governance
 * module decodes (scripts/lib/governedActions.ts, the CLI's own words), and why a vote, a queue or an execution
 * would be refused now, checked before the wallet is asked.
 */
import { getAddress, isAddress, type Abi, type Address, type Hex } from "viem";
import { z } from "zod/v4";
import type { ContractName } from "../../../../inference/sdk/contractNames.ts";
import {
  proposalStates,
  when,
  type ActionArgs,
  type ActionSuite,
  type GovernedAction,
  type Proposal,
  type ProposalStateName,
} from "../../../../scripts/lib/governedActions.ts";

/** A proposal row of the indexer (GraphQL: bigints as strings). */
export type IndexedProposal = {
  id: string;
  proposer: string;
  targets: string[];
  values: string[];
  calldatas: string[];
  voteStart: string;
  voteEnd: string;
  description: string;
  /** created | queued | executed | canceled: what the events said; the state by name is the Governor's. */
  status: string;
  etaSeconds: string | null;
  forVotes: string;
  againstVotes: string;
  abstainVotes: string;
  createdBlock: string;
};

export const proposalFields =
  "id proposer targets values calldatas voteStart voteEnd description status etaSeconds forVotes againstVotes abstainVotes createdBlock";

/** The proposal as its ProposalCreated event stated it: what decoding, queue and execute take. */
export function proposalOf(row: IndexedProposal): Proposal {
  return {
    proposalId: BigInt(row.id),
    proposer: getAddress(row.proposer),
    targets: row.targets.map((target) => getAddress(target)),
    values: row.values.map(BigInt),
    calldatas: row.calldatas as Hex[],
    voteStart: BigInt(row.voteStart),
    voteEnd: BigInt(row.voteEnd),
    description: row.description,
  };
}

/**
 * The suite the governance module decodes against: the deployment's addresses and the bundled ABIs; `publicClient`
 * reads the values in force when an action is built.
 */
export function actionSuiteOf(
  contracts: Readonly<Record<string, { address: string }>>,
  abis: Readonly<Record<ContractName, Abi>>,
  publicClient: ActionSuite["publicClient"],
): ActionSuite {
  return {
    deployment: { contracts },
    address(name) {
      const entry = contracts[name];
      if (!entry) throw new Error(`${name} is not in the deployment`);
      return entry.address as Address;
    },
    abi: (name) => abis[name],
    publicClient,
  };
}

/** IGovernor.ProposalState by name; undefined while it is being read. */
export const stateName = (value: number | undefined): ProposalStateName | undefined =>
  value === undefined ? undefined : proposalStates[value];

/** The first line of a description: a proposal's title. */
export const titleOf = (description: string) => description.split("\n")[0]!.trim() || "(no description)";

export type Tally = { for: bigint; against: bigint; abstain: bigint };

/** How far for and abstain votes are from the quorum; `quorum` undefined while the snapshot is ahead. */
export function quorumProgress(tally: Tally, quorum: bigint | undefined) {
  const counted = tally.for + tally.abstain;
  if (quorum === undefined) return { counted, reached: false, short: undefined };
  return { counted, reached: counted >= quorum, short: counted >= quorum ? 0n : quorum - counted };
}

/** Why castVote would be refused for this voter now, or undefined when the vote can be cast. */
export function voteBlocker({
  state,
  proposal,
  now,
  hasVoted,
  weight,
}: {
  state: ProposalStateName;
  proposal: Pick<Proposal, "voteStart" | "voteEnd">;
  now: bigint;
  hasVoted: boolean | undefined;
  weight: bigint | undefined;
}): string | undefined {
  if (state === "Pending") return `Voting opens ${when(proposal.voteStart + 1n, now)}.`;
  if (state !== "Active") return `The proposal is ${state}: voting closed ${when(proposal.voteEnd, now)}.`;
  if (hasVoted) return "You have voted on this proposal already.";
  if (weight === 0n)
    return `You had no votes at the snapshot (${when(proposal.voteStart, now)}): OPEN votes once delegated, on proposals whose snapshot comes after.`;
  return undefined;
}

/** Why queue would be refused now, or undefined. */
export function queueBlocker(state: ProposalStateName, proposal: Pick<Proposal, "voteEnd">, now: bigint) {
  if (state === "Succeeded") return undefined;
  if (state === "Pending" || state === "Active") return `Voting closes ${when(proposal.voteEnd, now)}.`;
  if (state === "Queued") return "Queued already.";
  return `The proposal is ${state}: it cannot be queued.`;
}

/** Why execute would be refused at chain time `now`, or undefined. */
export function executeBlocker(state: ProposalStateName, eta: bigint, now: bigint) {
  if (state === "Succeeded") return "Queue it first.";
  if (state !== "Queued") return `The proposal is ${state}: it cannot be executed.`;
  if (eta > now) return `Executable from ${when(eta, now)}.`;
  return undefined;
}

/** The delegate field: empty for oneself, else an address. */
export function delegateSchema(self: Address) {
  return z
    .string()
    .trim()
    .transform((text, ctx) => {
      if (text === "") return self;
      if (isAddress(text)) return getAddress(text);
      ctx.addIssue({ code: "custom", message: "Enter an address (0x and 40 hex digits), or leave it empty." });
      return z.NEVER;
    });
}

/** The vote form: a support word and an optional reason. */
export const voteSchema = z.object({
  support: z.enum(["for", "against", "abstain"], { message: "Choose for, against or abstain." }),
  reason: z.string().trim().max(2000, "Keep the reason under 2000 characters."),
});

/** The parameters a form asks for: all but files (a browser has no paths; their sha256 is a parameter of its own). */
export const formParams = (action: GovernedAction) => action.params.filter((param) => param.kind.hint !== "file");

/** A form's fields (by parameter name, as typed) as the action's arguments; empty optional fields are left out. */
export function actionArgsOf(action: GovernedAction, fields: Readonly<Record<string, string>>): ActionArgs {
  const given = (name: string) => fields[name]?.trim() || undefined;
  return {
    positionals: action.params.filter((param) => !param.flag).map((param) => given(param.name) ?? ""),
    flags: Object.fromEntries(
      formParams(action)
        .filter((p) => p.flag)
        .map((p) => [p.name, given(p.name)]),
    ),
  };
}
