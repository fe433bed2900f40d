/** Governance: the Governor's settings, the connected account's votes and delegation, and every proposal, decoded. */
import { useMemo } from "react";
import { useBlock, useConnection, useReadContracts } from "wagmi";
import { Link } from "wouter";
import { decodeProposal, readableDuration, when } from "../../../../scripts/lib/governedActions.ts";
import { Amount } from "../components/Amount.tsx";
import { Pager } from "../components/Pager.tsx";
import { contractOf } from "../contracts.ts";
import { useGraphqlPage } from "../data.ts";
import { proposalFields, proposalOf, stateName, titleOf, type IndexedProposal } from "../lib/governance.ts";
import { useStudio } from "../studio.tsx";
import { useActionSuite, readsAtBlock } from "./governance/suite.ts";
import { ProposeForm } from "./governance/ProposeForm.tsx";
import { VotingPower } from "./governance/VotingPower.tsx";

function Settings() {
  const { config } = useStudio();
  const governor = contractOf(config, "OpenGovernor");
  const reads = useReadContracts({
    contracts: [
      { ...governor, functionName: "proposalThreshold" },
      { ...governor, functionName: "votingDelay" },
      { ...governor, functionName: "votingPeriod" },
      { ...governor, functionName: "quorumNumerator" },
      { ...governor, functionName: "quorumDenominator" },
      { ...contractOf(config, "OpenTimelock"), functionName: "getMinDelay" },
    ],
  });
  const [threshold, delay, period, numerator, denominator, timelock] = (reads.data ?? []).map((r) => r.result) as (
    bigint | undefined
  )[];
  const duration = (seconds: bigint | undefined) => (seconds === undefined ? "…" : readableDuration(seconds));
  return (
    <dl className="facts">
      <dt>Proposal threshold</dt>
      <dd>
        <Amount wei={threshold} /> of delegated votes
      </dd>
      <dt>Voting delay</dt>
      <dd>{duration(delay)} (votes count as delegated at its end: the snapshot)</dd>
      <dt>Voting period</dt>
      <dd>{duration(period)}</dd>
      <dt>Quorum</dt>
      <dd>
        {numerator === undefined || !denominator ? "…" : `${(numerator * 100n) / denominator} %`} of the supply at the
        snapshot, in for and abstain votes
      </dd>
      <dt>Timelock delay</dt>
      <dd>{duration(timelock)} from queue to execution</dd>
    </dl>
  );
}

function Proposals() {
  const { config } = useStudio();
  const suite = useActionSuite();
  const block = useBlock({ watch: true });
  const { items, pager, query } = useGraphqlPage<IndexedProposal>({
    field: "proposals",
    fields: proposalFields,
    orderBy: "createdBlock",
    orderDirection: "desc",
    limit: 10,
  });
  const governor = contractOf(config, "OpenGovernor");
  const states = useReadContracts({
    contracts: (items ?? []).map((p) => ({ ...governor, functionName: "state", args: [BigInt(p.id)] })),
    ...readsAtBlock(block.data?.number),
  });
  const decoded = useMemo(() => (items ?? []).map((row) => decodeProposal(suite, proposalOf(row))), [items, suite]);
  const now = block.data?.timestamp;
  return (
    <>
      <h2>Proposals</h2>
      {query.error && <p role="alert">Could not read the proposals: {query.error.message}</p>}
      {items?.length === 0 && <p className="muted">No proposal yet.</p>}
      {items && items.length > 0 && (
        <ul className="proposals">
          {items.map((p, i) => (
            <li key={p.id} data-proposal={p.id}>
              <Link href={`/governance/${p.id}`}>{titleOf(p.description)}</Link>{" "}
              <span className="badge">{stateName(states.data?.[i]?.result as number | undefined) ?? "…"}</span>
              <ol className="actions">
                {decoded[i]!.map((action, j) => (
                  <li key={j}>
                    <code>{action.text}</code>
                  </li>
                ))}
              </ol>
              <span className="muted">
                For <Amount wei={p.forVotes} />, against <Amount wei={p.againstVotes} />, abstain{" "}
                <Amount wei={p.abstainVotes} />
                {now === undefined
                  ? ""
                  : `; voting ${BigInt(p.voteEnd) > now ? "closes" : "closed"} ${when(BigInt(p.voteEnd), now)}`}
              </span>
            </li>
          ))}
        </ul>
      )}
      <Pager pager={pager} label="Proposal pages" />
    </>
  );
}

export default function Governance() {
  const { address } = useConnection();
  return (
    <section>
      <h1>Governance</h1>
      <p className="muted">
        OPEN holders govern every protocol parameter: a passed proposal waits in the Timelock, which then executes it.
      </p>
      <Settings />
      <VotingPower />
      <Proposals />
      {address ? <ProposeForm /> : null}
    </section>
  );
}
