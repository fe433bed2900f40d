import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createDirectoryContentStore, putContent } from "./contentStore.ts";
import {
  buildDatanetIndex,
  contributionIndexAt,
  datanetIndexFileName,
  loadDatanetIndex,
  openDatanetIndex,
  saveDatanetIndex,
} from "./datanetIndex.ts";
import { ContentHashMismatchError, DatanetRootMismatchError, InvalidIndexFileError } from "./errors.ts";
import { defaultAttributionParams } from "./params.ts";
import { byteTokenizer } from "./tokenizer.ts";
import { makeDatanet } from "./testing.ts";

const texts = ["the cat sat on the mat", "a dog", "", "the mat was red"];

test("positions map back to their contribution; separators end every contribution", () => {
  const { datanet, contents } = makeDatanet({ datanetId: 1n, version: 1n, texts, firstContributionId: 10n });
  const index = buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer });
  assert.equal(
    index.text.length,
    texts.reduce((n, t) => n + t.length + 1, 0),
  );
  let position = 0;
  texts.forEach((text, k) => {
    for (let i = 0; i <= text.length; i++) {
      assert.equal(contributionIndexAt(index, position), k, `position ${position}`);
      assert.equal(index.text[position], i === text.length ? byteTokenizer.vocabSize : text.charCodeAt(i));
      position++;
    }
  });
  assert.deepEqual([...index.contributionIds], [10n, 11n, 12n, 13n]);
});

test("an index is only built for contents that reproduce the published root", () => {
  const { datanet, contents } = makeDatanet({ datanetId: 1n, version: 1n, texts });
  const tampered = {
    ...datanet,
    contributions: datanet.contributions.map((c, k) => (k === 1 ? { ...c, weight: 5n } : c)),
  };
  assert.throws(
    () => buildDatanetIndex({ datanet: tampered, contents, tokenizer: byteTokenizer }),
    DatanetRootMismatchError,
  );
});

describe("persistence", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "openpoa-index-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("save/load round trip keeps every field", async () => {
    const copied = "the mat was red and the cat sat on it all day long";
    const { datanet, contents } = makeDatanet({ datanetId: 3n, version: 2n, texts: [...texts, copied, `${copied}!`] });
    const index = buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer });
    assert.deepEqual([...index.duplicateOf], [-1, -1, -1, -1, -1, 4]);
    const path = join(dir, "roundtrip.opoaidx");
    await saveDatanetIndex(index, { path });
    const loaded = await loadDatanetIndex({ path });
    assert.deepEqual(loaded, index);
  });

  test("a flipped byte fails the checksum; a truncated file fails the header checks", async () => {
    const { datanet, contents } = makeDatanet({ datanetId: 3n, version: 2n, texts });
    const path = join(dir, "corrupt.opoaidx");
    await saveDatanetIndex(buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer }), { path });
    const bytes = await readFile(path);
    bytes[bytes.length - 40]! ^= 1;
    await writeFile(path, bytes);
    await assert.rejects(loadDatanetIndex({ path }), /checksum mismatch/);
    await writeFile(path, bytes.subarray(0, 20));
    await assert.rejects(loadDatanetIndex({ path }), InvalidIndexFileError);
  });

  test("built once per (datanet, version, root); a new version gets its own index", async () => {
    const contentDir = join(dir, "content");
    const cacheDir = join(dir, "cache");
    const contentStore = createDirectoryContentStore({ dir: contentDir });
    const ctx = { cacheDir, contentStore, tokenizer: byteTokenizer };
    const v1 = makeDatanet({ datanetId: 7n, version: 1n, texts: texts.slice(0, 2) });
    const v2 = makeDatanet({ datanetId: 7n, version: 2n, texts });
    for (const content of v2.contents) await putContent(contentStore, { content });

    const first = await openDatanetIndex(ctx, { datanet: v1.datanet });
    assert.equal(first.built, true);
    const v1Path = join(cacheDir, datanetIndexFileName(v1.datanet));
    const v1Stat = await stat(v1Path);

    const again = await openDatanetIndex(ctx, { datanet: v1.datanet });
    assert.equal(again.built, false);
    assert.deepEqual(again.index, first.index);
    assert.equal((await stat(v1Path)).mtimeMs, v1Stat.mtimeMs);

    const second = await openDatanetIndex(ctx, { datanet: v2.datanet });
    assert.equal(second.built, true);
    assert.equal(second.index.contributionIds.length, 4);
    assert.equal((await openDatanetIndex(ctx, { datanet: v1.datanet })).built, false);

    // A corrupted cache file is rebuilt rather than trusted.
    await writeFile(v1Path, "garbage");
    assert.equal((await openDatanetIndex(ctx, { datanet: v1.datanet })).built, true);

    // So is one built with other near-duplicate params.
    const stricter = { ...ctx, params: { ...defaultAttributionParams, duplicateCoverageBps: 9_000 } };
    const rebuilt = await openDatanetIndex(stricter, { datanet: v1.datanet });
    assert.equal(rebuilt.built, true);
    assert.equal(rebuilt.index.nearDuplicateParams.duplicateCoverageBps, 9_000);
    assert.equal((await openDatanetIndex(stricter, { datanet: v1.datanet })).built, false);
  });

  test("content that does not match its hash never reaches an index", async () => {
    const contentDir = join(dir, "content-bad");
    const contentStore = createDirectoryContentStore({ dir: contentDir });
    const { datanet, contents } = makeDatanet({ datanetId: 8n, version: 1n, texts });
    for (const content of contents) await putContent(contentStore, { content });
    await writeFile(join(contentDir, datanet.contributions[0]!.contentHash.slice(2)), "the cat sat on the hat");
    await assert.rejects(
      openDatanetIndex({ cacheDir: join(dir, "cache-bad"), contentStore, tokenizer: byteTokenizer }, { datanet }),
      ContentHashMismatchError,
    );
  });
});

test("contents that do not match their contentHash are rejected at build", () => {
  const { datanet, contents } = makeDatanet({ datanetId: 1n, version: 1n, texts });
  const swapped = [contents[1]!, contents[0]!, ...contents.slice(2)];
  assert.throws(
    () => buildDatanetIndex({ datanet, contents: swapped, tokenizer: byteTokenizer }),
    ContentHashMismatchError,
  );
});
