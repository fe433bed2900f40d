/**
 * What the payer who received a completion can check of its attribution record (recordCheck.ts has the checks
 * against the contributions): the record is about this completion, and every span's bytes are in it. Browser-safe.
 */
import { hashTokens, type AttributionRecord } from "./record.ts";

export function checkRecordAgainstCompletion(record: AttributionRecord, completionTokens: ArrayLike<number>): string[] {
  const issues: string[] = [];
  if (record.completionTokens !== completionTokens.length)
    issues.push(`completionTokens is ${record.completionTokens}, the completion has ${completionTokens.length}`);
  const completionHash = hashTokens(completionTokens);
  if (record.completionHash.toLowerCase() !== completionHash)
    issues.push(`completionHash is ${record.completionHash}, the completion hashes to ${completionHash}`);
  record.excluded.forEach(([start, length], i) => {
    if (!isRange(start, length, completionTokens.length))
      issues.push(`excluded ${i} [${start}, +${length}) is outside the completion`);
  });
  record.spans.forEach((span, i) => {
    const name = `span ${i} [${span.start}, +${span.length})`;
    if (!isRange(span.start, span.length, completionTokens.length)) {
      issues.push(`${name} is outside the completion`);
      return;
    }
    const hash = hashTokens(Array.prototype.slice.call(completionTokens, span.start, span.start + span.length));
    if (span.hash.toLowerCase() !== hash)
      issues.push(`${name} hash is ${span.hash}, the completion's tokens hash to ${hash}`);
  });
  return issues;
}

/** [start, start + length) lies within [0, total). */
export function isRange(start: number, length: number, total: number): boolean {
  return (
    Number.isSafeInteger(start) && Number.isSafeInteger(length) && start >= 0 && length >= 0 && start + length <= total
  );
}
