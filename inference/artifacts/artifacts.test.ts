/**
 * Artifacts by URI: the hash (against the engine's own), the manifest, and the worker's cache fetching from a real
 * HTTP server, a directory content store and file:// — including sources that lie, truncate or lack the artifact.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { generatedModel } from "../gateway/testSupport.ts";
import { silentLogger } from "../gateway/log.ts";
import {
  ArtifactCache,
  ArtifactError,
  ArtifactHashMismatchError,
  decodeManifest,
  encodeManifest,
  hashArtifactDir,
  loraMismatch,
  MANIFEST_FILE,
  parseLoraConfig,
  STORE_SCHEME,
  TRAINING_MANIFEST_FILE,
} from "./index.ts";
import { publishArtifact } from "./publish.ts";

const model = generatedModel();
const [adapterA, adapterB, adapterC] = model.adapterHashes as [string, string, string];
const adapterDir = (sha: string) => path.join(model.artifactStore, sha);
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** What can go wrong with a source, per request path. */
type Fault = "lie" | "truncate" | "missing";

/** A plain static file server over `root` (what any HTTP host or mirror is), with faults to inject. */
async function staticServer(root: string) {
  const faults = new Map<string, Fault>();
  let requests = 0;
  const server: Server = createServer((request, response) => {
    requests++;
    const name = decodeURIComponent(new URL(request.url!, "http://x").pathname);
    const file = path.join(root, name);
    const fault = [...faults].find(([suffix]) => name.endsWith(suffix))?.[1];
    if (fault === "missing" || !existsSync(file)) return response.writeHead(404).end();
    const bytes = readFileSync(file);
    if (fault === "lie") bytes[bytes.length >> 1]! ^= 0xff;
    response.writeHead(200, { "content-length": bytes.length });
    // Half the bytes, then the connection drops, as a provider cut mid-transfer does.
    if (fault === "truncate") return response.write(bytes.subarray(0, bytes.length >> 1), () => response.destroy());
    response.end(bytes);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    faults,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A published copy of a generated adapter: its files and manifest under `root/<sha>`. */
function publishedCopy(root: string, sha: string) {
  const dir = path.join(root, sha);
  cpSync(adapterDir(sha), dir, { recursive: true });
  return dir;
}

async function writeManifest(dir: string) {
  writeFileSync(path.join(dir, MANIFEST_FILE), encodeManifest(await hashArtifactDir(dir)));
}

describe("artifacts", () => {
  let work: string;
  let served: Awaited<ReturnType<typeof staticServer>>;
  let caches = 0;
  const openCache = async (
    options: { maxBytes?: number; onEvict?: (hash: string) => void; contentStore?: string } = {},
  ) => {
    const cache = await ArtifactCache.open({
      dir: path.join(work, `cache-${caches++}`),
      maxBytes: options.maxBytes ?? 2 ** 30,
      sources: { contentStore: options.contentStore },
      log: silentLogger,
    });
    cache.onEvict = options.onEvict;
    return cache;
  };
  const request = (sha: string) => ({ artifactHash: sha, uri: `${served.url}/${sha}`, kind: "lora" as const });
  const entriesOf = (cache: ArtifactCache) => readdirSync(cache.dir);

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), "openpoa-artifacts-"));
    const root = path.join(work, "served");
    for (const sha of model.adapterHashes) await writeManifest(publishedCopy(root, sha));
    served = await staticServer(root);
  });
  after(async () => {
    await served?.close();
    await rm(work, { recursive: true, force: true });
  });

  it("test_hash_isTheEnginesArtifactHashForLoraAdapters", async () => {
    for (const sha of model.adapterHashes) {
      const hashed = await hashArtifactDir(adapterDir(sha));
      assert.equal(hashed.kind, "lora");
      // The engine named each directory by its own (Python) implementation of the hash.
      assert.equal(hashed.artifactHash, sha);
      assert.deepEqual(
        hashed.files.map((f) => f.name),
        ["adapter_config.json", "adapter_model.safetensors"],
      );
    }
  });

  it("test_hash_ofAModelCoversEveryFileButItsManifestAndRefusesSubdirectories", async () => {
    const dir = path.join(work, "model-copy");
    cpSync(model.modelDir, dir, { recursive: true });
    const first = await hashArtifactDir(dir);
    assert.equal(first.kind, "model");
    assert.deepEqual(first.files.map((f) => f.name).sort(), readdirSync(model.modelDir).sort());
    await writeManifest(dir);
    assert.equal((await hashArtifactDir(dir)).artifactHash, first.artifactHash, "the manifest is not hashed");
    writeFileSync(path.join(dir, "extra.txt"), "x");
    assert.notEqual((await hashArtifactDir(dir)).artifactHash, first.artifactHash, "every other file is");
    mkdirSync(path.join(dir, "nested"));
    await assert.rejects(hashArtifactDir(dir), (e: ArtifactError) => e.code === "artifact_not_flat");
  });

  it("test_cache_fetchesOverHttpOnceAndKeepsServingFromDisk", async () => {
    const cache = await openCache();
    const before = served.requests();
    const held = await Promise.all([1, 2, 3].map(() => cache.hold(request(adapterA))));
    assert.equal(cache.fetches, 1, "one fetch however many ask at once");
    assert.equal(served.requests() - before, 3, "the manifest and two files");
    for (const h of held) {
      assert.equal(h.dir, held[0]!.dir);
      assert.equal((await hashArtifactDir(h.dir)).artifactHash, adapterA);
      h.release();
    }
    (await cache.hold(request(adapterA))).release();
    assert.equal(served.requests() - before, 3, "then from disk");
  });

  it("test_cache_refusesWrongBytesAndKeepsNothing", async () => {
    const cache = await openCache();
    served.faults.set(`${adapterB}/adapter_model.safetensors`, "lie");
    try {
      await assert.rejects(cache.hold(request(adapterB)), (e: ArtifactHashMismatchError) => {
        assert.equal(e.code, "artifact_hash_mismatch");
        assert.match(e.message, /adapter_model\.safetensors/);
        return true;
      });
    } finally {
      served.faults.clear();
    }
    assert.deepEqual(entriesOf(cache), []);
    // A lying manifest fares no better: its files are checked against the chain's artifact hash, not its word.
    const liar = path.join(work, "liar");
    publishedCopy(liar, adapterB);
    const other = await hashArtifactDir(adapterDir(adapterC));
    writeFileSync(path.join(liar, adapterB, MANIFEST_FILE), encodeManifest({ ...other, artifactHash: adapterB }));
    const lying = await staticServer(liar);
    try {
      await assert.rejects(
        cache.hold({ ...request(adapterB), uri: `${lying.url}/${adapterB}` }),
        ArtifactHashMismatchError,
      );
    } finally {
      await lying.close();
    }
    assert.deepEqual(entriesOf(cache), []);
  });

  it("test_cache_refusesATruncatedDownloadAndKeepsNothing", async () => {
    const cache = await openCache();
    served.faults.set(`${adapterB}/adapter_model.safetensors`, "truncate");
    try {
      await assert.rejects(cache.hold(request(adapterB)), (e: ArtifactError) =>
        ["artifact_truncated", "artifact_unavailable"].includes(e.code),
      );
    } finally {
      served.faults.clear();
    }
    assert.deepEqual(entriesOf(cache), []);
    // The same source, healthy again, serves.
    (await cache.hold(request(adapterB))).release();
    assert.deepEqual(entriesOf(cache), [adapterB]);
  });

  it("test_cache_reportsAMissingArtifact", async () => {
    const cache = await openCache();
    served.faults.set(`${adapterC}/adapter_config.json`, "missing");
    try {
      await assert.rejects(cache.hold(request(adapterC)), (e: ArtifactError) => e.code === "artifact_not_found");
    } finally {
      served.faults.clear();
    }
    await assert.rejects(
      cache.hold({ ...request(adapterC), uri: `${served.url}/nothing-here` }),
      (e: ArtifactError) => e.code === "artifact_not_found",
    );
    await assert.rejects(
      cache.hold({ ...request(adapterC), uri: "ipfs://bafy/x" }),
      (e: ArtifactError) => e.code === "unsupported_uri" && /OPENPOA_IPFS_GATEWAY/.test(e.message),
    );
    assert.deepEqual(entriesOf(cache), []);
  });

  it("test_cache_readsAPlainPeftDirectoryWithoutManifest", async () => {
    const plain = path.join(work, "plain");
    cpSync(adapterDir(adapterC), path.join(plain, adapterC), { recursive: true });
    const server = await staticServer(plain);
    try {
      const cache = await openCache();
      const held = await cache.hold({ ...request(adapterC), uri: `${server.url}/${adapterC}` });
      assert.equal((await hashArtifactDir(held.dir)).artifactHash, adapterC);
    } finally {
      await server.close();
    }
  });

  it("test_cache_evictsTheLeastRecentlyUsedUnheldArtifactsUnderItsCap", async () => {
    const size = (sha: string) =>
      readdirSync(adapterDir(sha)).reduce((sum, f) => sum + readFileSync(path.join(adapterDir(sha), f)).length, 0);
    const evicted: string[] = [];
    // Room for two adapters and their manifests, not three.
    const cache = await openCache({ maxBytes: size(adapterA) * 2 + 2_000, onEvict: (hash) => evicted.push(hash) });
    (await cache.hold(request(adapterA))).release();
    const heldB = await cache.hold(request(adapterB));
    (await cache.hold(request(adapterA))).release(); // A is now more recent than B, but B is held
    (await cache.hold(request(adapterC))).release();
    assert.deepEqual(evicted, [adapterA], "the held one stays, however old");
    assert.deepEqual(entriesOf(cache).sort(), [adapterB, adapterC].sort());
    assert.ok(cache.usedBytes <= size(adapterA) * 2 + 2_000);
    const heldC = await cache.hold(request(adapterC));
    await assert.rejects(cache.hold(request(adapterA)), (e: ArtifactError) => e.code === "artifact_cache_full");
    heldB.release();
    heldC.release();
    await assert.rejects(
      (await openCache({ maxBytes: 1_000 })).hold(request(adapterA)),
      (e: ArtifactError) => e.code === "artifact_too_large",
    );
  });

  it("test_cache_reopensWithItsEntriesAndWithoutScratchLeftovers", async () => {
    const cache = await openCache();
    const dir = cache.dir;
    (await cache.hold(request(adapterA))).release();
    mkdirSync(path.join(dir, `.partial-${adapterB}-1-0`));
    const reopened = await ArtifactCache.open({ dir, maxBytes: 2 ** 30, sources: {}, log: silentLogger });
    assert.deepEqual(readdirSync(dir), [adapterA]);
    const before = served.requests();
    (await reopened.hold(request(adapterA))).release();
    assert.equal(served.requests(), before, "kept across the restart");
  });

  it("test_cache_readsFromAContentStoreByTheManifestHash", async () => {
    const store = path.join(work, "store");
    mkdirSync(store);
    const hashed = await hashArtifactDir(adapterDir(adapterA));
    for (const file of hashed.files) cpSync(path.join(adapterDir(adapterA), file.name), path.join(store, file.sha256));
    const manifest = encodeManifest(hashed);
    writeFileSync(path.join(store, sha256(manifest)), manifest);
    const cache = await openCache({ contentStore: store });
    const uri = `${STORE_SCHEME}//${sha256(manifest)}`;
    assert.equal((await hashArtifactDir((await cache.hold({ ...request(adapterA), uri })).dir)).artifactHash, adapterA);
    // A store answering other bytes under the manifest's hash is caught by that hash.
    const forgedManifest = encodeManifest({ ...hashed, files: [...hashed.files].reverse() });
    writeFileSync(path.join(store, sha256(manifest)), forgedManifest);
    await assert.rejects(
      (await openCache({ contentStore: store })).hold({ ...request(adapterA), uri }),
      ArtifactHashMismatchError,
    );
  });

  it("test_publish_namesATrainedAdaptersTrainingManifest_outsideTheHash", async () => {
    const trained = path.join(work, "trained");
    cpSync(adapterDir(adapterA), trained, { recursive: true });
    const training = new TextEncoder().encode(JSON.stringify({ format: "openpoa-training-v1", losses: [2, 1] }));
    writeFileSync(path.join(trained, TRAINING_MANIFEST_FILE), training);
    const store = path.join(work, "trained-store");
    const published = await publishArtifact({ dir: trained, store });
    assert.equal(published.artifactHash, adapterA, "the training manifest is not part of the artifact");
    assert.deepEqual(published.training, {
      name: TRAINING_MANIFEST_FILE,
      size: training.length,
      sha256: sha256(training),
    });
    const manifest = decodeManifest(readFileSync(path.join(store, published.manifestSha256)), "the store");
    assert.deepEqual(manifest.training, published.training);
    assert.deepEqual(readFileSync(path.join(store, sha256(training))), Buffer.from(training));
    // Workers fetch by the same URI as ever, and get the adapter's two files.
    const cache = await openCache({ contentStore: store });
    const held = await cache.hold({ ...request(adapterA), uri: published.uri });
    assert.equal((await hashArtifactDir(held.dir)).artifactHash, adapterA);
  });

  it("test_cache_verifiesALocalBaseModelInPlace", async () => {
    const cache = await openCache();
    const { artifactHash } = await hashArtifactDir(model.modelDir);
    const uri = pathToFileURL(model.modelDir).href;
    assert.equal((await cache.hold({ artifactHash, uri, kind: "model" })).dir, model.modelDir);
    await assert.rejects(
      cache.hold({ artifactHash: adapterA, uri, kind: "model" }),
      (e: ArtifactHashMismatchError) => e.expected === adapterA && e.actual === artifactHash,
    );
  });

  it("test_loraConfig_isComparedWithTheRegistration", () => {
    const terms = parseLoraConfig(readFileSync(path.join(adapterDir(adapterA), "adapter_config.json")), "a");
    assert.deepEqual([terms.rank, terms.targetModules], [8, 0x7f]);
    assert.equal(loraMismatch(terms, { rank: 8, targetModules: 0x7f }), undefined);
    assert.equal(
      loraMismatch(terms, { rank: 16, targetModules: 0b11 }),
      "rank 8 in its config, 16 on chain; targets q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj in its config, q_proj,k_proj on chain",
    );
    assert.throws(
      () => parseLoraConfig(new TextEncoder().encode('{"r":8,"target_modules":"all-linear"}'), "b"),
      (e: ArtifactError) => e.code === "adapter_config_invalid",
    );
  });
});
