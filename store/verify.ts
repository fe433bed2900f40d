/**
 * Whether an upload is what its name says. Raw objects are checked by the sha256 of their bytes as they stream
 * (server.ts); records and usage batches, small, are decoded whole: a record by its attribution hash, a batch by
 * the usage root its receipts recompute from its frontier (and the root it names must be that one too).
 */
import { decodeAttributionRecord, hashAttributionRecord, storeNameHash } from "../attribution/src/index.ts";
import { decodeUsageBatch, recomputedUsageRoot } from "../inference/sdk/usage.ts";
import { StoreError } from "./errors.ts";

export function hashMismatch(name: string, actual: string): StoreError {
  return new StoreError(
    422,
    "hash_mismatch",
    `the body does not hash to its name: expected ${storeNameHash(name)} got ${actual}`,
  );
}

function decoded<T>(name: string, what: string, decode: () => T): T {
  try {
    return decode();
  } catch (cause) {
    throw new StoreError(422, "malformed_object", `the body of ${name} is not ${what}: ${String(cause)}`, { cause });
  }
}

/** Throws a 422 StoreError unless `bytes` are the record or usage batch `name` names. */
export function checkSmallObject(form: "record" | "usage", name: string, bytes: Buffer): void {
  const text = bytes.toString("utf8");
  const expected = storeNameHash(name);
  if (form === "record") {
    const record = decoded(name, "an attribution record", () => decodeAttributionRecord(text));
    const actual = hashAttributionRecord(record);
    if (actual !== expected) throw hashMismatch(name, actual);
    return;
  }
  const batch = decoded(name, "a usage batch", () => decodeUsageBatch(text));
  const actual = decoded(name, "a usage batch", () => recomputedUsageRoot(batch));
  if (actual !== expected) throw hashMismatch(name, actual);
  if (batch.usageRoot.toLowerCase() !== expected) throw hashMismatch(name, `a batch naming ${batch.usageRoot}`);
}
