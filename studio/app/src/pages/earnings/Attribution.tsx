/**
 * Why a contribution earned what it did in an epoch through an adapter: the requests the epoch's settlements paid for
 * (the verified distribution file's receipts, from the indexer), each request's attribution record read from the
 * content store and checked against its hash, and the spans of the completion that matched this contribution, with
 * their text read from the contribution's own bytes (checked against its contentHash).
 */
import { useQuery } from "@tanstack/react-query";
import type { Hex } from "viem";
import type { AttributionRecord } from "../../../../../attribution/src/record.ts";
import { Amount } from "../../components/Amount.tsx";
import { Pager } from "../../components/Pager.tsx";
import { useGraphqlPage } from "../../data.ts";
import {
  fetchAttributionRecord,
  fetchVerifiedContent,
  shareOf,
  spansCrediting,
  spanText,
  storeReader,
  type CreditedSpan,
} from "../../lib/attribution.ts";
import { describeError } from "../../lib/errors.ts";
import { graphqlRequest } from "../../lib/graphql.ts";
import { allAbis } from "../../contracts.ts";
import { useStudio } from "../../studio.tsx";
import type { EarningRow } from "./data.ts";
import { Table } from "../../components/Table.tsx";

type Receipt = {
  index: number;
  channelId: string;
  position: string;
  amount: string;
  completionHash: Hex;
  attributionHash: Hex;
  record: "used" | "absent" | "invalid";
  reason: string | null;
};

/** Contribution texts larger than this are not fetched to quote a span (offsets are still shown). */
const MAX_QUOTED_BYTES = 1_000_000;

const recordStatus: Record<Receipt["record"], string> = {
  used: "record used",
  absent: "no record published: its part went pro rata by weight",
  invalid: "record not applied: its part went pro rata by weight",
};

/** The attribution behind one earning row. */
export function Attribution({ earning }: { earning: EarningRow }) {
  const { items, pager, query } = useGraphqlPage<Receipt>({
    field: "epochReceipts",
    fields: "index channelId position amount completionHash attributionHash record reason",
    where: { epoch: earning.epoch, adapterId: earning.adapterId },
    orderBy: "index",
    orderDirection: "asc",
    limit: 5,
  });
  return (
    <div className="attribution">
      <p>
        In epoch {earning.epoch}, adapter {earning.adapterId} paid datanet {earning.datanetId} v{earning.version} its
        part of each request's data share. A request whose attribution record was used moved its part to the
        contributions its completion quoted (their parts per million below); every other part, and each record's pool
        part, went to the version's contributions pro rata by weight. Contribution {earning.contributionId} got{" "}
        <Amount wei={earning.amount} /> in all (attribution policy {earning.policyId}).
      </p>
      <h3>
        Requests paid through adapter {earning.adapterId} in epoch {earning.epoch}
      </h3>
      {query.error ? (
        <p role="alert" className="error">
          {describeError(query.error, allAbis)}
        </p>
      ) : !items ? (
        <p className="muted">Loading the epoch's requests…</p>
      ) : items.length === 0 ? (
        <p className="muted">
          No request of this adapter was listed in the epoch: the whole part went pro rata by weight.
        </p>
      ) : (
        <ol className="receipts">
          {items.map((receipt) => (
            <li key={receipt.index} data-receipt={receipt.index}>
              <p>
                Request {receipt.position} of channel {receipt.channelId}, paid <Amount wei={receipt.amount} />:{" "}
                {recordStatus[receipt.record]}
                {receipt.reason ? ` (${receipt.reason})` : ""}.
              </p>
              {receipt.record === "used" && <RecordEvidence receipt={receipt} earning={earning} />}
            </li>
          ))}
        </ol>
      )}
      <Pager pager={pager} label={`Requests of adapter ${earning.adapterId} in epoch ${earning.epoch}`} />
    </div>
  );
}

/** A used record: its hash checked, this contribution's share in it, and the spans that matched it. */
function RecordEvidence({ receipt, earning }: { receipt: Receipt; earning: EarningRow }) {
  const { config } = useStudio();
  const record = useQuery({
    queryKey: ["attribution-record", receipt.attributionHash],
    staleTime: Infinity,
    queryFn: ({ signal }) => fetchAttributionRecord(storeReader(config.contentUrl, signal), receipt.attributionHash),
  });
  if (record.error)
    return (
      <p role="alert" className="error">
        Record {receipt.attributionHash}: {describeError(record.error, allAbis)}
      </p>
    );
  if (!record.data) return <p className="muted">Reading the record from the content store…</p>;
  const contributionId = BigInt(earning.contributionId);
  const key = { datanetId: BigInt(earning.datanetId), version: BigInt(earning.version), contributionId };
  const share = shareOf(record.data, key);
  const spans = spansCrediting(record.data, contributionId).filter(
    (s) => s.datanetId === key.datanetId && s.version === key.version,
  );
  return (
    <div className="record" data-record={receipt.attributionHash}>
      <p className="muted">
        Record verified: its canonical JSON hashes (keccak256) to the receipt's attribution hash{" "}
        <span className="mono">{receipt.attributionHash}</span>. Completion of {record.data.completionTokens} tokens,
        tokenizer {record.data.tokenizerId}.
      </p>
      <p>
        Datanet {earning.datanetId} v{earning.version} holds {share.weightBps / 100} % of this request's data share:
        contribution {earning.contributionId} got <strong>{share.ppm.toLocaleString()} ppm</strong> of the request by
        its spans, the pool {share.poolPpm.toLocaleString()} ppm.
      </p>
      {spans.length === 0 ? (
        <p className="muted">No span of this completion matched contribution {earning.contributionId}.</p>
      ) : (
        <Table label="Matched spans">
          <caption>
            Spans of the completion that matched contribution {earning.contributionId} ({spans.length})
          </caption>
          <thead>
            <tr>
              <th scope="col">Completion tokens</th>
              <th scope="col">Held by</th>
              <th scope="col">Text</th>
              <th scope="col">Weight</th>
              <th scope="col">Shared with</th>
            </tr>
          </thead>
          <tbody>
            {spans.map((span, i) => (
              <tr key={i} data-span={`${span.start}-${span.length}`}>
                <td>
                  [{span.start}, {span.start + span.length})
                </td>
                <td>
                  contribution {span.heldBy.toString()}
                  {span.heldBy !== contributionId ? " (a near copy of it)" : ""}, tokens [{span.offset},{" "}
                  {span.offset + span.length})
                </td>
                <td>
                  <SpanQuote span={span} record={record.data} />
                </td>
                <td>{span.weight}</td>
                <td>
                  {span.sourceCount === 1 ? "nobody" : `${span.sourceCount - 1} other contribution(s)`};{" "}
                  {span.occurrenceCount} occurrence(s) in the lineage
                </td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
    </div>
  );
}

/** The span's text, read from the contribution that holds it (its bytes checked against its contentHash). */
function SpanQuote({ span, record }: { span: CreditedSpan; record: AttributionRecord }) {
  const { config } = useStudio();
  const content = useQuery({
    queryKey: ["contribution-content", span.heldBy.toString()],
    staleTime: Infinity,
    queryFn: async ({ signal }) => {
      const { contribution } = await graphqlRequest<{
        contribution: { contentHash: Hex; sizeTokens: string } | null;
      }>(config.indexerUrl, `{ contribution(id: "${span.heldBy}") { contentHash sizeTokens } }`, signal);
      if (!contribution) throw new Error(`the indexer knows no contribution ${span.heldBy}`);
      if (BigInt(contribution.sizeTokens) > BigInt(MAX_QUOTED_BYTES)) return null;
      return fetchVerifiedContent(storeReader(config.contentUrl, signal), contribution.contentHash);
    },
  });
  if (content.error) return <span className="error">{describeError(content.error, allAbis)}</span>;
  if (content.data === undefined) return <span className="muted">…</span>;
  const text = content.data && spanText(content.data, record.tokenizerId, span.offset, span.length);
  if (text === undefined || text === null)
    return <span className="muted">(not shown: tokenizer {record.tokenizerId} or a large text)</span>;
  return <q className="quote">{text}</q>;
}
