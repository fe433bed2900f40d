/**
 * A page of earnings (per epoch, contribution, datanet version and adapter), each with where it stands (claimed,
 * claimable, pending until a chain time) and, on demand, the attribution behind it.
 */
import { Fragment, useState } from "react";
import { Link } from "wouter";
import { Amount } from "../../components/Amount.tsx";
import { Pager } from "../../components/Pager.tsx";
import { allAbis } from "../../contracts.ts";
import { describeError } from "../../lib/errors.ts";
import { formatTime } from "../../lib/format.ts";
import { epochStanding, type RewardsAnswer } from "../../lib/rewards.ts";
import { Attribution } from "./Attribution.tsx";
import { useEarningsPage, type EarningRow } from "./data.ts";
import { Table } from "../../components/Table.tsx";

const PAGE_SIZE = 10;

/** Where an earning's epoch stands for its account, in words. */
function Standing({ epoch, rewards }: { epoch: string; rewards: RewardsAnswer | undefined }) {
  if (!rewards) return <span className="muted">…</span>;
  const standing = epochStanding(BigInt(epoch), {
    lastClaimedEpoch: BigInt(rewards.lastClaimedEpoch),
    pendingRoots: rewards.pendingRoots,
    newestClaimable: rewards.epoch === null ? null : BigInt(rewards.epoch),
  });
  switch (standing.kind) {
    case "claimed":
      return <span>claimed</span>;
    case "claimable":
      return <span>claimable</span>;
    case "pending":
      return <span>pending until {formatTime(standing.claimableAt)} (chain time)</span>;
    case "unknown":
      return <span className="muted">—</span>;
  }
}

/**
 * The earnings at `path` (an indexer REST list), `title` as the table's caption. `rewards` is the paid account's
 * rewards answer: the earnings' standing follows from it.
 */
export function EarningsTable({
  path,
  title,
  rewards,
  showContribution = true,
}: {
  path: string;
  title: string;
  rewards: RewardsAnswer | undefined;
  showContribution?: boolean;
}) {
  const { page, pager, query } = useEarningsPage(path, PAGE_SIZE);
  const [open, setOpen] = useState<string | undefined>();
  const keyOf = (row: EarningRow) => `${row.epoch}-${row.index}`;
  const columns = showContribution ? 7 : 6;
  if (query.error)
    return (
      <p role="alert" className="error">
        {describeError(query.error, allAbis)}
      </p>
    );
  if (!page) return <p className="muted">Loading earnings…</p>;
  return (
    <>
      {page.missingEpochs.length > 0 && (
        <p role="note" className="error">
          Not counted: epoch{page.missingEpochs.length > 1 ? "s" : ""}{" "}
          {page.missingEpochs
            .map((m) => `${m.epoch} (distribution file ${m.status}: ${m.reason ?? "no reason"})`)
            .join(", ")}
          .
        </p>
      )}
      {page.items.length === 0 ? (
        <p className="muted">No earnings yet: they appear once an epoch that paid for this data is proposed.</p>
      ) : (
        <Table label="Earnings">
          <caption>
            {title}: <Amount wei={page.totalAmount} /> in {page.count} earning{page.count === 1 ? "" : "s"}
          </caption>
          <thead>
            <tr>
              <th scope="col">Epoch</th>
              {showContribution && <th scope="col">Contribution</th>}
              <th scope="col">Datanet</th>
              <th scope="col">Adapter</th>
              <th scope="col">Earned</th>
              <th scope="col">Standing</th>
              <th scope="col">Attribution</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((row) => {
              const key = keyOf(row);
              const panel = `attribution-${key}`;
              return (
                <Fragment key={key}>
                  <tr data-earning={key}>
                    <td>{row.epoch}</td>
                    {showContribution && (
                      <td>
                        <Link href={`/contributions/${row.contributionId}`}>Contribution {row.contributionId}</Link>
                      </td>
                    )}
                    <td>
                      <Link href={`/datanets/${row.datanetId}`}>Datanet {row.datanetId}</Link> v{row.version}
                    </td>
                    <td>
                      <Link href={`/adapters/${row.adapterId}`}>Adapter {row.adapterId}</Link>
                    </td>
                    <td>
                      <Amount wei={row.amount} />
                    </td>
                    <td>
                      <Standing epoch={row.epoch} rewards={rewards} />
                    </td>
                    <td>
                      <button
                        type="button"
                        aria-label={`${open === key ? "Hide" : "Explain"} epoch ${row.epoch}, contribution ${row.contributionId}, adapter ${row.adapterId}`}
                        aria-expanded={open === key}
                        aria-controls={open === key ? panel : undefined}
                        onClick={() => setOpen(open === key ? undefined : key)}
                      >
                        {open === key ? "Hide" : "Explain"}
                      </button>
                    </td>
                  </tr>
                  {open === key && (
                    <tr id={panel}>
                      <td colSpan={columns}>
                        <Attribution earning={row} />
                      </td>
                    </tr>
                  )}
                </Fragment>
              );
            })}
          </tbody>
        </Table>
      )}
      <Pager pager={pager} label={title} />
    </>
  );
}
