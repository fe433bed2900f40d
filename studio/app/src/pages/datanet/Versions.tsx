import { Address } from "../../components/Address.tsx";
import { Pager } from "../../components/Pager.tsx";
import { useGraphqlPage } from "../../data.ts";
import { formatTime } from "../../lib/format.ts";
import { Table } from "../../components/Table.tsx";

type VersionRow = {
  version: string;
  root: string;
  contributionCount: string;
  totalWeight: string;
  publisher: string;
  publishedAt: string;
};

/** A datanet's published versions, newest first, each with the Merkle root it commits to. */
export function Versions({ datanetId }: { datanetId: string }) {
  const { items, pager } = useGraphqlPage<VersionRow>({
    field: "datanetVersions",
    fields: "version root contributionCount totalWeight publisher publishedAt",
    where: { datanetId },
    orderBy: "version",
    orderDirection: "desc",
    limit: 10,
  });
  return (
    <>
      <h2>Versions</h2>
      {items?.length === 0 && <p className="muted">No version published yet.</p>}
      {items && items.length > 0 && (
        <Table label="Versions">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Root</th>
              <th scope="col">Contributions</th>
              <th scope="col">Total weight</th>
              <th scope="col">Published</th>
            </tr>
          </thead>
          <tbody>
            {items.map((v) => (
              <tr key={v.version}>
                <td>{v.version}</td>
                <td className="mono">{v.root}</td>
                <td>{v.contributionCount}</td>
                <td>{v.totalWeight}</td>
                <td>
                  {formatTime(BigInt(v.publishedAt))} by <Address address={v.publisher} />
                </td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      <Pager pager={pager} label="Version pages" />
    </>
  );
}
