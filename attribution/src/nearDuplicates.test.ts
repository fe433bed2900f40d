import assert from "node:assert/strict";
import { test } from "node:test";
import { buildDatanetIndex, nearDuplicateContributions } from "./datanetIndex.ts";
import { findNearDuplicates, originalContributions, type NearDuplicateParams } from "./nearDuplicates.ts";
import { defaultAttributionParams } from "./params.ts";
import { byteTokenizer } from "./tokenizer.ts";
import { createRandom, makeDatanet } from "./testing.ts";

const random = createRandom(77);
const letters = "abcdefghijklmnopqrstuvwxyz";
/** `words` random words, so that no two generated texts share a shingle by chance. */
const randomText = (words: number): string =>
  Array.from({ length: words }, () =>
    Array.from({ length: random.int(2, 9) }, () => random.pick([...letters])).join(""),
  ).join(" ");
const changeByte = (text: string, at: number) => `${text.slice(0, at)}#${text.slice(at + 1)}`;

function duplicatesOf(texts: readonly string[], params: NearDuplicateParams = defaultAttributionParams) {
  const { datanet, contents } = makeDatanet({ datanetId: 1n, version: 1n, texts });
  const index = buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer, params });
  return { index, found: nearDuplicateContributions(index) };
}

test("a later copy with one byte changed is a duplicate of the original; unrelated texts are not", () => {
  const original = randomText(80);
  const { found, index } = duplicatesOf([randomText(60), original, randomText(70), changeByte(original, 100)]);
  assert.equal(found.length, 1);
  const [copy] = found;
  assert.equal(copy!.contributionId, 4n);
  assert.equal(copy!.duplicateOf, 2n);
  // One changed byte breaks the 16 shingles that contain it.
  const shingles = original.length - defaultAttributionParams.duplicateShingleTokens + 1;
  assert.equal(copy!.coverageBps, Math.floor(((shingles - 16) * 10_000) / shingles));
  assert.deepEqual([...index.duplicateOf], [-1, -1, -1, 1]);
});

test("mostly means at least duplicateCoverageBps of the shingles, found in ONE earlier contribution", () => {
  const [a, b] = [randomText(60), randomText(60)];
  // Half of a and half of b: covered 100% by the two together, but only ~50% by either one.
  const halves = `${a.slice(0, a.length / 2)}${b.slice(b.length / 2)}`;
  assert.deepEqual(duplicatesOf([a, b, halves]).found, []);
  // 90% of a plus new text is a duplicate at 8,000 bps, not at 9,500.
  const mostly = `${a}${randomText(4)}`;
  assert.equal(duplicatesOf([a, mostly]).found.length, 1);
  assert.deepEqual(duplicatesOf([a, mostly], { ...defaultAttributionParams, duplicateCoverageBps: 9_500 }).found, []);
});

test("acceptance order decides which copy is the original; chains end at the first", () => {
  const text = randomText(80);
  const { index, found } = duplicatesOf([changeByte(text, 50), text, changeByte(text, 200), randomText(40)]);
  assert.deepEqual(
    found.map((f) => f.contributionId),
    [2n, 3n],
  );
  assert.deepEqual([...originalContributions(Int32Array.from([-1, 0, 1, -1, 2]))], [0, 0, 0, 3, 0]);
  assert.deepEqual([...originalContributions(index.duplicateOf)], [0, 0, 0, 3]);
});

test("ties between candidates go to the earlier contribution; identical copies are duplicates", () => {
  const text = randomText(50);
  const { found } = duplicatesOf([text, text, text]);
  assert.deepEqual(
    found.map((f) => [f.contributionId, f.duplicateOf, f.coverageBps]),
    [
      [2n, 1n, 10_000],
      [3n, 1n, 10_000],
    ],
  );
});

test("shingles held by more than maxSpanOccurrences contributions are common text and find no candidates", () => {
  const text = randomText(50);
  const { found } = duplicatesOf([text, text, text], { ...defaultAttributionParams, maxSpanOccurrences: 2 });
  assert.deepEqual(found, []);
});

test("short and empty contributions are never duplicates", () => {
  const { found } = duplicatesOf(["", "tiny", "tiny", "", randomText(3)]);
  assert.deepEqual(found, []);
});

test("the result is a pure function of the contents in order", () => {
  const texts = Array.from({ length: 30 }, (_, k) => (k % 7 === 3 ? "" : randomText(random.int(5, 60))));
  texts[5] = randomText(60);
  texts.push(changeByte(texts[5], 100), texts[9]!);
  const { datanet, contents } = makeDatanet({ datanetId: 1n, version: 1n, texts });
  const index = buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer });
  const again = findNearDuplicates({ text: index.text, starts: index.starts, params: defaultAttributionParams });
  assert.deepEqual(again.duplicateOf, index.duplicateOf);
  assert.deepEqual(again.coverageBps, index.duplicateCoverageBps);
  assert.deepEqual(
    nearDuplicateContributions(index).map((f) => [f.contributionId, f.duplicateOf]),
    [
      [31n, 6n],
      [32n, 10n],
    ],
  );
});
