import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createDirectoryContentStore, putContent } from "../../../../attribution/src/contentStore.ts";
import { makeEpochFixture, plantedSpan } from "../../../../attribution/src/epochFixture.ts";
import { ContentHashMismatchError, ContentNotFoundError } from "../../../../attribution/src/errors.ts";
import { hashAttributionRecord, recordFileName } from "../../../../attribution/src/record.ts";
import { putAttributionRecord } from "../../../../attribution/src/recordStore.ts";
import { silentLogger } from "../../../../inference/gateway/log.ts";
import { startStoreServer, type StoreServer } from "../../../../store/server.ts";
import {
  fetchAttributionRecord,
  fetchVerifiedContent,
  storeReader,
  shareOf,
  spansCrediting,
  spanText,
} from "./attribution.ts";

/** The fixture's record of a completion that quotes contribution 1 ("once quantum kettles sing at dawn"). */
const fixture = makeEpochFixture();
const planted = fixture.records[0]!;
const unmatched = fixture.records[1]!;
const texts = ["once quantum kettles sing at dawn", "maps of violet rivers in june", "old violet river ahead"];

describe("attribution in the browser, read from a real store server", () => {
  let dir: string;
  let server: StoreServer;
  const contentHashes: `0x${string}`[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "studio-attribution-"));
    const local = createDirectoryContentStore({ dir });
    await putAttributionRecord(local, { record: planted });
    for (const text of texts) contentHashes.push(await putContent(local, { content: new TextEncoder().encode(text) }));
    // Reads are public; this test writes nothing through the server.
    server = await startStoreServer({
      dir,
      port: 0,
      log: silentLogger,
      policy: { admit: () => Promise.reject(new Error("no writes here")) },
    });
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("reads a record by its attribution hash and refuses one that does not hash to it", async () => {
    const store = storeReader(server.url);
    const attributionHash = hashAttributionRecord(planted);
    assert.deepEqual(await fetchAttributionRecord(store, attributionHash), planted);
    await assert.rejects(fetchAttributionRecord(store, hashAttributionRecord(unmatched)), ContentNotFoundError);
    // A store serving another record under this one's name is caught.
    const lying = hashAttributionRecord({ ...unmatched, completionTokens: unmatched.completionTokens + 1 });
    const served = await fetch(`${server.url}/${recordFileName(attributionHash)}`);
    await writeFile(path.join(dir, recordFileName(lying)), new Uint8Array(await served.arrayBuffer()));
    await assert.rejects(fetchAttributionRecord(store, lying), ContentHashMismatchError);
  });

  it("reads a contribution's bytes only when they hash to its contentHash", async () => {
    const store = storeReader(server.url);
    assert.equal(new TextDecoder().decode(await fetchVerifiedContent(store, contentHashes[0]!)), texts[0]);
    const other = `0x${"ab".repeat(32)}` as const;
    await assert.rejects(fetchVerifiedContent(store, other), ContentNotFoundError);
    await writeFile(path.join(dir, other.slice(2)), "not those bytes");
    await assert.rejects(fetchVerifiedContent(store, other), ContentHashMismatchError);
  });
});

describe("the spans that credit a contribution", () => {
  it("finds contribution 1's spans, with offsets that give back the quoted text", () => {
    const spans = spansCrediting(planted, 1n);
    assert.ok(spans.length > 0);
    const contents = texts.map((t) => new TextEncoder().encode(t));
    const quoted = spans.map((s) => spanText(contents[Number(s.heldBy) - 1]!, planted.tokenizerId, s.offset, s.length));
    assert.ok(
      quoted.some((text) => text?.includes(plantedSpan)),
      `the planted span is quoted: ${JSON.stringify(quoted)}`,
    );
    for (const span of spans) {
      assert.deepEqual([span.datanetId, span.version], [1n, 1n]);
      assert.ok(span.sourceCount >= 1 && span.weight > 0);
    }
    // The other datanet's contributions hold none of the completion's spans; a record without matches credits none.
    for (const id of [4n, 5n]) assert.deepEqual(spansCrediting(planted, id), []);
    assert.deepEqual(spansCrediting(unmatched, 1n), []);
  });

  it("reads a contribution's share and its version's pool part from the record", () => {
    const one = shareOf(planted, { datanetId: 1n, version: 1n, contributionId: 1n });
    assert.equal(one.weightBps, 6_000);
    assert.ok(one.ppm > 0 && one.poolPpm > 0);
    // The version's part is weightBps × 100 ppm, split between the matched contributions and the pool.
    const inVersion = planted.shares.filter((s) => s.datanetId === 1n && s.version === 1n);
    assert.equal(
      inVersion.reduce((sum, s) => sum + s.ppm, 0),
      one.weightBps * 100,
    );
    assert.deepEqual(shareOf(unmatched, { datanetId: 1n, version: 1n, contributionId: 1n }).ppm, 0);
    assert.deepEqual(shareOf(planted, { datanetId: 7n, version: 1n, contributionId: 1n }), {
      ppm: 0,
      poolPpm: 0,
      weightBps: 0,
    });
  });

  it("gives text only for the byte tokenizer and ranges inside the bytes", () => {
    const bytes = new TextEncoder().encode("héllo world");
    assert.equal(spanText(bytes, "openpoa-byte-v1", 7, 5), "world");
    assert.equal(spanText(bytes, "openpoa-byte-v1", 0, 6), "héllo");
    assert.equal(spanText(bytes, "some-bpe-v1", 0, 5), undefined);
    assert.equal(spanText(bytes, "openpoa-byte-v1", 8, 5), undefined);
  });
});
