import { useId, useState } from "react";
import { Address } from "../../components/Address.tsx";
import { Amount } from "../../components/Amount.tsx";
import { Pager } from "../../components/Pager.tsx";
import { useGraphqlPage } from "../../data.ts";
import { useStudio } from "../../studio.tsx";
import { Table } from "../../components/Table.tsx";

export type ContributionRow = {
  id: string;
  contributor: string;
  status: string;
  weight: string | null;
  stake: string;
  sizeTokens: string;
  contentHash: string;
};

export const contributionFields = "id contributor status weight stake sizeTokens contentHash";
const statuses = ["all", "pending", "accepted", "rejected", "withdrawn"] as const;

/** Where the store serves a contribution's text (by its sha256). */
export const contentLink = (contentUrl: string, contentHash: string) =>
  `${contentUrl.replace(/\/+$/, "")}/${contentHash.slice(2)}`;

/** A datanet's contributions, newest first, filtered by status. */
export function Contributions({ datanetId }: { datanetId: string }) {
  const { config } = useStudio();
  const id = useId();
  const [status, setStatus] = useState<(typeof statuses)[number]>("all");
  const { items, pager } = useGraphqlPage<ContributionRow>({
    field: "contributions",
    fields: contributionFields,
    where: status === "all" ? { datanetId } : { datanetId, status },
    orderBy: "id",
    orderDirection: "desc",
    limit: 20,
  });
  return (
    <>
      <h2>Contributions</h2>
      <div className="form">
        <label htmlFor={id}>Status</label>
        <select id={id} value={status} onChange={(event) => setStatus(event.target.value as typeof status)}>
          {statuses.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </div>
      {items?.length === 0 && <p className="muted">No contribution here.</p>}
      {items && items.length > 0 && (
        <Table label="Contributions">
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">Contributor</th>
              <th scope="col">Status</th>
              <th scope="col">Weight</th>
              <th scope="col">Stake</th>
              <th scope="col">Size (tokens)</th>
              <th scope="col">Text</th>
            </tr>
          </thead>
          <tbody>
            {items.map((c) => (
              <tr key={c.id} data-contribution={c.id}>
                <td>{c.id}</td>
                <td>
                  <Address address={c.contributor} />
                </td>
                <td>{c.status}</td>
                <td>{c.weight ?? "—"}</td>
                <td>
                  <Amount wei={c.stake} />
                </td>
                <td>{c.sizeTokens}</td>
                <td>
                  <a href={contentLink(config.contentUrl, c.contentHash)}>
                    read<span className="sr-only"> contribution {c.id}</span>
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      <Pager pager={pager} label="Contribution pages" />
    </>
  );
}
