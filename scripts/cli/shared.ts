/** What the `openpoa` commands share: the command shape, the content-store option, and helpers used by several groups. */
import { formatUnits, type Address } from "viem";
import type { ContractName, Suite } from "../lib/contracts.ts";
import { eventsIn, read, send, type Sent } from "../lib/transactions.ts";
import { UsageError } from "./args.ts";

export type Values = Record<string, string | boolean | string[] | undefined>;
export type Output = { text: string; data: unknown };
/** A command option, as node:util's parseArgs takes it, with what `--help` says of it. */
export type OptionSpec = {
  type: "string" | "boolean";
  multiple?: boolean;
  short?: string;
  default?: string | boolean;
  description: string;
};
export type Command = {
  summary: string;
  usage: string;
  options?: Record<string, OptionSpec>;
  run(suite: Suite, positionals: string[], values: Values): Promise<Output>;
};

/** The one flag for the content store everywhere: contributions, records, receipt batches, distribution files. */
export const contentOption: OptionSpec = {
  type: "string",
  description:
    "the content store: a directory or an http(s) base URL (default OPENPOA_CONTENT_DIR or OPENPOA_CONTENT_URL)",
};

export const UINT64 = 2n ** 64n - 1n;

export const open = (wei: bigint) => `${formatUnits(wei, 18)} OPEN`;
export const str = (values: Values, name: string) => values[name] as string | undefined;

export function firstEvent<T>(suite: Suite, sent: Sent, contract: ContractName, eventName: string): T {
  const [event] = eventsIn<T>(suite, { contract, eventName, logs: sent.receipt.logs });
  if (!event) throw new Error(`${contract} emitted no ${eventName} in ${sent.hash}`);
  return event;
}

/** Approves `spender` for `amount` OPEN when the current allowance falls short. */
export async function ensureAllowance(suite: Suite, spender: ContractName, amount: bigint): Promise<void> {
  if (amount === 0n) return;
  const allowance = await read<bigint>(suite, {
    contract: "OpenToken",
    functionName: "allowance",
    args: [suite.account!.address, suite.address(spender)],
  });
  if (allowance < amount) {
    await send(suite, { contract: "OpenToken", functionName: "approve", args: [suite.address(spender), amount] });
  }
}

export function requireSigner(suite: Suite): Address {
  if (!suite.account) throw new UsageError("Name an account, or set OPENPOA_PRIVATE_KEY");
  return suite.account.address;
}

/** Every record of a registry that numbers them 1..count, read one by one. */
export async function readNumbered<T>(
  suite: Suite,
  contract: ContractName,
  countFunction: string,
  readOne: (id: bigint) => Promise<T>,
): Promise<T[]> {
  const count = await read<bigint>(suite, { contract, functionName: countFunction });
  const records: T[] = [];
  for (let id = 1n; id <= count; id++) records.push(await readOne(id));
  return records;
}
