import assert from "node:assert/strict";
import { test } from "node:test";
import {
  attributeCompletion,
  decodeAttributionRecord,
  encodeAttributionRecord,
  hashTokens,
  type AttributionRecord,
} from "./attribute.ts";
import { buildDatanetIndex } from "./datanetIndex.ts";
import { defaultAttributionParams, type AttributionParams } from "./params.ts";
import { defaultAttributionPolicy, type AttributionPolicy } from "./policy.ts";
import { checkRecordAgainstCompletion, checkRecordAgainstContributions } from "./recordCheck.ts";
import { byteTokenizer } from "./tokenizer.ts";
import { asVersion2, createRandom, createSentenceMaker, makeDatanet, withParams } from "./testing.ts";
import type { DatanetIndex } from "./datanetIndex.ts";

const encode = (text: string): Uint32Array => byteTokenizer.encode(new TextEncoder().encode(text));

const genuine =
  "The Fresnel lens at Skerrymore Point was ground in Paris in 1861 and shipped north in eleven crates packed " +
  "with horsehair. Each brass panel holds concentric prisms of crown glass that bend the lamp's light into a " +
  "single horizontal beam. Restorers spent three winters cleaning the prisms with distilled water and rouge.";
const sharesPhrase = "A museum guide says the concentric prisms of crown glass were cleaned with distilled water.";
const texts = [genuine, "x", sharesPhrase, genuine.replace("eleven", "Eleven"), "unrelated words only"];
const { datanet, contents } = makeDatanet({ datanetId: 1n, version: 1n, texts });
const index = buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer });
const lineage = [{ datanetId: 1n, version: 1n, weightBps: 10_000 }];
const marker = "<|im_start|>assistant\n";
const completion = encode(
  `${marker}Well, the Fresnel lens at Skerrymore Point was ground in Paris in 1861, and each brass panel ` +
    "holds concentric prisms of crown glass, cleaned with distilled water and rouge. Remember: concentric prisms of " +
    "crown glass!<|im_end|>",
);
const { record } = attributeCompletion(
  { tokenizer: byteTokenizer, indexes: [index] },
  { adapterId: 1n, lineage, completion, exclude: [marker, "<|im_end|>"] },
);
const epochPolicy = { tokenizer: byteTokenizer, indexes: [index], policy: defaultAttributionPolicy };
/** Policy 2: version 2 with rarityExponent 2, the other params those of policy 1. */
const policy2 = asVersion2({ rarityExponent: 2 });

/** A deep copy of the honest record, edited. */
function tampered(edit: (copy: AttributionRecord) => void): AttributionRecord {
  const copy = decodeAttributionRecord(encodeAttributionRecord(record));
  edit(copy);
  return copy;
}
const contributionIssues = (r: AttributionRecord) => checkRecordAgainstContributions(r, epochPolicy);
const assertIssue = (issues: string[], ...parts: string[]) =>
  assert.ok(
    issues.some((issue) => parts.every((part) => issue.includes(part))),
    `no issue mentions ${parts.join(" + ")}: ${JSON.stringify(issues)}`,
  );

test("the honest record passes both checks", () => {
  // The fixture exercises what the checks must follow: an excluded marker, a span in two contributions, and a
  // near copy (contribution 4) that the sources collapse into the original.
  assert.deepEqual([...index.duplicateOf], [-1, -1, -1, 0, -1]);
  assert.equal(record.excluded.length, 2);
  assert.ok(record.spans.some((s) => s.sources.length === 2));
  assert.ok(record.spans.some((s) => s.occurrenceCount > s.sources.length));
  assert.deepEqual(contributionIssues(record), []);
  assert.deepEqual(checkRecordAgainstCompletion(record, completion), []);
});

test("a forged span pointing at a 1-byte contribution is caught", () => {
  const last = record.spans.at(-1)!;
  const start = last.start + 1;
  const length = last.length;
  const forged = tampered((r) =>
    r.spans.push({
      start,
      length,
      hash: hashTokens(completion.subarray(start, start + length)),
      weight: 9,
      occurrenceCount: 1,
      sources: [[1n, 1n, 2n, 2n, 0]],
    }),
  );
  const issues = contributionIssues(forged);
  assertIssue(issues, `span ${record.spans.length}`, "held by 2", "outside contribution 2");
  assertIssue(issues, "share of datanet 1 v1 contribution 2");
  // The payer sees nothing wrong: those bytes are in the completion.
  assert.deepEqual(checkRecordAgainstCompletion(forged, completion), []);
});

test("a wrong offset, a dropped source and an extra source are caught", () => {
  const shared = record.spans.findIndex((s) => s.sources.length === 2);
  const shifted = tampered((r) => (r.spans[0]!.sources[0]![4] += 1));
  assertIssue(contributionIssues(shifted), "span 0 ", "source 0", "do not hash");

  const dropped = tampered((r) => r.spans[shared]!.sources.pop());
  assertIssue(contributionIssues(dropped), `span ${shared} `, "leaves out contribution 3");

  const extra = tampered((r) => r.spans[0]!.sources.push([1n, 1n, 5n, 5n, 0]));
  assertIssue(contributionIssues(extra), "span 0 ", "source 1", "held by 5");
  assertIssue(contributionIssues(extra), "span 0 ", "credits contribution 5", "does not hold it");

  // Crediting the near copy instead of its original.
  const copyOffset = texts[3]!.indexOf("Fresnel");
  const toCopy = tampered((r) => (r.spans[0]!.sources = [[1n, 1n, 4n, 4n, copyOffset - 1]]));
  assertIssue(contributionIssues(toCopy), "span 0 ", "credited to 1, not 4");
});

test("inflated shares, weights and occurrence counts are caught", () => {
  const inflated = tampered((r) => {
    r.shares[0]!.ppm -= 1;
    r.shares[1]!.ppm += 1;
  });
  assertIssue(contributionIssues(inflated), "share of datanet 1 v1 contribution 1", "the spans give");
  assertIssue(
    contributionIssues(tampered((r) => (r.spans[0]!.weight += 1))),
    "span 0 ",
    "weight is",
    "its words weigh",
  );
  assertIssue(contributionIssues(tampered((r) => (r.spans[0]!.occurrenceCount += 1))), "span 0 ", "occurrenceCount");
  assertIssue(contributionIssues(tampered((r) => (r.spans[0]!.weight = -5))), "span 0 ", "weight -5 is not positive");
  const badLineage = contributionIssues(tampered((r) => (r.lineage[0]!.weightBps = -1)));
  assertIssue(badLineage, "lineage:", "weightBps -1");
  assertIssue(badLineage, "shares cannot be recomputed");
  assertIssue(
    contributionIssues(tampered((r) => (r.params = { ...r.params, minSpanTokens: 8 }))),
    "params.minSpanTokens is 8",
  );
});

test("a version 2 record recomputes under its policy; under another policy it is an issue naming both", () => {
  const { record: made } = attributeCompletion(
    { tokenizer: byteTokenizer, indexes: [index] },
    { adapterId: 1n, lineage, completion, exclude: [marker, "<|im_end|>"], policy: policy2 },
  );
  // The span two contributions hold, and the one held in a contribution and its near copy, earn less than under
  // version 1: the shares differ, the spans do not.
  assert.notDeepEqual(made.shares, record.shares);
  assert.deepEqual(made.spans, record.spans);
  const underPolicy2 = { ...epochPolicy, policy: policy2 };
  assert.deepEqual(checkRecordAgainstContributions(made, underPolicy2), []);
  const inflated = decodeAttributionRecord(encodeAttributionRecord(made));
  inflated.shares[0]!.ppm -= 1;
  inflated.shares[1]!.ppm += 1;
  assertIssue(checkRecordAgainstContributions(inflated, underPolicy2), "share of datanet 1 v1", "the spans give");

  const underPolicy1 = contributionIssues(made);
  assertIssue(underPolicy1, "policy.id is 2, the epoch policy's is 1");
  assertIssue(underPolicy1, "policy.version is 2, the epoch policy's is 1");
  assertIssue(underPolicy1, "params.rarityExponent is 2, the policy's is 0");
  // Shares are recomputed under the epoch's policy, so they differ too.
  assertIssue(underPolicy1, "share of datanet 1 v1", "the spans give");
  assertIssue(checkRecordAgainstContributions(record, underPolicy2), "policy.id is 1, the epoch policy's is 2");
});

test("a span outside the completion and a wrong completion hash are caught", () => {
  const outside = tampered((r) => (r.spans.at(-1)!.start = r.completionTokens));
  assertIssue(contributionIssues(outside), `span ${record.spans.length - 1}`, "outside [0, completionTokens");
  assertIssue(checkRecordAgainstCompletion(outside, completion), `span ${record.spans.length - 1}`, "outside");

  const otherHash = tampered((r) => (r.completionHash = hashTokens(encode("another completion"))));
  assertIssue(checkRecordAgainstCompletion(otherHash, completion), "completionHash");
  // A span whose bytes are in a contribution but not at that place in the completion.
  const moved = tampered((r) => (r.spans[0]!.start -= 1));
  assertIssue(checkRecordAgainstCompletion(moved, completion), "span 0 ", "hash is");
  assertIssue(checkRecordAgainstCompletion(record, completion.subarray(1)), "completionTokens");
});

test("a span crossing an excluded range or shorter than minSpanTokens is caught", () => {
  const crossing = tampered((r) => (r.excluded = [[r.spans[0]!.start, 1]]));
  assertIssue(contributionIssues(crossing), "span 0 ", "crosses the excluded range");
  const short = tampered((r) => (r.spans[0]!.length = 3));
  assertIssue(contributionIssues(short), "span 0 ", "shorter than minSpanTokens");
});

test("property: every record attributeCompletion makes passes both checks", () => {
  const random = createRandom(99);
  const sentence = createSentenceMaker(random, { vocabulary: 60, maxWordLength: 9 });
  for (let round = 0; round < 40; round++) {
    const params: AttributionParams = {
      ...defaultAttributionParams,
      // Versions 1 and 2 in turn, every exponent of version 2.
      rarityExponent: round % 2 === 0 ? 0 : 1 + ((round >> 1) % 3),
      minSpanTokens: random.int(8, 40),
      maxSpanOccurrences: random.int(1, 8),
      duplicateCoverageBps: random.int(5_000, 10_000),
    };
    const built: DatanetIndex[] = [];
    const allTexts: string[] = [];
    let nextId = 1n;
    for (let d = 0; d < random.int(1, 2); d++) {
      const texts = Array.from({ length: random.int(1, 10) }, () => sentence(random.int(0, 40)));
      // Near copies of earlier texts, one byte changed.
      for (let copies = random.int(0, 3); copies > 0; copies--) {
        const text = random.pick(texts);
        const at = random.int(0, text.length);
        texts.push(`${text.slice(0, at)}#${text.slice(at + 1)}`);
      }
      const made = makeDatanet({ datanetId: BigInt(d + 1), version: 1n, texts, firstContributionId: nextId });
      nextId += BigInt(texts.length);
      built.push(buildDatanetIndex({ ...made, tokenizer: byteTokenizer, params }));
      allTexts.push(...texts);
    }
    const weights = built.length === 1 ? [10_000] : [4_000, 6_000];
    const roundLineage = built.map((i, k) => ({ datanetId: i.datanetId, version: i.version, weightBps: weights[k]! }));
    const planted = allTexts.filter(() => random.next() < 0.4).map((t) => t.slice(random.int(0, t.length)));
    const roundCompletion = encode(`${marker}${sentence(random.int(0, 10))} ${planted.join(" . ")}<|im_end|>`);
    const roundPolicy: AttributionPolicy = params.rarityExponent === 0 ? withParams(params) : { ...policy2, params };
    const { record: made } = attributeCompletion(
      { tokenizer: byteTokenizer, indexes: built },
      {
        adapterId: 1n,
        lineage: roundLineage,
        completion: roundCompletion,
        policy: roundPolicy,
        exclude: [marker, "<|im_end|>"],
      },
    );
    const context = { tokenizer: byteTokenizer, indexes: built, policy: roundPolicy };
    assert.deepEqual(checkRecordAgainstContributions(made, context), [], `round ${round}`);
    assert.deepEqual(checkRecordAgainstCompletion(made, roundCompletion), [], `round ${round}`);
  }
});
