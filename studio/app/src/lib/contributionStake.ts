/**
 * A contribution's stake as its page offers it: withdrawn with the contribution while it is pending (its contributor
 * only), released once accepted and unlocked (anyone may call; the stake always goes to the contributor), otherwise
 * nothing, with what became of it. The same rules as DatanetRegistry.withdraw and releaseStake, checked before the
 * wallet is asked.
 */
import { isAddressEqual, type Address } from "viem";
import { when } from "../../../../scripts/lib/governedActions.ts";

/** IDatanetRegistry.ContributionStatus, as getContribution returns it (the enum's order). */
export const ContributionStatus = { None: 0, Pending: 1, Accepted: 2, Rejected: 3, Withdrawn: 4 } as const;

/** The fields of IDatanetRegistry.Contribution (getContribution) that decide what happens to the stake. */
export type ContributionStake = {
  contributor: Address;
  status: number;
  stake: bigint;
  unlocksAt: bigint;
};

export type StakeAction = {
  /** The call that returns the stake now or later; undefined when nothing can. */
  action?: "withdraw" | "release";
  /** Why the action would revert at this chain time, for this account; undefined when it can be sent. */
  blocker?: string;
  /** The stake's state in one sentence. */
  note: string;
};

/** What `account` (undefined: no wallet connected) can do with the stake at chain time `now`. */
export function stakeActionOf(c: ContributionStake, now: bigint, account: Address | undefined): StakeAction {
  switch (c.status) {
    case ContributionStatus.Pending: {
      const note = "Pending: its contributor can withdraw it until a curator decides, and get the stake back.";
      if (account === undefined) return { action: "withdraw", blocker: "Connect the contributor's wallet.", note };
      return isAddressEqual(account, c.contributor)
        ? { action: "withdraw", note }
        : { action: "withdraw", blocker: "Only its contributor can withdraw it.", note };
    }
    case ContributionStatus.Accepted:
      if (c.stake === 0n) return { note: "Accepted; its stake was released to the contributor." };
      return now < c.unlocksAt
        ? {
            action: "release",
            blocker: `Locked until ${when(c.unlocksAt, now)}.`,
            note: "Accepted: the stake is locked for a while, then anyone can release it to the contributor.",
          }
        : { action: "release", note: "Accepted and unlocked: anyone can release the stake to the contributor." };
    case ContributionStatus.Rejected:
      return { note: "Rejected: its stake went to the datanet's treasury." };
    case ContributionStatus.Withdrawn:
      return { note: "Withdrawn by its contributor, who got the stake back." };
    default:
      return { note: "Not on chain." };
  }
}
