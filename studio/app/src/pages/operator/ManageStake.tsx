/**
 * The connected operator's stake: bond more (approving OPEN first when the allowance is short), request an unbond
 * (with the time it will release), withdraw what has released (disabled until then), and withdraw its earnings.
 * Every amount is checked before the wallet is asked; a revert shows by name (TxButton).
 */
import { useState } from "react";
import type { Address } from "viem";
import { useBlock, useConfig, useReadContract } from "wagmi";
import { readContract } from "wagmi/actions";
import { when } from "../../../../../scripts/lib/governedActions.ts";
import { Amount } from "../../components/Amount.tsx";
import { TxButton } from "../../components/TxButton.tsx";
import { contractOf } from "../../contracts.ts";
import {
  releaseTimeAfterUnbond,
  stakeSchema,
  stakeSteps,
  unbondSchema,
  withdrawBlocker,
  type OperatorStake,
} from "../../lib/operators.ts";
import { useStudio } from "../../studio.tsx";

const firstIssue = (result: { success: boolean; error?: { issues: { message: string }[] } }) =>
  result.success ? undefined : result.error!.issues[0]!.message;

export function ManageStake({ operator }: { operator: Address }) {
  const { config } = useStudio();
  const wagmi = useConfig();
  const registry = contractOf(config, "NodeRegistry");
  const token = contractOf(config, "OpenToken");
  const payments = contractOf(config, "InferencePayments");
  const [stakeText, setStakeText] = useState("");
  const [unbondText, setUnbondText] = useState("");
  const stake = useReadContract({ ...registry, functionName: "getOperator", args: [operator] });
  const period = useReadContract({ ...registry, functionName: "unbondingPeriod" });
  const minStake = useReadContract({ ...registry, functionName: "minStake" });
  const balance = useReadContract({ ...token, functionName: "balanceOf", args: [operator] });
  const allowance = useReadContract({ ...token, functionName: "allowance", args: [operator, registry.address] });
  const earnings = useReadContract({ ...payments, functionName: "balanceOf", args: [operator] });
  const block = useBlock({ watch: true });
  const now = block.data?.timestamp;
  const state = stake.data as OperatorStake | undefined;
  if (!state || now === undefined) return <p className="muted">Reading your stake…</p>;
  if (!state.registered) return null;

  const stakeParsed = stakeSchema((balance.data as bigint | undefined) ?? 0n).safeParse(stakeText);
  const steps = stakeParsed.success ? stakeSteps((allowance.data as bigint | undefined) ?? 0n, stakeParsed.data) : 1;
  const unbondParsed = unbondSchema(state.bonded).safeParse(unbondText);
  const releaseAfter =
    period.data === undefined ? undefined : releaseTimeAfterUnbond(state, now, period.data as bigint);
  const blocked = withdrawBlocker(state, now);
  const earned = (earnings.data as bigint | undefined) ?? 0n;
  return (
    <>
      <h2>Your stake</h2>
      <p>
        Bonded <Amount wei={state.bonded} /> (the minimum to be active is <Amount wei={minStake.data as bigint} />
        ); unbonding <Amount wei={state.unbonding} />; in your wallet <Amount wei={balance.data as bigint} />.
      </p>

      <h3>Stake more</h3>
      <div className="form">
        <label>
          Amount to bond (OPEN)
          <input inputMode="decimal" value={stakeText} onChange={(event) => setStakeText(event.target.value)} />
        </label>
      </div>
      <TxButton
        label="Stake"
        steps={steps}
        validate={() => firstIssue(stakeParsed)}
        action={async (tx) => {
          const amount = stakeParsed.data!;
          const allowed = (await readContract(wagmi, {
            ...token,
            functionName: "allowance",
            args: [tx.account, registry.address],
          })) as bigint;
          if (allowed < amount)
            await tx.write("Approve the stake", {
              ...token,
              functionName: "approve",
              args: [registry.address, amount],
            });
          await tx.write("Stake", { ...registry, functionName: "addStake", args: [amount] });
          setStakeText("");
        }}
        done={() => "Staked."}
      />

      <h3>Request an unbond</h3>
      <p className="muted">
        Unbonded stake leaves the bond at once and stays slashable for the unbonding period
        {releaseAfter === undefined ? "" : `: unbonding now, it is withdrawable from ${when(releaseAfter, now)}`}.
      </p>
      <div className="form">
        <label>
          Amount to unbond (OPEN)
          <input inputMode="decimal" value={unbondText} onChange={(event) => setUnbondText(event.target.value)} />
        </label>
      </div>
      <TxButton
        label="Request unbond"
        steps={1}
        validate={() => firstIssue(unbondParsed)}
        action={async (tx) => {
          await tx.write("Request unbond", { ...registry, functionName: "requestUnbond", args: [unbondParsed.data!] });
          setUnbondText("");
        }}
        done={() => "Unbond requested."}
      />

      <h3>Withdraw unbonded stake</h3>
      <p data-testid="withdraw-status">
        {blocked ?? (
          <>
            <Amount wei={state.unbonding} /> has released and can be withdrawn.
          </>
        )}
      </p>
      <TxButton
        label="Withdraw unbonded"
        steps={1}
        disabled={blocked !== undefined}
        validate={() => blocked}
        action={(tx) => tx.write("Withdraw unbonded", { ...registry, functionName: "withdrawUnbonded" })}
        done={() => "Withdrawn."}
      />

      <h3>Withdraw earnings</h3>
      <p>
        Operator fees waiting in the payments contract: <Amount wei={earned} />.
      </p>
      <TxButton
        label="Withdraw earnings"
        steps={1}
        disabled={earned === 0n}
        validate={() => (earned === 0n ? "Nothing to withdraw." : undefined)}
        action={(tx) => tx.write("Withdraw earnings", { ...payments, functionName: "withdrawBalance" })}
        done={() => "Earnings withdrawn."}
      />
    </>
  );
}
