/**
 * Token-level suffix-array index of one published datanet version.
 *
 * Text layout: the tokens of each accepted contribution (acceptance order),
 * each followed by a separator symbol equal to `vocabSize`. Completions only
 * contain ids < vocabSize, so no match can run across a separator, i.e. across
 * a contribution boundary. `starts[k]` is the first position of contribution
 * k and `starts[count]` the text length, so position → contribution is a
 * binary search.
 *
 * The index also holds the near-duplicate contributions of the version
 * (nearDuplicates.ts), found once at build time with the params it records.
 */
import { createHash } from "node:crypto";
import { mkdir, open, readFile, rename } from "node:fs/promises";
import { endianness } from "node:os";
import { join } from "node:path";
import type { Hex } from "viem";
import { canonicalJson } from "./canonicalJson.ts";
import { getContent, sha256Hex, type ContentStore } from "./contentStore.ts";
import { assertDatanetVersionRoot, type DatanetVersion } from "./datanet.ts";
import { BaseError, ContentHashMismatchError, InvalidIndexFileError, TokenOutOfVocabularyError } from "./errors.ts";
import { findNearDuplicates, originalContributions, type NearDuplicateParams } from "./nearDuplicates.ts";
import { defaultAttributionParams, differingParams, pickNearDuplicateParams } from "./params.ts";
import { buildSuffixArray } from "./suffixArray.ts";
import type { Tokenizer } from "./tokenizer.ts";

export type DatanetIndex = {
  datanetId: bigint;
  version: bigint;
  root: Hex;
  tokenizerId: string;
  vocabSize: number;
  /** Contribution ids in acceptance order. */
  contributionIds: BigUint64Array;
  /** Start position of each contribution, plus the text length at the end. */
  starts: Uint32Array;
  text: Int32Array;
  suffixArray: Int32Array;
  /** The params the near duplicates were found with. */
  nearDuplicateParams: NearDuplicateParams;
  /** Per contribution (acceptance order): the earlier contribution it duplicates, or -1. */
  duplicateOf: Int32Array;
  /** Per contribution: the part (bps) of its shingles found in `duplicateOf`; 0 when not a duplicate. */
  duplicateCoverageBps: Uint16Array;
};

export class IndexTooLargeError extends BaseError {
  override name = "IndexTooLargeError";
  constructor({ tokens }: { tokens: number }) {
    super(`A datanet index holds at most 2^31 - 1 tokens; this one would hold ${tokens}.`);
  }
}

/**
 * Builds the index from contribution bytes (same order as
 * `datanet.contributions`). Checks that the contributions reproduce the
 * published root and that every content matches its contentHash first, so an
 * index can only exist for what was actually published.
 */
export function buildDatanetIndex({
  datanet,
  contents,
  tokenizer,
  params = defaultAttributionParams,
}: {
  datanet: DatanetVersion;
  contents: readonly Uint8Array[];
  tokenizer: Tokenizer;
  params?: NearDuplicateParams;
}): DatanetIndex {
  assertDatanetVersionRoot(datanet);
  if (contents.length !== datanet.contributions.length) {
    throw new BaseError(`Expected ${datanet.contributions.length} contents, got ${contents.length}.`);
  }
  for (const { contributionId } of datanet.contributions) {
    // Index files store ids as u64; a registry counter will not reach 2^64.
    if (contributionId < 1n || contributionId >= 1n << 64n) {
      throw new BaseError(`Contribution id ${contributionId} is outside [1, 2^64).`);
    }
  }
  datanet.contributions.forEach(({ contentHash }, k) => {
    const actual = sha256Hex(contents[k]!);
    if (actual !== contentHash.toLowerCase())
      throw new ContentHashMismatchError({ expected: contentHash, actual, source: "contents" });
  });
  const separator = tokenizer.vocabSize;
  const tokenized = contents.map((content) => tokenizer.encode(content));
  const length = tokenized.reduce((sum, tokens) => sum + tokens.length + 1, 0);
  if (length > 0x7fffffff) throw new IndexTooLargeError({ tokens: length });

  const text = new Int32Array(length);
  const starts = new Uint32Array(tokenized.length + 1);
  let position = 0;
  tokenized.forEach((tokens, k) => {
    starts[k] = position;
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i]!;
      if (token >= separator) throw new TokenOutOfVocabularyError({ token, vocabSize: tokenizer.vocabSize });
      text[position++] = token;
    }
    text[position++] = separator;
  });
  starts[tokenized.length] = position;
  const nearDuplicateParams = pickNearDuplicateParams(params);
  const { duplicateOf, coverageBps } = findNearDuplicates({ text, starts, params: nearDuplicateParams });

  return {
    datanetId: datanet.datanetId,
    version: datanet.version,
    root: datanet.root,
    tokenizerId: tokenizer.id,
    vocabSize: tokenizer.vocabSize,
    contributionIds: BigUint64Array.from(datanet.contributions, (c) => c.contributionId),
    starts,
    text,
    suffixArray: buildSuffixArray(text, separator + 1),
    nearDuplicateParams,
    duplicateOf,
    duplicateCoverageBps: coverageBps,
  };
}

export type NearDuplicateContribution = {
  contributionId: bigint;
  /** The earlier contribution it copies (spans found in it are credited to that one's original). */
  duplicateOf: bigint;
  /** Part (bps) of its shingles found in `duplicateOf`. */
  coverageBps: number;
};

const originalsCache = new WeakMap<DatanetIndex, Int32Array>();

/** Acceptance-order position of each contribution's original (itself unless a near duplicate), cached per index. */
export function originalContributionIndexes(index: DatanetIndex): Int32Array {
  let originals = originalsCache.get(index);
  if (originals === undefined) {
    originals = originalContributions(index.duplicateOf);
    originalsCache.set(index, originals);
  }
  return originals;
}

/** The near-duplicate contributions of an index, in acceptance order: warnings for the datanet's curator. */
export function nearDuplicateContributions(index: DatanetIndex): NearDuplicateContribution[] {
  const found: NearDuplicateContribution[] = [];
  index.duplicateOf.forEach((earlier, k) => {
    if (earlier >= 0) {
      found.push({
        contributionId: index.contributionIds[k]!,
        duplicateOf: index.contributionIds[earlier]!,
        coverageBps: index.duplicateCoverageBps[k]!,
      });
    }
  });
  return found;
}

/** Index (acceptance order) of the contribution that holds text `position`. */
export function contributionIndexAt(index: DatanetIndex, position: number): number {
  const { starts } = index;
  let lo = 0;
  let hi = starts.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid]! <= position) lo = mid;
    else hi = mid;
  }
  return lo;
}

// --- Binary format v2 --------------------------------------------------------
// All integers little-endian.
//   0  magic "OPOAIDX\0"            8 bytes
//   8  format version (=2)           u32
//  12  metadata length L             u32
//  16  metadata: canonical JSON      L bytes {datanetId, version, root, tokenizerId,
//                                             vocabSize, contributionCount, tokenCount,
//                                             nearDuplicateParams}
//      zero padding to a multiple of 8
//      contributionIds               u64 × contributionCount
//      starts                        u32 × (contributionCount + 1), zero padding to 8
//      duplicateOf                   i32 × contributionCount, zero padding to 8
//      duplicateCoverageBps          u16 × contributionCount, zero padding to 8
//      text                          i32 × tokenCount
//      suffixArray                   i32 × tokenCount
//      sha256 of every byte above    32 bytes

const magic = new TextEncoder().encode("OPOAIDX\0");
export const indexFormatVersion = 2;

type IndexMetadata = {
  datanetId: string;
  version: string;
  root: Hex;
  tokenizerId: string;
  vocabSize: number;
  contributionCount: number;
  tokenCount: number;
  nearDuplicateParams: NearDuplicateParams;
};

/** The file as a list of byte views (no copy of the big arrays) plus its checksum trailer. */
export function serializeDatanetIndex(index: DatanetIndex): Uint8Array[] {
  assertLittleEndian();
  const metadata = new TextEncoder().encode(
    canonicalJson({
      datanetId: index.datanetId,
      version: index.version,
      root: index.root,
      tokenizerId: index.tokenizerId,
      vocabSize: index.vocabSize,
      contributionCount: index.contributionIds.length,
      tokenCount: index.text.length,
      nearDuplicateParams: index.nearDuplicateParams,
    }),
  );
  const header = new Uint8Array(padTo8(16 + metadata.length));
  header.set(magic, 0);
  const view = new DataView(header.buffer);
  view.setUint32(8, indexFormatVersion, true);
  view.setUint32(12, metadata.length, true);
  header.set(metadata, 16);
  const chunks = [
    header,
    bytesOf(index.contributionIds),
    paddedTo8(index.starts),
    paddedTo8(index.duplicateOf),
    paddedTo8(index.duplicateCoverageBps),
    bytesOf(index.text),
    bytesOf(index.suffixArray),
  ];
  const hash = createHash("sha256");
  for (const chunk of chunks) hash.update(chunk);
  chunks.push(hash.digest());
  return chunks;
}

export function parseDatanetIndex(bytes: Uint8Array, { source }: { source: string }): DatanetIndex {
  assertLittleEndian();
  const fail = (reason: string): never => {
    throw new InvalidIndexFileError({ path: source, reason });
  };
  if (bytes.length < 16 + 32) fail("file is truncated");
  if (!magic.every((byte, i) => bytes[i] === byte)) fail("bad magic");
  // Typed array views need aligned offsets; copy once if the buffer is not.
  if (bytes.byteOffset % 8 !== 0) bytes = bytes.slice();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const formatVersion = view.getUint32(8, true);
  if (formatVersion !== indexFormatVersion) fail(`unsupported format version ${formatVersion}`);

  const body = bytes.subarray(0, bytes.length - 32);
  const checksum = createHash("sha256").update(body).digest();
  if (!checksum.equals(bytes.subarray(bytes.length - 32))) fail("checksum mismatch");

  const metadataLength = view.getUint32(12, true);
  let metadata: IndexMetadata;
  try {
    metadata = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + metadataLength))) as IndexMetadata;
  } catch (cause) {
    throw new InvalidIndexFileError({ path: source, reason: "unreadable metadata", cause });
  }
  if (typeof metadata.nearDuplicateParams !== "object" || metadata.nearDuplicateParams === null)
    fail("metadata has no near-duplicate params");
  const { contributionCount: count, tokenCount } = metadata;
  let offset = padTo8(16 + metadataLength);
  const expectedLength =
    offset + count * 8 + padTo8((count + 1) * 4) + padTo8(count * 4) + padTo8(count * 2) + tokenCount * 8 + 32;
  if (bytes.length !== expectedLength) fail(`length ${bytes.length} does not match header (${expectedLength})`);

  const at = bytes.byteOffset;
  const contributionIds = new BigUint64Array(bytes.buffer, at + offset, count);
  offset += count * 8;
  const starts = new Uint32Array(bytes.buffer, at + offset, count + 1);
  offset += padTo8((count + 1) * 4);
  const duplicateOf = new Int32Array(bytes.buffer, at + offset, count);
  offset += padTo8(count * 4);
  const duplicateCoverageBps = new Uint16Array(bytes.buffer, at + offset, count);
  offset += padTo8(count * 2);
  const text = new Int32Array(bytes.buffer, at + offset, tokenCount);
  offset += tokenCount * 4;
  const suffixArray = new Int32Array(bytes.buffer, at + offset, tokenCount);
  return {
    datanetId: BigInt(metadata.datanetId),
    version: BigInt(metadata.version),
    root: metadata.root,
    tokenizerId: metadata.tokenizerId,
    vocabSize: metadata.vocabSize,
    contributionIds,
    starts,
    text,
    suffixArray,
    nearDuplicateParams: pickNearDuplicateParams(metadata.nearDuplicateParams),
    duplicateOf,
    duplicateCoverageBps,
  };
}

export async function saveDatanetIndex(index: DatanetIndex, { path }: { path: string }): Promise<void> {
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
  const file = await open(temporary, "w");
  try {
    for (const chunk of serializeDatanetIndex(index)) await file.write(chunk);
  } finally {
    await file.close();
  }
  await rename(temporary, path);
}

export async function loadDatanetIndex({ path }: { path: string }): Promise<DatanetIndex> {
  return parseDatanetIndex(await readFile(path), { source: path });
}

/** Cache file name: one file per (datanet id, version, root). */
export function datanetIndexFileName({
  datanetId,
  version,
  root,
}: Pick<DatanetVersion, "datanetId" | "version" | "root">): string {
  return `datanet-${datanetId}-v${version}-${root.slice(2).toLowerCase()}.opoaidx`;
}

export type DatanetIndexContext = {
  cacheDir: string;
  contentStore: ContentStore;
  tokenizer: Tokenizer;
  /** Near-duplicate params to build with (default: defaultAttributionParams). */
  params?: NearDuplicateParams;
};

/**
 * The index of a published datanet version, from the cache directory when a
 * valid file for the same (datanet id, version, root, tokenizer, near-duplicate
 * params) exists, otherwise built from the content store and persisted. A new
 * published version has a new key and so gets its own file; an existing file
 * is only replaced when it is unreadable or was built with other settings.
 */
export async function openDatanetIndex(
  ctx: DatanetIndexContext,
  { datanet }: { datanet: DatanetVersion },
): Promise<{ index: DatanetIndex; built: boolean }> {
  const params = pickNearDuplicateParams(ctx.params ?? defaultAttributionParams);
  const path = join(ctx.cacheDir, datanetIndexFileName(datanet));
  const cached = await loadDatanetIndex({ path }).catch(() => undefined);
  if (
    cached !== undefined &&
    cached.datanetId === datanet.datanetId &&
    cached.version === datanet.version &&
    cached.root.toLowerCase() === datanet.root.toLowerCase() &&
    cached.tokenizerId === ctx.tokenizer.id &&
    differingParams(cached.nearDuplicateParams, params).length === 0
  ) {
    return { index: cached, built: false };
  }
  const contents: Uint8Array[] = [];
  for (const contribution of datanet.contributions) {
    contents.push(await getContent(ctx.contentStore, { contentHash: contribution.contentHash }));
  }
  const index = buildDatanetIndex({ datanet, contents, tokenizer: ctx.tokenizer, params });
  await mkdir(ctx.cacheDir, { recursive: true });
  await saveDatanetIndex(index, { path });
  return { index, built: true };
}

function padTo8(length: number): number {
  return (length + 7) & ~7;
}

/** The array's bytes followed by zeros up to a multiple of 8. */
function paddedTo8(array: ArrayBufferView): Uint8Array {
  const padded = new Uint8Array(padTo8(array.byteLength));
  padded.set(bytesOf(array));
  return padded;
}

function bytesOf(array: ArrayBufferView): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

function assertLittleEndian(): void {
  if (endianness() !== "LE") throw new BaseError("Datanet index files are little-endian; this host is big-endian.");
}
