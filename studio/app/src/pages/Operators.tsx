/** Operators: every node with its stake, endpoint and base models, a page at a time; the connected operator's first. */
import { useConnection, useReadContract } from "wagmi";
import { Link } from "wouter";
import { Address } from "../components/Address.tsx";
import { Amount } from "../components/Amount.tsx";
import { Pager } from "../components/Pager.tsx";
import { Table } from "../components/Table.tsx";
import { contractOf } from "../contracts.ts";
import { useGraphqlPage } from "../data.ts";
import { useStudio } from "../studio.tsx";
import { operatorFields, type OperatorRow } from "./operator/rows.ts";

/** The connected account's own node, when it is a registered operator (read from the chain). */
function YourNode() {
  const { config } = useStudio();
  const { address } = useConnection();
  const registered = useReadContract({
    ...contractOf(config, "NodeRegistry"),
    functionName: "getOperator",
    args: address ? [address] : undefined,
    query: { enabled: Boolean(address), select: (operator) => (operator as { registered: boolean }).registered },
  });
  if (!address || !registered.data) return null;
  return (
    <p>
      <Link href={`/operators/${address}`}>Your node: its stake, channels and income</Link> (stake more, unbond,
      withdraw)
    </p>
  );
}

export default function Operators() {
  const { items, pager, query } = useGraphqlPage<OperatorRow>({
    field: "operators",
    fields: operatorFields,
    orderBy: "bonded",
    orderDirection: "desc",
    limit: 20,
  });
  return (
    <section>
      <h1>Operators</h1>
      <p className="muted">
        Nodes serving base models and adapters. An operator is active while its bonded stake is at least the minimum and
        it is not frozen; unbonded stake stays slashable until its release time.
      </p>
      <YourNode />
      {query.error && <p role="alert">Could not read the operators: {query.error.message}</p>}
      {items?.length === 0 && <p className="muted">No operator has registered yet.</p>}
      {items && items.length > 0 && (
        <Table label="Operators">
          <thead>
            <tr>
              <th scope="col">Operator</th>
              <th scope="col">Status</th>
              <th scope="col">Bonded</th>
              <th scope="col">Unbonding</th>
              <th scope="col">Endpoint</th>
              <th scope="col">Base models</th>
            </tr>
          </thead>
          <tbody>
            {items.map((o) => (
              <tr key={o.address} data-operator={o.address}>
                <td>
                  <Link href={`/operators/${o.address}`}>
                    <Address address={o.address} />
                  </Link>
                </td>
                <td>{o.status}</td>
                <td>
                  <Amount wei={o.bonded} />
                </td>
                <td>
                  <Amount wei={o.unbonding} />
                </td>
                <td className="mono">{o.endpoint}</td>
                <td>{o.baseModelIds.join(", ")}</td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      <Pager pager={pager} label="Operator pages" />
    </section>
  );
}
