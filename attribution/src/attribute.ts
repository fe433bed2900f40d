/**
 * Per-inference attribution: completion tokens → attribution record with
 * exact parts-per-million shares and the matched spans as evidence.
 *
 * Shares. The settlement contract fixes how an adapter's data share is split
 * across its lineage datanet versions (weightBps), so a record can only move
 * value *within* a datanet version. Datanet version d therefore gets exactly
 * weightBps_d × 100 ppm (10,000 bps × 100 = 1,000,000), and inside d:
 *
 *   score(c)   = Σ over maximal spans s containing c:  length(s) / |contributions(s)|
 *                (fixed point, 10^12 units per token, floored per span)
 *   M_d        = Σ score(c) over c ∈ d
 *   if M_d > 0: the pool gets weight (10,000 − matchWeightBps) · M_d and each
 *               matched c gets weight matchWeightBps · score(c)
 *   if M_d = 0: the pool gets everything
 *
 * and the budget is apportioned by largest remainder over those weights, ties
 * to the lower contributionId (the pool, id 0, first). The pool is the share
 * that is spread over all of d's accepted contributions pro rata to their
 * weights; it is kept as a single `contributionId: 0` entry so records stay
 * small for large datanets, and is resolved exactly in wei by the epoch
 * aggregation (see epoch.ts).
 */
import { keccak256, type Hex } from "viem";
import { canonicalJson, type CanonicalValue, type Encoded } from "./canonicalJson.ts";
import { allocateLargestRemainder } from "./allocate.ts";
import { compareBigints, datanetVersionKey, type DatanetVersionKey } from "./datanet.ts";
import type { DatanetIndex } from "./datanetIndex.ts";
import { BaseError, InvalidLineageError, MissingIndexError } from "./errors.ts";
import { findMaximalSpans } from "./match.ts";
import type { Tokenizer } from "./tokenizer.ts";

export const attributionRecordFormat = "openpoa-attribution-v1";
export const ppmTotal = 1_000_000;
export const bpsTotal = 10_000;
/** contributionId of the per-datanet pro-rata pool entry (real ids are 1-based). */
export const poolContributionId = 0n;
/** Fixed-point units per matched token in span scores. */
const scoreScale = 10n ** 12n;

export type LineageEntry = DatanetVersionKey & { weightBps: number };

export type AttributionParams = {
  /** Shortest span (tokens) that counts as evidence. */
  minSpanTokens: number;
  /** Part (bps) of each matched datanet's budget assigned by span evidence; the rest is pro rata. */
  matchWeightBps: number;
  /** Spans occurring more often than this are treated as common text and earn nothing. */
  maxSpanOccurrences: number;
};

export const defaultAttributionParams: AttributionParams = {
  minSpanTokens: 8,
  matchWeightBps: 8_000,
  maxSpanOccurrences: 64,
};

export type AttributionShare = DatanetVersionKey & { contributionId: bigint; ppm: number };

/** A contribution holding a span: [datanetId, version, contributionId, offset of the first occurrence]. */
export type SpanSource = [datanetId: bigint, version: bigint, contributionId: bigint, offset: number];

export type AttributionSpan = {
  /** First completion token of the span. */
  start: number;
  length: number;
  /** Occurrences across the lineage indexes (several may fall in one contribution). */
  occurrenceCount: number;
  /** Tuples keep the evidence compact: records are hashed on every request. */
  sources: SpanSource[];
};

export type AttributionRecord = {
  format: typeof attributionRecordFormat;
  adapterId: bigint;
  tokenizerId: string;
  /** keccak256 of the completion token ids as 4-byte big-endian integers. */
  completionHash: Hex;
  completionTokens: number;
  params: AttributionParams;
  lineage: (LineageEntry & { root: Hex })[];
  /** Sorted by (datanetId, version, contributionId); zero shares omitted; ppm sum to 1,000,000. */
  shares: AttributionShare[];
  /** Maximal spans that earned credit, by start position. */
  spans: AttributionSpan[];
};

export type AttributionContext = {
  tokenizer: Tokenizer;
  /** Indexes of (at least) the adapter's lineage datanet versions. */
  indexes: readonly DatanetIndex[];
};

export function attributeCompletion(
  ctx: AttributionContext,
  {
    adapterId,
    lineage,
    completion,
    params = defaultAttributionParams,
  }: {
    adapterId: bigint;
    lineage: readonly LineageEntry[];
    completion: ArrayLike<number>;
    params?: AttributionParams;
  },
): { record: AttributionRecord; hash: Hex } {
  assertLineage(lineage);
  assertParams(params);
  const sortedLineage = [...lineage].sort(compareDatanetVersions);
  const indexes = sortedLineage.map((entry) => {
    const index = ctx.indexes.find((i) => i.datanetId === entry.datanetId && i.version === entry.version);
    if (index === undefined) throw new MissingIndexError(entry);
    if (index.tokenizerId !== ctx.tokenizer.id) {
      throw new BaseError(
        `Index of datanet ${entry.datanetId} v${entry.version} was built with tokenizer ${index.tokenizerId}, not ${ctx.tokenizer.id}.`,
      );
    }
    return index;
  });

  const maximalSpans = findMaximalSpans({ indexes, completion, ...params });

  const scores = new Map<string, Map<bigint, bigint>>();
  for (const span of maximalSpans) {
    if (span.contributions.length === 0) continue;
    const credit = (BigInt(span.length) * scoreScale) / BigInt(span.contributions.length);
    for (const { datanetId, version, contributionId } of span.contributions) {
      const key = datanetVersionKey({ datanetId, version });
      const byContribution = scores.get(key) ?? new Map<bigint, bigint>();
      scores.set(key, byContribution.set(contributionId, (byContribution.get(contributionId) ?? 0n) + credit));
    }
  }

  const shares: AttributionShare[] = [];
  for (const entry of sortedLineage) {
    const budget = BigInt(entry.weightBps * (ppmTotal / bpsTotal));
    const matched = [...(scores.get(datanetVersionKey(entry)) ?? new Map<bigint, bigint>())].sort(([a], [b]) =>
      compareBigints(a, b),
    );
    const matchedTotal = matched.reduce((sum, [, score]) => sum + score, 0n);
    const claims: [bigint, bigint][] =
      matchedTotal === 0n
        ? [[poolContributionId, 1n]]
        : [
            [poolContributionId, BigInt(bpsTotal - params.matchWeightBps) * matchedTotal],
            ...matched.map(([id, score]): [bigint, bigint] => [id, BigInt(params.matchWeightBps) * score]),
          ];
    const ppm = allocateLargestRemainder({ total: budget, weights: claims.map(([, weight]) => weight) });
    claims.forEach(([contributionId], i) => {
      if (ppm[i]! > 0n)
        shares.push({ datanetId: entry.datanetId, version: entry.version, contributionId, ppm: Number(ppm[i]) });
    });
  }

  const record: AttributionRecord = {
    format: attributionRecordFormat,
    adapterId,
    tokenizerId: ctx.tokenizer.id,
    completionHash: hashTokens(completion, 0, completion.length),
    completionTokens: completion.length,
    // Picked field by field so stray properties never reach the hashed encoding.
    params: {
      minSpanTokens: params.minSpanTokens,
      matchWeightBps: params.matchWeightBps,
      maxSpanOccurrences: params.maxSpanOccurrences,
    },
    lineage: sortedLineage.map((entry, k) => ({
      datanetId: entry.datanetId,
      version: entry.version,
      weightBps: entry.weightBps,
      root: indexes[k]!.root,
    })),
    shares,
    spans: maximalSpans
      .filter((span) => span.contributions.length > 0)
      .map((span) => ({
        start: span.start,
        length: span.length,
        occurrenceCount: span.occurrenceCount,
        sources: span.contributions.map((o): SpanSource => [o.datanetId, o.version, o.contributionId, o.offset]),
      })),
  };
  return { record, hash: hashAttributionRecord(record) };
}

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
    adapterId: BigInt(raw.adapterId),
    lineage: raw.lineage.map((entry) => ({ ...entry, ...key(entry) })),
    shares: raw.shares.map((share) => ({ ...share, ...key(share), contributionId: BigInt(share.contributionId) })),
    spans: raw.spans.map((span) => ({
      ...span,
      sources: span.sources.map(([datanetId, version, contributionId, offset]): SpanSource => [
        BigInt(datanetId),
        BigInt(version),
        BigInt(contributionId),
        offset,
      ]),
    })),
  };
  if (encodeAttributionRecord(record) !== json) throw new BaseError("Attribution record is not canonically encoded.");
  return record;
}

export function compareDatanetVersions(a: DatanetVersionKey, b: DatanetVersionKey): number {
  return compareBigints(a.datanetId, b.datanetId) || compareBigints(a.version, b.version);
}

export function assertLineage(lineage: readonly LineageEntry[]): void {
  if (lineage.length === 0) throw new InvalidLineageError({ reason: "no entries" });
  const seen = new Set<string>();
  let total = 0;
  for (const entry of lineage) {
    if (!Number.isInteger(entry.weightBps) || entry.weightBps < 0) {
      throw new InvalidLineageError({ reason: `weightBps ${entry.weightBps} is not a non-negative integer` });
    }
    const key = datanetVersionKey(entry);
    if (seen.has(key))
      throw new InvalidLineageError({ reason: `datanet ${entry.datanetId} v${entry.version} appears twice` });
    seen.add(key);
    total += entry.weightBps;
  }
  if (total !== bpsTotal) throw new InvalidLineageError({ reason: `weights sum to ${total} bps, not ${bpsTotal}` });
}

function assertParams({ minSpanTokens, matchWeightBps, maxSpanOccurrences }: AttributionParams): void {
  if (!Number.isInteger(minSpanTokens) || minSpanTokens < 1)
    throw new BaseError("minSpanTokens must be a positive integer.");
  if (!Number.isInteger(matchWeightBps) || matchWeightBps < 0 || matchWeightBps > bpsTotal) {
    throw new BaseError(`matchWeightBps must be an integer in [0, ${bpsTotal}].`);
  }
  if (!Number.isInteger(maxSpanOccurrences) || maxSpanOccurrences < 1) {
    throw new BaseError("maxSpanOccurrences must be a positive integer.");
  }
}

/** keccak256 of tokens[start, start + length) as 4-byte big-endian integers: completion and span hashes. */
export function hashTokens(tokens: ArrayLike<number>, start = 0, length = tokens.length - start): Hex {
  const bytes = new Uint8Array(length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < length; i++) view.setUint32(i * 4, tokens[start + i]!, false);
  return keccak256(bytes);
}
