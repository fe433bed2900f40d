/**
 * Seeded generator of text-like byte streams for the benchmark: a Zipf(1.1)
 * vocabulary of 30,000 pseudo-words whose letters follow English letter
 * frequencies and lengths follow an English-like distribution, sentences of
 * 4–28 words with commas, capitals and periods, paragraphs of 2–8 sentences.
 * Byte-level tokens therefore see realistic repetition: short n-grams (" the ",
 * common word pairs) are very frequent, long ones are rare.
 */
import { createRandom, type Random } from "../src/testing.ts";

const letters = "etaoinshrdlcumwfgypbvkjxqz";
const letterFrequencies = [
  12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8, 2.4, 2.4, 2.2, 2.0, 2.0, 1.9, 1.5, 1.0, 0.8, 0.15,
  0.15, 0.1, 0.07,
];
const lengthFrequencies = [0, 3, 17, 21, 16, 11, 9, 8, 6, 4, 3, 1.5, 0.5]; // index = word length

export type TextCorpus = {
  /** Appends roughly `bytes` bytes of text (ends at a sentence boundary) to a new array. */
  text(bytes: number): Uint8Array;
  random: Random;
};

export function createTextCorpus({ seed, vocabulary = 30_000 }: { seed: number; vocabulary?: number }): TextCorpus {
  const random = createRandom(seed);
  const sampler = (weights: readonly number[]) => {
    const cumulative = new Float64Array(weights.length);
    weights.reduce((sum, w, i) => (cumulative[i] = sum + w), 0);
    const total = cumulative[cumulative.length - 1]!;
    return (): number => {
      const x = random.next() * total;
      let lo = 0;
      let hi = cumulative.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cumulative[mid]! > x) hi = mid;
        else lo = mid + 1;
      }
      return lo;
    };
  };
  const letter = sampler(letterFrequencies);
  const wordLength = sampler(lengthFrequencies);
  const words = Array.from({ length: vocabulary }, () =>
    Uint8Array.from({ length: wordLength() }, () => letters.charCodeAt(letter())),
  );
  const wordRank = sampler(Array.from({ length: vocabulary }, (_, rank) => 1 / Math.pow(rank + 1, 1.1)));

  return {
    random,
    text(bytes) {
      const out = new Uint8Array(bytes + 512);
      let n = 0;
      const put = (byte: number) => (out[n++] = byte);
      while (n < bytes) {
        const sentences = random.int(2, 8);
        for (let s = 0; s < sentences && n < bytes; s++) {
          const count = random.int(4, 28);
          for (let w = 0; w < count; w++) {
            const word = words[wordRank()]!;
            word.forEach((byte, i) => put(w === 0 && i === 0 ? byte - 32 : byte));
            if (w < count - 1) {
              if (random.next() < 0.08) put(44); // ','
              put(32);
            }
          }
          put(46); // '.'
          put(32);
        }
        put(10); // paragraph break
      }
      return out.slice(0, n);
    },
  };
}
