/**
 * Attribution benchmark: builds the index of a generated ≥ 10,000,000-token
 * datanet (fixed seed; suffix array and near duplicates), round-trips it
 * through the index file format, then times attributeCompletion on 256-token
 * completions that mix fresh text with spans copied from contributions.
 *
 * It then measures gaming on fixed texts (gamingCorpus.ts) placed among the
 * same generated contributions and a few honest plain-English neighbours, one
 * datanet per case, each built like the timed one:
 *   spamShareOfParaphrase   genuine + boilerplate/chat-template spam: the spam's share
 *   nearCopyShare           genuine + a later copy with one byte changed: the copier's share
 *   genuineShareNoAttacker  genuine alone: the genuine contribution's share
 * of the paraphrasing completion, where a contribution's share is its ppm
 * divided by the record's matched (non-pool) ppm, i.e. its part of the
 * evidence-driven budget. `gaming` uses attribution policy 1 (openpoa-span-match
 * version 1, the default params) with the chat-template markers and system
 * prompt excluded, as the gateway would; `gamingWithoutDefences` scores the same
 * completion as the first algorithm did (records openpoa-attribution-v1:
 * every maximal span of ≥ 8 tokens weighs its length, no exclusion, copies
 * not collapsed), through the same sharesFromSpans, for a side-by-side in one
 * run.
 *
 *   PATH=node_modules/.bin:$PATH node attribution/bench/attribution.bench.ts
 *
 * Writes bench/results/attribution.json.
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  attributeCompletion,
  poolContributionId,
  sharesFromSpans,
  type AttributionShare,
  type LineageEntry,
  type SpanSource,
} from "../src/attribute.ts";
import {
  buildDatanetIndex,
  loadDatanetIndex,
  nearDuplicateContributions,
  saveDatanetIndex,
  type DatanetIndex,
} from "../src/datanetIndex.ts";
import { findMaximalSpans } from "../src/match.ts";
import { byteTokenizer } from "../src/tokenizer.ts";
import { makeDatanet } from "../src/testing.ts";
import {
  boilerplateSpam,
  chatTemplateMarkers,
  genuineSource,
  nearCopy,
  neighbourContributions,
  paraphraseCompletion,
  systemPrompt,
} from "./gamingCorpus.ts";
import { createTextCorpus } from "./textCorpus.ts";

const targetTokens = 10_000_000;
const completionTokens = 256;
const warmupCompletions = 50;
const timedCompletions = 1_000;

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const log = (message: string) => console.error(`[bench] ${message}`);

const corpus = createTextCorpus({ seed: 20_240_601 });
const { random } = corpus;
const texts: Uint8Array[] = [];
for (let total = 0; total < targetTokens;) {
  // Contribution sizes from a short note to a long article (256 B – 8 KiB, skewed small).
  const text = corpus.text(Math.floor(256 * Math.pow(32, random.next())));
  texts.push(text);
  total += text.length + 1;
}
log(`generated ${texts.length} contributions`);
const encode = (text: string) => new TextEncoder().encode(text);
/** The generated contributions, honest neighbours, then the gaming texts (ids from genuineId on). */
const datanetWith = (extra: readonly string[]) =>
  makeDatanet({ datanetId: 1n, version: 1n, texts: [...texts, ...[...neighbourContributions, ...extra].map(encode)] });
const genuineId = BigInt(texts.length + neighbourContributions.length + 1);
const attackerId = genuineId + 1n;

// The timed datanet is the spam case: the generated contributions, the genuine text and the spam.
const { datanet, contents } = datanetWith([genuineSource, boilerplateSpam]);
let started = performance.now();
const built = buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer });
const buildMs = performance.now() - started;
log(
  `index: ${built.text.length} tokens in ${buildMs.toFixed(0)} ms, ${nearDuplicateContributions(built).length} near duplicates`,
);

const dir = await mkdtemp(join(tmpdir(), "openpoa-bench-"));
const path = join(dir, "datanet.opoaidx");
started = performance.now();
await saveDatanetIndex(built, { path });
const saveMs = performance.now() - started;
started = performance.now();
const index = await loadDatanetIndex({ path });
log(
  `index file ${((await stat(path)).size / 2 ** 20).toFixed(0)} MiB: save ${saveMs.toFixed(0)} ms, load+checksum ${(performance.now() - started).toFixed(0)} ms`,
);
await rm(dir, { recursive: true, force: true });

/** 256 tokens of fresh text with 1–3 spans of 16–96 tokens copied from random contributions. */
function makeCompletion(): Uint32Array {
  const parts: Uint8Array[] = [];
  for (let planted = random.int(1, 3); planted > 0; planted--) {
    parts.push(corpus.text(random.int(8, 64)));
    const source = contents[random.int(0, contents.length - 1)]!;
    const length = Math.min(source.length, random.int(16, 96));
    const at = random.int(0, source.length - length);
    parts.push(source.subarray(at, at + length));
  }
  parts.push(corpus.text(completionTokens));
  const completion = new Uint32Array(completionTokens);
  let n = 0;
  for (const part of parts) for (let i = 0; i < part.length && n < completionTokens; i++) completion[n++] = part[i]!;
  return completion;
}

const lineage: LineageEntry[] = [{ datanetId: 1n, version: 1n, weightBps: 10_000 }];
const ctx = { tokenizer: byteTokenizer, indexes: [index] };
const completions = Array.from({ length: warmupCompletions + timedCompletions }, makeCompletion);
const latencies: number[] = [];
let spans = 0;
completions.forEach((completion, k) => {
  const t0 = performance.now();
  const { record } = attributeCompletion(ctx, { adapterId: 1n, lineage, completion });
  const elapsed = performance.now() - t0;
  if (k >= warmupCompletions) {
    latencies.push(elapsed);
    spans += record.spans.length;
  }
});
latencies.sort((a, b) => a - b);
const percentile = (p: number) =>
  latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)]!;
const round = (x: number, digits: number) => Number(x.toFixed(digits));

log(`${timedCompletions} completions, ${(spans / timedCompletions).toFixed(1)} credited spans each on average`);

const paraphrase = byteTokenizer.encode(encode(paraphraseCompletion));
/** `contributionId`'s part of the matched (non-pool) ppm; 0 when nothing matched. */
const evidenceShare = (shares: readonly AttributionShare[], contributionId: bigint) => {
  const matched = shares.filter((s) => s.contributionId !== poolContributionId).reduce((sum, s) => sum + s.ppm, 0);
  const ppm = shares.find((s) => s.contributionId === contributionId)?.ppm ?? 0;
  return matched === 0 ? 0 : round(ppm / matched, 4);
};
/** Shares of the paraphrase under policy 1 (template excluded) and as the first algorithm scored it. */
function gamingShares(gamingIndex: DatanetIndex): { defended: AttributionShare[]; undefended: AttributionShare[] } {
  const { record } = attributeCompletion(
    { tokenizer: byteTokenizer, indexes: [gamingIndex] },
    { adapterId: 1n, lineage, completion: paraphrase, exclude: [...chatTemplateMarkers, systemPrompt] },
  );
  const undefendedSpans = findMaximalSpans({
    indexes: [gamingIndex],
    completion: paraphrase,
    minSpanTokens: 8,
    maxSpanOccurrences: 64,
  }).map((span) => ({
    weight: span.length,
    occurrenceCount: span.occurrenceCount,
    sources: span.contributions.map((o): SpanSource => [
      o.datanetId,
      o.version,
      o.contributionId,
      o.contributionId,
      o.offset,
    ]),
  }));
  return {
    defended: record.shares,
    undefended: sharesFromSpans({
      spans: undefendedSpans,
      params: { matchWeightBps: 8_000, rarityExponent: 0 },
      lineage,
    }),
  };
}
const spamCase = gamingShares(index);
const copyCase = gamingShares(
  buildDatanetIndex({ ...datanetWith([genuineSource, nearCopy(genuineSource)]), tokenizer: byteTokenizer }),
);
const soloCase = gamingShares(buildDatanetIndex({ ...datanetWith([genuineSource]), tokenizer: byteTokenizer }));
const gamingFigures = (pick: "defended" | "undefended") => ({
  spamShareOfParaphrase: evidenceShare(spamCase[pick], attackerId),
  nearCopyShare: evidenceShare(copyCase[pick], attackerId),
  genuineShareNoAttacker: evidenceShare(soloCase[pick], genuineId),
});

const result = {
  indexTokens: index.text.length,
  completionTokens,
  p50Ms: round(percentile(50), 3),
  p99Ms: round(percentile(99), 3),
  indexBuildTokensPerSec: Math.round(index.text.length / (buildMs / 1000)),
  gaming: gamingFigures("defended"),
  gamingWithoutDefences: gamingFigures("undefended"),
};
await mkdir(join(repoRoot, "bench/results"), { recursive: true });
await writeFile(join(repoRoot, "bench/results/attribution.json"), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result));
