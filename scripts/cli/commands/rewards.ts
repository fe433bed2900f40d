/** Rewards: show and claim an account's reward. */
import { earnedBy, loadDistribution, openContentStore, pendingEpoch, rewardStatus } from "../../lib/rewards.ts";
import { send } from "../../lib/transactions.ts";
import { parseAddress, UsageError } from "../args.ts";
import { contentOption, firstEvent, open, requireSigner, str, type Command } from "../shared.ts";

export const rewardsCommands: Record<string, Command> = {
  "rewards show": {
    summary:
      "An account's reward under the newest claimable root, what it earned it for (per contribution), and when a pending epoch becomes claimable",
    usage: "rewards show [account] [--content <dir|url>]",
    options: { content: contentOption },
    async run(suite, [accountText], values) {
      const account = accountText ? parseAddress(accountText, "account") : requireSigner(suite);
      const store = openContentStore(str(values, "content"));
      const status = await rewardStatus(suite, store, account);
      const pendingRoot = await pendingEpoch(suite);
      const pending = pendingRoot && {
        epoch: pendingRoot.epoch,
        claimableAt: pendingRoot.claimableAt,
        earned: earnedBy(await loadDistribution(store, pendingRoot), account),
      };
      const earned = status?.earned ?? [];
      const lines = [
        status
          ? `${account} (index ${status.index}), epoch ${status.epoch}: entitled ${open(status.cumulativeAmount)}, claimed ${open(status.claimed)}, claimable ${open(status.claimable)}`
          : `${account} has no reward in a claimable epoch yet`,
        ...earned.map((e) => `  epoch ${e.epoch}: ${describeEarning(e)}`),
      ];
      if (pending) {
        const at = new Date(Number(pending.claimableAt) * 1000).toISOString().replace(".000Z", "Z");
        lines.push(`epoch ${pending.epoch} is pending: claimable from ${at} (the guardian may revoke it until then)`);
        lines.push(...pending.earned.map((e) => `  epoch ${e.epoch}: ${describeEarning(e)}`));
      }
      return { text: lines.join("\n"), data: status ? { ...status, pending } : { account, earned, pending } };
    },
  },

  "rewards claim": {
    summary: "Claim an account's reward (anyone may claim; the OPEN goes to the account)",
    usage: "rewards claim [account] [--content <dir|url>]",
    options: { content: contentOption },
    async run(suite, [accountText], values) {
      const account = accountText ? parseAddress(accountText, "account") : requireSigner(suite);
      const status = await rewardStatus(suite, openContentStore(str(values, "content")), account);
      if (!status || status.claimable === 0n) throw new UsageError(`${account} has nothing to claim`);
      const sent = await send(suite, {
        contract: "AttributionRewards",
        functionName: "claim",
        args: [status.epoch, status.claim],
      });
      const { amount } = firstEvent<{ amount: bigint }>(suite, sent, "AttributionRewards", "Claimed");
      return {
        text: `Claimed ${open(amount)} for ${account} (epoch ${status.epoch})`,
        data: { account, epoch: status.epoch, amount },
      };
    },
  },
};

/** One contribution's earning, as `rewards show` prints it. */
function describeEarning(e: ReturnType<typeof earnedBy>[number]): string {
  return `${open(e.amount)} for contribution ${e.contributionId} (datanet ${e.datanetId} v${e.version}, served by adapter ${e.adapterId})`;
}
