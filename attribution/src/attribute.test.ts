import assert from "node:assert/strict";
import { test } from "node:test";
import {
  attributeCompletion,
  decodeAttributionRecord,
  encodeAttributionRecord,
  hashAttributionRecord,
  type AttributionParams,
  type LineageEntry,
} from "./attribute.ts";
import { buildDatanetIndex, type DatanetIndex } from "./datanetIndex.ts";
import { InvalidLineageError, MissingIndexError, TokenOutOfVocabularyError } from "./errors.ts";
import { byteTokenizer } from "./tokenizer.ts";
import { createRandom, makeDatanet } from "./testing.ts";

const encode = (text: string): Uint32Array => byteTokenizer.encode(new TextEncoder().encode(text));

// Datanet 1 v1: c1 holds a unique 20-token sentence, c2 and c3 share a 12-token phrase.
// Datanet 2 v3: unrelated text, never matched.
const span20 = "quantum kettles sing";
const span12 = "violet rivers".slice(0, 12);
const datanet1 = makeDatanet({
  datanetId: 1n,
  version: 1n,
  texts: [`once ${span20} at dawn`, `maps of ${span12} in june`, `old ${span12} ahead`],
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
const lineage: LineageEntry[] = [
  { datanetId: 2n, version: 3n, weightBps: 4_000 },
  { datanetId: 1n, version: 1n, weightBps: 6_000 },
];
// '#', '@', '%' occur in no contribution, so the planted spans cannot grow.
const plantedCompletion = encode(`#${span20}@${span12}%`);

test("planted overlaps give the documented shares exactly", () => {
  const { record } = attributeCompletion(
    { tokenizer: byteTokenizer, indexes },
    { adapterId: 9n, lineage, completion: plantedCompletion },
  );
  // Datanet 1 budget 600,000 ppm; scores c1 = 20, c2 = c3 = 12 / 2 = 6, M = 32.
  // Pool: 2,000 · 32 / 320,000 → 120,000; c1: 8,000 · 20 → 300,000; c2, c3: 8,000 · 6 → 90,000.
  // Datanet 2 has no match: its whole 400,000 ppm goes to its pool.
  assert.deepEqual(
    record.shares.map((s) => [s.datanetId, s.version, s.contributionId, s.ppm]),
    [
      [1n, 1n, 0n, 120_000],
      [1n, 1n, 1n, 300_000],
      [1n, 1n, 2n, 90_000],
      [1n, 1n, 3n, 90_000],
      [2n, 3n, 0n, 400_000],
    ],
  );
  assert.deepEqual(
    record.spans.map((s) => [s.start, s.length, s.sources]),
    [
      [1, 20, [[1n, 1n, 1n, 5]]],
      [
        22,
        12,
        [
          [1n, 1n, 2n, 8],
          [1n, 1n, 3n, 4],
        ],
      ],
    ],
  );
  assert.deepEqual(
    record.lineage.map((l) => [l.datanetId, l.version, l.weightBps, l.root]),
    [
      [1n, 1n, 6_000, datanet1.datanet.root],
      [2n, 3n, 4_000, datanet2.datanet.root],
    ],
  );
});

test("remainders go to the largest remainder, ties to the lower contributionId", () => {
  const shared = "mirror lakes freeze";
  const { datanet, contents } = makeDatanet({
    datanetId: 5n,
    version: 1n,
    texts: [`a ${shared}`, `b ${shared}`, `c ${shared}`],
  });
  const index = buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer });
  const params: AttributionParams = { minSpanTokens: 8, matchWeightBps: 10_000, maxSpanOccurrences: 100 };
  const { record } = attributeCompletion(
    { tokenizer: byteTokenizer, indexes: [index] },
    {
      adapterId: 1n,
      lineage: [{ datanetId: 5n, version: 1n, weightBps: 10_000 }],
      completion: encode(`#${shared}#`),
      params,
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
  const { record, hash } = attributeCompletion(
    { tokenizer: byteTokenizer, indexes },
    { adapterId: 9n, lineage, completion: plantedCompletion },
  );
  assert.equal(hash, hashAttributionRecord(record));
  assert.equal(hash, GOLDEN_HASH);
  const json = encodeAttributionRecord(record);
  assert.ok(json.startsWith('{"adapterId":"9","completionHash":"0x'));
  assert.deepEqual(decodeAttributionRecord(json), record);
  assert.throws(() => decodeAttributionRecord(json.replace('{"adapterId"', '{ "adapterId"')));
});

test("invalid inputs are typed errors", () => {
  const ctx = { tokenizer: byteTokenizer, indexes };
  assert.throws(
    () =>
      attributeCompletion(ctx, {
        adapterId: 1n,
        lineage: [{ ...lineage[0]!, weightBps: 3_999 }, lineage[1]!],
        completion: plantedCompletion,
      }),
    InvalidLineageError,
  );
  assert.throws(
    () =>
      attributeCompletion(ctx, {
        adapterId: 1n,
        lineage: [{ datanetId: 9n, version: 1n, weightBps: 10_000 }],
        completion: plantedCompletion,
      }),
    MissingIndexError,
  );
  assert.throws(
    () => attributeCompletion(ctx, { adapterId: 1n, lineage, completion: [65, 300] }),
    TokenOutOfVocabularyError,
  );
});

test("property: shares sum to 1,000,000, each datanet gets exactly weightBps × 100, same inputs → same hash", () => {
  const random = createRandom(2024);
  const words = Array.from({ length: 40 }, () =>
    Array.from({ length: random.int(2, 7) }, () => String.fromCharCode(random.int(97, 122))).join(""),
  );
  const sentence = (count: number): string => Array.from({ length: count }, () => random.pick(words)).join(" ");
  for (let round = 0; round < 60; round++) {
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
      built.push(buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer }));
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
    const params: AttributionParams = {
      minSpanTokens: random.int(1, 16),
      matchWeightBps: random.int(0, 10_000),
      maxSpanOccurrences: random.int(1, 50),
    };
    const run = () =>
      attributeCompletion(
        { tokenizer: byteTokenizer, indexes: built },
        { adapterId: 1n, lineage: roundLineage, completion, params },
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
    assert.equal(run().hash, hash);
    assert.deepEqual(decodeAttributionRecord(encodeAttributionRecord(record)), record);
  }
});

// Recompute only on a deliberate change of the record encoding or formula.
const GOLDEN_HASH = "0xa7634b48490b8b69ebadd174d58fd60f7e7a8f0b01738292bcda94a866687793";
