/**
 * Longest-match search of a completion against datanet indexes
 * (Infini-gram style): for every completion position, narrow the suffix-array
 * range one token at a time until the next token no longer occurs; the depth
 * reached is the longest match starting there.
 */
import { contributionIndexAt, type DatanetIndex } from "./datanetIndex.ts";
import { TokenOutOfVocabularyError } from "./errors.ts";

/** Suffix-array range [lo, hi) of the longest match, and its length. */
export type LongestMatch = { length: number; lo: number; hi: number };

export type SpanOccurrence = {
  datanetId: bigint;
  version: bigint;
  contributionId: bigint;
  /** Position of the contribution in its index (acceptance order). */
  contributionIndex: number;
  /** Token offset of the first occurrence inside the contribution. */
  offset: number;
};

export type MaximalSpan = {
  /** First completion position of the span. */
  start: number;
  length: number;
  /** Total occurrences across all indexes (≥ number of contributions). */
  occurrenceCount: number;
  /**
   * Distinct contributions containing the span, ordered by (datanetId,
   * version, contributionId); empty when occurrenceCount exceeds the cap.
   */
  contributions: SpanOccurrence[];
};

/** Longest match of query[from, to) (to defaults to the query's end) starting at `from`. */
export function longestMatchAt(
  index: DatanetIndex,
  query: ArrayLike<number>,
  from: number,
  to = query.length,
): LongestMatch {
  const { text, suffixArray: sa } = index;
  let lo = 0;
  let hi = sa.length;
  let depth = 0;
  // Skip the two widest narrowing steps when the first token pair occurs.
  const [first, second] = [query[from]!, query[from + 1]!];
  if (from + 1 < to && first < index.vocabSize && second < index.vocabSize) {
    const pairs = pairRanges(index);
    const key = first * index.vocabSize + second;
    if (pairs.end[key]! > 0) {
      lo = pairs.start[key]!;
      hi = pairs.end[key]!;
      depth = 2;
    }
  }
  while (from + depth < to && hi > lo) {
    const token = query[from + depth]!;
    if (hi - lo === 1) {
      // One candidate left: extend by direct comparison.
      if (text[sa[lo]! + depth] !== token) break;
      depth++;
      continue;
    }
    // Suffixes in [lo, hi) share `depth` tokens; none of them is a separator, so
    // sa[x] + depth stays inside the text (which ends with a separator).
    let a = lo;
    let b = hi;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (text[sa[mid]! + depth]! < token) a = mid + 1;
      else b = mid;
    }
    if (a === hi || text[sa[a]! + depth] !== token) break;
    let c = a + 1;
    b = hi;
    while (c < b) {
      const mid = (c + b) >>> 1;
      if (text[sa[mid]! + depth]! <= token) c = mid + 1;
      else b = mid;
    }
    lo = a;
    hi = c;
    depth++;
  }
  return depth === 0 ? { length: 0, lo: 0, hi: 0 } : { length: depth, lo, hi };
}

type PairRanges = { start: Int32Array; end: Int32Array };
const pairRangesCache = new WeakMap<DatanetIndex, PairRanges>();

/**
 * Suffix-array range of every two-token prefix (key a · vocabSize + b; empty
 * ranges have end 0). Built lazily in one pass over the suffix array (suffixes
 * sharing a prefix are contiguous) and cached per index; vocabSize² entries.
 */
function pairRanges(index: DatanetIndex): PairRanges {
  const cached = pairRangesCache.get(index);
  if (cached !== undefined) return cached;
  const { text, suffixArray: sa, vocabSize } = index;
  const start = new Int32Array(vocabSize * vocabSize);
  const end = new Int32Array(vocabSize * vocabSize);
  for (let x = 0; x < sa.length; x++) {
    const a = text[sa[x]!]!;
    // The text ends with a separator, so a non-separator is always followed by a symbol.
    const b = a < vocabSize ? text[sa[x]! + 1]! : vocabSize;
    if (b >= vocabSize) continue;
    const key = a * vocabSize + b;
    if (end[key] === 0) start[key] = x;
    end[key] = x + 1;
  }
  const ranges = { start, end };
  pairRangesCache.set(index, ranges);
  return ranges;
}

/**
 * Maximal matched spans of `completion` over the union of `indexes`: for each
 * position i the longest match L(i) over all indexes; [i, i + L(i)) is kept
 * when L(i) ≥ minSpanTokens and it is not contained in a span that starts
 * earlier (i + L(i) beyond every earlier end). Spans occurring more than
 * `maxSpanOccurrences` times are kept with no contributions: they are too
 * common to say where the output came from. Positions where `masked` is
 * non-zero belong to no span: matches stop before them.
 */
export function findMaximalSpans({
  indexes,
  completion,
  minSpanTokens,
  maxSpanOccurrences,
  masked,
}: {
  indexes: readonly DatanetIndex[];
  completion: ArrayLike<number>;
  minSpanTokens: number;
  maxSpanOccurrences: number;
  masked?: Uint8Array;
}): MaximalSpan[] {
  for (const index of indexes) {
    for (let i = 0; i < completion.length; i++) {
      const token = completion[i]!;
      if (!Number.isInteger(token) || token < 0 || token >= index.vocabSize) {
        throw new TokenOutOfVocabularyError({ token, vocabSize: index.vocabSize });
      }
    }
  }
  const spans: MaximalSpan[] = [];
  let furthestEnd = 0;
  let segmentEnd = 0;
  for (let start = 0; start < completion.length; start++) {
    if (masked?.[start]) continue;
    // Matches end at the next masked position.
    if (segmentEnd <= start) {
      segmentEnd = start;
      while (segmentEnd < completion.length && !masked?.[segmentEnd]) segmentEnd++;
    }
    const matches = indexes.map((index) => longestMatchAt(index, completion, start, segmentEnd));
    const length = Math.max(0, ...matches.map((match) => match.length));
    if (start + length <= furthestEnd) continue;
    furthestEnd = start + length;
    if (length < minSpanTokens) continue;
    spans.push({ start, length, ...occurrencesOfMatch({ indexes, matches, length, maxSpanOccurrences }) });
  }
  return spans;
}

/**
 * Occurrences of exactly `tokens` in `indexes`: how many, and the distinct
 * contributions holding them (none when more than `maxSpanOccurrences`).
 */
export function findOccurrences({
  indexes,
  tokens,
  maxSpanOccurrences,
}: {
  indexes: readonly DatanetIndex[];
  tokens: ArrayLike<number>;
  maxSpanOccurrences: number;
}): { occurrenceCount: number; contributions: SpanOccurrence[] } {
  const matches = indexes.map((index) => longestMatchAt(index, tokens, 0));
  return occurrencesOfMatch({ indexes, matches, length: tokens.length, maxSpanOccurrences });
}

function occurrencesOfMatch({
  indexes,
  matches,
  length,
  maxSpanOccurrences,
}: {
  indexes: readonly DatanetIndex[];
  matches: readonly LongestMatch[];
  length: number;
  maxSpanOccurrences: number;
}): { occurrenceCount: number; contributions: SpanOccurrence[] } {
  const occurrenceCount = matches.reduce((sum, m) => sum + (m.length === length ? m.hi - m.lo : 0), 0);
  const contributions: SpanOccurrence[] = [];
  if (length > 0 && occurrenceCount <= maxSpanOccurrences) {
    indexes.forEach((index, k) => {
      if (matches[k]!.length === length) contributions.push(...contributionsInRange(index, matches[k]!));
    });
  }
  return { occurrenceCount, contributions };
}

/** Distinct contributions of one index holding the range, with their first offset, by contribution id. */
function contributionsInRange(index: DatanetIndex, { lo, hi }: LongestMatch): SpanOccurrence[] {
  const firstOffset = new Map<number, number>();
  for (let x = lo; x < hi; x++) {
    const position = index.suffixArray[x]!;
    const k = contributionIndexAt(index, position);
    const offset = position - index.starts[k]!;
    const known = firstOffset.get(k);
    if (known === undefined || offset < known) firstOffset.set(k, offset);
  }
  return [...firstOffset]
    .map(([k, offset]) => ({
      datanetId: index.datanetId,
      version: index.version,
      contributionId: index.contributionIds[k]!,
      contributionIndex: k,
      offset,
    }))
    .sort((a, b) => (a.contributionId < b.contributionId ? -1 : a.contributionId > b.contributionId ? 1 : 0));
}
