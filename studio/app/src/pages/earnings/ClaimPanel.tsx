/**
 * Claim an account's rewards: one transaction, AttributionRewards.claim(epoch, claim), with the indexer's proofs,
 * checked in this browser against the roots the chain holds before anything is signed (lib/rewards.ts checkClaim).
 */
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { parseEventLogs, type Address as AddressType } from "viem";
import { useConfig } from "wagmi";
import { z } from "zod/v4";
import { Address } from "../../components/Address.tsx";
import { Amount } from "../../components/Amount.tsx";
import { TxButton } from "../../components/TxButton.tsx";
import { allAbis, contractOf } from "../../contracts.ts";
import { checkClaim, ClaimCheckError, type CheckedClaim, type RewardsAnswer } from "../../lib/rewards.ts";
import { describeError } from "../../lib/errors.ts";
import { useStudio } from "../../studio.tsx";
import { readClaimChainState, useRewards } from "./data.ts";

/** The epoch typed (empty: the newest claimable), checked against the epochs a claim can name now. */
const epochField = (lastClaimed: bigint, newest: bigint) =>
  z
    .string()
    .trim()
    .regex(/^\d{1,20}$/, "Name an epoch by its number.")
    .transform((text) => BigInt(text))
    .refine((epoch) => epoch > lastClaimed, `Epochs up to ${lastClaimed} were claimed already.`)
    .refine((epoch) => epoch <= newest, `Epoch ${newest} is the newest that can be claimed against now.`);

/** The claim form for `account`, whose answer against the newest claimable root is `rewards`. */
export function ClaimPanel({ account, rewards }: { account: AddressType; rewards: RewardsAnswer }) {
  const { config } = useStudio();
  const wagmi = useConfig();
  const contract = contractOf(config, "AttributionRewards");
  const [epochText, setEpochText] = useState("");
  // The page's own query (same key): refetched when sending.
  const current = useRewards(account);
  const lastClaimed = BigInt(rewards.lastClaimedEpoch);
  const newest = rewards.epoch === null ? null : BigInt(rewards.epoch);
  const parsed = newest === null ? undefined : epochField(lastClaimed, newest).safeParse(epochText || String(newest));
  const epoch = parsed?.success ? parsed.data : undefined;
  // The newest epoch's answer is the page's own; an older one is asked for by number.
  const older = useRewards(epoch !== undefined && epoch !== newest ? account : undefined, epoch);
  const answer = epoch === newest ? rewards : older.data;

  const check = useQuery({
    queryKey: ["claim-check", answer],
    enabled: Boolean(answer?.epoch),
    queryFn: async (): Promise<{ claim: CheckedClaim } | { problem: string }> => {
      const state = await readClaimChainState(wagmi, contract, answer!);
      try {
        return { claim: checkClaim(answer!, state) };
      } catch (error) {
        if (error instanceof ClaimCheckError) return { problem: error.message };
        throw error;
      }
    },
  });

  if (newest === null)
    return (
      <p>
        No epoch can be claimed against yet{rewards.pendingRoots.length > 0 ? ": see the pending epochs above" : ""}.
      </p>
    );
  // Everything claimed (perhaps just now: the TxButton stays mounted to say what it paid).
  const allClaimed = lastClaimed >= newest;
  const checked = check.data && "claim" in check.data ? check.data.claim : undefined;
  const problem = check.data && "problem" in check.data ? check.data.problem : undefined;

  return (
    <div className="claim">
      <p>
        A claim is cumulative. AttributionRewards keeps the last epoch each account claimed against; claiming against
        epoch N pays everything the account earned through N that it has not received yet, every epoch at once, in one
        transaction. To claim only up to an older epoch, name it: the later epochs stay claimable, but no epoch up to N
        can be claimed again. (The contract's claimBatch claims for several accounts against one epoch; one account
        needs one claim.) Anyone may send a claim: the OPEN always goes to <Address address={account} />.
      </p>
      {allClaimed ? (
        <p data-claim-check="none">
          Everything through epoch {String(newest)} has been claimed: nothing more until a newer epoch becomes
          claimable.
        </p>
      ) : (
        <>
          <div className="form">
            <label>
              <span>Claim through epoch</span>
              <input
                type="number"
                inputMode="numeric"
                min={String(lastClaimed + 1n)}
                max={String(newest)}
                placeholder={String(newest)}
                value={epochText}
                onChange={(event) => setEpochText(event.target.value)}
              />
            </label>
          </div>
          {parsed && !parsed.success && (
            <p role="alert" className="error">
              {parsed.error.issues[0]?.message}
            </p>
          )}
          {older.error && (
            <p role="alert" className="error">
              {describeError(older.error, allAbis)}
            </p>
          )}
          {answer && epoch !== undefined && (
            <dl className="facts">
              <dt>Entitled through epoch {answer.epoch}</dt>
              <dd>
                <Amount wei={answer.cumulativeAmount} />
              </dd>
              <dt>Already received</dt>
              <dd>
                <Amount wei={answer.previous?.cumulativeAmount ?? answer.claimed} />
              </dd>
              <dt>This claim pays</dt>
              <dd data-claimable={answer.claimable}>
                <Amount wei={answer.claimable} />
              </dd>
            </dl>
          )}
          <p
            role="status"
            className={problem || check.error ? "error" : "muted"}
            data-claim-check={checked ? "ok" : "no"}
          >
            {check.error
              ? `The chain could not be read: ${describeError(check.error, allAbis)}`
              : problem
                ? `Not claimable: ${problem}`
                : checked
                  ? `Verified in this browser: leaf ${checked.argument.index} (${checked.argument.cumulativeAmount} wei) is in epoch ${checked.epoch}'s root as the chain holds it${
                      checked.previousEpoch > 0n
                        ? `, and its leaf in epoch ${checked.previousEpoch} (the last claimed against) in that epoch's root`
                        : ""
                    }.`
                  : answer?.epoch
                    ? "Checking the indexer's proof against the chain…"
                    : ""}
          </p>
        </>
      )}
      <TxButton
        label="Claim"
        steps={1}
        disabled={allClaimed || !checked}
        validate={() => (parsed && !parsed.success ? parsed.error.issues[0]?.message : problem)}
        action={async (tx) => {
          // Checked again at the moment of sending: the chain may have moved since the page read it.
          const fresh = (await (epoch === newest ? current : older).refetch()).data;
          if (!fresh) throw new ClaimCheckError("The indexer's answer could not be read again.");
          const claim = checkClaim(fresh, await readClaimChainState(wagmi, contract, fresh));
          const receipt = await tx.write(`Claim through epoch ${claim.epoch}`, {
            ...contract,
            functionName: "claim",
            args: [claim.epoch, claim.argument],
          });
          const [claimed] = parseEventLogs({ abi: contract.abi, logs: receipt.logs, eventName: "Claimed" });
          const amount = (claimed?.args as { amount?: bigint } | undefined)?.amount ?? claim.amount;
          // The epoch named is claimed now: the form goes back to the newest claimable one.
          setEpochText("");
          return { epoch: claim.epoch, amount };
        }}
        done={({ epoch: through, amount }) => (
          <span data-claimed={String(amount)}>
            Claimed <Amount wei={amount} /> through epoch {String(through)}, paid to <Address address={account} />.
          </span>
        )}
      />
    </div>
  );
}
