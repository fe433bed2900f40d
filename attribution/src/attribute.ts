/**
 * Per-inference attribution: completion tokens → attribution record with
 * exact parts-per-million shares and the matched spans as evidence, under an
 * attribution policy (policy.ts) of algorithm openpoa-span-match, versions 1
 * and 2 (specified in attribution/spec/).
 *
 * Pipeline:
 *   1. completion positions covered by the texts to exclude (chat-template
 *      markers, the system prompt) are masked; no span crosses them;
 *   2. maximal spans of at least minSpanTokens tokens are matched against the
 *      lineage indexes (match.ts);
 *   3. a span weighs the rarity weights of the whole words it shows
 *      (rarity.ts), so boilerplate weighs about nothing;
 *   4. its sources are the contributions holding it, each near duplicate
 *      replaced by its original (nearDuplicates.ts), without repeats;
 *   5. shares follow from the spans alone (sharesFromSpans), so anyone can
 *      recompute them from a record.
 *
 * Shares. The settlement contract fixes how an adapter's data share is split
 * across its lineage datanet versions (weightBps), so a record can only move
 * value *within* a datanet version. Datanet version d therefore gets exactly
 * weightBps_d × 100 ppm (10,000 bps × 100 = 1,000,000), and inside d:
 *
 *   credit(s)  = floor(weight(s) · 10^12 / |sources(s)|^(1 + e))
 *                with e = rarityExponent: 0 under version 1 (the credit is the
 *                span's weight split equally among its sources), 1..3 under
 *                version 2 (rarity in the datanet: text that many distinct
 *                contributions hold earns less than text one holds). Sources
 *                are originals, so uploading copies of a contribution changes
 *                nobody's credit.
 *   score(c)   = Σ credit(s) over the spans s crediting c
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
import type { Hex } from "viem";
import { allocateLargestRemainder } from "./allocate.ts";
import { compareBigints, datanetVersionKey, type DatanetVersionKey } from "./datanet.ts";
import { originalContributionIndexes, type DatanetIndex } from "./datanetIndex.ts";
import {
  BaseError,
  IndexParamsMismatchError,
  InvalidLineageError,
  MissingIndexError,
  RarityTableMismatchError,
} from "./errors.ts";
import { findMaximalSpans, type SpanOccurrence } from "./match.ts";
import {
  bpsTotal,
  differingParams,
  pickAttributionParams,
  pickNearDuplicateParams,
  ppmTotal,
  type AttributionParams,
} from "./params.ts";
import { assertAttributionPolicy, defaultAttributionPolicy, type AttributionPolicy } from "./policy.ts";
import { defaultRarityTable, spanRarityWeight, type RarityTable } from "./rarity.ts";
import {
  attributionRecordFormat,
  hashAttributionRecord,
  hashTokens,
  poolContributionId,
  type AttributionRecord,
  type AttributionShare,
  type AttributionSpan,
  type LineageEntry,
  type SpanSource,
} from "./record.ts";
import type { Tokenizer } from "./tokenizer.ts";

export { bpsTotal, defaultAttributionParams, ppmTotal, type AttributionParams } from "./params.ts";
export {
  attributionRecordFormat,
  decodeAttributionRecord,
  encodeAttributionRecord,
  hashAttributionRecord,
  hashTokens,
  poolContributionId,
  type AttributionRecord,
  type AttributionShare,
  type AttributionSpan,
  type LineageEntry,
  type SpanSource,
} from "./record.ts";

/** Fixed-point units per span weight unit in scores. */
const scoreScale = 10n ** 12n;

export type AttributionContext = {
  tokenizer: Tokenizer;
  /** Indexes of (at least) the adapter's lineage datanet versions. */
  indexes: readonly DatanetIndex[];
  /** The rarity table whose sha256 is the policy's params.rarityTable (default: the shipped table). */
  rarityTable?: RarityTable;
};

export function attributeCompletion(
  ctx: AttributionContext,
  {
    adapterId,
    lineage,
    completion,
    policy = defaultAttributionPolicy,
    exclude = [],
  }: {
    adapterId: bigint;
    lineage: readonly LineageEntry[];
    completion: ArrayLike<number>;
    /** The policy governing the epoch the completion is served in (default: policy 1). */
    policy?: AttributionPolicy;
    /** Texts that earn nothing wherever they occur in the completion: chat-template markers, the system prompt. */
    exclude?: readonly string[];
  },
): { record: AttributionRecord; hash: Hex } {
  assertLineage(lineage);
  assertAttributionPolicy(policy);
  const { params } = policy;
  const rarityTable = ctx.rarityTable ?? defaultRarityTable();
  if (rarityTable.id !== params.rarityTable)
    throw new RarityTableMismatchError({ expected: params.rarityTable, actual: rarityTable.id });
  const sortedLineage = [...lineage].sort(compareDatanetVersions);
  const indexes = lineageIndexes(ctx, { lineage: sortedLineage, params });

  const excluded = excludedRanges({
    completion,
    patterns: exclude.map((text) => ctx.tokenizer.encode(new TextEncoder().encode(text))),
  });
  const masked = new Uint8Array(completion.length);
  for (const [start, length] of excluded) masked.fill(1, start, start + length);

  const spans: AttributionSpan[] = [];
  for (const span of findMaximalSpans({ indexes, completion, masked, ...params })) {
    const tokens = Array.prototype.slice.call(completion, span.start, span.start + span.length) as number[];
    const weight = spanRarityWeight(rarityTable, {
      tokens,
      startsCompletion: span.start === 0,
      endsCompletion: span.start + span.length === completion.length,
    });
    if (weight === 0 || span.contributions.length === 0) continue;
    spans.push({
      start: span.start,
      length: span.length,
      hash: hashTokens(tokens),
      weight,
      occurrenceCount: span.occurrenceCount,
      sources: creditedSources({ indexes, holders: span.contributions }),
    });
  }

  const record: AttributionRecord = {
    format: attributionRecordFormat,
    policy: { id: policy.id, algorithm: policy.algorithm, version: policy.version },
    adapterId,
    tokenizerId: ctx.tokenizer.id,
    completionHash: hashTokens(completion),
    completionTokens: completion.length,
    params: pickAttributionParams(params),
    lineage: sortedLineage.map((entry, k) => ({
      datanetId: entry.datanetId,
      version: entry.version,
      weightBps: entry.weightBps,
      root: indexes[k]!.root,
    })),
    excluded,
    shares: sharesFromSpans({ spans, params, lineage: sortedLineage }),
    spans,
  };
  return { record, hash: hashAttributionRecord(record) };
}

/**
 * The shares a record's spans earn: a pure function of the spans' weights
 * and sources, the policy's params and the lineage (see the formula at the
 * top; rarityExponent is 0 under version 1). Sources outside
 * the lineage earn nothing here; the checks report them.
 */
export function sharesFromSpans({
  spans,
  params,
  lineage,
}: {
  spans: readonly Pick<AttributionSpan, "weight" | "sources">[];
  params: Pick<AttributionParams, "matchWeightBps" | "rarityExponent">;
  lineage: readonly LineageEntry[];
}): AttributionShare[] {
  const scores = new Map<string, Map<bigint, bigint>>();
  for (const { weight, sources } of spans) {
    if (sources.length === 0) continue;
    const credit = (BigInt(weight) * scoreScale) / BigInt(sources.length) ** BigInt(1 + params.rarityExponent);
    for (const [datanetId, version, contributionId] of sources) {
      const key = datanetVersionKey({ datanetId, version });
      const byContribution = scores.get(key) ?? new Map<bigint, bigint>();
      scores.set(key, byContribution.set(contributionId, (byContribution.get(contributionId) ?? 0n) + credit));
    }
  }

  const shares: AttributionShare[] = [];
  for (const entry of [...lineage].sort(compareDatanetVersions)) {
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
  return shares;
}

/**
 * The sources of a span held by `holders`: each holder's original (a near
 * duplicate is replaced by the contribution it copies), once, located in the
 * original when it holds the span itself and otherwise in its holder of
 * lowest contributionId; sorted by (datanetId, version, contributionId).
 */
export function creditedSources({
  indexes,
  holders,
}: {
  indexes: readonly DatanetIndex[];
  holders: readonly SpanOccurrence[];
}): SpanSource[] {
  const byOriginal = new Map<string, SpanSource>();
  for (const holder of holders) {
    const index = indexes.find((i) => i.datanetId === holder.datanetId && i.version === holder.version)!;
    const original = index.contributionIds[originalContributionIndexes(index)[holder.contributionIndex]!]!;
    const key = `${holder.datanetId}:${holder.version}:${original}`;
    const known = byOriginal.get(key);
    if (
      known === undefined ||
      (known[3] !== original && (holder.contributionId === original || holder.contributionId < known[3]))
    ) {
      byOriginal.set(key, [holder.datanetId, holder.version, original, holder.contributionId, holder.offset]);
    }
  }
  return [...byOriginal.values()].sort(compareSourceCredits);
}

/** Order of sources in a span: by credited (datanetId, version, contributionId). */
export function compareSourceCredits(a: SpanSource, b: SpanSource): number {
  return compareBigints(a[0], b[0]) || compareBigints(a[1], b[1]) || compareBigints(a[2], b[2]);
}

/** The index of each lineage entry (same order); throws when one is missing or does not fit (assertIndexFits). */
function lineageIndexes(
  ctx: Pick<AttributionContext, "tokenizer" | "indexes">,
  { lineage, params }: { lineage: readonly DatanetVersionKey[]; params: AttributionParams },
): DatanetIndex[] {
  return lineage.map((entry) => {
    const index = ctx.indexes.find((i) => i.datanetId === entry.datanetId && i.version === entry.version);
    if (index === undefined) throw new MissingIndexError(entry);
    assertIndexFits(index, { tokenizer: ctx.tokenizer, params });
    return index;
  });
}

/** Throws unless `index` was built with `tokenizer` and the params' near-duplicate settings. */
export function assertIndexFits(
  index: DatanetIndex,
  { tokenizer, params }: { tokenizer: Tokenizer; params: AttributionParams },
): void {
  if (index.tokenizerId !== tokenizer.id) {
    throw new BaseError(
      `Index of datanet ${index.datanetId} v${index.version} was built with tokenizer ${index.tokenizerId}, not ${tokenizer.id}.`,
    );
  }
  const differing = differingParams(index.nearDuplicateParams, pickNearDuplicateParams(params));
  if (differing.length > 0) throw new IndexParamsMismatchError({ ...index, fields: differing });
}

/** Every occurrence of every non-empty pattern in the completion, merged into sorted disjoint [start, length] ranges. */
function excludedRanges({
  completion,
  patterns,
}: {
  completion: ArrayLike<number>;
  patterns: readonly ArrayLike<number>[];
}): [number, number][] {
  const masked = new Uint8Array(completion.length);
  for (const pattern of patterns) {
    if (pattern.length === 0) continue;
    for (let start = 0; start + pattern.length <= completion.length; start++) {
      let k = 0;
      while (k < pattern.length && completion[start + k] === pattern[k]) k++;
      if (k === pattern.length) masked.fill(1, start, start + pattern.length);
    }
  }
  const ranges: [number, number][] = [];
  for (let i = 0; i < masked.length; i++) {
    if (!masked[i]) continue;
    const start = i;
    while (i < masked.length && masked[i]) i++;
    ranges.push([start, i - start]);
  }
  return ranges;
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
