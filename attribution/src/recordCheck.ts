/**
 * Checks of an attribution record by a third party, without rerunning the
 * gateway. Each returns the list of issues found (strings naming the span,
 * source or field), empty when the record passes.
 *
 * - checkRecordAgainstContributions: what anyone holding the public
 *   contributions (the lineage indexes) and the epoch's attribution policy
 *   can check: the record was made under that policy, every span's bytes
 *   really are in the named contributions, the sources are exactly the
 *   contributions that hold them, and the weights, occurrence counts and
 *   shares recompute exactly.
 * - checkRecordAgainstCompletion: what the payer who received the completion
 *   can check: the record is about this completion, and every span's bytes
 *   are in it.
 *
 * (completionCheck.ts: browser-safe.) Neither can tell whether a span was left out: that takes the completion and
 * the indexes together (rerun attributeCompletion).
 */
import {
  assertIndexFits,
  assertLineage,
  attributionRecordFormat,
  compareDatanetVersions,
  compareSourceCredits,
  creditedSources,
  hashTokens,
  sharesFromSpans,
  type AttributionRecord,
  type AttributionShare,
  type AttributionSpan,
  type SpanSource,
} from "./attribute.ts";
import { isRange } from "./completionCheck.ts";
import { datanetVersionKey } from "./datanet.ts";
import { originalContributionIndexes, type DatanetIndex } from "./datanetIndex.ts";
import { BaseError, RarityTableMismatchError } from "./errors.ts";
import { findOccurrences } from "./match.ts";
import type { AttributionParams } from "./params.ts";
import { assertAttributionPolicy, recordPolicyIssues, type AttributionPolicy } from "./policy.ts";
import { defaultRarityTable, spanRarityWeight, type RarityTable } from "./rarity.ts";
import type { Tokenizer } from "./tokenizer.ts";

export function checkRecordAgainstContributions(
  record: AttributionRecord,
  {
    tokenizer,
    indexes,
    policy,
    rarityTable = defaultRarityTable(),
  }: {
    tokenizer: Tokenizer;
    /** The index of every datanet version of the record's lineage. */
    indexes: readonly DatanetIndex[];
    /** The attribution policy of the epoch the record is paid in. */
    policy: AttributionPolicy;
    /** The table whose sha256 is the policy's params.rarityTable (default: the shipped table). */
    rarityTable?: RarityTable;
  },
): string[] {
  assertAttributionPolicy(policy);
  const { params } = policy;
  if (rarityTable.id !== params.rarityTable)
    throw new RarityTableMismatchError({ expected: params.rarityTable, actual: rarityTable.id });
  const issues: string[] = [];
  if (record.format !== attributionRecordFormat)
    issues.push(`format is ${String(record.format)}, not ${attributionRecordFormat}`);
  if (record.tokenizerId !== tokenizer.id) issues.push(`tokenizerId is ${record.tokenizerId}, not ${tokenizer.id}`);
  issues.push(...recordPolicyIssues(record, policy));
  if (!Number.isSafeInteger(record.completionTokens) || record.completionTokens < 0)
    issues.push(`completionTokens ${record.completionTokens} is not a non-negative integer`);

  const lineageIndexes = checkLineage(record, { tokenizer, indexes, params }, issues);
  if (lineageIndexes === undefined) return issues;
  checkExcluded(record, issues);

  record.spans.forEach((span, i) => {
    const name = `span ${i} [${span.start}, +${span.length})`;
    const previous = record.spans[i - 1];
    checkSpanBounds(record, span, { name, previous, minSpanTokens: params.minSpanTokens }, issues);
    if (span.sources.length === 0) {
      issues.push(`${name} has no sources: its tokens cannot be located in any contribution`);
      return;
    }
    let tokens: Int32Array | undefined;
    span.sources.forEach((source, j) => {
      const located = locateSource(source, { span, indexes: lineageIndexes });
      if (typeof located === "string") issues.push(`${name} source ${j} ${describeSource(source)}: ${located}`);
      else tokens ??= located;
    });
    if (tokens === undefined) return;

    const weight = spanRarityWeight(rarityTable, {
      tokens,
      startsCompletion: span.start === 0,
      endsCompletion: span.start + span.length === record.completionTokens,
    });
    if (span.weight !== weight) issues.push(`${name} weight is ${span.weight}, its words weigh ${weight}`);
    const { occurrenceCount, contributions } = findOccurrences({
      indexes: lineageIndexes,
      tokens,
      maxSpanOccurrences: params.maxSpanOccurrences,
    });
    if (span.occurrenceCount !== occurrenceCount)
      issues.push(`${name} occurrenceCount is ${span.occurrenceCount}, the lineage holds it ${occurrenceCount} times`);
    if (occurrenceCount > params.maxSpanOccurrences) {
      issues.push(`${name} occurs ${occurrenceCount} times, above maxSpanOccurrences: it credits no one`);
      return;
    }
    checkSourceSet(span.sources, creditedSources({ indexes: lineageIndexes, holders: contributions }), name, issues);
  });

  checkShares(record, params, issues);
  return issues;
}

/** The lineage's indexes in record order, or undefined (with issues) when they cannot be had. */
function checkLineage(
  record: AttributionRecord,
  { tokenizer, indexes, params }: { tokenizer: Tokenizer; indexes: readonly DatanetIndex[]; params: AttributionParams },
  issues: string[],
): DatanetIndex[] | undefined {
  try {
    assertLineage(record.lineage);
  } catch (error) {
    if (!(error instanceof BaseError)) throw error;
    issues.push(`lineage: ${error.shortMessage}`);
  }
  const found: DatanetIndex[] = [];
  record.lineage.forEach((entry, k) => {
    const name = `lineage ${k} (datanet ${entry.datanetId} v${entry.version})`;
    if (k > 0 && compareDatanetVersions(record.lineage[k - 1]!, entry) >= 0)
      issues.push(`${name} is not sorted after the entry before it`);
    const index = indexes.find((i) => i.datanetId === entry.datanetId && i.version === entry.version);
    if (index === undefined) {
      issues.push(`${name} has no index to check against`);
      return;
    }
    assertIndexFits(index, { tokenizer, params });
    if (entry.root.toLowerCase() !== index.root.toLowerCase())
      issues.push(`${name} root is ${entry.root}, the published root is ${index.root}`);
    found.push(index);
  });
  return found.length === record.lineage.length ? found : undefined;
}

function checkExcluded(record: AttributionRecord, issues: string[]): void {
  let previousEnd = -1;
  record.excluded.forEach(([start, length], i) => {
    if (!isRange(start, length, record.completionTokens) || length === 0)
      issues.push(`excluded ${i} [${start}, +${length}) is not a non-empty range inside the completion`);
    else if (start <= previousEnd) issues.push(`excluded ${i} [${start}, +${length}) is not after the range before it`);
    previousEnd = start + length;
  });
}

function checkSpanBounds(
  record: AttributionRecord,
  span: AttributionSpan,
  { name, previous, minSpanTokens }: { name: string; previous: AttributionSpan | undefined; minSpanTokens: number },
  issues: string[],
): void {
  if (!isRange(span.start, span.length, record.completionTokens))
    issues.push(`${name} is outside [0, completionTokens ${record.completionTokens})`);
  if (span.length < minSpanTokens) issues.push(`${name} is shorter than minSpanTokens ${minSpanTokens}`);
  if (
    previous !== undefined &&
    (span.start <= previous.start || span.start + span.length <= previous.start + previous.length)
  )
    issues.push(`${name} does not start and end after the span before it`);
  for (const [start, length] of record.excluded) {
    if (span.start < start + length && start < span.start + span.length)
      issues.push(`${name} crosses the excluded range [${start}, +${length})`);
  }
  if (!Number.isSafeInteger(span.weight) || span.weight <= 0)
    issues.push(`${name} weight ${span.weight} is not positive`);
}

/** The span's tokens as held by the source, or why they are not there. */
function locateSource(
  [datanetId, version, contributionId, heldBy, offset]: SpanSource,
  { span, indexes }: { span: AttributionSpan; indexes: readonly DatanetIndex[] },
): Int32Array | string {
  const index = indexes.find((i) => i.datanetId === datanetId && i.version === version);
  if (index === undefined) return `datanet ${datanetId} v${version} is not in the lineage`;
  const k = index.contributionIds.indexOf(heldBy);
  if (k < 0) return `contribution ${heldBy} is not in datanet ${datanetId} v${version}`;
  const original = index.contributionIds[originalContributionIndexes(index)[k]!]!;
  if (original !== contributionId) return `contribution ${heldBy} is credited to ${original}, not ${contributionId}`;
  const contributionLength = index.starts[k + 1]! - 1 - index.starts[k]!;
  if (!isRange(offset, span.length, contributionLength))
    return `offset ${offset} + length ${span.length} is outside contribution ${heldBy} (${contributionLength} tokens)`;
  const tokens = index.text.subarray(index.starts[k]! + offset, index.starts[k]! + offset + span.length);
  if (hashTokens(tokens) !== span.hash.toLowerCase())
    return `the tokens at offset ${offset} of contribution ${heldBy} do not hash to the span's hash`;
  return tokens;
}

/** Sources must be exactly the expected credited contributions, once each, in order. */
function checkSourceSet(
  sources: readonly SpanSource[],
  expected: readonly SpanSource[],
  name: string,
  issues: string[],
): void {
  const key = ([datanetId, version, contributionId]: SpanSource) =>
    `${datanetVersionKey({ datanetId, version })}:${contributionId}`;
  const expectedKeys = new Set(expected.map(key));
  const seen = new Set<string>();
  for (const source of sources) {
    if (seen.has(key(source))) issues.push(`${name} credits ${describeCredit(source)} twice`);
    else if (!expectedKeys.has(key(source)))
      issues.push(`${name} credits ${describeCredit(source)}, which does not hold it`);
    seen.add(key(source));
  }
  for (const source of expected) {
    if (!seen.has(key(source))) issues.push(`${name} leaves out ${describeCredit(source)}, which holds it`);
  }
  if (sources.some((source, j) => j > 0 && compareSourceCredits(sources[j - 1]!, source) >= 0))
    issues.push(`${name} sources are not sorted by (datanetId, version, contributionId)`);
}

function checkShares(record: AttributionRecord, params: AttributionParams, issues: string[]): void {
  // Span weights and counts were checked above; shares only recompute from positive integers.
  const positive = (n: number) => Number.isSafeInteger(n) && n > 0;
  if (record.spans.some((span) => !positive(span.weight) || !positive(span.occurrenceCount))) {
    issues.push("shares cannot be recomputed: a span weight or occurrence count is not a positive integer");
    return;
  }
  let expected: AttributionShare[];
  try {
    expected = sharesFromSpans({ spans: record.spans, params, lineage: record.lineage });
  } catch (error) {
    // An invalid lineage (reported above) has no budget to split.
    if (!(error instanceof BaseError)) throw error;
    issues.push(`shares cannot be recomputed: ${error.shortMessage}`);
    return;
  }
  const shareKey = (s: { datanetId: bigint; version: bigint; contributionId: bigint }) =>
    `datanet ${s.datanetId} v${s.version} contribution ${s.contributionId}`;
  const expectedPpm = new Map(expected.map((s) => [shareKey(s), s.ppm]));
  const recordPpm = new Map(record.shares.map((s) => [shareKey(s), s.ppm]));
  for (const key of new Set([...expectedPpm.keys(), ...recordPpm.keys()])) {
    const [actual, recomputed] = [recordPpm.get(key) ?? 0, expectedPpm.get(key) ?? 0];
    if (actual !== recomputed) issues.push(`share of ${key} is ${actual} ppm, the spans give ${recomputed}`);
  }
  if (
    recordPpm.size !== record.shares.length ||
    record.shares.some((s, i) => expected[i] === undefined || shareKey(s) !== shareKey(expected[i]!))
  )
    issues.push("shares are not listed once each in (datanetId, version, contributionId) order");
}

function describeSource([datanetId, version, contributionId, heldBy, offset]: SpanSource): string {
  return `[datanet ${datanetId} v${version}, contribution ${contributionId}, held by ${heldBy} at ${offset}]`;
}

function describeCredit([datanetId, version, contributionId]: SpanSource): string {
  return `contribution ${contributionId} of datanet ${datanetId} v${version}`;
}

export { checkRecordAgainstCompletion } from "./completionCheck.ts";
