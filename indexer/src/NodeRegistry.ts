import { operator } from "ponder:schema";
import { getParameter, register, setParameter, touchAccounts, type Context } from "./lib/register.ts";

type Row = { bonded: bigint; unbonding: bigint; slashed: bigint; withdrawn: bigint };

async function statusFor(context: Context, bonded: bigint): Promise<string> {
  const minStake = BigInt((await getParameter(context, "NodeRegistry", "minStake")) ?? "0");
  return bonded >= minStake && bonded > 0n ? "active" : "inactive";
}

register("NodeRegistry", {
  async OperatorRegistered(event, context) {
    const a = event.args;
    await touchAccounts(context, event, a.operator, a.signingKey);
    // The list of operators, for MinStakeSet to revisit (raw SQL would flush and invalidate Ponder's row cache).
    const list = await getParameter(context, "NodeRegistry", "operators");
    await setParameter(context, event, "NodeRegistry", "operators", list ? `${list},${a.operator}` : a.operator);
    await context.db.insert(operator).values({
      address: a.operator,
      signingKey: a.signingKey,
      endpoint: a.endpoint,
      baseModelIds: [...a.baseModelIds],
      bonded: 0n,
      unbonding: 0n,
      unbondingReleaseTime: 0n,
      slashed: 0n,
      withdrawn: 0n,
      frozenUntil: 0n,
      status: "inactive",
      registeredBlock: event.block.number,
    });
  },
  async OperatorUpdated(event, context) {
    const a = event.args;
    await touchAccounts(context, event, a.signingKey);
    await context.db
      .update(operator, { address: a.operator })
      .set({ signingKey: a.signingKey, endpoint: a.endpoint, baseModelIds: [...a.baseModelIds] });
  },
  async StakeAdded(event, context) {
    const { bonded } = event.args;
    await context.db
      .update(operator, { address: event.args.operator })
      .set({ bonded, status: await statusFor(context, bonded) });
  },
  async UnbondRequested(event, context) {
    const { amount, unbonding, releaseTime } = event.args;
    const row: Row = await context.db.find(operator, { address: event.args.operator });
    const bonded = row.bonded - amount;
    await context.db
      .update(operator, { address: event.args.operator })
      .set({ bonded, unbonding, unbondingReleaseTime: releaseTime, status: await statusFor(context, bonded) });
  },
  async StakeWithdrawn(event, context) {
    const { amount } = event.args;
    await context.db
      .update(operator, { address: event.args.operator })
      .set((row: Row) => ({ unbonding: row.unbonding - amount, withdrawn: row.withdrawn + amount }));
  },
  async OperatorSlashed(event, context) {
    const { fromBonded, fromUnbonding, treasury } = event.args;
    await touchAccounts(context, event, treasury);
    const row: Row = await context.db.find(operator, { address: event.args.operator });
    const bonded = row.bonded - fromBonded;
    await context.db.update(operator, { address: event.args.operator }).set({
      bonded,
      unbonding: row.unbonding - fromUnbonding,
      slashed: row.slashed + fromBonded + fromUnbonding,
      status: await statusFor(context, bonded),
    });
  },
  async MinStakeSet(event, context) {
    const { minStake } = event.args;
    await setParameter(context, event, "NodeRegistry", "minStake", minStake);
    // Every operator's status depends on the minimum: recompute them all (rare: a governance call).
    const list = await getParameter(context, "NodeRegistry", "operators");
    for (const address of list ? list.split(",") : []) {
      await context.db
        .update(operator, { address })
        .set((row: Row) => ({ status: row.bonded >= minStake && row.bonded > 0n ? "active" : "inactive" }));
    }
  },
  async OperatorFrozen(event, context) {
    await touchAccounts(context, event, event.args.by);
    await context.db.update(operator, { address: event.args.operator }).set({ frozenUntil: event.args.frozenUntil });
  },
  async OperatorUnfrozen(event, context) {
    await context.db.update(operator, { address: event.args.operator }).set({ frozenUntil: 0n });
  },
  async GuardianSet(event, context) {
    await setParameter(context, event, "NodeRegistry", "guardian", event.args.guardian);
  },
  async FreezePeriodSet(event, context) {
    await setParameter(context, event, "NodeRegistry", "freezePeriod", event.args.freezePeriod);
  },
  async UnbondingPeriodSet(event, context) {
    await setParameter(context, event, "NodeRegistry", "unbondingPeriod", event.args.unbondingPeriod);
  },
  async TreasurySet(event, context) {
    await setParameter(context, event, "NodeRegistry", "treasury", event.args.treasury);
  },
  async OwnershipTransferred(event, context) {
    await setParameter(context, event, "NodeRegistry", "owner", event.args.newOwner);
  },
});
