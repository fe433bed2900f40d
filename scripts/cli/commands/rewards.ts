/** Rewards: show and claim an account's reward. */
import { openContentStore, rewardStatus } from "../../lib/rewards.ts";
import { send } from "../../lib/transactions.ts";
import { parseAddress, UsageError } from "../args.ts";
import { contentOption, firstEvent, open, requireSigner, str, type Command } from "../shared.ts";

export const rewardsCommands: Record<string, Command> = {
  "rewards show": {
    summary: "Show an account's reward under the newest claimable root",
    usage: "rewards show [account] [--content <dir|url>]",
    options: { content: contentOption },
    async run(suite, [accountText], values) {
      const account = accountText ? parseAddress(accountText, "account") : requireSigner(suite);
      const status = await rewardStatus(suite, openContentStore(str(values, "content")), account);
      if (!status) return { text: `${account} has no reward in a claimable epoch yet`, data: null };
      return {
        text: `${account} (index ${status.index}), epoch ${status.epoch}: entitled ${open(status.cumulativeAmount)}, claimed ${open(status.claimed)}, claimable ${open(status.claimable)}`,
        data: status,
      };
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
