import { proposal, vote } from "ponder:schema";
import { register, setParameter, touchAccounts, type Handler } from "./lib/register.ts";

const castVote: Handler = async (event, context) => {
  const { voter, proposalId, support, weight, reason } = event.args;
  await touchAccounts(context, event, voter);
  await context.db
    .insert(vote)
    .values({ proposalId, voter, support: Number(support), weight, reason, params: event.args.params ?? null });
  const tally = ["againstVotes", "forVotes", "abstainVotes"][Number(support)]!;
  await context.db
    .update(proposal, { id: proposalId })
    .set((row: Record<string, bigint>) => ({ [tally]: row[tally]! + weight }));
};

register("OpenGovernor", {
  async ProposalCreated(event, context) {
    const a = event.args;
    await touchAccounts(context, event, a.proposer);
    await context.db.insert(proposal).values({
      id: a.proposalId,
      proposer: a.proposer,
      targets: [...a.targets],
      values: [...a.values],
      signatures: [...a.signatures],
      calldatas: [...a.calldatas],
      voteStart: a.voteStart,
      voteEnd: a.voteEnd,
      description: a.description,
      status: "created",
      forVotes: 0n,
      againstVotes: 0n,
      abstainVotes: 0n,
      createdBlock: event.block.number,
    });
  },
  async ProposalQueued(event, context) {
    await context.db
      .update(proposal, { id: event.args.proposalId })
      .set({ status: "queued", etaSeconds: event.args.etaSeconds });
  },
  async ProposalExecuted(event, context) {
    await context.db.update(proposal, { id: event.args.proposalId }).set({ status: "executed" });
  },
  async ProposalCanceled(event, context) {
    await context.db.update(proposal, { id: event.args.proposalId }).set({ status: "canceled" });
  },
  VoteCast: castVote,
  VoteCastWithParams: castVote,
  async ProposalThresholdSet(event, context) {
    await setParameter(context, event, "OpenGovernor", "proposalThreshold", event.args.newProposalThreshold);
  },
  async VotingDelaySet(event, context) {
    await setParameter(context, event, "OpenGovernor", "votingDelay", event.args.newVotingDelay);
  },
  async VotingPeriodSet(event, context) {
    await setParameter(context, event, "OpenGovernor", "votingPeriod", event.args.newVotingPeriod);
  },
  async QuorumNumeratorUpdated(event, context) {
    await setParameter(context, event, "OpenGovernor", "quorumNumerator", event.args.newQuorumNumerator);
  },
  async TimelockChange(event, context) {
    await setParameter(context, event, "OpenGovernor", "timelock", event.args.newTimelock);
  },
});
