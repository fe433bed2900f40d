/**
 * Attribution records in a content store, addressed by their attribution hash (keccak256 of the canonical
 * encoding, the value in usage receipts) under `record-<hex>`, beside sha256-addressed contents. The hash is
 * checked on every read, as for contents. Browser-safe.
 */
import type { Hex } from "viem";
import type { ContentStore } from "./httpStore.ts";
import { ContentNotFoundError } from "./errors.ts";
import {
  decodeRecordAt,
  encodeAttributionRecord,
  hashAttributionRecord,
  recordFileName,
  type AttributionRecord,
} from "./record.ts";

export { recordFileName };

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
  return decodeRecordAt(bytes, attributionHash, store.source);
}
