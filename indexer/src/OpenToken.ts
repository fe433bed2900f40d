import { account, allowance } from "ponder:schema";
import { register, touchAccounts, ZERO_ADDRESS } from "./lib/register.ts";

register("OpenToken", {
  async Transfer(event, context) {
    const { from, to, value } = event.args;
    await touchAccounts(context, event, from, to);
    if (from !== ZERO_ADDRESS) {
      await context.db
        .update(account, { address: from })
        .set((row: { balance: bigint }) => ({ balance: row.balance - value }));
    }
    if (to !== ZERO_ADDRESS) {
      await context.db
        .update(account, { address: to })
        .set((row: { balance: bigint }) => ({ balance: row.balance + value }));
    }
  },
  async Approval(event, context) {
    const { owner, spender, value } = event.args;
    await touchAccounts(context, event, owner, spender);
    await context.db.insert(allowance).values({ owner, spender, value }).onConflictDoUpdate({ value });
  },
  async DelegateChanged(event, context) {
    const { delegator, toDelegate } = event.args;
    await touchAccounts(context, event, delegator, toDelegate);
    await context.db.update(account, { address: delegator }).set({ delegate: toDelegate });
  },
  async DelegateVotesChanged(event, context) {
    const { delegate, newVotes } = event.args;
    await touchAccounts(context, event, delegate);
    await context.db.update(account, { address: delegate }).set({ votes: newVotes });
  },
});
