/**
 * One contribution: what it is, its stake (withdraw or release it), and what it earned per epoch and adapter with the
 * attribution behind each earning.
 */
import { useQuery } from "@tanstack/react-query";
import { getAddress, type Hex } from "viem";
import { Link, useParams } from "wouter";
import { Address } from "../components/Address.tsx";
import { allAbis } from "../contracts.ts";
import { describeError } from "../lib/errors.ts";
import { graphqlRequest } from "../lib/graphql.ts";
import { useStudio } from "../studio.tsx";
import { StakePanel } from "./contribution/StakePanel.tsx";
import { useRewards } from "./earnings/data.ts";
import { EarningsTable } from "./earnings/EarningsTable.tsx";

type ContributionFacts = {
  id: string;
  datanetId: string;
  contributor: Hex;
  contentHash: Hex;
  uri: string;
  status: string;
  weight: string | null;
  sizeTokens: string;
};

export default function Contribution() {
  const { id = "" } = useParams<{ id: string }>();
  const { config } = useStudio();
  const valid = /^\d{1,30}$/.test(id);
  const facts = useQuery({
    queryKey: ["contribution", id],
    enabled: valid,
    queryFn: ({ signal }) =>
      graphqlRequest<{ contribution: ContributionFacts | null }>(
        config.indexerUrl,
        `{ contribution(id: "${id}") { id datanetId contributor contentHash uri status weight sizeTokens } }`,
        signal,
      ),
  });
  const contribution = facts.data?.contribution;
  const contributor = contribution ? getAddress(contribution.contributor) : undefined;
  const rewards = useRewards(contributor);
  return (
    <section>
      <h1>Contribution {id}</h1>
      {!valid ? (
        <p role="alert" className="error">
          “{id}” is not a contribution id.
        </p>
      ) : facts.error ? (
        <p role="alert" className="error">
          {describeError(facts.error, allAbis)}
        </p>
      ) : !facts.data ? (
        <p className="muted">Loading…</p>
      ) : !contribution || !contributor ? (
        <p>No contribution {id} is known to the indexer.</p>
      ) : (
        <>
          <dl className="facts">
            <dt>Datanet</dt>
            <dd>
              <Link href={`/datanets/${contribution.datanetId}`}>Datanet {contribution.datanetId}</Link>
            </dd>
            <dt>Contributor</dt>
            <dd>
              <Address address={contributor} /> ·{" "}
              <Link href={`/earnings/${contributor}`}>all its earnings and its claim</Link>
            </dd>
            <dt>Status</dt>
            <dd>{contribution.status}</dd>
            <dt>Weight</dt>
            <dd>{contribution.weight ?? "—"}</dd>
            <dt>Size</dt>
            <dd>{contribution.sizeTokens} tokens</dd>
            <dt>Content hash (sha256)</dt>
            <dd className="mono">{contribution.contentHash}</dd>
          </dl>
          <h2>Stake</h2>
          <StakePanel contributionId={BigInt(id)} />
          <h2>Earnings</h2>
          <EarningsTable
            path={`/contributions/${id}/earnings`}
            title={`Earnings of contribution ${id}`}
            rewards={rewards.data}
            showContribution={false}
          />
        </>
      )}
    </section>
  );
}
