import assert from "node:assert/strict";
import { test } from "node:test";
import {
  attributeCompletion,
  decodeAttributionRecord,
  encodeAttributionRecord,
  hashAttributionRecord,
  hashTokens,
  sharesFromSpans,
  type AttributionParams,
  type LineageEntry,
} from "./attribute.ts";
import { buildDatanetIndex, type DatanetIndex } from "./datanetIndex.ts";
import {
  IndexParamsMismatchError,
  InvalidLineageError,
  InvalidParamsError,
  MissingIndexError,
  RarityTableMismatchError,
  TokenOutOfVocabularyError,
} from "./errors.ts";
import { defaultAttributionPolicy, type AttributionPolicy } from "./policy.ts";
import { parseRarityTable } from "./rarity.ts";
import { byteTokenizer } from "./tokenizer.ts";
import { asVersion2, createRandom, createSentenceMaker, makeDatanet, withParams } from "./testing.ts";

const encode = (text: string): Uint32Array => byteTokenizer.encode(new TextEncoder().encode(text));

// A small table: every word weighs 3 except the listed ones, so the expected weights are easy to follow.
const rarityTable = parseRarityTable(
  new TextEncoder().encode("openpoa-rarity-v1\tunlisted\t3\nand\t0\nat\t0\nin\t0\nis\t0\nnote\t0\nof\t0\nthe\t0\n"),
  { source: "test" },
);
const policy = withParams({ minSpanTokens: 8, rarityTable: rarityTable.id });
const { params } = policy;

// Datanet 1 v1: c1 holds a unique three-word phrase, c2 and c3 share a two-word phrase.
// Datanet 2 v3: unrelated text, never matched.
const datanet1 = makeDatanet({
  datanetId: 1n,
  version: 1n,
  texts: ["once upon quantum kettles sing at dawn", "maps of violet rivers in june", "old violet rivers ahead"],
});
const datanet2 = makeDatanet({
  datanetId: 2n,
  version: 3n,
  texts: ["pumpkin lanterns glow", "zebra crossings hum"],
  firstContributionId: 4n,
});
const indexes = [datanet1, datanet2].map(({ datanet, contents }) =>
  buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer }),
);
const ctx = { tokenizer: byteTokenizer, indexes, rarityTable };
const lineage: LineageEntry[] = [
  { datanetId: 2n, version: 3n, weightBps: 4_000 },
  { datanetId: 1n, version: 1n, weightBps: 6_000 },
];
// '#', '@', '%' occur in no contribution, so the planted spans cannot grow.
const plantedCompletion = encode("# quantum kettles sing @ violet rivers %");

test("planted overlaps give the documented shares exactly", () => {
  const { record } = attributeCompletion(ctx, { adapterId: 9n, lineage, completion: plantedCompletion, policy });
  // Span weights: " quantum kettles sing " 3 words × 3 = 9 (c1); " violet rivers " 2 × 3 = 6, split over c2 and c3.
  // Datanet 1 budget 600,000 ppm; scores c1 = 9, c2 = c3 = 3, M = 15.
  // Pool: 2,000 · 15 = 30,000 → 120,000 ppm; c1: 8,000 · 9 = 72,000 → 288,000; c2, c3: 24,000 → 96,000.
  // Datanet 2 has no match: its whole 400,000 ppm goes to its pool.
  assert.deepEqual(
    record.shares.map((s) => [s.datanetId, s.version, s.contributionId, s.ppm]),
    [
      [1n, 1n, 0n, 120_000],
      [1n, 1n, 1n, 288_000],
      [1n, 1n, 2n, 96_000],
      [1n, 1n, 3n, 96_000],
      [2n, 3n, 0n, 400_000],
    ],
  );
  assert.deepEqual(
    record.spans.map((s) => [s.start, s.length, s.weight, s.occurrenceCount, s.sources]),
    [
      [1, 22, 9, 1, [[1n, 1n, 1n, 1n, 9]]],
      [
        24,
        15,
        6,
        2,
        [
          [1n, 1n, 2n, 2n, 7],
          [1n, 1n, 3n, 3n, 3],
        ],
      ],
    ],
  );
  for (const span of record.spans)
    assert.equal(span.hash, hashTokens(plantedCompletion.subarray(span.start, span.start + span.length)));
  assert.equal(record.completionHash, hashTokens(plantedCompletion));
  assert.deepEqual(record.excluded, []);
  assert.deepEqual(
    record.lineage.map((l) => [l.datanetId, l.version, l.weightBps, l.root]),
    [
      [1n, 1n, 6_000, datanet1.datanet.root],
      [2n, 3n, 4_000, datanet2.datanet.root],
    ],
  );
  assert.deepEqual(sharesFromSpans({ spans: record.spans, params, lineage }), record.shares);
});

test("version 2 divides a span's credit by |sources|^(1 + rarityExponent) (the example of the specs)", () => {
  // " quantum kettles sing " (weight 9) only c1 holds; " violet rivers " (weight 6) c2 and c3 hold once each, so it
  // occurs twice and has two sources. attribution/spec/openpoa-span-match-v2.md works these numbers by hand.
  const attributed = (underPolicy: AttributionPolicy) =>
    attributeCompletion(ctx, {
      adapterId: 9n,
      lineage: [{ datanetId: 1n, version: 1n, weightBps: 10_000 }],
      completion: plantedCompletion,
      policy: underPolicy,
    }).record;
  const version2 = (rarityExponent: number) => asVersion2({ rarityExponent }, policy);
  const ppm = (record: { shares: { contributionId: bigint; ppm: number }[] }) =>
    record.shares.map((s) => [s.contributionId, s.ppm]);
  const v1 = attributed(policy);
  assert.deepEqual(
    v1.spans.map((s) => [s.weight, s.occurrenceCount, s.sources.map((source) => source[2])]),
    [
      [9, 1, [1n]],
      [6, 2, [2n, 3n]],
    ],
  );
  // Version 1: credits 9 (c1) and 6 / 2 = 3 each (c2, c3); M = 15; the pool keeps 2,000 bps of the budget.
  assert.deepEqual(ppm(v1), [
    [0n, 200_000],
    [1n, 480_000],
    [2n, 160_000],
    [3n, 160_000],
  ]);
  // Version 2, e = 1: the shared span's credit is 6 / 2¹ / 2 = 1.5 each; M = 12.
  const byCount = attributed(version2(1));
  assert.deepEqual(ppm(byCount), [
    [0n, 200_000],
    [1n, 600_000],
    [2n, 100_000],
    [3n, 100_000],
  ]);
  // e = 2: 6 / 2² / 2 = 0.75 each; M = 10.5; floors leave 2 ppm, which go to the larger remainders of c2 and c3.
  assert.deepEqual(ppm(attributed(version2(2))), [
    [0n, 200_000],
    [1n, 685_714],
    [2n, 57_143],
    [3n, 57_143],
  ]);
  // The same spans either way; the record names its policy and carries the exponent.
  assert.deepEqual(byCount.spans, v1.spans);
  assert.deepEqual(v1.policy, { id: 1n, algorithm: "openpoa-span-match", version: 1 });
  assert.deepEqual(byCount.policy, { id: 2n, algorithm: "openpoa-span-match", version: 2 });
  assert.equal(byCount.params.rarityExponent, 1);
  assert.deepEqual(
    sharesFromSpans({ spans: byCount.spans, params: byCount.params, lineage: byCount.lineage }),
    byCount.shares,
  );
});

test("boilerplate weighs nothing: its spans are not evidence and the budget stays pro rata", () => {
  const { datanet, contents } = makeDatanet({
    datanetId: 5n,
    version: 1n,
    texts: ["It is important to note that the sky is blue.", "unrelated words"],
  });
  const index = buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer });
  const { record } = attributeCompletion(
    { tokenizer: byteTokenizer, indexes: [index] },
    {
      adapterId: 1n,
      lineage: [{ datanetId: 5n, version: 1n, weightBps: 10_000 }],
      completion: encode("Well. It is important to note that the answer is no."),
    },
  );
  assert.deepEqual(record.spans, []);
  assert.deepEqual(
    record.shares.map((s) => [s.contributionId, s.ppm]),
    [[0n, 1_000_000]],
  );
});

test("excluded texts are masked wherever they occur; no span crosses them", () => {
  const marker = "<|im_start|>assistant\n";
  const phrase = " quantum kettles sing ";
  const { datanet, contents } = makeDatanet({
    datanetId: 5n,
    version: 1n,
    texts: [`${marker}${phrase}and more`, "violet rivers"],
  });
  const index = buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer });
  const completion = encode(`${marker}${phrase}@${marker}`);
  const run = (exclude: string[]) =>
    attributeCompletion(
      { tokenizer: byteTokenizer, indexes: [index], rarityTable },
      { adapterId: 1n, lineage: [{ datanetId: 5n, version: 1n, weightBps: 10_000 }], completion, policy, exclude },
    ).record;
  // Without exclusion the marker and the phrase match as one span, and the second marker as another.
  assert.deepEqual(
    run([]).spans.map((s) => [s.start, s.length]),
    [
      [0, marker.length + phrase.length],
      [marker.length + phrase.length + 1, marker.length],
    ],
  );
  const masked = run([marker, ""]);
  assert.deepEqual(masked.excluded, [
    [0, marker.length],
    [marker.length + phrase.length + 1, marker.length],
  ]);
  assert.deepEqual(
    masked.spans.map((s) => [s.start, s.length, s.weight]),
    [[marker.length, phrase.length, 9]],
  );
});

test("spans found in a near duplicate are credited once, to the original", () => {
  const original =
    "the quantum kettles sing at dawn while violet rivers hum below the old mill, " +
    "where the miller keeps seven grey geese and a copper weathervane";
  const copy = original.replace("mill,", "mall,");
  const { datanet, contents } = makeDatanet({ datanetId: 6n, version: 1n, texts: ["other text", original, copy] });
  const index = buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer });
  assert.deepEqual([...index.duplicateOf], [-1, -1, 1]);
  const { record } = attributeCompletion(
    { tokenizer: byteTokenizer, indexes: [index], rarityTable },
    {
      adapterId: 1n,
      lineage: [{ datanetId: 6n, version: 1n, weightBps: 10_000 }],
      // The first span is in both; the second only in the copy ("old mall").
      completion: encode("# quantum kettles sing at dawn # rivers hum below the old mall"),
      policy,
    },
  );
  assert.deepEqual(
    record.spans.map((s) => [s.occurrenceCount, s.weight, s.sources]),
    [
      [2, 12, [[6n, 1n, 2n, 2n, original.indexOf(" quantum")]]],
      [1, 15, [[6n, 1n, 2n, 3n, copy.indexOf(" rivers")]]],
    ],
  );
  assert.deepEqual(
    record.shares.map((s) => [s.contributionId, s.ppm]),
    [
      [0n, 200_000],
      [2n, 800_000],
    ],
  );
});

test("remainders go to the largest remainder, ties to the lower contributionId", () => {
  const shared = " mirror lakes freeze ";
  const { datanet, contents } = makeDatanet({
    datanetId: 5n,
    version: 1n,
    texts: [`a${shared}a`, `b${shared}b`, `c${shared}c`],
  });
  const index = buildDatanetIndex({
    datanet,
    contents,
    tokenizer: byteTokenizer,
    params: { ...params, maxSpanOccurrences: 100 },
  });
  const { record } = attributeCompletion(
    { tokenizer: byteTokenizer, indexes: [index], rarityTable },
    {
      adapterId: 1n,
      lineage: [{ datanetId: 5n, version: 1n, weightBps: 10_000 }],
      completion: encode(`#${shared}#`),
      policy: withParams({ matchWeightBps: 10_000, maxSpanOccurrences: 100 }, policy),
    },
  );
  assert.deepEqual(
    record.shares.map((s) => [s.contributionId, s.ppm]),
    [
      [1n, 333_334],
      [2n, 333_333],
      [3n, 333_333],
    ],
  );
});

test("the attribution hash is stable across runs and machines (golden value)", () => {
  const { record, hash } = attributeCompletion(ctx, {
    adapterId: 9n,
    lineage,
    completion: plantedCompletion,
    policy,
    exclude: ["%"],
  });
  assert.equal(hash, hashAttributionRecord(record));
  assert.equal(hash, GOLDEN_HASH);
  const json = encodeAttributionRecord(record);
  assert.ok(json.startsWith('{"adapterId":"9","completionHash":"0x'));
  assert.deepEqual(decodeAttributionRecord(json), record);
  assert.throws(() => decodeAttributionRecord(json.replace('{"adapterId"', '{ "adapterId"')));
});

test("invalid inputs are typed errors", () => {
  const call =
    (overrides: Partial<Parameters<typeof attributeCompletion>[1]>, context = ctx) =>
    () =>
      attributeCompletion(context, { adapterId: 1n, lineage, completion: plantedCompletion, policy, ...overrides });
  assert.throws(call({ lineage: [{ ...lineage[0]!, weightBps: 3_999 }, lineage[1]!] }), InvalidLineageError);
  assert.throws(call({ lineage: [{ datanetId: 9n, version: 1n, weightBps: 10_000 }] }), MissingIndexError);
  assert.throws(call({ completion: [65, 300] }), TokenOutOfVocabularyError);
  assert.throws(call({ policy: withParams({ minSpanTokens: 0 }, policy) }), InvalidParamsError);
  assert.throws(call({ policy: defaultAttributionPolicy }), RarityTableMismatchError);
  assert.throws(call({ policy: withParams({ duplicateCoverageBps: 9_000 }, policy) }), IndexParamsMismatchError);
});

test("property: shares sum to 1,000,000, each datanet gets exactly weightBps × 100, shares follow from the spans", () => {
  const random = createRandom(2024);
  const sentence = createSentenceMaker(random, { vocabulary: 40, maxWordLength: 7 });
  for (let round = 0; round < 60; round++) {
    const roundParams: AttributionParams = {
      ...params,
      // Versions 1 and 2 in turn, every exponent of version 2.
      rarityExponent: round % 2 === 0 ? 0 : 1 + ((round >> 1) % 3),
      minSpanTokens: random.int(1, 16),
      matchWeightBps: random.int(0, 10_000),
      maxSpanOccurrences: random.int(1, 50),
      duplicateCoverageBps: random.int(5_000, 10_000),
    };
    let nextId = 1n;
    const built: DatanetIndex[] = [];
    const datanetTexts: string[][] = [];
    for (let d = 0; d < random.int(1, 3); d++) {
      const texts = Array.from({ length: random.int(1, 15) }, () => sentence(random.int(0, 30)));
      const { datanet, contents } = makeDatanet({
        datanetId: BigInt(d + 1),
        version: BigInt(random.int(1, 3)),
        texts,
        firstContributionId: nextId,
      });
      nextId += BigInt(texts.length);
      built.push(buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer, params: roundParams }));
      datanetTexts.push(texts);
    }
    const cuts = Array.from({ length: built.length - 1 }, () => random.int(0, 10_000)).sort((a, b) => a - b);
    const bps = [...cuts, 10_000].map((cut, k) => cut - (k === 0 ? 0 : cuts[k - 1]!));
    const roundLineage = built.map((index, k) => ({
      datanetId: index.datanetId,
      version: index.version,
      weightBps: bps[k]!,
    }));
    const planted = datanetTexts.flat().filter(() => random.next() < 0.3);
    const completion = encode(`${sentence(random.int(0, 20))} ${planted.join(" ")} ${sentence(random.int(0, 20))}`);
    const exclude = [sentence(1)];
    const run = () =>
      attributeCompletion(
        { tokenizer: byteTokenizer, indexes: built, rarityTable },
        {
          adapterId: 1n,
          lineage: roundLineage,
          completion,
          policy: { ...policy, version: roundParams.rarityExponent === 0 ? 1 : 2, params: roundParams },
          exclude,
        },
      );
    const { record, hash } = run();
    assert.equal(
      record.shares.reduce((sum, s) => sum + s.ppm, 0),
      1_000_000,
      `round ${round}`,
    );
    for (const entry of roundLineage) {
      const perDatanet = record.shares
        .filter((s) => s.datanetId === entry.datanetId)
        .reduce((sum, s) => sum + s.ppm, 0);
      assert.equal(perDatanet, entry.weightBps * 100);
    }
    assert.ok(record.shares.every((s) => Number.isInteger(s.ppm) && s.ppm > 0));
    assert.deepEqual(
      sharesFromSpans({ spans: record.spans, params: roundParams, lineage: roundLineage }),
      record.shares,
    );
    for (const span of record.spans) {
      assert.ok(span.weight > 0 && span.sources.length > 0 && span.length >= roundParams.minSpanTokens);
      assert.ok(
        record.excluded.every(([start, length]) => span.start + span.length <= start || start + length <= span.start),
      );
    }
    assert.equal(run().hash, hash);
    assert.deepEqual(decodeAttributionRecord(encodeAttributionRecord(record)), record);
  }
});

// Recompute only on a deliberate change of the record encoding or formula. Last recomputed for records
// openpoa-attribution-v3 (the policy named, params.rarityExponent).
const GOLDEN_HASH = "0xc263287f504d83845940e04c4774723634ce9c52c1380c8c3731d63cee25800c";
