/** Argument parsing for the CLI: each value checked and converted, with a UsageError naming the culprit. */
import { isAddress, isHex, parseUnits, type Address, type Hex } from "viem";

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export function requireValue<T>(value: T | undefined, name: string): T {
  if (value === undefined || value === "") throw new UsageError(`Missing ${name}`);
  return value;
}

export function parseId(value: string | undefined, name: string): bigint {
  const text = requireValue(value, name);
  if (!/^\d+$/.test(text)) throw new UsageError(`${name} must be a non-negative integer, got "${text}"`);
  return BigInt(text);
}

/** An integer that fits the contract's parameter (uint16 for bps and ranks, …). */
export function parseBounded(value: string | undefined, name: string, max: bigint): bigint {
  const parsed = parseId(value, name);
  if (parsed > max) throw new UsageError(`${name} must be at most ${max}, got ${parsed}`);
  return parsed;
}

/** OPEN amounts are written in whole tokens with up to 18 decimals ("12.5"), and sent in wei. */
export function parseOpen(value: string | undefined, name: string): bigint {
  const text = requireValue(value, name);
  if (!/^\d+(\.\d{1,18})?$/.test(text)) throw new UsageError(`${name} must be an OPEN amount like 12.5, got "${text}"`);
  return parseUnits(text, 18);
}

export function parseAddress(value: string | undefined, name: string): Address {
  const text = requireValue(value, name);
  if (!isAddress(text)) throw new UsageError(`${name} must be an address, got "${text}"`);
  return text;
}

export function parseBytes32(value: string | undefined, name: string): Hex {
  const text = requireValue(value, name);
  if (!isHex(text) || text.length !== 66)
    throw new UsageError(`${name} must be 32 bytes of hex (0x + 64), got "${text}"`);
  return text;
}

export function parseList<T>(
  value: string | undefined,
  name: string,
  parseItem: (item: string, name: string) => T,
): T[] {
  return requireValue(value, name)
    .split(",")
    .map((item) => parseItem(item.trim(), name));
}
