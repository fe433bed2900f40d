/**
 * Rarity weights of words against a general-English background, so that a
 * matched span earns by what it says rather than by how long it is: common
 * words and boilerplate weigh about nothing, rare words weigh most.
 *
 * Words are read from byte tokens (see forEachWord): runs of ASCII letters
 * and digits and of UTF-8 letters; everything else, and token ids ≥ 256
 * (special tokens), separates words. ASCII letters are looked up in lower
 * case; other letters as they are. The weights are integers
 * written in the table file, so anyone holding the same file recomputes a
 * span's weight exactly; the file's sha256 is its id, pinned in the params.
 *
 * Table file (UTF-8, LF line ends):
 *   openpoa-rarity-v1 <TAB> unlisted <TAB> W      weight of every word not listed
 *   word <TAB> weight                            one line per word, sorted by bytes, unique
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Hex } from "viem";
import { sha256Hex } from "./contentStore.ts";
import { InvalidRarityTableError } from "./errors.ts";

export const rarityTableFormat = "openpoa-rarity-v1";

export type RarityTable = {
  /** sha256 of the table file. */
  id: Hex;
  /** Weight of a word the table does not list (a word too rare for the background to count). */
  unlistedWeight: number;
  /** Word (lower-case bytes as a binary string, one char per byte) → weight. */
  weights: ReadonlyMap<string, number>;
};

/** The table shipped with the project (see attribution/data/english-rarity.md for how it was made). */
export const defaultRarityTablePath = fileURLToPath(new URL("../data/english-rarity-v1.tsv", import.meta.url));

let defaultTable: RarityTable | undefined;

/** The shipped table, read once on first use. */
export function defaultRarityTable(): RarityTable {
  defaultTable ??= parseRarityTable(readFileSync(defaultRarityTablePath), { source: defaultRarityTablePath });
  return defaultTable;
}

export function parseRarityTable(bytes: Uint8Array, { source }: { source: string }): RarityTable {
  const fail = (reason: string): never => {
    throw new InvalidRarityTableError({ source, reason });
  };
  const lines = new TextDecoder("utf-8", { fatal: true }).decode(bytes).split("\n");
  if (lines.pop() !== "") fail("the last line does not end with a newline");
  const [format, unlistedLabel, unlisted] = lines[0]?.split("\t") ?? [];
  if (format !== rarityTableFormat || unlistedLabel !== "unlisted") fail(`the header is not "${rarityTableFormat}"`);
  const unlistedWeight = parseWeight(unlisted ?? "") ?? fail("the unlisted weight is not a non-negative integer");
  const weights = new Map<string, number>();
  let previous = "";
  for (let n = 1; n < lines.length; n++) {
    const [word = "", weightText = "", ...rest] = lines[n]!.split("\t");
    const key = binaryString(new TextEncoder().encode(word));
    const weight = parseWeight(weightText);
    if (rest.length > 0 || weight === undefined) fail(`line ${n + 1} is not "word<TAB>weight"`);
    if (!isWord(key)) fail(`line ${n + 1}: "${word}" is not one lower-case word`);
    if (n > 1 && key <= previous) fail(`line ${n + 1}: words are not sorted and unique`);
    weights.set(key, weight!);
    previous = key;
  }
  return { id: sha256Hex(bytes), unlistedWeight, weights };
}

/**
 * Calls `visit(start, end)` for every maximal word run [start, end) of byte
 * tokens. UTF-8 sequences are classified by code point (letters of the
 * scripts listed in `isWordCodePoint` join words; punctuation such as curly
 * quotes and dashes separates them). A byte ≥ 0x80 that does not complete a
 * sequence inside `tokens` counts as a word byte, so that a character cut by
 * the edge of a span leaves its word incomplete rather than creating a new one.
 */
export function forEachWord(tokens: ArrayLike<number>, visit: (start: number, end: number) => void): void {
  let start = -1;
  for (let i = 0; i <= tokens.length;) {
    const { inWord, length } = i < tokens.length ? classify(tokens, i) : { inWord: false, length: 1 };
    if (inWord && start < 0) start = i;
    else if (!inWord && start >= 0) {
      visit(start, i);
      start = -1;
    }
    i += length;
  }
}

function classify(tokens: ArrayLike<number>, at: number): { inWord: boolean; length: number } {
  const lead = tokens[at]!;
  if (lead >= 0x100) return { inWord: false, length: 1 };
  if (lead < 0x80) {
    const alphanumeric =
      (lead >= 0x30 && lead <= 0x39) || (lead >= 0x41 && lead <= 0x5a) || (lead >= 0x61 && lead <= 0x7a);
    return { inWord: alphanumeric, length: 1 };
  }
  const length =
    lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
  if (length === 0 || at + length > tokens.length) return { inWord: true, length: 1 };
  let codePoint = lead & (0xff >> (length + 1));
  for (let k = 1; k < length; k++) {
    const next = tokens[at + k]!;
    if (next < 0x80 || next > 0xbf) return { inWord: true, length: 1 };
    codePoint = (codePoint << 6) | (next & 0x3f);
  }
  return { inWord: isWordCodePoint(codePoint), length };
}

/** Letters of Latin (beyond ASCII), Greek, Cyrillic and the other alphabetic scripts, kana, CJK and Hangul. */
function isWordCodePoint(codePoint: number): boolean {
  return (
    (codePoint >= 0xc0 && codePoint <= 0x24f && codePoint !== 0xd7 && codePoint !== 0xf7) ||
    (codePoint >= 0x370 && codePoint <= 0x1fff) ||
    (codePoint >= 0x3040 && codePoint <= 0x9fff) ||
    (codePoint >= 0xac00 && codePoint <= 0xd7af)
  );
}

/** Lookup key of the word tokens[start, end): its bytes, ASCII letters lower-cased. */
export function wordKey(tokens: ArrayLike<number>, start: number, end: number): string {
  let key = "";
  for (let i = start; i < end; i++) {
    const byte = tokens[i]!;
    key += String.fromCharCode(byte >= 0x41 && byte <= 0x5a ? byte + 0x20 : byte);
  }
  return key;
}

/**
 * Rarity weight of a span: the sum of the weights of the words it shows
 * whole. A word touching an edge of the span counts only when that edge is
 * the edge of the completion, since a span alone cannot tell a whole word
 * from the fragment of a longer one ("impor" of "important"). The rule reads
 * nothing but the span's tokens and whether it starts or ends the completion,
 * so a checker holding only the contribution's bytes gets the same number.
 */
export function spanRarityWeight(
  table: RarityTable,
  {
    tokens,
    startsCompletion,
    endsCompletion,
  }: { tokens: ArrayLike<number>; startsCompletion: boolean; endsCompletion: boolean },
): number {
  let weight = 0;
  forEachWord(tokens, (start, end) => {
    if ((start === 0 && !startsCompletion) || (end === tokens.length && !endsCompletion)) return;
    weight += table.weights.get(wordKey(tokens, start, end)) ?? table.unlistedWeight;
  });
  return weight;
}

function parseWeight(text: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,8})$/.test(text)) return undefined;
  return Number(text);
}

/** Whether `key` is exactly one word with no upper-case ASCII letter. */
function isWord(key: string): boolean {
  const bytes = Uint8Array.from(key, (char) => char.charCodeAt(0));
  const runs: [number, number][] = [];
  forEachWord(bytes, (start, end) => runs.push([start, end]));
  return runs.length === 1 && runs[0]![0] === 0 && runs[0]![1] === bytes.length && !/[A-Z]/.test(key);
}

function binaryString(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}
