/**
 * The tokenizer seam. Attribution only needs `encode` (contribution bytes →
 * token ids) and the vocabulary size (ids must lie in [0, vocabSize)), so a
 * Hugging Face tokenizer can be wrapped behind the same shape later. `id` is
 * written into index files and attribution records: indexes built with one
 * tokenizer are never matched against completions of another.
 */
export type Tokenizer = {
  readonly id: string;
  readonly vocabSize: number;
  encode(bytes: Uint8Array): Uint32Array;
};

/** Special ids of the project's byte-level models (token id = UTF-8 byte value). */
export const byteTokens = { bos: 256, eos: 257, pad: 258 } as const;

export const byteTokenizer: Tokenizer = {
  id: "openpoa-byte-v1",
  vocabSize: 259,
  encode: (bytes) => new Uint32Array(bytes),
};
