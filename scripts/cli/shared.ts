/** What the `openpoa` commands share: the command shape, argument parsers of the suite's own values, and helpers. */
import { formatUnits, type Address } from "viem";
import type { VerificationIssue } from "../../attribution/src/index.ts";
import type { ContractName, Suite } from "../lib/contracts.ts";
import { eventsIn, read, send, type Sent } from "../lib/transactions.ts";
import { parseBounded, parseId, parseList, UsageError } from "./args.ts";

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
export const indexDirOption: OptionSpec = {
  type: "string",
  description: "where datanet indexes are built and cached (default OPENPOA_INDEX_DIR or openpoa-indexes)",
};

/** The modules an adapter may target, in the bit order of ModelRegistry's `targetModules` mask. */
export const TARGET_MODULES = ["q", "k", "v", "o", "gate", "up", "down"] as const;
/** The same modules by the names PEFT's adapter_config.json uses. */
export const PEFT_TARGETS = TARGET_MODULES.map((name) => `${name}_proj`);
export const UINT16 = 65_535n;
export const UINT64 = 2n ** 64n - 1n;
export const UINT128 = 2n ** 128n - 1n;

export const open = (wei: bigint) => `${formatUnits(wei, 18)} OPEN`;
export const str = (values: Values, name: string) => values[name] as string | undefined;
/** Where datanet indexes are built and cached for checking attribution records. */
export const indexDirOf = (values: Values) =>
  str(values, "index-dir") ?? process.env.OPENPOA_INDEX_DIR ?? "openpoa-indexes";

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

/** An epoch did not verify; the message lists every issue. */
export class EpochVerificationError extends Error {
  readonly issues: VerificationIssue[];
  constructor(epoch: bigint, issues: VerificationIssue[]) {
    super(
      `Epoch ${epoch} does not verify (${issues.length} issue${issues.length === 1 ? "" : "s"}):\n` +
        issues.map((i) => `  ${i.kind}: ${i.reason}${i.account ? ` [${i.account}]` : ""}`).join("\n"),
    );
    this.name = "EpochVerificationError";
    this.issues = issues;
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

/** `--targets`: PEFT module names (q_proj, …) or their short forms (q, …), comma-separated, into the mask. */
export function parseTargets(value: string | undefined): number {
  let mask = 0;
  for (const name of parseList(value, "--targets", (item) => item)) {
    const bit = Math.max(TARGET_MODULES.indexOf(name as never), PEFT_TARGETS.indexOf(name));
    if (bit < 0) {
      throw new UsageError(
        `--targets: unknown module "${name}" (use ${PEFT_TARGETS.join(",")} or ${TARGET_MODULES.join(",")})`,
      );
    }
    mask |= 1 << bit;
  }
  return mask;
}

export function parseLineage(value: string | undefined) {
  return parseList(value, "--lineage", (item) => {
    const parts = item.split(":");
    if (parts.length !== 3) throw new UsageError(`--lineage entries are datanetId:version:weightBps, got "${item}"`);
    return {
      datanetId: parseId(parts[0], "--lineage datanetId"),
      version: parseBounded(parts[1], "--lineage version", UINT64),
      weightBps: Number(parseBounded(parts[2], "--lineage weightBps", 10_000n)),
    };
  });
}
