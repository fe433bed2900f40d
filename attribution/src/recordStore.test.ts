import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { hashAttributionRecord } from "./attribute.ts";
import { createDirectoryContentStore } from "./contentStore.ts";
import { makeEpochFixture } from "./epochFixture.ts";
import { ContentHashMismatchError, ContentNotFoundError } from "./errors.ts";
import { getAttributionRecord, putAttributionRecord, recordFileName } from "./recordStore.ts";

test("records round-trip under their attribution hash, which every read checks", async () => {
  const dir = await mkdtemp(join(tmpdir(), "openpoa-records-"));
  try {
    const store = createDirectoryContentStore({ dir });
    const [record, other] = makeEpochFixture().records;
    const attributionHash = await putAttributionRecord(store, { record: record! });
    assert.equal(attributionHash, hashAttributionRecord(record!));
    assert.deepEqual(await getAttributionRecord(store, { attributionHash }), record);

    await assert.rejects(
      getAttributionRecord(store, { attributionHash: hashAttributionRecord(other!) }),
      ContentNotFoundError,
    );
    // A mirror that serves another (valid) record under this name is caught.
    const otherHash = await putAttributionRecord(store, { record: other! });
    await writeFile(join(dir, recordFileName(attributionHash)), (await store.read(recordFileName(otherHash)))!);
    await assert.rejects(getAttributionRecord(store, { attributionHash }), ContentHashMismatchError);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
