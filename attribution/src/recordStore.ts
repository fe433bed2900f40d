/**
 * Attribution records in a content store, addressed by their attribution hash (keccak256 of the canonical
 * encoding, the value in usage receipts) under `record-<hex>`, beside sha256-addressed contents. The hash is
 * checked on every read, as for contents. Browser-safe.
 */
import type { Hex } from "viem";
import { ContentHashMismatchError, ContentNotFoundError } from "./errors.ts";
import { contentFileName, type ContentStore } from "./httpStore.ts";
import {
  decodeAttributionRecord,
  encodeAttributionRecord,
  hashAttributionRecord,
  type AttributionRecord,
} from "./record.ts";

export function recordFileName(attributionHash: Hex): string {
  return `record-${contentFileName(attributionHash)}`;
}

/** Stores `record` and returns its attribution hash. */
export async function putAttributionRecord(
  store: ContentStore,
  { record }: { record: AttributionRecord },
): Promise<Hex> {
  const attributionHash = hashAttributionRecord(record);
  await store.write(recordFileName(attributionHash), new TextEncoder().encode(encodeAttributionRecord(record)));
  return attributionHash;
}

export async function getAttributionRecord(
  store: ContentStore,
  { attributionHash }: { attributionHash: Hex },
): Promise<AttributionRecord> {
  const bytes = await store.read(recordFileName(attributionHash));
  if (bytes === undefined) throw new ContentNotFoundError({ contentHash: attributionHash, source: store.source });
  const record = decodeAttributionRecord(new TextDecoder().decode(bytes));
  const actual = hashAttributionRecord(record);
  if (actual !== attributionHash.toLowerCase()) {
    throw new ContentHashMismatchError({ expected: attributionHash, actual, source: store.source });
  }
  return record;
}
