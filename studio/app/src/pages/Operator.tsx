/** One operator: its node and stake, its income, its channels and settlements; for the operator itself, its stake. */
import { getAddress, isAddress, isAddressEqual } from "viem";
import { useBlock, useConnection } from "wagmi";
import { Link, useParams } from "wouter";
import { when } from "../../../../scripts/lib/governedActions.ts";
import { Address } from "../components/Address.tsx";
import { Amount } from "../components/Amount.tsx";
import { Pager } from "../components/Pager.tsx";
import { Table } from "../components/Table.tsx";
import { useGraphql, useGraphqlPage } from "../data.ts";
import { formatTime } from "../lib/format.ts";
import { MAX_PAGE_SIZE } from "../lib/graphql.ts";
import { ManageStake } from "./operator/ManageStake.tsx";
import {
  channelFields,
  operatorFields,
  settlementFields,
  type ChannelRow,
  type OperatorIncome,
  type OperatorRow,
  type SettlementRow,
} from "./operator/rows.ts";

function Channels({ operator }: { operator: string }) {
  const { items, pager } = useGraphqlPage<ChannelRow>({
    field: "channels",
    fields: channelFields,
    where: { operator },
    orderBy: "id",
    orderDirection: "desc",
    limit: 10,
  });
  return (
    <>
      <h2>Channels</h2>
      {items?.length === 0 && <p className="muted">No payment channel to this operator yet.</p>}
      {items && items.length > 0 && (
        <Table label="Channels">
          <thead>
            <tr>
              <th scope="col">Channel</th>
              <th scope="col">Payer</th>
              <th scope="col">Status</th>
              <th scope="col">Deposit</th>
              <th scope="col">Settled</th>
              <th scope="col">Settlements</th>
            </tr>
          </thead>
          <tbody>
            {items.map((c) => (
              <tr key={c.id} data-channel={c.id}>
                <td>{c.id}</td>
                <td>
                  <Address address={c.payer} />
                </td>
                <td>{c.status}</td>
                <td>
                  <Amount wei={c.deposit} />
                </td>
                <td>
                  <Amount wei={c.settled} />
                </td>
                <td>{c.settlementCount}</td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      <Pager pager={pager} label="Channel pages" />
    </>
  );
}

function Settlements({ operator }: { operator: string }) {
  const { items, pager } = useGraphqlPage<SettlementRow>({
    field: "settlements",
    fields: settlementFields,
    where: { operator },
    orderBy: "blockNumber",
    orderDirection: "desc",
    limit: 10,
  });
  return (
    <>
      <h2>Settlements</h2>
      {items?.length === 0 && <p className="muted">No settlement yet.</p>}
      {items && items.length > 0 && (
        <Table label="Settlements">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Channel</th>
              <th scope="col">Paid</th>
              <th scope="col">Channel total</th>
              <th scope="col">Adapters</th>
              <th scope="col">Transaction</th>
            </tr>
          </thead>
          <tbody>
            {items.map((s) => (
              <tr key={s.id} data-settlement={s.id}>
                <td>{formatTime(BigInt(s.timestamp))}</td>
                <td>{s.channelId}</td>
                <td>
                  <Amount wei={s.increase} />
                </td>
                <td>
                  <Amount wei={s.cumulativeAmount} />
                </td>
                <td>{s.adapterCount}</td>
                <td className="mono" title={s.transactionHash}>
                  {s.transactionHash.slice(0, 10)}…
                </td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      <Pager pager={pager} label="Settlement pages" />
    </>
  );
}

/** The names of the base models an operator serves (one page: an operator serves a handful). */
function BaseModels({ ids }: { ids: string[] }) {
  const names = useGraphql<{ baseModels: { items: { id: string; name: string }[] } }>(
    ids.length === 0
      ? undefined
      : `{ baseModels(where: { id_in: ${JSON.stringify(ids)} }, limit: ${MAX_PAGE_SIZE}) { items { id name } } }`,
  );
  const nameOf = new Map(names.data?.baseModels.items.map((model) => [model.id, model.name]));
  return <>{ids.map((id) => (nameOf.has(id) ? `${nameOf.get(id)} (${id})` : id)).join(", ") || "none"}</>;
}

const operatorQuery = (address: string) =>
  `{ operator(address: ${JSON.stringify(address)}) { ${operatorFields} } accountRevenue(account: ${JSON.stringify(address)}) { operatorFees total withdrawn } }`;

export default function Operator() {
  const { address: param } = useParams<{ address: string }>();
  const valid = isAddress(param, { strict: false });
  // The indexer keeps addresses in lower case.
  const address = valid ? param.toLowerCase() : undefined;
  const facts = useGraphql<{ operator: OperatorRow | null; accountRevenue: OperatorIncome | null }>(
    address && operatorQuery(address),
  );
  const { address: connected } = useConnection();
  const block = useBlock({ watch: true });
  const now = block.data?.timestamp;
  const operator = facts.data?.operator ?? undefined;
  if (!address || facts.data?.operator === null) {
    return (
      <section>
        <h1>Operator</h1>
        <p role="alert">
          No operator {param}. <Link href="/operators">All operators</Link>
        </p>
      </section>
    );
  }
  const income = facts.data?.accountRevenue;
  const frozenUntil = operator ? BigInt(operator.frozenUntil) : 0n;
  const own = Boolean(connected && isAddressEqual(connected, getAddress(address)));
  return (
    <section>
      <h1>
        Operator <Address address={getAddress(address)} />
      </h1>
      {facts.error && <p role="alert">Could not read the operator: {facts.error.message}</p>}
      {facts.isPending && <p className="muted">Loading…</p>}
      {operator && (
        <dl className="facts">
          <dt>Status</dt>
          <dd data-testid="operator-status">
            {operator.status}
            {now !== undefined && frozenUntil > now ? `, frozen until ${when(frozenUntil, now)}` : ""}
          </dd>
          <dt>Endpoint</dt>
          <dd className="mono">{operator.endpoint}</dd>
          <dt>Base models</dt>
          <dd>
            <BaseModels ids={operator.baseModelIds} />
          </dd>
          <dt>Signing key</dt>
          <dd>
            <Address address={operator.signingKey} />
          </dd>
          <dt>Bonded stake</dt>
          <dd data-testid="operator-bonded">
            <Amount wei={operator.bonded} />
          </dd>
          <dt>Unbonding</dt>
          <dd>
            <Amount wei={operator.unbonding} />
            {BigInt(operator.unbonding) > 0n && now !== undefined
              ? `, withdrawable from ${when(BigInt(operator.unbondingReleaseTime), now)}`
              : ""}
          </dd>
          <dt>Slashed</dt>
          <dd>
            <Amount wei={operator.slashed} />
          </dd>
          <dt>Operator fees earned</dt>
          <dd data-testid="operator-income">
            <Amount wei={income?.operatorFees ?? "0"} />
          </dd>
          <dt>Withdrawn from payments</dt>
          <dd>
            <Amount wei={income?.withdrawn ?? "0"} />
          </dd>
        </dl>
      )}
      {own && <ManageStake operator={getAddress(address)} />}
      <Channels operator={address} />
      <Settlements operator={address} />
    </section>
  );
}
