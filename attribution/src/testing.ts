/**
 * Test and benchmark fixtures: seeded randomness (xoshiro128**: 32-bit
 * integer arithmetic only, so deterministic on every machine) and datanet
 * versions built from plain texts.
 */
import { getAddress, type Address, type Hex } from "viem";
import { sha256Hex } from "./contentStore.ts";
import { datanetVersionTree, type Contribution, type DatanetVersion } from "./datanet.ts";
import type { AttributionParams } from "./params.ts";
import { attributionSpecs, defaultAttributionPolicy, type AttributionPolicy } from "./policy.ts";

export type Random = {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
};

export function createRandom(seed: number): Random {
  let a = seed >>> 0 || 0x9e3779b9;
  let b = 0x243f6a88 ^ a;
  let c = 0xb7e15162;
  let d = 0x6a09e667;
  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result / 4294967296;
  };
  for (let i = 0; i < 16; i++) next();
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)]!,
  };
}

/**
 * Random sentences over a small vocabulary of `vocabulary` lower-case words
 * of 2 to `maxWordLength` letters, so that texts share words and phrases.
 */
export function createSentenceMaker(
  random: Random,
  { vocabulary, maxWordLength }: { vocabulary: number; maxWordLength: number },
): (words: number) => string {
  const words = Array.from({ length: vocabulary }, () =>
    Array.from({ length: random.int(2, maxWordLength) }, () => String.fromCharCode(random.int(97, 122))).join(""),
  );
  return (count) => Array.from({ length: count }, () => random.pick(words)).join(" ");
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A published datanet version built from texts, for tests and the benchmark. */
export function makeDatanet({
  datanetId,
  version,
  texts,
  firstContributionId = 1n,
  contributors,
  weights,
}: {
  datanetId: bigint;
  version: bigint;
  texts: readonly (string | Uint8Array)[];
  firstContributionId?: bigint;
  contributors?: readonly Address[];
  weights?: readonly bigint[];
}): { datanet: DatanetVersion; contents: Uint8Array[] } {
  const contents = texts.map((text) => (typeof text === "string" ? new TextEncoder().encode(text) : text));
  const contributions: Contribution[] = contents.map((content, k) => ({
    contributionId: firstContributionId + BigInt(k),
    contributor: contributors?.[k % contributors.length] ?? testAccount(Number(firstContributionId) + k),
    contentHash: sha256Hex(content),
    weight: weights?.[k] ?? 1n,
  }));
  return {
    datanet: { datanetId, version, root: datanetVersionTree(contributions).root as Hex, contributions },
    contents,
  };
}

/** Deterministic distinct test address number `n`. */
export function testAccount(n: number): Address {
  return getAddress(`0x${(0x1000 + n).toString(16).padStart(40, "0")}`);
}

/** `policy` (default: policy 1) with some of its params changed. */
export function withParams(
  params: Partial<AttributionParams>,
  policy: AttributionPolicy = defaultAttributionPolicy,
): AttributionPolicy {
  return { ...policy, params: { ...policy.params, ...params } };
}

/** `policy` (default: policy 1) as a version 2 policy numbered `id` (default 2) with `rarityExponent`. */
export function asVersion2(
  { rarityExponent, id = 2n }: { rarityExponent: number; id?: bigint },
  policy: AttributionPolicy = defaultAttributionPolicy,
): AttributionPolicy {
  return { ...withParams({ rarityExponent }, policy), id, version: 2, ...attributionSpecs[2] };
}
