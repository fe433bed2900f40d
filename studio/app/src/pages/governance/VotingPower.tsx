/** The connected account's votes: OPEN counts as votes once delegated (to oneself or to someone who votes). */
import { useState } from "react";
import { isAddressEqual, zeroAddress, type Address as AddressType } from "viem";
import { useConnection, useReadContracts } from "wagmi";
import { Address } from "../../components/Address.tsx";
import { Amount } from "../../components/Amount.tsx";
import { TxButton } from "../../components/TxButton.tsx";
import { contractOf } from "../../contracts.ts";
import { delegateSchema } from "../../lib/governance.ts";
import { useStudio } from "../../studio.tsx";

function Delegation({ account }: { account: AddressType }) {
  const { config } = useStudio();
  const token = contractOf(config, "OpenToken");
  const [to, setTo] = useState("");
  const reads = useReadContracts({
    contracts: [
      { ...token, functionName: "balanceOf", args: [account] },
      { ...token, functionName: "getVotes", args: [account] },
      { ...token, functionName: "delegates", args: [account] },
    ],
  });
  const [balance, votes, delegate] = (reads.data ?? []).map((r) => r.result) as [
    bigint | undefined,
    bigint | undefined,
    AddressType | undefined,
  ];
  const parsed = delegateSchema(account).safeParse(to);
  return (
    <>
      <dl className="facts">
        <dt>Your OPEN</dt>
        <dd data-testid="your-open">
          <Amount wei={balance} />
        </dd>
        <dt>Your votes</dt>
        <dd data-testid="your-votes">
          <Amount wei={votes} />
        </dd>
        <dt>Delegated to</dt>
        <dd data-testid="your-delegate">
          {delegate === undefined ? (
            "…"
          ) : isAddressEqual(delegate, zeroAddress) ? (
            "nobody: your OPEN does not vote yet"
          ) : isAddressEqual(delegate, account) ? (
            "yourself"
          ) : (
            <Address address={delegate} />
          )}
        </dd>
      </dl>
      <p className="muted">
        Votes count as delegated at each proposal&apos;s snapshot: delegate before the proposals you want to vote on.
      </p>
      <div className="form">
        <label>
          Delegate to (empty: yourself)
          <input value={to} onChange={(event) => setTo(event.target.value)} placeholder="0x…" spellCheck={false} />
        </label>
      </div>
      <TxButton
        label="Delegate"
        steps={1}
        validate={() => (parsed.success ? undefined : parsed.error.issues[0]!.message)}
        action={(tx) => tx.write("Delegate", { ...token, functionName: "delegate", args: [parsed.data!] })}
        done={() =>
          `Your votes now go to ${parsed.data && isAddressEqual(parsed.data, account) ? "yourself" : parsed.data}.`
        }
      />
    </>
  );
}

export function VotingPower() {
  const { address } = useConnection();
  return (
    <>
      <h2>Your votes</h2>
      {address ? <Delegation account={address} /> : <p className="muted">Connect a wallet to delegate and vote.</p>}
    </>
  );
}
