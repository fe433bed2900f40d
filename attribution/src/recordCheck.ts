// TEMPORARY shim until attribution v2 lands (replaced by the helper's module).
import { hashTokens, type AttributionParams, type AttributionRecord } from "./attribute.ts";
import type { DatanetIndex } from "./datanetIndex.ts";
import type { Tokenizer } from "./tokenizer.ts";

export function checkRecordAgainstCompletion(record: AttributionRecord, completion: ArrayLike<number>): string[] {
  const issues: string[] = [];
  if (record.completionHash !== hashTokens(completion)) issues.push("completion hash differs");
  if (record.completionTokens !== completion.length) issues.push("completion length differs");
  for (const span of record.spans)
    if (span.start + span.length > completion.length) issues.push(`span at ${span.start} outside the completion`);
  return issues;
}

export function checkRecordAgainstContributions(
  _record: AttributionRecord,
  _ctx: { tokenizer: Tokenizer; indexes: readonly DatanetIndex[]; params: AttributionParams },
): string[] {
  return [];
}
