/** The curator's queue: pending contributions, oldest first, each accepted with a weight or rejected. */
import { useState } from "react";
import { Address } from "../../components/Address.tsx";
import { Amount } from "../../components/Amount.tsx";
import { Pager } from "../../components/Pager.tsx";
import { TxButton } from "../../components/TxButton.tsx";
import { contractOf } from "../../contracts.ts";
import { useGraphqlPage } from "../../data.ts";
import { useStudio } from "../../studio.tsx";
import { contentLink, contributionFields, type ContributionRow } from "./Contributions.tsx";
import { Table } from "../../components/Table.tsx";

/** A weight as typed: a whole number ≥ 1, or a message saying what is wrong. */
export function parseWeight(text: string): bigint | string {
  if (!/^\d{1,30}$/.test(text.trim())) return "The weight must be a whole number.";
  const weight = BigInt(text.trim());
  return weight > 0n ? weight : "The weight must be at least 1.";
}

function PendingRow({ contribution }: { contribution: ContributionRow }) {
  const { config } = useStudio();
  const registry = contractOf(config, "DatanetRegistry");
  // Default: the size in tokens, as the CLI accepts it.
  const [weight, setWeight] = useState(contribution.sizeTokens);
  const id = BigInt(contribution.id);
  return (
    <tr data-pending={contribution.id}>
      <td>{contribution.id}</td>
      <td>
        <Address address={contribution.contributor} />
      </td>
      <td>
        <Amount wei={contribution.stake} />
      </td>
      <td>
        <a href={contentLink(config.contentUrl, contribution.contentHash)}>read ({contribution.sizeTokens} tokens)</a>
      </td>
      <td>
        <label>
          Weight of {contribution.id}
          <input inputMode="numeric" value={weight} onChange={(event) => setWeight(event.target.value)} size={8} />
        </label>
        <TxButton
          label={`Accept ${contribution.id}`}
          steps={1}
          validate={() => {
            const parsed = parseWeight(weight);
            return typeof parsed === "string" ? parsed : undefined;
          }}
          action={(tx) =>
            tx.write("Accept", { ...registry, functionName: "accept", args: [id, parseWeight(weight) as bigint] })
          }
        />
        <TxButton
          label={`Reject ${contribution.id}`}
          steps={1}
          action={(tx) => tx.write("Reject", { ...registry, functionName: "reject", args: [id] })}
        />
      </td>
    </tr>
  );
}

export function CuratorQueue({ datanetId }: { datanetId: string }) {
  const { items, pager } = useGraphqlPage<ContributionRow>({
    field: "contributions",
    fields: contributionFields,
    where: { datanetId, status: "pending" },
    orderBy: "id",
    orderDirection: "asc",
    limit: 10,
  });
  return (
    <>
      <h2>Curator queue</h2>
      <p className="muted">
        Accept a contribution with a weight (its share of the version's data revenue), or reject it: its stake goes to
        the datanet's treasury.
      </p>
      {items?.length === 0 && <p>Nothing waits for curation.</p>}
      {items && items.length > 0 && (
        <Table label="Pending contributions">
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">Contributor</th>
              <th scope="col">Stake</th>
              <th scope="col">Text</th>
              <th scope="col">Decision</th>
            </tr>
          </thead>
          <tbody>
            {items.map((c) => (
              <PendingRow key={c.id} contribution={c} />
            ))}
          </tbody>
        </Table>
      )}
      <Pager pager={pager} label="Curator queue pages" />
    </>
  );
}
