import { timelockOperation, timelockRole } from "ponder:schema";
import { register, setParameter, touchAccounts } from "./lib/register.ts";

const empty = { status: "scheduled", calls: 0, executedCalls: 0 };

register("OpenTimelock", {
  async CallScheduled(event, context) {
    const { id, predecessor, delay } = event.args;
    await context.db
      .insert(timelockOperation)
      .values({ id, ...empty, calls: 1, predecessor, delay, scheduledBlock: event.block.number })
      .onConflictDoUpdate((row: { calls: number }) => ({ calls: row.calls + 1 }));
  },
  async CallSalt(event, context) {
    const { id, salt } = event.args;
    await context.db
      .insert(timelockOperation)
      .values({ id, ...empty, salt })
      .onConflictDoUpdate({ salt });
  },
  async CallExecuted(event, context) {
    const { id } = event.args;
    await context.db
      .insert(timelockOperation)
      .values({ id, ...empty, status: "executed", executedCalls: 1 })
      .onConflictDoUpdate((row: { executedCalls: number }) => ({
        status: "executed",
        executedCalls: row.executedCalls + 1,
      }));
  },
  async Cancelled(event, context) {
    const { id } = event.args;
    await context.db
      .insert(timelockOperation)
      .values({ id, ...empty, status: "cancelled" })
      .onConflictDoUpdate({ status: "cancelled" });
  },
  async MinDelayChange(event, context) {
    await setParameter(context, event, "OpenTimelock", "minDelay", event.args.newDuration);
  },
  async RoleGranted(event, context) {
    const { role, account, sender } = event.args;
    await touchAccounts(context, event, account, sender);
    await context.db
      .insert(timelockRole)
      .values({ role, account, granted: true, sender })
      .onConflictDoUpdate({ granted: true, sender });
  },
  async RoleRevoked(event, context) {
    const { role, account, sender } = event.args;
    await touchAccounts(context, event, account, sender);
    await context.db
      .insert(timelockRole)
      .values({ role, account, granted: false, sender })
      .onConflictDoUpdate({ granted: false, sender });
  },
  async RoleAdminChanged(event, context) {
    await setParameter(context, event, "OpenTimelock", `roleAdmin.${event.args.role}`, event.args.newAdminRole);
  },
});
