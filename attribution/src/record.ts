/**
 * Attribution records: their type, canonical encoding, attribution hash and token hashes. Browser-safe (no node:
 * imports), so a record fetched from a content store is checked the same way everywhere, the Studio included (the
 * playground's Payer checks each receipt's); attribute.ts makes them and re-exports all of this.
 */
import { keccak256, type Hex } from "viem";
import { canonicalJson, type CanonicalValue, type Encoded } from "./canonicalJson.ts";
import type { DatanetVersionKey } from "./datanet.ts";
import { BaseError, ContentHashMismatchError, InvalidContentHashError } from "./errors.ts";
import type { AttributionParams } from "./params.ts";

/** v3: records name the attribution policy they were made under, and the params gain rarityExponent. */
export const attributionRecordFormat = "openpoa-attribution-v3";
/** contributionId of the per-datanet pro-rata pool entry (real ids are 1-based). */
export const poolContributionId = 0n;

export type LineageEntry = DatanetVersionKey & { weightBps: number };

export type AttributionShare = DatanetVersionKey & { contributionId: bigint; ppm: number };

/**
 * A contribution credited for a span: [datanetId, version, contributionId
 * (the credited original), heldBy (the contribution whose bytes hold the
 * span: the original itself, or a near duplicate of it), offset (first token
 * of the span in heldBy)].
 */
export type SpanSource = [datanetId: bigint, version: bigint, contributionId: bigint, heldBy: bigint, offset: number];

export type AttributionSpan = {
  /** First completion token of the span. */
  start: number;
  length: number;
  /** keccak256 of the span's token ids as 4-byte big-endian integers (as completionHash). */
  hash: Hex;
  /** Rarity weight of the span's words (rarity.ts): what its credit is made of. */
  weight: number;
  /** Occurrences across the lineage indexes (several may fall in one contribution). */
  occurrenceCount: number;
  /** Credited originals by (datanetId, version, contributionId). Tuples keep records compact. */
  sources: SpanSource[];
};

export type AttributionRecord = {
  format: typeof attributionRecordFormat;
  /**
   * The attribution policy the record was made under (policy.ts's AttributionPolicyRef, spelled out: policy.ts reads
   * its specification files from disk, and this module stays browser-safe).
   */
  policy: { id: bigint; algorithm: "openpoa-span-match"; version: 1 | 2 };
  adapterId: bigint;
  tokenizerId: string;
  /** keccak256 of the completion token ids as 4-byte big-endian integers. */
  completionHash: Hex;
  completionTokens: number;
  /** The policy's params. */
  params: AttributionParams;
  lineage: (LineageEntry & { root: Hex })[];
  /** Completion ranges [start, length] masked as excluded text, sorted and disjoint. */
  excluded: [start: number, length: number][];
  /** Sorted by (datanetId, version, contributionId); zero shares omitted; ppm sum to 1,000,000. */
  shares: AttributionShare[];
  /** Spans that earned credit (weight > 0, at least one source), by start position. */
  spans: AttributionSpan[];
};

/** Canonical JSON of a record (see canonicalJson.ts): the bytes that are hashed and published. */
export function encodeAttributionRecord(record: AttributionRecord): string {
  return canonicalJson(record as unknown as CanonicalValue);
}

/** The attribution hash that goes into usage receipts: keccak256 of the canonical JSON bytes. */
export function hashAttributionRecord(record: AttributionRecord): Hex {
  return keccak256(new TextEncoder().encode(encodeAttributionRecord(record)));
}

/**
 * Inverse of encodeAttributionRecord. Only canonical encodings are accepted
 * (re-encoding must give back the same text), so a decoded record always
 * hashes to the hash of the text it came from.
 */
export function decodeAttributionRecord(json: string): AttributionRecord {
  const raw = JSON.parse(json) as Encoded<AttributionRecord>;
  if (raw.format !== attributionRecordFormat)
    throw new BaseError(`Unknown attribution record format ${String(raw.format)}.`);
  const key = (entry: Encoded<DatanetVersionKey>): DatanetVersionKey => ({
    datanetId: BigInt(entry.datanetId),
    version: BigInt(entry.version),
  });
  const record: AttributionRecord = {
    ...raw,
    policy: { ...raw.policy, id: BigInt(raw.policy.id) },
    adapterId: BigInt(raw.adapterId),
    lineage: raw.lineage.map((entry) => ({ ...entry, ...key(entry) })),
    shares: raw.shares.map((share) => ({ ...share, ...key(share), contributionId: BigInt(share.contributionId) })),
    spans: raw.spans.map((span) => ({
      ...span,
      sources: span.sources.map(([datanetId, version, contributionId, heldBy, offset]): SpanSource => [
        BigInt(datanetId),
        BigInt(version),
        BigInt(contributionId),
        BigInt(heldBy),
        offset,
      ]),
    })),
  };
  if (encodeAttributionRecord(record) !== json) throw new BaseError("Attribution record is not canonically encoded.");
  return record;
}

/** Where a content store keeps the record whose attribution hash is `attributionHash`: `record-<64 lowercase hex>`. */
export function recordFileName(attributionHash: Hex): string {
  if (!/^0x[0-9a-fA-F]{64}$/.test(attributionHash)) throw new InvalidContentHashError({ contentHash: attributionHash });
  return `record-${attributionHash.slice(2).toLowerCase()}`;
}

/**
 * The record in `bytes`, read from `source` under the name of `attributionHash`: decoded (canonical text only) and
 * refused with ContentHashMismatchError unless it hashes to that hash. Every reader of records goes through this.
 */
export function decodeRecordAt(bytes: Uint8Array, attributionHash: Hex, source: string): AttributionRecord {
  const record = decodeAttributionRecord(new TextDecoder().decode(bytes));
  const actual = hashAttributionRecord(record);
  if (actual !== attributionHash.toLowerCase()) {
    throw new ContentHashMismatchError({ expected: attributionHash, actual, source });
  }
  return record;
}

/** keccak256 of token ids as 4-byte big-endian integers: completionHash and span hashes. */
export function hashTokens(tokens: ArrayLike<number>): Hex {
  const bytes = new Uint8Array(tokens.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < tokens.length; i++) view.setUint32(i * 4, tokens[i]!, false);
  return keccak256(bytes);
}
