/** Every registered adapter, a page at a time: what it adapts, who owns it, what it costs, how it was trained. */
import { useState } from "react";
import { Link } from "wouter";
import { Address } from "../components/Address.tsx";
import { Amount } from "../components/Amount.tsx";
import { Table } from "../components/Table.tsx";
import { Pager } from "../components/Pager.tsx";
import { useGraphqlPage } from "../data.ts";
import { targetModuleNames } from "../lib/adapters.ts";

type AdapterRow = {
  id: string;
  baseModelId: string;
  baseModel: { name: string } | null;
  owner: string;
  pricePer1kTokens: string;
  rank: number;
  targetModules: number;
  deprecated: boolean;
};

const PAGE_SIZE = 20;

/** The filter the choices mean: one owner's adapters, deprecated ones hidden unless asked for. */
export function adapterFilter(owner: string, showDeprecated: boolean): Record<string, unknown> | undefined {
  const where: Record<string, unknown> = {};
  if (/^0x[0-9a-fA-F]{40}$/.test(owner.trim())) where.owner = owner.trim().toLowerCase();
  if (!showDeprecated) where.deprecated = false;
  return Object.keys(where).length ? where : undefined;
}

export default function Adapters() {
  const [owner, setOwner] = useState("");
  const [showDeprecated, setShowDeprecated] = useState(false);
  const { items, pager, query } = useGraphqlPage<AdapterRow>({
    field: "adapters",
    fields: "id baseModelId baseModel { name } owner pricePer1kTokens rank targetModules deprecated",
    where: adapterFilter(owner, showDeprecated),
    orderBy: "id",
    orderDirection: "desc",
    limit: PAGE_SIZE,
  });
  return (
    <section>
      <h1>Adapters</h1>
      <p className="muted">
        LoRA adapters trained on published datanet versions. Each use pays its owner and, through its lineage, the
        contributors of those datanets. Open one to see its lineage and usage, and to chat with it.
      </p>
      <form onSubmit={(event) => event.preventDefault()}>
        <label>
          Owner address (optional)
          <input
            value={owner}
            onChange={(event) => setOwner(event.target.value)}
            placeholder="0x…"
            spellCheck={false}
            autoComplete="off"
          />
        </label>
        <label style={{ flexDirection: "row", alignItems: "center", gap: 6 }}>
          <input
            type="checkbox"
            checked={showDeprecated}
            onChange={(event) => setShowDeprecated(event.target.checked)}
          />
          Show deprecated adapters
        </label>
      </form>
      {query.error && <p role="alert">Could not read the adapters: {query.error.message}</p>}
      {items && items.length === 0 && <p>No adapter matches.</p>}
      {items && items.length > 0 && (
        <Table label="Adapters">
          <caption className="muted">Adapters, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Adapter</th>
              <th scope="col">Base model</th>
              <th scope="col">Owner</th>
              <th scope="col">Price per 1,000 tokens</th>
              <th scope="col">Rank / targets</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {items.map((a) => (
              <tr key={a.id}>
                <td>
                  <Link href={`/adapters/${a.id}`}>Adapter {a.id}</Link>
                </td>
                <td>
                  {a.baseModel?.name ?? "?"} <span className="muted">(#{a.baseModelId})</span>
                </td>
                <td>
                  <Address address={a.owner} />
                </td>
                <td>
                  <Amount wei={a.pricePer1kTokens} />
                </td>
                <td>
                  r{a.rank} · {targetModuleNames(a.targetModules) || "none"}
                </td>
                <td>{a.deprecated ? "deprecated" : "active"}</td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      <Pager pager={pager} label="Adapter pages" />
    </section>
  );
}
