/**
 * One proposal: its actions in the CLI's words, its state by name, votes against the quorum, snapshot, deadline and
 * ETA in chain time; vote (with a reason), queue and execute, each rebuilt from the ProposalCreated data the indexer
 * holds and refused before signing when the Governor would refuse it.
 */
import { useMemo, useState } from "react";
import { useBlock, useConnection, useReadContracts } from "wagmi";
import { Link, useParams } from "wouter";
import { decodeProposal, proposalOperation, voteSupport, when } from "../../../../scripts/lib/governedActions.ts";
import { Address } from "../components/Address.tsx";
import { Amount } from "../components/Amount.tsx";
import { Pager } from "../components/Pager.tsx";
import { Table } from "../components/Table.tsx";
import { TxButton } from "../components/TxButton.tsx";
import { contractOf } from "../contracts.ts";
import { useGraphql, useGraphqlPage } from "../data.ts";
import {
  executeBlocker,
  proposalFields,
  proposalOf,
  queueBlocker,
  quorumProgress,
  stateName,
  titleOf,
  voteBlocker,
  voteSchema,
  type IndexedProposal,
} from "../lib/governance.ts";
import { useStudio } from "../studio.tsx";
import { useActionSuite, readsAtBlock } from "./governance/suite.ts";

const supportWords = ["against", "for", "abstain"] as const;

type VoteRow = { voter: string; support: number; weight: string; reason: string };

function Votes({ proposalId }: { proposalId: string }) {
  const { items, pager } = useGraphqlPage<VoteRow>({
    field: "votes",
    fields: "voter support weight reason",
    where: { proposalId },
    orderBy: "weight",
    orderDirection: "desc",
    limit: 20,
  });
  return (
    <>
      <h2>Votes cast</h2>
      {items?.length === 0 && <p className="muted">No vote yet.</p>}
      {items && items.length > 0 && (
        <Table label="Votes cast">
          <thead>
            <tr>
              <th scope="col">Voter</th>
              <th scope="col">Vote</th>
              <th scope="col">Weight</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {items.map((v) => (
              <tr key={v.voter} data-voter={v.voter}>
                <td>
                  <Address address={v.voter} />
                </td>
                <td>{supportWords[v.support] ?? v.support}</td>
                <td>
                  <Amount wei={v.weight} />
                </td>
                <td>{v.reason}</td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      <Pager pager={pager} label="Vote pages" />
    </>
  );
}

export default function Proposal() {
  const { id } = useParams<{ id: string }>();
  const valid = /^\d{1,78}$/.test(id);
  const { config } = useStudio();
  const { address } = useConnection();
  const suite = useActionSuite();
  const governor = contractOf(config, "OpenGovernor");
  const row = useGraphql<{ proposal: IndexedProposal | null }>(
    valid ? `{ proposal(id: ${JSON.stringify(id)}) { ${proposalFields} } }` : undefined,
  );
  const proposal = useMemo(() => (row.data?.proposal ? proposalOf(row.data.proposal) : undefined), [row.data]);
  const actions = useMemo(() => (proposal ? decodeProposal(suite, proposal) : []), [proposal, suite]);
  const block = useBlock({ watch: true });
  const now = block.data?.timestamp;
  const atBlock = readsAtBlock(block.data?.number);
  // Timepoints before the chain's last block can be read; the snapshot's votes and quorum exist once it has passed.
  const snapshotPassed = proposal !== undefined && now !== undefined && proposal.voteStart < now;
  const reads = useReadContracts({
    contracts: proposal
      ? [
          { ...governor, functionName: "state", args: [proposal.proposalId] },
          { ...governor, functionName: "proposalVotes", args: [proposal.proposalId] },
          { ...governor, functionName: "proposalEta", args: [proposal.proposalId] },
          ...(snapshotPassed ? [{ ...governor, functionName: "quorum", args: [proposal.voteStart] }] : []),
        ]
      : [],
    ...atBlock,
  });
  const voter = useReadContracts({
    contracts:
      proposal && address && snapshotPassed
        ? [
            { ...governor, functionName: "hasVoted", args: [proposal.proposalId, address] },
            { ...governor, functionName: "getVotes", args: [address, proposal.voteStart] },
          ]
        : [],
    ...atBlock,
  });
  const [support, setSupport] = useState<string>("");
  const [reason, setReason] = useState("");

  if (!valid || row.data?.proposal === null) {
    return (
      <section>
        <h1>Proposal</h1>
        <p role="alert">
          No proposal {id}. <Link href="/governance">All proposals</Link>
        </p>
      </section>
    );
  }
  const [stateValue, votes, eta, quorum] = (reads.data ?? []).map((r) => r.result) as [
    number | undefined,
    readonly [bigint, bigint, bigint] | undefined,
    bigint | undefined,
    bigint | undefined,
  ];
  const [hasVoted, weight] = (voter.data ?? []).map((r) => r.result) as [boolean | undefined, bigint | undefined];
  const state = stateName(stateValue);
  const tally = votes ? { against: votes[0], for: votes[1], abstain: votes[2] } : undefined;
  const progress = tally && quorumProgress(tally, quorum);
  const vote = voteSchema.safeParse({ support, reason });
  const voteBlocked =
    state && proposal && now !== undefined ? voteBlocker({ state, proposal, now, hasVoted, weight }) : "Reading…";
  const queueBlocked = state && proposal && now !== undefined ? queueBlocker(state, proposal, now) : "Reading…";
  const executeBlocked = state && eta !== undefined && now !== undefined ? executeBlocker(state, eta, now) : "Reading…";

  return (
    <section>
      <h1>{proposal ? titleOf(proposal.description) : "Proposal"}</h1>
      {row.error && <p role="alert">Could not read the proposal: {row.error.message}</p>}
      {row.isPending && <p className="muted">Loading…</p>}
      {proposal && (
        <>
          <dl className="facts">
            <dt>Proposal</dt>
            <dd className="mono">{id}</dd>
            <dt>State</dt>
            <dd data-testid="proposal-state">{state ?? "…"}</dd>
            <dt>Proposed by</dt>
            <dd>
              <Address address={proposal.proposer} />
            </dd>
            <dt>Snapshot</dt>
            <dd>{now === undefined ? "…" : `${when(proposal.voteStart, now)}: votes count as delegated then`}</dd>
            <dt>Voting {now !== undefined && proposal.voteEnd <= now ? "closed" : "closes"}</dt>
            <dd>{now === undefined ? "…" : when(proposal.voteEnd, now)}</dd>
            {eta !== undefined && eta > 0n && (
              <>
                <dt>Executable from (ETA)</dt>
                <dd data-testid="proposal-eta">{now === undefined ? "…" : when(eta, now)}</dd>
              </>
            )}
            <dt>Votes</dt>
            <dd data-testid="proposal-votes">
              {tally ? (
                <>
                  for <Amount wei={tally.for} />, against <Amount wei={tally.against} />, abstain{" "}
                  <Amount wei={tally.abstain} />
                </>
              ) : (
                "…"
              )}
            </dd>
            <dt>Quorum</dt>
            <dd>
              {!progress ? (
                "…"
              ) : quorum === undefined ? (
                "fixed at the snapshot"
              ) : (
                <>
                  <Amount wei={quorum} /> of for and abstain votes:{" "}
                  {progress.reached ? (
                    "reached"
                  ) : (
                    <>
                      <Amount wei={progress.short} /> short
                    </>
                  )}
                </>
              )}
            </dd>
          </dl>

          <h2>Actions</h2>
          <ol className="actions" data-testid="proposal-actions">
            {actions.map((action, i) => (
              <li key={i}>
                <code>{action.text}</code>
                {action.value > 0n && (
                  <>
                    {" "}
                    sending <Amount wei={action.value} />
                  </>
                )}
                <div className="muted">
                  {action.action ? `${action.action.description}. ` : ""}
                  {action.contract && action.functionName ? `${action.contract}.${action.functionName}` : ""}
                  {action.contract ? " at " : "Call to "}
                  <Address address={action.target} />
                </div>
              </li>
            ))}
          </ol>

          <h2>Description</h2>
          <p className="description">{proposal.description}</p>

          <h2>Vote</h2>
          {!address ? (
            <p className="muted">Connect a wallet to vote.</p>
          ) : (
            <>
              {voteBlocked ? (
                <p className="muted">{voteBlocked}</p>
              ) : (
                <p>
                  You vote with <Amount wei={weight} />, your votes at the snapshot.
                </p>
              )}
              <div className="form">
                <fieldset>
                  <legend>Your vote</legend>
                  {(Object.keys(voteSupport) as (keyof typeof voteSupport)[]).map((word) => (
                    <label key={word} className="choice">
                      <input
                        type="radio"
                        name="support"
                        value={word}
                        checked={support === word}
                        onChange={() => setSupport(word)}
                      />
                      {word}
                    </label>
                  ))}
                </fieldset>
                <label>
                  Reason (optional)
                  <textarea rows={2} value={reason} onChange={(event) => setReason(event.target.value)} />
                </label>
              </div>
              <TxButton
                label="Vote"
                steps={1}
                disabled={voteBlocked !== undefined}
                validate={() => voteBlocked ?? (vote.success ? undefined : vote.error.issues[0]!.message)}
                action={(tx) => {
                  const { support: word, reason: why } = vote.data!;
                  return tx.write(`Vote ${word}`, {
                    ...governor,
                    functionName: why ? "castVoteWithReason" : "castVote",
                    args: why
                      ? [proposal.proposalId, voteSupport[word], why]
                      : [proposal.proposalId, voteSupport[word]],
                  });
                }}
                done={() => "Your vote is counted."}
              />
            </>
          )}

          <h2>Queue and execute</h2>
          <p className="muted">
            A succeeded proposal is queued in the Timelock, which holds it for its delay; then anyone executes it.
          </p>
          <p className="muted">{queueBlocked ?? executeBlocked ?? "It can be executed now."}</p>
          <div className="form">
            <TxButton
              label="Queue"
              steps={1}
              disabled={queueBlocked !== undefined}
              validate={() => queueBlocked}
              action={(tx) =>
                tx.write("Queue", { ...governor, functionName: "queue", args: proposalOperation(proposal) })
              }
              done={() => "Queued in the Timelock."}
            />
            <TxButton
              label="Execute"
              steps={1}
              disabled={executeBlocked !== undefined}
              validate={() => executeBlocked}
              action={(tx) =>
                tx.write("Execute", { ...governor, functionName: "execute", args: proposalOperation(proposal) })
              }
              done={() => "Executed."}
            />
          </div>
          <Votes proposalId={id} />
        </>
      )}
    </section>
  );
}
