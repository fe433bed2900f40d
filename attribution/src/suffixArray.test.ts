import assert from "node:assert/strict";
import { test } from "node:test";
import { buildSuffixArray, buildSuffixArrayNaive } from "./suffixArray.ts";
import { createRandom } from "./testing.ts";

test("suffix array equals a naive sort on random inputs", () => {
  const random = createRandom(7);
  for (let round = 0; round < 400; round++) {
    const length = random.int(1, round < 300 ? 200 : 3000);
    const alphabet = random.int(1, round % 3 === 0 ? 3 : 300);
    const text = new Int32Array(length);
    for (let i = 0; i < length; i++) text[i] = random.int(0, alphabet - 1);
    assert.deepEqual(buildSuffixArray(text, alphabet), buildSuffixArrayNaive(text), `round ${round}`);
  }
});

test("suffix array handles highly repetitive text", () => {
  const text = new Int32Array(5000).fill(4);
  for (let i = 0; i < text.length; i += 7) text[i] = 2;
  assert.deepEqual(buildSuffixArray(text, 5), buildSuffixArrayNaive(text));
  assert.deepEqual(buildSuffixArray(new Int32Array(1000), 1), buildSuffixArrayNaive(new Int32Array(1000)));
});
