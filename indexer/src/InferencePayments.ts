import {
  accountRevenue,
  adapter,
  adapterRevenue,
  adapterUsageDaily,
  channel,
  dataShareAllocation,
  datanetRevenue,
  datanetVersion,
  settlement,
  settlementAdapter,
} from "ponder:schema";
import {
  dayOf,
  getParameter,
  logId,
  register,
  setParameter,
  touchAccounts,
  type Context,
  type Event,
} from "./lib/register.ts";
import { zeroHash } from "viem";
import { usageBatchFileName } from "../../inference/sdk/usage.ts";

/** A settlement is keyed by its transaction and channel: the AdapterRevenue and DataShareAllocated events after it
 * carry the channel id, so they find it again (also after a restart). */
const settlementId = (event: Event) => `${event.transaction.hash}-${event.args.channelId}`;

const zeroRevenue = {
  ownerShare: 0n,
  operatorFees: 0n,
  protocolFees: 0n,
  total: 0n,
  withdrawn: 0n,
  rewardsClaimed: 0n,
};

async function credit(
  context: Context,
  event: Event,
  account: `0x${string}`,
  field: "ownerShare" | "operatorFees" | "protocolFees",
  amount: bigint,
): Promise<void> {
  // No touchAccounts here: owners, operators and treasuries already have rows from the events that named them.
  if (amount === 0n) return;
  await context.db
    .insert(accountRevenue)
    .values({ account, ...zeroRevenue, [field]: amount, total: amount })
    .onConflictDoUpdate((row: Record<string, bigint>) => ({
      [field]: row[field]! + amount,
      total: row.total! + amount,
    }));
}

register("InferencePayments", {
  async ChannelOpened(event, context) {
    const { channelId, payer, deposit } = event.args;
    await touchAccounts(context, event, payer, event.args.operator);
    await context.db.insert(channel).values({
      id: channelId,
      payer,
      operator: event.args.operator,
      deposit,
      settled: 0n,
      settlementCount: 0,
      status: "open",
      openedBlock: event.block.number,
    });
  },
  async ChannelToppedUp(event, context) {
    await context.db.update(channel, { id: event.args.channelId }).set({ deposit: event.args.deposit });
  },
  async ChannelSettled(event, context) {
    const { channelId, cumulativeAmount, increase, previousUsageRoot, usageRoot } = event.args;
    await context.db.insert(settlement).values({
      id: settlementId(event),
      channelId,
      operator: event.args.operator,
      cumulativeAmount,
      increase,
      previousUsageRoot,
      usageRoot,
      receiptBatch: usageRoot === zeroHash ? "" : usageBatchFileName(usageRoot),
      adapterCount: 0,
      blockNumber: event.block.number,
      logIndex: event.log.logIndex,
      timestamp: event.block.timestamp,
      transactionHash: event.transaction.hash,
    });
    await context.db.update(channel, { id: channelId }).set((row: { settlementCount: number }) => ({
      settled: cumulativeAmount,
      settlementCount: row.settlementCount + 1,
    }));
  },
  async AdapterRevenue(event, context) {
    const { channelId, adapterId, adapterOwner, amount, protocolFee, ownerShare, dataShare } = event.args;
    const sid = settlementId(event);
    const parent = await context.db.update(settlement, { id: sid }).set((row: { adapterCount: number }) => ({
      adapterCount: row.adapterCount + 1,
    }));
    // The operator gets its fee, and for adapter 0 (the base model) the rest as well: whatever is not fee, owner
    // share or data share.
    const operatorIncome = amount - protocolFee - ownerShare - dataShare;
    await context.db.insert(settlementAdapter).values({
      id: logId(event),
      settlementId: sid,
      channelId,
      adapterId,
      adapterOwner,
      operator: parent.operator,
      amount,
      protocolFee,
      operatorFee: operatorIncome,
      ownerShare,
      dataShare,
      blockNumber: event.block.number,
      logIndex: event.log.logIndex,
      timestamp: event.block.timestamp,
    });
    await context.db
      .insert(adapterRevenue)
      .values({ adapterId, settlements: 1, amount, protocolFee, operatorFee: operatorIncome, ownerShare, dataShare })
      .onConflictDoUpdate((row: Record<string, bigint> & { settlements: number }) => ({
        settlements: row.settlements + 1,
        amount: row.amount! + amount,
        protocolFee: row.protocolFee! + protocolFee,
        operatorFee: row.operatorFee! + operatorIncome,
        ownerShare: row.ownerShare! + ownerShare,
        dataShare: row.dataShare! + dataShare,
      }));

    const adapterRow = adapterId === 0n ? null : await context.db.find(adapter, { id: adapterId });
    const price: bigint = adapterRow?.pricePer1kTokens ?? 0n;
    const tokens = price > 0n ? (amount * 1000n) / price : null;
    await context.db
      .insert(adapterUsageDaily)
      .values({
        adapterId,
        day: dayOf(event.block.timestamp),
        settlements: 1,
        revenue: amount,
        estimatedTokens: tokens,
      })
      .onConflictDoUpdate((row: { settlements: number; revenue: bigint; estimatedTokens: bigint | null }) => ({
        settlements: row.settlements + 1,
        revenue: row.revenue + amount,
        estimatedTokens: tokens === null ? row.estimatedTokens : (row.estimatedTokens ?? 0n) + tokens,
      }));

    await credit(context, event, adapterOwner, "ownerShare", ownerShare);
    await credit(context, event, parent.operator, "operatorFees", operatorIncome);
    const treasury = (await getParameter(context, "InferencePayments", "treasury")) as `0x${string}` | null;
    if (treasury) await credit(context, event, treasury, "protocolFees", protocolFee);
  },
  async DataShareAllocated(event, context) {
    const { channelId, adapterId, datanetId, version, amount } = event.args;
    await context.db.insert(dataShareAllocation).values({
      id: logId(event),
      settlementId: settlementId(event),
      channelId,
      adapterId,
      datanetId,
      version,
      amount,
      blockNumber: event.block.number,
    });
    await context.db
      .insert(datanetRevenue)
      .values({ datanetId, allocations: 1, amount })
      .onConflictDoUpdate((row: { allocations: number; amount: bigint }) => ({
        allocations: row.allocations + 1,
        amount: row.amount + amount,
      }));
    await context.db
      .update(datanetVersion, { datanetId, version })
      .set((row: { revenue: bigint }) => ({ revenue: row.revenue + amount }));
  },
  async CloseRequested(event, context) {
    await context.db
      .update(channel, { id: event.args.channelId })
      .set({ status: "closing", closesAt: event.args.closesAt });
  },
  async ChannelFinalized(event, context) {
    await context.db
      .update(channel, { id: event.args.channelId })
      .set({ status: "finalized", refund: event.args.refund });
  },
  async BalanceWithdrawn(event, context) {
    const { account, amount } = event.args;
    await touchAccounts(context, event, account);
    await context.db
      .insert(accountRevenue)
      .values({ account, ...zeroRevenue, withdrawn: amount })
      .onConflictDoUpdate((row: { withdrawn: bigint }) => ({ withdrawn: row.withdrawn + amount }));
  },
  async FeesSet(event, context) {
    await setParameter(context, event, "InferencePayments", "protocolFeeBps", event.args.protocolFeeBps);
    await setParameter(context, event, "InferencePayments", "operatorFeeBps", event.args.operatorFeeBps);
  },
  async ChallengePeriodSet(event, context) {
    await setParameter(context, event, "InferencePayments", "challengePeriod", event.args.challengePeriod);
  },
  async TreasurySet(event, context) {
    await touchAccounts(context, event, event.args.treasury);
    await setParameter(context, event, "InferencePayments", "treasury", event.args.treasury);
  },
  async OwnershipTransferred(event, context) {
    await setParameter(context, event, "InferencePayments", "owner", event.args.newOwner);
  },
});
