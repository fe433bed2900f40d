/**
 * A contribution's stake, read from the registry: how much it holds and what can be done with it now. A pending
 * contribution can be withdrawn by its contributor (stake refunded); an accepted one's stake can be released to the
 * contributor by anyone once its lock has passed, in chain time (lib/contributionStake.ts). Once either is done, the
 * button gives way to the stake's new state, which says what happened.
 */
import { useBlock, useConnection, useReadContract } from "wagmi";
import { Amount } from "../../components/Amount.tsx";
import { TxButton } from "../../components/TxButton.tsx";
import { contractOf } from "../../contracts.ts";
import { stakeActionOf, type ContributionStake } from "../../lib/contributionStake.ts";
import { useStudio } from "../../studio.tsx";

export function StakePanel({ contributionId }: { contributionId: bigint }) {
  const { config } = useStudio();
  const { address } = useConnection();
  const registry = contractOf(config, "DatanetRegistry");
  const read = useReadContract({ ...registry, functionName: "getContribution", args: [contributionId] });
  const block = useBlock({ watch: true });
  const contribution = read.data as ContributionStake | undefined;
  const now = block.data?.timestamp;
  if (!contribution || now === undefined) return <p className="muted">Reading its stake…</p>;

  const { action, blocker, note } = stakeActionOf(contribution, now, address);
  return (
    <>
      <p data-testid="contribution-stake">
        Stake held: <Amount wei={contribution.stake} />. {note}
      </p>
      {action === "withdraw" && (
        <TxButton
          label="Withdraw the contribution"
          steps={1}
          disabled={blocker !== undefined}
          validate={() => blocker}
          action={(tx) => tx.write("Withdraw", { ...registry, functionName: "withdraw", args: [contributionId] })}
        />
      )}
      {action === "release" && (
        <TxButton
          label="Release the stake"
          steps={1}
          disabled={blocker !== undefined}
          validate={() => blocker}
          action={(tx) =>
            tx.write("Release the stake", { ...registry, functionName: "releaseStake", args: [contributionId] })
          }
        />
      )}
      {blocker && <p className="muted">{blocker}</p>}
    </>
  );
}
