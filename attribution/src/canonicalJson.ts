/**
 * Canonical JSON (RFC 8785 subset): object keys sorted by UTF-16 code units,
 * no insignificant whitespace, strings escaped as JSON.stringify does. Only
 * safe integers are allowed as numbers and bigints are written as decimal
 * strings, so every implementation produces the same bytes for the same value
 * (no float formatting differences).
 */
import { BaseError } from "./errors.ts";

export type CanonicalValue =
  string | number | bigint | boolean | null | readonly CanonicalValue[] | { readonly [key: string]: CanonicalValue };

/** JSON shape of T as canonicalJson writes it (bigints become decimal strings). */
export type Encoded<T> = T extends bigint ? string : T extends object ? { [K in keyof T]: Encoded<T[K]> } : T;

export class NonCanonicalValueError extends BaseError {
  override name = "NonCanonicalValueError";
  constructor({ reason }: { reason: string }) {
    super(`Value cannot be canonically encoded: ${reason}.`);
  }
}

export function canonicalJson(value: CanonicalValue): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "bigint":
      return `"${value.toString(10)}"`;
    case "number":
      if (!Number.isSafeInteger(value)) throw new NonCanonicalValueError({ reason: `${value} is not a safe integer` });
      return String(value);
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(",")}]`;
  const object = value as { readonly [key: string]: CanonicalValue };
  const keys = Object.keys(object).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key]!)}`).join(",")}}`;
}
