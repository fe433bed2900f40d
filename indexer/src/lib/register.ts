/**
 * Registers a handler for every event in a contract's ABI: each log is recorded in the `event` table, then the
 * contract's specific handler (if any) updates the derived tables. A specific handler for an event the ABI lacks is
 * an error at startup.
 */
import { ponder } from "ponder:registry";
import { account, event as eventTable, parameter } from "ponder:schema";
import { replaceBigInts } from "ponder";
import { eventNames, abiOf, type ContractName } from "../../lib/abis.ts";

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Event = {
  args: any;
  block: { number: bigint; timestamp: bigint };
  log: { logIndex: number; address: `0x${string}` };
  transaction: { hash: `0x${string}` };
};
export type Context = { db: any; chain: { id: number } };
export type Handler = (event: Event, context: Context) => Promise<void>;
/* eslint-enable @typescript-eslint/no-explicit-any */

export function register(contract: ContractName, handlers: Record<string, Handler>): void {
  const names = eventNames(abiOf(contract));
  for (const name of Object.keys(handlers)) {
    if (!names.includes(name)) throw new Error(`${contract} has no event ${name}`);
  }
  for (const name of names) {
    const specific = handlers[name];
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (ponder.on as any)(`${contract}:${name}`, async ({ event, context }: { event: Event; context: Context }) => {
      await context.db.insert(eventTable).values({
        id: logId(event),
        contract,
        name,
        blockNumber: event.block.number,
        logIndex: event.log.logIndex,
        timestamp: event.block.timestamp,
        transactionHash: event.transaction.hash,
        args: replaceBigInts({ ...event.args }, (value) => String(value)),
      });
      if (specific) await specific(event, context);
    });
  }
}

/** `${blockNumber}-${logIndex}`, zero-padded so that text order is chain order. */
export function logId(event: Event): string {
  return `${event.block.number.toString().padStart(12, "0")}-${event.log.logIndex.toString().padStart(6, "0")}`;
}

export const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";

/** Makes sure an account row exists for every address an event names. */
export async function touchAccounts(context: Context, event: Event, ...addresses: `0x${string}`[]): Promise<void> {
  for (const address of addresses) {
    if (address === ZERO_ADDRESS) continue;
    await context.db
      .insert(account)
      .values({ address, balance: 0n, votes: 0n, firstSeenBlock: event.block.number })
      .onConflictDoNothing();
  }
}

export async function setParameter(
  context: Context,
  event: Event,
  contract: ContractName,
  name: string,
  value: unknown,
): Promise<void> {
  const row = { key: `${contract}.${name}`, value: String(value), blockNumber: event.block.number };
  await context.db.insert(parameter).values(row).onConflictDoUpdate({ value: row.value, blockNumber: row.blockNumber });
}

export async function getParameter(context: Context, contract: ContractName, name: string): Promise<string | null> {
  const row = await context.db.find(parameter, { key: `${contract}.${name}` });
  return row ? (row.value as string) : null;
}

/** UTC day of a block timestamp, YYYY-MM-DD. */
export function dayOf(timestamp: bigint): string {
  return new Date(Number(timestamp) * 1000).toISOString().slice(0, 10);
}
