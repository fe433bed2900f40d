/**
 * Earnings of an account (the connected one, or any typed in; `/earnings/:account`): what each of its contributions
 * earned per epoch and adapter with the attribution behind it, what is claimable now, pending (until a chain time) or
 * claimed, and the claim itself.
 */
import { useState } from "react";
import { getAddress, isAddress, type Address as AddressType } from "viem";
import { useBlock, useConnection } from "wagmi";
import { Link, useLocation, useParams } from "wouter";
import { Address } from "../components/Address.tsx";
import { Amount } from "../components/Amount.tsx";
import { Pager } from "../components/Pager.tsx";
import { allAbis } from "../contracts.ts";
import { useGraphqlPage, useIndexerJson } from "../data.ts";
import { describeError } from "../lib/errors.ts";
import { formatTime } from "../lib/format.ts";
import { formatWait } from "../lib/rewards.ts";
import { ClaimPanel } from "./earnings/ClaimPanel.tsx";
import { useRewards, type EarningsAnswer } from "./earnings/data.ts";
import { EarningsTable } from "./earnings/EarningsTable.tsx";
import { Table } from "../components/Table.tsx";

export default function Earnings() {
  const params = useParams<{ account?: string }>();
  const { address } = useConnection();
  const [, navigate] = useLocation();
  const typed = params.account;
  const account = typed === undefined ? address : isAddress(typed) ? getAddress(typed) : undefined;
  return (
    <section>
      <h1>Earnings</h1>
      <AccountForm account={account} onShow={(next) => navigate(`/earnings/${next}`)} />
      {typed !== undefined && !isAddress(typed) ? (
        <p role="alert" className="error">
          “{typed}” is not an address.
        </p>
      ) : account === undefined ? (
        <p>Connect a wallet, or type an account above, to see what it earned.</p>
      ) : (
        <AccountEarnings key={account} account={account} />
      )}
    </section>
  );
}

function AccountForm({ account, onShow }: { account: AddressType | undefined; onShow(account: AddressType): void }) {
  const [text, setText] = useState("");
  const [error, setError] = useState<string | undefined>();
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        const value = text.trim();
        if (!isAddress(value)) return setError("Type an account address (0x and 40 hex digits).");
        setError(undefined);
        onShow(getAddress(value));
      }}
    >
      <label>
        <span>Show the earnings of</span>
        <input
          name="account"
          value={text}
          placeholder={account ?? "0x…"}
          spellCheck={false}
          autoComplete="off"
          onChange={(event) => setText(event.target.value)}
        />
      </label>
      <button type="submit">Show earnings</button>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </form>
  );
}

function AccountEarnings({ account }: { account: AddressType }) {
  const rewards = useRewards(account);
  const totals = useIndexerJson<EarningsAnswer>(`/accounts/${account}/earnings?limit=1`);
  // Claimability is decided by block.timestamp: the chain's time, not this computer's.
  const block = useBlock({ query: { refetchInterval: 5_000 } });
  const [epochFilter, setEpochFilter] = useState("");
  const epoch = /^\d{1,20}$/.test(epochFilter.trim()) ? epochFilter.trim() : undefined;
  const r = rewards.data;
  return (
    <>
      <p>
        Account <Address address={account} />
        <span className="mono muted"> {account}</span>
      </p>
      <h2>Rewards</h2>
      {rewards.error ? (
        <p role="alert" className="error">
          {describeError(rewards.error, allAbis)}
        </p>
      ) : !r ? (
        <p className="muted">Loading…</p>
      ) : (
        <>
          <dl className="facts">
            <dt>Earned (standing epochs)</dt>
            <dd data-earned={totals.data?.totalAmount}>
              <Amount wei={totals.data?.totalAmount} />
            </dd>
            <dt>Received (claimed)</dt>
            <dd data-received={r.claimed}>
              <Amount wei={r.claimed} />
              {r.lastClaimedEpoch !== "0" && <span className="muted"> through epoch {r.lastClaimedEpoch}</span>}
            </dd>
            <dt>Claimable now</dt>
            <dd data-claimable-now={r.claimable}>
              <Amount wei={r.claimable} />
              {r.epoch !== null && <span className="muted"> through epoch {r.epoch}</span>}
            </dd>
            <dt>Chain time</dt>
            <dd>{block.data ? formatTime(block.data.timestamp) : "…"}</dd>
          </dl>
          <h3>Pending epochs</h3>
          {r.pendingRoots.length === 0 ? (
            <p className="muted">No proposed epoch is waiting for its claim delay.</p>
          ) : (
            <ul>
              {r.pendingRoots.map((root) => (
                <PendingEpoch key={root.epoch} account={account} root={root} now={block.data?.timestamp} />
              ))}
            </ul>
          )}
          <h2>Claim</h2>
          <ClaimPanel account={account} rewards={r} />
        </>
      )}
      <h2>Earnings by epoch, contribution and adapter</h2>
      <div className="form">
        <label>
          <span>Only epoch</span>
          <input
            type="number"
            inputMode="numeric"
            min="1"
            value={epochFilter}
            placeholder="all"
            onChange={(event) => setEpochFilter(event.target.value)}
          />
        </label>
      </div>
      <EarningsTable
        path={`/accounts/${account}/earnings${epoch ? `?epoch=${epoch}` : ""}`}
        title={epoch ? `Earnings in epoch ${epoch}` : "Earnings"}
        rewards={r}
      />
      <h2>Contributions</h2>
      <Contributions account={account} />
    </>
  );
}

/** A proposed epoch within its claim delay: what the account earned in it and when it becomes claimable. */
function PendingEpoch({
  account,
  root,
  now,
}: {
  account: AddressType;
  root: { epoch: string; claimableAt: string };
  now: bigint | undefined;
}) {
  const earned = useIndexerJson<EarningsAnswer>(`/accounts/${account}/earnings?epoch=${root.epoch}&limit=1`);
  const at = BigInt(root.claimableAt);
  return (
    <li data-pending-epoch={root.epoch} data-earned-in-epoch={earned.data?.totalAmount}>
      Epoch {root.epoch}: <Amount wei={earned.data?.totalAmount} /> earned, claimable from {formatTime(at)} (chain time
      {now === undefined ? "" : `, ${formatWait(at - now)}`}). Until then governance or the guardian may revoke its
      root.
    </li>
  );
}

type ContributionRow = { id: string; datanetId: string; status: string; weight: string | null; uri: string };

function Contributions({ account }: { account: AddressType }) {
  const { items, pager, query } = useGraphqlPage<ContributionRow>({
    field: "contributions",
    fields: "id datanetId status weight uri",
    where: { contributor: account.toLowerCase() },
    orderBy: "id",
    orderDirection: "desc",
    limit: 10,
  });
  if (query.error)
    return (
      <p role="alert" className="error">
        {describeError(query.error, allAbis)}
      </p>
    );
  if (!items) return <p className="muted">Loading contributions…</p>;
  if (items.length === 0) return <p className="muted">This account has contributed nothing.</p>;
  return (
    <>
      <Table label="Contributions">
        <caption>Contributions of this account: what each earned is on its page</caption>
        <thead>
          <tr>
            <th scope="col">Contribution</th>
            <th scope="col">Datanet</th>
            <th scope="col">Status</th>
            <th scope="col">Weight</th>
          </tr>
        </thead>
        <tbody>
          {items.map((c) => (
            <tr key={c.id}>
              <td>
                <Link href={`/contributions/${c.id}`}>Contribution {c.id}</Link>
              </td>
              <td>
                <Link href={`/datanets/${c.datanetId}`}>Datanet {c.datanetId}</Link>
              </td>
              <td>{c.status}</td>
              <td>{c.weight ?? "—"}</td>
            </tr>
          ))}
        </tbody>
      </Table>
      <Pager pager={pager} label="Contributions" />
    </>
  );
}
