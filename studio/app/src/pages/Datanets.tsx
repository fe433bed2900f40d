/** Every datanet, a page at a time, searchable by id or by its metadata URI; and a form to create one. */
import { lazy, Suspense, useState } from "react";
import { Link } from "wouter";
import { Amount } from "../components/Amount.tsx";
import { Pager } from "../components/Pager.tsx";
import { useGraphqlPage } from "../data.ts";
import type { PageRequest } from "../lib/graphql.ts";
import { Table } from "../components/Table.tsx";

export type DatanetRow = {
  id: string;
  owner: string;
  curated: boolean;
  minStake: string;
  metadataURI: string;
  license: string;
  contributionCount: number;
  acceptedCount: number;
  versionCount: number;
};

const PAGE_SIZE = 20;

// Loaded when opened: it writes, so it brings the contracts' ABIs and the wallet's actions the list does not need.
const CreateDatanetForm = lazy(() =>
  import("./datanet/CreateDatanetForm.tsx").then((module) => ({ default: module.CreateDatanetForm })),
);

/** The filter a search box's text means: a number is an id, anything else part of the URI. */
export function datanetFilter(search: string): Record<string, unknown> | undefined {
  const text = search.trim();
  if (text === "") return undefined;
  return /^\d{1,30}$/.test(text) ? { id: text } : { metadataURI_contains: text };
}

/** The list's query for `search` (its first page also prefetched before the app renders: routes.tsx). */
export const datanetsRequest = (search: string): PageRequest => ({
  field: "datanets",
  fields: "id owner curated minStake metadataURI license contributionCount acceptedCount versionCount",
  where: datanetFilter(search),
  orderBy: "id",
  orderDirection: "asc",
  limit: PAGE_SIZE,
});

export default function Datanets() {
  const [search, setSearch] = useState("");
  const [creating, setCreating] = useState(false);
  const { items, pager, query } = useGraphqlPage<DatanetRow>(datanetsRequest(search));
  return (
    <section>
      <h1>Datanets</h1>
      <p className="muted">
        Curated collections of texts. Contributors stake OPEN on what they add; adapters trained on a published version
        pay its contributors when they are used.
      </p>
      <form role="search" onSubmit={(event) => event.preventDefault()}>
        <label>
          Search by id or URI
          <input type="search" value={search} onChange={(event) => setSearch(event.target.value)} />
        </label>
      </form>
      {query.error && <p role="alert">Could not read the datanets: {query.error.message}</p>}
      {items && items.length === 0 && <p>No datanet matches.</p>}
      {items && items.length > 0 && (
        <Table label="Datanets">
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">URI</th>
              <th scope="col">Licence</th>
              <th scope="col">Curated</th>
              <th scope="col">Minimum stake</th>
              <th scope="col">Accepted / submitted</th>
              <th scope="col">Versions</th>
            </tr>
          </thead>
          <tbody>
            {items.map((d) => (
              <tr key={d.id}>
                <td>
                  <Link href={`/datanets/${d.id}`}>Datanet {d.id}</Link>
                </td>
                <td className="mono">{d.metadataURI}</td>
                <td>{d.license}</td>
                <td>{d.curated ? "yes" : "no (open)"}</td>
                <td>
                  <Amount wei={d.minStake} />
                </td>
                <td>
                  {d.acceptedCount} / {d.contributionCount}
                </td>
                <td>{d.versionCount}</td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      <Pager pager={pager} label="Datanet pages" />
      <details onToggle={(event) => setCreating(event.currentTarget.open)}>
        <summary>Create a datanet</summary>
        {creating && (
          <Suspense fallback={<p className="muted">Loading…</p>}>
            <CreateDatanetForm />
          </Suspense>
        )}
      </details>
    </section>
  );
}
