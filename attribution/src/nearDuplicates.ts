/**
 * Near-duplicate contributions of one datanet version, found at index build
 * time so that a copy of an accepted contribution cannot take part of its
 * credit (attribute.ts credits spans found in a duplicate to the original).
 *
 * Contribution c is a duplicate of an earlier contribution e when at least
 * `duplicateCoverageBps` of c's shingles (every window of
 * `duplicateShingleTokens` tokens) also occur in e. Candidates come from
 * sampled shingles (those whose hash is a multiple of `duplicateSampling`,
 * the same shingles in every copy wherever they sit); for each contribution
 * the earlier one sharing the most sampled shingles (ties to the earlier) is
 * the candidate, when it shares at least half the threshold's part of them
 * (a cheap bound that skips texts sharing only a stray phrase), and its
 * coverage is then counted exactly over all shingles. Sampled
 * shingles held by more than `maxSpanOccurrences` contributions are common
 * text and take no part in choosing candidates (this also bounds the work).
 * Everything is integer arithmetic over the public contents in acceptance
 * order, so anyone rebuilding the index gets the same answer.
 */
import { bpsTotal } from "./params.ts";

export type NearDuplicateParams = {
  /** Shingle length in tokens. */
  duplicateShingleTokens: number;
  /** One in this many shingles (by hash) is sampled to find candidates. */
  duplicateSampling: number;
  /** Least part (bps) of a contribution's shingles found in one earlier contribution that makes it a duplicate. */
  duplicateCoverageBps: number;
  /** Sampled shingles held by more contributions than this are common text. */
  maxSpanOccurrences: number;
};

export type NearDuplicates = {
  /** Per contribution (acceptance order): the earlier contribution it duplicates, or -1. */
  duplicateOf: Int32Array;
  /** Per contribution: the part (bps) of its shingles found in `duplicateOf`; 0 when not a duplicate. */
  coverageBps: Uint16Array;
};

/**
 * `starts[k]` is the first token of contribution k in `text` and each
 * contribution ends one token (its separator) before the next start, as in a
 * DatanetIndex.
 */
export function findNearDuplicates({
  text,
  starts,
  params,
}: {
  text: Int32Array;
  starts: Uint32Array;
  params: NearDuplicateParams;
}): NearDuplicates {
  const count = starts.length - 1;
  const shingle = params.duplicateShingleTokens;
  const range = (k: number) => ({ from: starts[k]!, to: starts[k + 1]! - 1 });

  // Sampled shingles of every contribution, in contribution order.
  let hashes = new Uint32Array(1 << 16);
  let holders = new Uint32Array(1 << 16);
  let sampled = 0;
  for (let k = 0; k < count; k++) {
    forEachShingleHash(text, range(k), shingle, (hash) => {
      if (hash % params.duplicateSampling !== 0) return;
      if (sampled === hashes.length) {
        hashes = grow(hashes);
        holders = grow(holders);
      }
      hashes[sampled] = hash;
      holders[sampled++] = k;
    });
  }
  hashes = hashes.subarray(0, sampled);
  const order = stableOrder(hashes);

  // Pairs (later, earlier) of contributions sharing a sampled shingle, one entry per shared shingle.
  const sampledOf = new Uint32Array(count);
  let laters = new Uint32Array(1 << 16);
  let earliers = new Uint32Array(1 << 16);
  let pairCount = 0;
  const group: number[] = [];
  for (let x = 0; x < sampled;) {
    const hash = hashes[order[x]!]!;
    group.length = 0;
    for (; x < sampled && hashes[order[x]!] === hash; x++) {
      const holder = holders[order[x]!]!;
      if (group[group.length - 1] !== holder) group.push(holder);
    }
    for (const holder of group) sampledOf[holder]!++;
    if (group.length > params.maxSpanOccurrences) continue;
    for (let j = 1; j < group.length; j++) {
      for (let i = 0; i < j; i++) {
        if (pairCount === laters.length) {
          laters = grow(laters);
          earliers = grow(earliers);
        }
        laters[pairCount] = group[j]!;
        earliers[pairCount++] = group[i]!;
      }
    }
  }
  laters = laters.subarray(0, pairCount);
  earliers = earliers.subarray(0, pairCount);
  const byPair = stableOrder(laters, stableOrder(earliers));

  const duplicateOf = new Int32Array(count).fill(-1);
  const coverageBps = new Uint16Array(count);
  for (let x = 0; x < pairCount;) {
    const later = laters[byPair[x]!]!;
    let candidate = -1;
    let candidateHits = 0;
    while (x < pairCount && laters[byPair[x]!] === later) {
      const earlier = earliers[byPair[x]!]!;
      let hits = 0;
      for (; x < pairCount && laters[byPair[x]!] === later && earliers[byPair[x]!] === earlier; x++) hits++;
      // Pairs are sorted by earlier contribution, so a tie keeps the earlier one.
      if (hits > candidateHits) [candidate, candidateHits] = [earlier, hits];
    }
    if (candidateHits * 2 * bpsTotal < params.duplicateCoverageBps * sampledOf[later]!) continue;
    const coverage = shingleCoverageBps(text, range(later), range(candidate), shingle);
    if (coverage >= params.duplicateCoverageBps) {
      duplicateOf[later] = candidate;
      coverageBps[later] = coverage;
    }
  }
  return { duplicateOf, coverageBps };
}

/**
 * The original of each contribution: itself, or the end of its duplicateOf
 * chain (a duplicate of a duplicate is credited to the first one).
 */
export function originalContributions(duplicateOf: Int32Array): Int32Array {
  const original = new Int32Array(duplicateOf.length);
  // duplicateOf always points to an earlier contribution, so one pass in order resolves every chain.
  for (let k = 0; k < duplicateOf.length; k++) original[k] = duplicateOf[k]! < 0 ? k : original[duplicateOf[k]!]!;
  return original;
}

/** Part (bps, floored) of the shingles of `of` that also occur in `in`. */
function shingleCoverageBps(
  text: Int32Array,
  of: { from: number; to: number },
  within: { from: number; to: number },
  shingle: number,
): number {
  const present = new Set<number>();
  forEachShingleHash(text, within, shingle, (hash) => present.add(hash));
  let total = 0;
  let covered = 0;
  forEachShingleHash(text, of, shingle, (hash) => {
    total++;
    if (present.has(hash)) covered++;
  });
  return total === 0 ? 0 : Math.floor((covered * bpsTotal) / total);
}

/**
 * Hash of every window of `length` tokens in text[from, to): a polynomial
 * rolling hash mod 2^32, then a 32-bit finaliser so that its low bits are
 * fit for sampling.
 */
function forEachShingleHash(
  text: Int32Array,
  { from, to }: { from: number; to: number },
  length: number,
  visit: (hash: number) => void,
): void {
  if (to - from < length) return;
  const base = 0x01000193;
  let topPower = 1;
  for (let i = 1; i < length; i++) topPower = Math.imul(topPower, base);
  let hash = 0;
  for (let i = from; i < to; i++) {
    if (i - from >= length) hash = (hash - Math.imul(text[i - length]!, topPower)) | 0;
    hash = (Math.imul(hash, base) + text[i]!) | 0;
    if (i - from >= length - 1) visit(finalise(hash));
  }
}

/** MurmurHash3's fmix32. */
function finalise(hash: number): number {
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/**
 * Positions of `keys` in `order` (identity by default) re-sorted by key,
 * stable, so equal keys keep their order there (LSD radix sort, 16-bit digits).
 */
function stableOrder(
  keys: Uint32Array,
  order: Int32Array = Int32Array.from({ length: keys.length }, (_, i) => i),
): Int32Array {
  let next: Int32Array = new Int32Array(keys.length);
  for (const shift of [0, 16]) {
    const offsets = new Int32Array(0x10001);
    for (let i = 0; i < keys.length; i++) offsets[((keys[i]! >>> shift) & 0xffff) + 1]!++;
    for (let d = 0; d < 0x10000; d++) offsets[d + 1]! += offsets[d]!;
    for (let i = 0; i < order.length; i++) next[offsets[(keys[order[i]!]! >>> shift) & 0xffff]!++] = order[i]!;
    [order, next] = [next, order];
  }
  return order;
}

function grow<T extends Uint32Array | Int32Array>(array: T): T {
  const bigger = new (array.constructor as new (length: number) => T)(array.length * 2);
  bigger.set(array);
  return bigger;
}
