import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { InvalidRarityTableError } from "./errors.ts";
import { defaultAttributionParams } from "./params.ts";
import {
  defaultRarityTable,
  defaultRarityTablePath,
  forEachWord,
  parseRarityTable,
  spanRarityWeight,
  wordKey,
} from "./rarity.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const words = (text: string): string[] => {
  const tokens = bytes(text);
  const found: string[] = [];
  forEachWord(tokens, (start, end) => found.push(new TextDecoder().decode(tokens.subarray(start, end))));
  return found;
};

test("words: ASCII letters and digits and UTF-8 letters; punctuation, curly quotes, dashes and special tokens separate", () => {
  assert.deepEqual(words("It's 1861—“Café” naïve, Ωmega"), ["It", "s", "1861", "Café", "naïve", "Ωmega"]);
  // Ids ≥ 256 (special tokens) separate words.
  const found: [number, number][] = [];
  forEachWord([0x61, 0x62, 257, 0x63], (start, end) => found.push([start, end]));
  assert.deepEqual(found, [
    [0, 2],
    [3, 4],
  ]);
  // A character cut by the edge stays part of its word, so the fragment cannot pass for a word of its own.
  const cut = bytes("naïve").subarray(3);
  const runs: [number, number][] = [];
  forEachWord(cut, (start, end) => runs.push([start, end]));
  assert.deepEqual(runs, [[0, cut.length]]);
  assert.equal(wordKey(bytes("CaFé"), 0, 5), "caf\u00c3\u00a9");
});

test("a span weighs the words it shows whole; a word at an edge counts only at the edge of the completion", () => {
  const table = parseRarityTable(bytes("openpoa-rarity-v1\tunlisted\t9\nkettles\t5\nthe\t0\n"), { source: "test" });
  const weigh = (text: string, startsCompletion = false, endsCompletion = false) =>
    spanRarityWeight(table, { tokens: bytes(text), startsCompletion, endsCompletion });
  assert.equal(weigh(" the Kettles quantum "), 0 + 5 + 9);
  assert.equal(weigh("the kettles quantum"), 5, "edge words are not known to be whole");
  assert.equal(weigh("the kettles quantum", true, true), 14);
  assert.equal(weigh("tles quantum ", false, false), 9);
  assert.equal(weigh("   "), 0);
});

test("the shipped table parses, and its sha256 is the one pinned in the default params", () => {
  const table = defaultRarityTable();
  assert.equal(table.id, defaultAttributionParams.rarityTable);
  assert.equal(table.weights.get("the"), 0);
  assert.ok(table.weights.size > 10_000);
  assert.ok(readFileSync(defaultRarityTablePath).length <= 1 << 20, "the table stays under 1 MB");
  // Boilerplate weighs about nothing; a phrase of rare words weighs a lot.
  const weigh = (text: string) =>
    spanRarityWeight(table, { tokens: bytes(text), startsCompletion: true, endsCompletion: true });
  assert.equal(weigh("It is important to note that the"), 0);
  assert.ok(weigh("concentric prisms of crown glass bend the lamp's light") >= 15);
});

test("malformed tables are typed errors", () => {
  const parse = (text: string) => () => parseRarityTable(bytes(text), { source: "test" });
  assert.throws(parse("openpoa-rarity-v0\tunlisted\t9\n"), InvalidRarityTableError);
  assert.throws(parse("openpoa-rarity-v1\tunlisted\t-1\n"), InvalidRarityTableError);
  assert.throws(parse("openpoa-rarity-v1\tunlisted\t9\nthe\t0"), InvalidRarityTableError, "no final newline");
  assert.throws(parse("openpoa-rarity-v1\tunlisted\t9\nthe\t0\nand\t0\n"), InvalidRarityTableError, "unsorted");
  assert.throws(parse("openpoa-rarity-v1\tunlisted\t9\nThe\t0\n"), InvalidRarityTableError, "upper case");
  assert.throws(parse("openpoa-rarity-v1\tunlisted\t9\nto be\t0\n"), InvalidRarityTableError, "two words");
  assert.throws(parse("openpoa-rarity-v1\tunlisted\t9\nthe\t1.5\n"), InvalidRarityTableError);
});
