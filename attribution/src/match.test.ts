import assert from "node:assert/strict";
import { test } from "node:test";
import { buildDatanetIndex } from "./datanetIndex.ts";
import { findMaximalSpans, findOccurrences, longestMatchAt } from "./match.ts";
import { byteTokenizer } from "./tokenizer.ts";
import { createRandom, makeDatanet } from "./testing.ts";

function randomTexts(random: ReturnType<typeof createRandom>, count: number, alphabet: string): Uint8Array[] {
  return Array.from({ length: count }, () =>
    Uint8Array.from({ length: random.int(0, 60) }, () => alphabet.charCodeAt(random.int(0, alphabet.length - 1))),
  );
}

/** Longest prefix of query[from..] occurring inside a single content, by brute force. */
function naiveLongestMatch(contents: readonly Uint8Array[], query: ArrayLike<number>, from: number): number {
  let best = 0;
  for (const content of contents) {
    for (let p = 0; p < content.length; p++) {
      let k = 0;
      while (from + k < query.length && p + k < content.length && content[p + k] === query[from + k]) k++;
      best = Math.max(best, k);
    }
  }
  return best;
}

test("longest match equals brute force and never crosses a contribution boundary", () => {
  const random = createRandom(3);
  for (let round = 0; round < 60; round++) {
    const contents = randomTexts(random, random.int(1, 12), "ab c");
    const { datanet } = makeDatanet({ datanetId: 1n, version: 1n, texts: contents });
    const index = buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer });
    // Queries mix copies of contribution ends/starts so boundary-crossing would show.
    const joined = contents.flatMap((c) => [...c]);
    const query = Array.from(
      { length: 50 },
      (_, i) => joined[(i + random.int(0, 3)) % Math.max(1, joined.length)] ?? 97,
    );
    for (let from = 0; from < query.length; from++) {
      const match = longestMatchAt(index, query, from);
      assert.equal(match.length, naiveLongestMatch(contents, query, from), `round ${round} from ${from}`);
      assert.equal(match.hi - match.lo > 0, match.length > 0);
    }
  }
  const { datanet, contents } = makeDatanet({ datanetId: 1n, version: 1n, texts: ["abc", "def"] });
  const index = buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer });
  assert.equal(longestMatchAt(index, [...new TextEncoder().encode("abcdef")], 0).length, 3);
});

test("maximal spans: contained spans dropped, occurrences collected, common spans carry no contributions", () => {
  const texts = ["xxabcdefghxx", "yyyabcdefghyyy", "zzcdefghijklmzz"];
  const { datanet, contents } = makeDatanet({ datanetId: 4n, version: 1n, texts, firstContributionId: 20n });
  const index = buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer });
  const completion = [...new TextEncoder().encode("#abcdefghijklm#")];
  const spans = findMaximalSpans({ indexes: [index], completion, minSpanTokens: 4, maxSpanOccurrences: 10 });
  assert.deepEqual(
    spans.map((s) => [s.start, s.length, s.occurrenceCount, s.contributions.map((c) => [c.contributionId, c.offset])]),
    [
      [
        1,
        8,
        2,
        [
          [20n, 2],
          [21n, 3],
        ],
      ], // "abcdefgh"
      [3, 11, 1, [[22n, 2]]], // "cdefghijklm"
    ],
  );
  const capped = findMaximalSpans({ indexes: [index], completion, minSpanTokens: 4, maxSpanOccurrences: 1 });
  assert.deepEqual(capped[0]!.contributions, []);
  assert.equal(capped[0]!.occurrenceCount, 2);
  assert.deepEqual(findMaximalSpans({ indexes: [index], completion, minSpanTokens: 12, maxSpanOccurrences: 10 }), []);
});

test("no span starts at or crosses a masked position; matches stop at the end bound", () => {
  const { datanet, contents } = makeDatanet({ datanetId: 4n, version: 1n, texts: ["xxabcdefghijklmxx"] });
  const index = buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer });
  const completion = [...new TextEncoder().encode("#abcdefghijklm#")];
  assert.equal(longestMatchAt(index, completion, 1, 6).length, 5);
  const masked = new Uint8Array(completion.length);
  masked[7] = 1; // "g"
  const spans = findMaximalSpans({ indexes: [index], completion, minSpanTokens: 4, maxSpanOccurrences: 10, masked });
  assert.deepEqual(
    spans.map((s) => [s.start, s.length]),
    [
      [1, 6], // "abcdef"
      [8, 6], // "hijklm"
    ],
  );
});

test("occurrences of given tokens: count over all indexes, distinct holders, none above the cap", () => {
  const a = makeDatanet({ datanetId: 1n, version: 1n, texts: ["abcabc", "zabcz", "xyz"] });
  const b = makeDatanet({ datanetId: 2n, version: 1n, texts: ["abc"], firstContributionId: 9n });
  const indexes = [a, b].map(({ datanet, contents }) =>
    buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer }),
  );
  const tokens = [...new TextEncoder().encode("abc")];
  const found = findOccurrences({ indexes, tokens, maxSpanOccurrences: 10 });
  assert.equal(found.occurrenceCount, 4);
  assert.deepEqual(
    found.contributions.map((c) => [c.datanetId, c.contributionId, c.contributionIndex, c.offset]),
    [
      [1n, 1n, 0, 0],
      [1n, 2n, 1, 1],
      [2n, 9n, 0, 0],
    ],
  );
  assert.deepEqual(findOccurrences({ indexes, tokens, maxSpanOccurrences: 3 }).contributions, []);
  assert.equal(
    findOccurrences({ indexes, tokens: [...new TextEncoder().encode("abcd")], maxSpanOccurrences: 10 }).occurrenceCount,
    0,
  );
});
