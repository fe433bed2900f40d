/**
 * A contract call's revert, decoded by name with its arguments named as the ABI names them, against every ABI it is
 * given: a call into DatanetRegistry can revert with OpenToken's error, which only the suite's ABIs together know.
 * Used by the CLI (scripts/lib/transactions.ts) and the Studio (studio/app/src/lib/errors.ts); reaches no Node module.
 */
import { decodeErrorResult, type Abi, type AbiParameter, type Hex } from "viem";

type AbiError = Extract<Abi[number], { type: "error" }>;

export type DecodedRevert = {
  errorName: string;
  args: readonly unknown[];
  /** `StakeBelowMinimum(datanetId: 1, stake: 5, minStake: 10)` */
  text: string;
};

const isRevertData = (value: unknown): value is Hex =>
  typeof value === "string" && /^0x[0-9a-fA-F]{8}([0-9a-fA-F]{2})*$/.test(value);

/** The revert data somewhere in `error`'s cause chain (viem keeps it as `raw` or `data`, wallets as `data`). */
export function revertDataOf(error: unknown): Hex | undefined {
  for (let at: unknown = error, depth = 0; at && typeof at === "object" && depth < 16; depth++) {
    const { raw, data, cause } = at as { raw?: unknown; data?: unknown; cause?: unknown };
    if (isRevertData(raw)) return raw;
    if (isRevertData(data)) return data;
    const nested = (data as { data?: unknown } | undefined)?.data;
    if (isRevertData(nested)) return nested;
    at = cause;
  }
  return undefined;
}

const showValue = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(showValue).join(", ")}]`;
  if (typeof value === "string") return value.startsWith("0x") ? value : JSON.stringify(value);
  if (value && typeof value === "object")
    return `{${Object.entries(value)
      .map(([k, v]) => `${k}: ${showValue(v)}`)
      .join(", ")}}`;
  return String(value);
};

/** `Name(first: 1, second: 0xab…)`, arguments named as the ABI names them (by position where it does not). */
export function formatRevert(errorName: string, inputs: readonly AbiParameter[], args: readonly unknown[]): string {
  const shown = args.map((value, i) => `${inputs[i]?.name || `arg${i}`}: ${showValue(value)}`);
  return `${errorName}(${shown.join(", ")})`;
}

/** `data` decoded against the first of `abis` that knows its selector (Error(string) and Panic(uint256) always). */
export function decodeRevertData(data: Hex, abis: readonly Abi[]): DecodedRevert | undefined {
  for (const abi of abis.length > 0 ? abis : [[]]) {
    try {
      const { errorName, args, abiItem } = decodeErrorResult({ abi, data });
      const inputs = (abiItem as AbiError).inputs ?? [];
      return { errorName, args: args ?? [], text: formatRevert(errorName, inputs, args ?? []) };
    } catch {
      // Not this ABI's error: try the next one.
    }
  }
  return undefined;
}

/** The revert in `error`, decoded against `abis`; undefined when it carries no revert data any ABI knows. */
export function decodeRevert(error: unknown, abis: readonly Abi[]): DecodedRevert | undefined {
  const data = revertDataOf(error);
  return data === undefined ? undefined : decodeRevertData(data, abis);
}
