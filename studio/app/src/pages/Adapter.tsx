/**
 * One adapter: its terms, its lineage (the datanet versions it was trained on and what each is paid), its usage and
 * revenue over time, how it was trained (the training manifest its artifact manifest names), and a playground that
 * chats with it through an operator, paid from a channel the connected wallet opens.
 */
import { useQuery } from "@tanstack/react-query";
import { lazy, Suspense } from "react";
import { Link, useParams } from "wouter";
import { Address } from "../components/Address.tsx";
import { Amount } from "../components/Amount.tsx";
import { Table } from "../components/Table.tsx";
import { Chart } from "../components/Chart.tsx";
import { Pager } from "../components/Pager.tsx";
import { useGraphqlPage } from "../data.ts";
import {
  compactNumber,
  dayLabel,
  revenueChart,
  targetModuleNames,
  tokenPoints,
  type UsageDay,
} from "../lib/adapters.ts";
import { formatBps, formatTime } from "../lib/format.ts";
import { graphqlLiteral, graphqlRequest } from "../lib/graphql.ts";
import { useStudio } from "../studio.tsx";
import { Training } from "./adapter/Training.tsx";

export type AdapterDetail = {
  id: string;
  baseModelId: string;
  baseModel: { name: string } | null;
  owner: string;
  artifactHash: string;
  uri: string;
  rank: number;
  targetModules: number;
  pricePer1kTokens: string;
  ownerShareBps: number;
  dataShareBps: number;
  deprecated: boolean;
  lineageLength: number;
  registeredAt: string;
  revenue: {
    settlements: number;
    amount: string;
    protocolFee: string;
    operatorFee: string;
    ownerShare: string;
    dataShare: string;
  } | null;
};

const detailFields = `id baseModelId baseModel { name } owner artifactHash uri rank targetModules pricePer1kTokens
  ownerShareBps dataShareBps deprecated lineageLength registeredAt
  revenue { settlements amount protocolFee operatorFee ownerShare dataShare }`;

// The playground carries the SDK (discovery, the Payer, receipt checks): its own chunk, so the details show first.
const Playground = lazy(() => import("./adapter/Playground.tsx"));

type LineageRow = { index: number; datanetId: string; version: string; weightBps: number };

export default function Adapter() {
  const { id = "" } = useParams<{ id: string }>();
  const { config } = useStudio();
  const valid = /^[1-9]\d{0,29}$/.test(id);
  const detail = useQuery({
    queryKey: ["graphql", "adapter", id],
    enabled: valid,
    queryFn: ({ signal }) =>
      graphqlRequest<{ adapter: AdapterDetail | null }>(
        config.indexerUrl,
        `{ adapter(id: ${graphqlLiteral(id)}) { ${detailFields} } }`,
        signal,
      ),
  });
  if (!valid) return <NotAnAdapter id={id} />;
  const adapter = detail.data?.adapter;
  return (
    <section>
      <p>
        <Link href="/adapters">← All adapters</Link>
      </p>
      <h1>Adapter {id}</h1>
      {detail.error && <p role="alert">Could not read the adapter: {detail.error.message}</p>}
      {detail.isPending && <p className="muted">Loading…</p>}
      {detail.data && !adapter && <p role="alert">There is no adapter {id} (yet: the indexer may be behind).</p>}
      {adapter && (
        <>
          <Facts adapter={adapter} />
          <Lineage adapterId={id} />
          <Revenue adapter={adapter} />
          <Training uri={adapter.uri} />
          <Suspense fallback={<p className="muted">Loading the playground…</p>}>
            <Playground adapter={adapter} />
          </Suspense>
        </>
      )}
    </section>
  );
}

function NotAnAdapter({ id }: { id: string }) {
  return (
    <section>
      <h1>Adapter</h1>
      <p role="alert">
        “{id}” is not an adapter id. <Link href="/adapters">See every adapter.</Link>
      </p>
    </section>
  );
}

function Facts({ adapter }: { adapter: AdapterDetail }) {
  return (
    <dl className="facts">
      <dt>Status</dt>
      <dd>{adapter.deprecated ? "deprecated (no longer served)" : "active"}</dd>
      <dt>Base model</dt>
      <dd>
        {adapter.baseModel?.name ?? "?"} <span className="muted">(#{adapter.baseModelId})</span>
      </dd>
      <dt>Owner</dt>
      <dd>
        <Address address={adapter.owner} />
      </dd>
      <dt>Price</dt>
      <dd>
        <Amount wei={adapter.pricePer1kTokens} /> per 1,000 tokens
      </dd>
      <dt>Split of each payment</dt>
      <dd>
        after the protocol and operator fees: {formatBps(adapter.ownerShareBps)} to the owner,{" "}
        {formatBps(adapter.dataShareBps)} to the data (the lineage&apos;s contributors)
      </dd>
      <dt>LoRA</dt>
      <dd>
        rank {adapter.rank}, targets {targetModuleNames(adapter.targetModules) || "none"}
      </dd>
      <dt>Artifact</dt>
      <dd>
        <span className="mono">{adapter.uri}</span>
        <br />
        <span className="muted">hash </span>
        <span className="mono">{adapter.artifactHash}</span>
      </dd>
      <dt>Registered</dt>
      <dd>{formatTime(BigInt(adapter.registeredAt))}</dd>
    </dl>
  );
}

function Lineage({ adapterId }: { adapterId: string }) {
  const { items, pager, query } = useGraphqlPage<LineageRow>({
    field: "adapterLineages",
    fields: "index datanetId version weightBps",
    where: { adapterId },
    orderBy: "index",
    orderDirection: "asc",
    limit: 20,
  });
  return (
    <>
      <h2>Lineage</h2>
      <p className="muted">
        The datanet versions the adapter was trained on. The data share of each payment is split between them by these
        weights, then among each version&apos;s contributors.
      </p>
      {query.error && <p role="alert">Could not read the lineage: {query.error.message}</p>}
      {items && (
        <Table label={`Lineage of adapter ${adapterId}`}>
          <caption className="muted">Lineage of adapter {adapterId}</caption>
          <thead>
            <tr>
              <th scope="col">Datanet version</th>
              <th scope="col">Weight</th>
            </tr>
          </thead>
          <tbody>
            {items.map((entry) => (
              <tr key={entry.index}>
                <td>
                  <Link href={`/datanets/${entry.datanetId}`}>
                    Datanet {entry.datanetId} version {entry.version}
                  </Link>
                </td>
                <td>{formatBps(entry.weightBps)}</td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      {pager.total !== undefined && pager.total > pager.pageSize && <Pager pager={pager} label="Lineage pages" />}
    </>
  );
}

function Revenue({ adapter }: { adapter: AdapterDetail }) {
  const { items, pager, query } = useGraphqlPage<UsageDay>({
    field: "adapterUsageDailys",
    fields: "day settlements revenue estimatedTokens",
    where: { adapterId: adapter.id },
    orderBy: "day",
    orderDirection: "desc",
    limit: 60,
  });
  const totals = adapter.revenue;
  const revenue = revenueChart(items ?? []);
  return (
    <>
      <h2>Usage and revenue</h2>
      <p className="muted">
        The chain sees settlements, not requests: usage is what operators settled, tokens are estimated from the price.
      </p>
      <dl className="facts">
        <dt>Settlements</dt>
        <dd>{totals?.settlements ?? 0}</dd>
        <dt>Paid for this adapter</dt>
        <dd>
          <Amount wei={totals?.amount ?? "0"} />
        </dd>
        <dt>To the owner</dt>
        <dd>
          <Amount wei={totals?.ownerShare ?? "0"} />
        </dd>
        <dt>To the data (contributors)</dt>
        <dd>
          <Amount wei={totals?.dataShare ?? "0"} />
        </dd>
        <dt>To operators</dt>
        <dd>
          <Amount wei={totals?.operatorFee ?? "0"} />
        </dd>
        <dt>Protocol fee</dt>
        <dd>
          <Amount wei={totals?.protocolFee ?? "0"} />
        </dd>
      </dl>
      {query.error && <p role="alert">Could not read the usage: {query.error.message}</p>}
      {items && (
        <div>
          <Chart
            points={revenue.points}
            label={`Revenue per day, in ${revenue.unit}`}
            formatX={dayLabel}
            formatY={compactNumber}
          />
          <Chart
            points={tokenPoints(items)}
            label="Tokens served per day (estimated)"
            formatX={dayLabel}
            formatY={compactNumber}
          />
        </div>
      )}
      {pager.hasNext || pager.hasPrevious ? <Pager pager={pager} label="Usage days (60 a page, newest first)" /> : null}
    </>
  );
}
