/**
 * The attribution behind an earning, read in the browser: a receipt's attribution record from the content store, its
 * hash checked (attribution/src/record.ts decodeRecordAt, as every reader of records does); the spans in it that
 * credit one contribution; and their text from the contribution's own bytes, sha256-checked against its contentHash.
 */
import { sha256, type Hex } from "viem";
import {
  ContentHashMismatchError,
  ContentNotFoundError,
  ContentStoreRequestError,
} from "../../../../attribution/src/errors.ts";
import { decodeRecordAt, recordFileName, type AttributionRecord } from "../../../../attribution/src/record.ts";
import { byteTokenizer } from "../../../../attribution/src/tokenizer.ts";

/** Reads the content store's objects by name (undefined: not there): its public GET, over the browser's fetch. */
export type StoreReader = { source: string; read(fileName: string): Promise<Uint8Array | undefined> };

export function storeReader(baseUrl: string, signal?: AbortSignal): StoreReader {
  const base = baseUrl.replace(/\/+$/, "");
  return {
    source: base,
    async read(fileName) {
      const url = `${base}/${fileName}`;
      const response = await fetch(url, { signal }).catch((cause: unknown) => {
        throw new ContentStoreRequestError({ url, cause });
      });
      if (response.status === 404) return undefined;
      if (!response.ok) throw new ContentStoreRequestError({ url, status: response.status });
      return new Uint8Array(await response.arrayBuffer());
    },
  };
}

/** The record whose attribution hash is `attributionHash`, refused unless it hashes to it (as every reader does). */
export async function fetchAttributionRecord(store: StoreReader, attributionHash: Hex): Promise<AttributionRecord> {
  const bytes = await store.read(recordFileName(attributionHash));
  if (bytes === undefined) throw new ContentNotFoundError({ contentHash: attributionHash, source: store.source });
  return decodeRecordAt(bytes, attributionHash, store.source);
}

/** The bytes stored under `contentHash`, refused unless their sha256 is that hash. */
export async function fetchVerifiedContent(store: StoreReader, contentHash: Hex): Promise<Uint8Array> {
  const bytes = await store.read(contentHash.slice(2).toLowerCase());
  if (bytes === undefined) throw new ContentNotFoundError({ contentHash, source: store.source });
  const actual = sha256(bytes);
  if (actual !== contentHash.toLowerCase())
    throw new ContentHashMismatchError({ expected: contentHash, actual, source: store.source });
  return bytes;
}

/** A span of a record that credits one contribution, with where its tokens are. */
export type CreditedSpan = {
  /** Position of the span's first token in the completion. */
  start: number;
  length: number;
  /** Rarity weight of its words: what its credit is made of. */
  weight: number;
  occurrenceCount: number;
  datanetId: bigint;
  version: bigint;
  /** The contribution whose tokens [offset, offset + length) are the span: the credited one, or a near duplicate. */
  heldBy: bigint;
  offset: number;
  /** How many contributions the span's credit is split among. */
  sourceCount: number;
};

/** The spans of `record` crediting `contributionId` (as the credited original), in completion order. */
export function spansCrediting(record: AttributionRecord, contributionId: bigint): CreditedSpan[] {
  return record.spans.flatMap((span) =>
    span.sources
      .filter(([, , credited]) => credited === contributionId)
      .map(([datanetId, version, , heldBy, offset]) => ({
        start: span.start,
        length: span.length,
        weight: span.weight,
        occurrenceCount: span.occurrenceCount,
        datanetId,
        version,
        heldBy,
        offset,
        sourceCount: span.sources.length,
      })),
  );
}

/** What `record` gives a contribution of a datanet version (parts per million of the request's part for it). */
export function shareOf(
  record: AttributionRecord,
  { datanetId, version, contributionId }: { datanetId: bigint; version: bigint; contributionId: bigint },
): { ppm: number; poolPpm: number; weightBps: number } {
  const inVersion = record.shares.filter((s) => s.datanetId === datanetId && s.version === version);
  return {
    ppm: inVersion.find((s) => s.contributionId === contributionId)?.ppm ?? 0,
    // contributionId 0: the part spread over the version's contributions by weight.
    poolPpm: inVersion.find((s) => s.contributionId === 0n)?.ppm ?? 0,
    weightBps: record.lineage.find((l) => l.datanetId === datanetId && l.version === version)?.weightBps ?? 0,
  };
}

/**
 * The text of tokens [offset, offset + length) of a contribution's bytes, when the record's tokenizer makes that a
 * byte range (the byte tokenizer: token id = byte); undefined for another tokenizer or a range past the end.
 */
export function spanText(bytes: Uint8Array, tokenizerId: string, offset: number, length: number): string | undefined {
  if (tokenizerId !== byteTokenizer.id || offset < 0 || offset + length > bytes.length) return undefined;
  return new TextDecoder().decode(bytes.subarray(offset, offset + length));
}
