import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { StoreError } from "../../../../store/errors.ts";
import { startStoreServer, type StoreServer } from "../../../../store/server.ts";
import { ObjectMismatchError, trainingManifestAt } from "./artifacts.ts";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe("trainingManifestAt, reading a content store server", () => {
  let store: StoreServer;
  let dir: string;
  const training = JSON.stringify({ format: "openpoa-training-v1", losses: [2.5, 0.5] });
  const withTraining = JSON.stringify({ format: "openpoa-artifact-v1", training: { sha256: sha256(training) } });
  const without = JSON.stringify({ format: "openpoa-artifact-v1", files: [] });
  const lying = JSON.stringify({ format: "openpoa-artifact-v1", training: { sha256: sha256("other bytes") } });
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "openpoa-studio-artifacts-"));
    for (const text of [training, withTraining, without, lying]) await writeFile(path.join(dir, sha256(text)), text);
    // The store's own directory layout; the manifest lying about the training manifest's hash is served that object.
    await writeFile(path.join(dir, sha256("other bytes")), training);
    // Reads are public: nothing here writes.
    const refuse = { admit: () => Promise.reject(new StoreError(403, "not_admitted", "read-only")) };
    store = await startStoreServer({ dir, port: 0, policy: refuse, log: () => {} });
  });
  after(async () => {
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("follows the artifact manifest to the training manifest, each checked against its sha256", async () => {
    // With its name in the store, to link to.
    assert.deepEqual(await trainingManifestAt(store.url, `openpoa-store://${sha256(withTraining)}`), {
      name: sha256(training),
      manifest: JSON.parse(training),
    });
  });

  it("says nothing for other URIs, missing objects and adapters trained without a manifest", async () => {
    assert.equal(await trainingManifestAt(store.url, "ipfs://bafy/adapter"), undefined);
    assert.equal(await trainingManifestAt(store.url, `openpoa-store://${sha256("absent")}`), undefined);
    assert.equal(await trainingManifestAt(store.url, `openpoa-store://${sha256(without)}`), undefined);
  });

  it("refuses bytes that are not the object named", async () => {
    await assert.rejects(trainingManifestAt(store.url, `openpoa-store://${sha256(lying)}`), ObjectMismatchError);
  });
});
