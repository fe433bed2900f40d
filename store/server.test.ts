import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createPublicClient, http, keccak256, numberToBytes, zeroHash, type Hex, type LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  ContentHashMismatchError,
  ContentNotFoundError,
  ContentSizeMismatchError,
  ContentStoreRejectedError,
  ContentStoreRequestError,
  contentStoreAt,
  createDirectoryContentStore,
  createHttpContentStore,
  downloadVerified,
  encodeAttributionRecord,
  getAttributionRecord,
  getContent,
  hashAttributionRecord,
  putAttributionRecord,
  putContent,
  recordFileName,
  sessionWriteHeaders,
  signedWriteHeaders,
  signWriteSession,
  storeKindOf,
  uploadFile,
  type StoreKind,
} from "../attribution/src/index.ts";
import { makeEpochFixture } from "../attribution/src/epochFixture.ts";
import { keys, OPEN, type TestChain } from "../inference/gateway/testSupport.ts";
import { silentLogger } from "../inference/gateway/log.ts";
import { domainSeparator, receiptDigest, receiptDomain, type Receipt } from "../inference/sdk/eip712.ts";
import {
  encodeUsageBatch,
  usageBatchFileName,
  usageBatchFormat,
  usageLeaf,
  UsageTree,
  type UsageBatch,
} from "../inference/sdk/usage.ts";
import { repoRoot } from "../scripts/lib/localChain.ts";
import { startService } from "../scripts/lib/services.ts";
import { chainWritePolicy } from "./policy.ts";
import { startStoreServer, type StoreServer } from "./server.ts";
import { startStoreTestChain, testChainPolicy } from "./testSupport.ts";

const sha256Name = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const account = (key: Hex) => privateKeyToAccount(key);
const alice = account(keys.alice);
const bob = account(keys.bob);
const carol = account(keys.carol);
const attestor = account(keys.deployer);

/** A usage batch of `count` receipts signed by bob, from the channel's start, and its name. */
async function usageBatch(count: number, payments: Hex): Promise<{ name: string; bytes: Uint8Array }> {
  const separator = domainSeparator(receiptDomain(31337, payments));
  const tree = new UsageTree();
  const receipts = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const receipt: Receipt = {
        requestId: keccak256(numberToBytes(i, { size: 32 })),
        channelId: 1n,
        position: BigInt(i),
        adapterId: 1n,
        promptTokens: 3n,
        completionTokens: 7n,
        amount: 1_000n,
        completionHash: keccak256(numberToBytes(i, { size: 8 })),
        attributionHash: zeroHash,
        timestamp: 1_800_000_000n,
        rulesVersion: 1n,
      };
      const digest = receiptDigest(separator, receipt);
      tree.append(usageLeaf(digest, "accepted"));
      return { receipt, signature: await bob.sign({ hash: digest }), status: "accepted" as const };
    }),
  );
  const batch: UsageBatch = {
    format: usageBatchFormat,
    chainId: 31337,
    payments,
    channelId: 1n,
    from: 0,
    frontier: [],
    previousUsageRoot: zeroHash,
    usageRoot: tree.root(),
    receipts,
  };
  return { name: usageBatchFileName(batch.usageRoot), bytes: new TextEncoder().encode(encodeUsageBatch(batch)) };
}

type PutOptions = {
  signer?: LocalAccount | null;
  kind?: StoreKind;
  time?: number;
  signedSize?: number;
  headers?: Record<string, string>;
};

/** A PUT signed (by alice unless told) over exactly this write, unless the options change part of it. */
async function put(baseUrl: string, name: string, bytes: Uint8Array, options: PutOptions = {}) {
  const kind = options.kind ?? storeKindOf(name);
  const signer = options.signer === undefined ? alice : options.signer;
  const size = options.signedSize ?? bytes.length;
  const signed = signer
    ? await signedWriteHeaders(signer, { name, kind, size, time: options.time })
    : { "x-openpoa-kind": kind };
  return fetch(`${baseUrl}/${name}`, {
    method: "PUT",
    body: Buffer.from(bytes),
    headers: { ...signed, ...options.headers },
  });
}

async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  assert.equal(response.headers.get("content-type"), "application/json");
  return ((await response.json()) as { error: { code: string; message: string } }).error;
}

/** What a test's directory holds besides objects: temporaries a failed upload must not leave. */
const temporaries = async (dir: string) => (await readdir(dir)).filter((file) => file.startsWith("."));

/** Whether `condition` holds within two seconds. */
async function eventually(condition: () => Promise<boolean>): Promise<boolean> {
  for (const deadline = Date.now() + 2_000; Date.now() < deadline; await sleep(5)) if (await condition()) return true;
  return false;
}

/** A one-route HTTP server answering every request with `handler`. */
async function tinyServer(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe("content store server, on a local chain with the suite deployed", () => {
  let tc: TestChain;
  let store: StoreServer;
  let dir: string;
  const scratch = mkdtempSync(path.join(tmpdir(), "openpoa-store-test-"));
  const closers: (() => Promise<unknown>)[] = [];
  /** The messages `store` logged. */
  const logged: string[] = [];

  /** Another store server for one test, stopped with the suite. */
  const startAnother = async (options: Partial<Parameters<typeof startStoreServer>[0]> = {}) => {
    const server = await startStoreServer({
      dir: mkdtempSync(path.join(scratch, "dir-")),
      port: 0,
      policy: testChainPolicy(tc),
      log: silentLogger,
      ...options,
    });
    closers.push(server.close);
    return server;
  };

  before(async () => {
    tc = await startStoreTestChain(17_000 + (process.pid % 500));
    dir = path.join(scratch, "objects");
    store = await startStoreServer({ dir, port: 0, policy: testChainPolicy(tc), log: (_, msg) => logged.push(msg) });
  });
  after(async () => {
    await store?.close();
    for (const close of closers) await close().catch(() => {});
    await tc?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("test_put_storesRawObjectsThatGetReturnsByteForByte", async () => {
    const writer = createHttpContentStore({ baseUrl: store.url, signer: alice });
    const content = randomBytes(5_000);
    const contentHash = await putContent(writer, { content });
    assert.deepEqual(await readFile(path.join(dir, contentHash.slice(2))), content);
    assert.deepEqual(
      Buffer.from(await getContent(createHttpContentStore({ baseUrl: store.url }), { contentHash })),
      content,
    );
  });

  it("test_cors_answersCrossOriginReadsAndPreflightsOfSignedWrites", async () => {
    const contentHash = await putContent(createHttpContentStore({ baseUrl: store.url, signer: alice }), {
      content: randomBytes(64),
    });
    const origin = "http://studio.example";
    const read = await fetch(`${store.url}/${contentHash.slice(2)}`, { headers: { origin } });
    assert.equal(read.status, 200);
    assert.equal(read.headers.get("access-control-allow-origin"), "*");
    assert.match(read.headers.get("access-control-expose-headers") ?? "", /etag/);
    const preflight = await fetch(`${store.url}/${"ab".repeat(32)}`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "PUT",
        "access-control-request-headers": "x-openpoa-kind, x-openpoa-signer, x-openpoa-time, x-openpoa-signature",
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
    assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /PUT/);
    for (const header of ["x-openpoa-kind", "x-openpoa-signer", "x-openpoa-time", "x-openpoa-signature"])
      assert.match(preflight.headers.get("access-control-allow-headers") ?? "", new RegExp(header));
    const refused = await fetch(`${store.url}/${"cd".repeat(32)}`, { method: "PUT", headers: { origin }, body: "x" });
    assert.ok(refused.status >= 400 && refused.status < 500, String(refused.status));
    assert.equal(refused.headers.get("access-control-allow-origin"), "*", "a refusal is readable cross-origin too");
  });

  it("test_put_storesAttributionRecordsUnderTheirAttributionHash", async () => {
    const record = makeEpochFixture().records[0]!;
    const attributionHash = await putAttributionRecord(createHttpContentStore({ baseUrl: store.url, signer: bob }), {
      record,
    });
    assert.deepEqual(
      await getAttributionRecord(createHttpContentStore({ baseUrl: store.url }), { attributionHash }),
      record,
    );
  });

  it("test_put_storesUsageBatchesUnderTheirRecomputedRoot", async () => {
    const { name, bytes } = await usageBatch(5, tc.contracts.InferencePayments);
    const response = await put(store.url, name, bytes, { signer: bob });
    assert.equal(response.status, 201, JSON.stringify(await response.clone().json()));
    assert.deepEqual(await readFile(path.join(dir, name)), Buffer.from(bytes));
  });

  it("test_put_rejectsBytesThatDoNotHashToTheName", async () => {
    const name = sha256Name(randomBytes(100));
    const lie = randomBytes(100);
    const response = await put(store.url, name, lie);
    assert.equal(response.status, 422);
    const error = await errorOf(response);
    assert.equal(error.code, "hash_mismatch");
    assert.match(error.message, new RegExp(`expected 0x${name} got 0x${sha256Name(lie)}`));
    assert.equal(existsSync(path.join(dir, name)), false);
    assert.deepEqual(await temporaries(dir), []);
  });

  it("test_put_rejectsRecordsAndBatchesThatDoNotHashToTheirName", async () => {
    // The fixture's second record is stored by no other test; its first is the lie.
    const [other, record] = makeEpochFixture().records;
    const otherBytes = new TextEncoder().encode(encodeAttributionRecord(other!));
    const recordName = recordFileName(hashAttributionRecord(record!));
    const lyingRecord = await put(store.url, recordName, otherBytes, { signer: bob });
    assert.equal(lyingRecord.status, 422);
    assert.match((await errorOf(lyingRecord)).message, new RegExp(`got ${hashAttributionRecord(other!)}`));

    const batch = await usageBatch(3, tc.contracts.InferencePayments);
    const longer = await usageBatch(4, tc.contracts.InferencePayments);
    const lyingBatch = await put(store.url, batch.name, longer.bytes, { signer: bob });
    assert.equal(lyingBatch.status, 422);
    assert.equal((await errorOf(lyingBatch)).code, "hash_mismatch");

    const garbage = await put(store.url, batch.name, new TextEncoder().encode("{not json"), { signer: bob });
    assert.equal(garbage.status, 422);
    assert.equal((await errorOf(garbage)).code, "malformed_object");
    for (const name of [recordName, batch.name]) assert.equal(existsSync(path.join(dir, name)), false);
  });

  it("test_put_keepsNothingOfAnUploadTheClientAbandons", async () => {
    const bytes = randomBytes(4 * 1024 * 1024);
    const name = sha256Name(bytes);
    const headers = await signedWriteHeaders(alice, { name, kind: "contribution", size: bytes.length });
    const upload = request(`${store.url}/${name}`, {
      method: "PUT",
      headers: { ...headers, "content-length": bytes.length },
    });
    upload.on("error", () => {});
    upload.write(bytes.subarray(0, 1024 * 1024), () => setTimeout(() => upload.destroy(), 100));
    assert.ok(await eventually(async () => (await temporaries(dir)).length > 0), "the upload was being written");
    // The server notices the hang-up and removes the temporary file.
    assert.ok(await eventually(async () => (await temporaries(dir)).length === 0), "the temporary file is removed");
    assert.equal(existsSync(path.join(dir, name)), false);
  });

  it("test_put_refusesBodiesOverTheKindsLimit_declaredOrCounted", async () => {
    const small = await startAnother({ limits: { contribution: 1024 } });
    const bytes = randomBytes(4096);
    const name = sha256Name(bytes);
    const declared = await put(small.url, name, bytes);
    assert.equal(declared.status, 413);
    assert.equal((await errorOf(declared)).code, "too_large");

    // Chunked, signed "size: chunked": no Content-Length to refuse up front, so the count while streaming does.
    const signedChunked = await fetch(`${small.url}/${name}`, {
      method: "PUT",
      body: new Blob([bytes]).stream(),
      duplex: "half",
      headers: await signedWriteHeaders(alice, { name, kind: "contribution", size: "chunked" }),
    } as RequestInit);
    assert.equal(signedChunked.status, 413);
    assert.equal((await errorOf(signedChunked)).code, "too_large");

    const smallDir = (await readdir(scratch)).filter((entry) => entry.startsWith("dir-"));
    for (const entry of smallDir) assert.deepEqual(await readdir(path.join(scratch, entry)), []);
  });

  it("test_put_refusesUnsignedStaleAndForeignSignatures", async () => {
    const bytes = randomBytes(64);
    const name = sha256Name(bytes);
    const unsigned = await put(store.url, name, bytes, { signer: null });
    assert.equal(unsigned.status, 401);
    assert.equal((await errorOf(unsigned)).code, "unsigned");

    const stale = await put(store.url, name, bytes, { time: Math.floor(Date.now() / 1000) - 400 });
    assert.equal(stale.status, 401);
    assert.equal((await errorOf(stale)).code, "stale_time");

    // Signed for another size: the signature does not cover this write.
    const other = await put(store.url, name, bytes, { signedSize: 65 });
    assert.equal(other.status, 401);
    assert.equal((await errorOf(other)).code, "bad_signature");

    // Alice's signature presented as bob's.
    const claimed = await put(store.url, name, bytes, { headers: { "x-openpoa-signer": bob.address } });
    assert.equal(claimed.status, 401);
    assert.equal(existsSync(path.join(dir, name)), false);
  });

  it("test_put_acceptsEveryWriteOfASession_andNothingItDoesNotList", async () => {
    const files = [randomBytes(300), randomBytes(500)];
    const writes = files.map((bytes) => ({ name: sha256Name(bytes), kind: "artifact" as const, size: bytes.length }));
    // One signature, as a wallet gives it once for a whole artifact.
    const session = await signWriteSession(alice, writes);
    const putIn = (name: string, bytes: Uint8Array, headers = sessionWriteHeaders(session, name)) =>
      fetch(`${store.url}/${name}`, { method: "PUT", body: Buffer.from(bytes), headers });
    for (const [i, bytes] of files.entries()) {
      const response = await putIn(writes[i]!.name, bytes);
      assert.equal(response.status, 201, JSON.stringify(await response.clone().json()));
      assert.equal(((await response.json()) as { signer: string }).signer, alice.address);
      assert.deepEqual(await readFile(path.join(dir, writes[i]!.name)), bytes);
    }

    // A write the session does not list, under its headers.
    const extra = randomBytes(300);
    const unlisted = await putIn(sha256Name(extra), extra, sessionWriteHeaders(session, writes[0]!.name));
    assert.equal(unlisted.status, 401);
    assert.equal((await errorOf(unlisted)).code, "not_in_session");
    // The list changed after signing: the signature no longer covers it.
    const widened = sessionWriteHeaders(
      { ...session, writes: [...writes, { ...writes[0]!, size: 1 }] },
      writes[1]!.name,
    );
    const forged = await putIn(writes[1]!.name, files[1]!, widened);
    assert.equal(forged.status, 401);
    assert.equal((await errorOf(forged)).code, "bad_signature");
    const garbled = await putIn(writes[1]!.name, files[1]!, {
      ...sessionWriteHeaders(session, writes[1]!.name),
      "x-openpoa-session": "not a list",
    });
    assert.equal(garbled.status, 401);
    assert.equal((await errorOf(garbled)).code, "bad_session");
    // A session is as old as its time: a stale one admits nothing.
    const old = await signWriteSession(alice, writes, Math.floor(Date.now() / 1000) - 400);
    const stale = await putIn(writes[0]!.name, files[0]!, sessionWriteHeaders(old, writes[0]!.name));
    assert.equal((await errorOf(stale)).code, "stale_time");
    assert.equal(existsSync(path.join(dir, sha256Name(extra))), false);
  });

  it("test_put_refusesSignersTheChainDoesNotAdmit", async () => {
    const stranger = account(generatePrivateKey());
    const bytes = randomBytes(64);
    const refused = await put(store.url, sha256Name(bytes), bytes, { signer: stranger });
    assert.equal(refused.status, 403);
    const error = await errorOf(refused);
    assert.equal(error.code, "not_admitted");
    assert.match(error.message, new RegExp(`${stranger.address} may not write contribution objects`));

    // Half an OPEN is below the 1 OPEN that admits a holder.
    const poor = account(generatePrivateKey());
    await tc.send(keys.alice, tc.contracts.OpenToken, "OpenToken", "transfer", [poor.address, OPEN / 2n]);
    assert.equal((await put(store.url, sha256Name(bytes), bytes, { signer: poor })).status, 403);
  });

  it("test_put_admitsEachRoleForTheKindsItMayWrite", async () => {
    // An adapter owner holding nothing else: carol gives adapter 1 to a fresh account.
    const owner = account(generatePrivateKey());
    await tc.send(keys.carol, tc.contracts.ModelRegistry, "ModelRegistry", "transferFrom", [
      carol.address,
      owner.address,
      1n,
    ]);
    const cases: [string, LocalAccount, StoreKind][] = [
      ["attestor", attestor, "distribution"],
      ["adapter owner", owner, "contribution"],
      ["OPEN holder", alice, "artifact"],
      ["operator", bob, "contribution"],
    ];
    for (const [role, signer, kind] of cases) {
      const bytes = randomBytes(200);
      const response = await put(store.url, sha256Name(bytes), bytes, { signer, kind });
      assert.equal(response.status, 201, `${role} writes ${kind}: ${await response.text()}`);
    }
    // The way the CLI publishes a distribution file: contentStoreAt with its account and the kind.
    const distribution = new TextEncoder().encode(`{"epoch":${Date.now()}}`);
    const writer = contentStoreAt(store.url, { signer: attestor, kind: "distribution" });
    const contentHash = await putContent(writer, { content: distribution });
    assert.ok(existsSync(path.join(dir, contentHash.slice(2))));
    await assert.rejects(
      putContent(contentStoreAt(store.url, { signer: alice, kind: "distribution" }), { content: randomBytes(9) }),
      (error) => error instanceof ContentStoreRejectedError && error.status === 403 && error.code === "not_admitted",
    );
  });

  it("test_put_refusesKindsTheSignersRolesDoNotCover", async () => {
    const bytes = randomBytes(200);
    const distribution = await put(store.url, sha256Name(bytes), bytes, { signer: alice, kind: "distribution" });
    assert.equal(distribution.status, 403);
    assert.match((await errorOf(distribution)).message, new RegExp(`${alice.address} may not write distribution`));
    const record = makeEpochFixture().records[0]!;
    const recordBytes = new TextEncoder().encode(encodeAttributionRecord(record));
    const name = recordFileName(hashAttributionRecord(record));
    assert.equal((await put(store.url, name, recordBytes, { signer: carol })).status, 403);
    const batch = await usageBatch(2, tc.contracts.InferencePayments);
    assert.equal((await put(store.url, batch.name, batch.bytes, { signer: attestor })).status, 403);
  });

  it("test_put_refusesKindsThatDoNotMatchTheName", async () => {
    const bytes = randomBytes(10);
    const asRecord = await put(store.url, sha256Name(bytes), bytes, { signer: bob, kind: "record" });
    assert.equal(asRecord.status, 400);
    assert.equal((await errorOf(asRecord)).code, "kind_mismatch");
    const batch = await usageBatch(1, tc.contracts.InferencePayments);
    const asContribution = await put(store.url, batch.name, batch.bytes, { kind: "contribution" });
    assert.equal(asContribution.status, 400);
    const badName = await put(store.url, "ABC", bytes);
    assert.equal(badName.status, 400);
    assert.equal((await errorOf(badName)).code, "bad_name");
  });

  it("test_get_servesSingleRangesAndRefusesUnsatisfiableOnes", async () => {
    const bytes = randomBytes(1000);
    const name = sha256Name(bytes);
    assert.equal((await put(store.url, name, bytes)).status, 201);
    const ranged = async (range: string) => fetch(`${store.url}/${name}`, { headers: { range } });
    for (const [range, start, end] of [
      ["bytes=10-19", 10, 19],
      ["bytes=990-", 990, 999],
      ["bytes=-5", 995, 999],
      ["bytes=900-5000", 900, 999],
    ] as const) {
      const response = await ranged(range);
      assert.equal(response.status, 206, range);
      assert.equal(response.headers.get("content-range"), `bytes ${start}-${end}/1000`);
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), bytes.subarray(start, end + 1));
    }
    const unsatisfiable = await ranged("bytes=1000-");
    assert.equal(unsatisfiable.status, 416);
    assert.equal(unsatisfiable.headers.get("content-range"), "bytes */1000");
    assert.equal((await errorOf(unsatisfiable)).code, "range_not_satisfiable");
    // Several ranges at once: the whole object, as RFC 9110 allows.
    assert.equal((await ranged("bytes=0-1,5-6")).status, 200);
    // A range too long to read in one go is streamed.
    const large = randomBytes(200_000);
    const largeName = sha256Name(large);
    assert.equal((await put(store.url, largeName, large)).status, 201);
    const streamed = await fetch(`${store.url}/${largeName}`, { headers: { range: "bytes=100-150099" } });
    assert.equal(streamed.status, 206);
    assert.deepEqual(Buffer.from(await streamed.arrayBuffer()), large.subarray(100, 150_100));
  });

  it("test_get_marksObjectsImmutableAndAnswers304ToTheirETag", async () => {
    const bytes = randomBytes(300);
    const name = sha256Name(bytes);
    await put(store.url, name, bytes);
    const response = await fetch(`${store.url}/${name}`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("etag"), `"${name}"`);
    assert.equal(response.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.equal(response.headers.get("accept-ranges"), "bytes");
    assert.equal(response.headers.get("content-length"), "300");
    await response.arrayBuffer();
    const cached = await fetch(`${store.url}/${name}`, { headers: { "if-none-match": `"other", "${name}"` } });
    assert.equal(cached.status, 304);
    const missing = await fetch(`${store.url}/${sha256Name(randomBytes(8))}`);
    assert.equal(missing.status, 404);
    assert.equal((await errorOf(missing)).code, "not_found");
  });

  it("test_head_answersTheHeadersOfGetWithoutABody", async () => {
    const bytes = randomBytes(777);
    const name = sha256Name(bytes);
    await put(store.url, name, bytes);
    const head = await fetch(`${store.url}/${name}`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), "777");
    assert.equal(head.headers.get("etag"), `"${name}"`);
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    assert.equal((await fetch(`${store.url}/${sha256Name(randomBytes(8))}`, { method: "HEAD" })).status, 404);
  });

  it("test_put_ofAStoredObjectAnswers200AndLeavesTheFileAlone", async () => {
    const bytes = randomBytes(2000);
    const name = sha256Name(bytes);
    assert.equal((await put(store.url, name, bytes)).status, 201);
    const before = await stat(path.join(dir, name));
    const again = await put(store.url, name, bytes);
    assert.equal(again.status, 200);
    assert.equal(((await again.json()) as { created: boolean }).created, false);
    const after = await stat(path.join(dir, name));
    assert.deepEqual([after.ino, after.mtimeMs], [before.ino, before.mtimeMs]);
    // A re-PUT is still checked: other bytes under a stored name are refused, not waved through.
    assert.equal((await put(store.url, name, randomBytes(2000))).status, 422);
  });

  it("test_put_concurrentUploadsOfOneObjectCreateItExactlyOnce", async () => {
    const bytes = randomBytes(256 * 1024);
    const name = sha256Name(bytes);
    const statuses = await Promise.all(Array.from({ length: 16 }, () => put(store.url, name, bytes))).then((all) =>
      all.map((response) => response.status),
    );
    assert.deepEqual(
      statuses.toSorted((a, b) => a - b),
      [...Array<number>(15).fill(200), 201],
    );
    assert.deepEqual(await readFile(path.join(dir, name)), bytes);
    assert.deepEqual(await temporaries(dir), []);
  });

  it("test_uploadFile_andDownloadVerified_stream20MBUpAndDown", async () => {
    const file = path.join(scratch, "artifact.bin");
    const bytes = randomBytes(20 * 1024 * 1024);
    await writeFile(file, bytes);
    const { sha256, size } = await uploadFile({ baseUrl: store.url, signer: alice, file, kind: "artifact" });
    assert.equal(size, bytes.length);
    assert.equal(sha256, `0x${sha256Name(bytes)}`);
    const destination = path.join(scratch, "downloaded.bin");
    await downloadVerified({ url: `${store.url}/${sha256.slice(2)}`, sha256, size, destination });
    assert.ok((await readFile(destination)).equals(bytes));
    const missing = `0x${sha256Name(randomBytes(8))}` as const;
    await assert.rejects(
      downloadVerified({ url: `${store.url}/${missing.slice(2)}`, sha256: missing, destination: `${destination}2` }),
      ContentNotFoundError,
    );
    assert.equal(existsSync(`${destination}2`), false);
    // Uploading it again sends nothing: the store already has it.
    const reuploads = () => logged.filter((msg) => msg === "object already stored").length;
    const before = reuploads();
    assert.deepEqual(await uploadFile({ baseUrl: store.url, signer: alice, file, kind: "artifact" }), { sha256, size });
    assert.equal(reuploads(), before);
  });

  it("test_uploadFile_surfacesTheStoresRefusalAsATypedError", async () => {
    const file = path.join(scratch, "refused.bin");
    await writeFile(file, randomBytes(100));
    const stranger = account(generatePrivateKey());
    await assert.rejects(uploadFile({ baseUrl: store.url, signer: stranger, file, kind: "artifact" }), (error) => {
      assert.ok(error instanceof ContentStoreRejectedError);
      assert.deepEqual([error.status, error.code], [403, "not_admitted"]);
      return true;
    });
  });

  it("test_downloadVerified_refusesAServerThatSendsOtherBytes", async () => {
    const wanted = randomBytes(4096);
    const liar = await tinyServer((_, response) => response.end(randomBytes(4096)));
    closers.push(() => new Promise((resolve) => liar.server.close(resolve)));
    const destination = path.join(scratch, "lied.bin");
    await assert.rejects(
      downloadVerified({ url: `${liar.url}/x`, sha256: `0x${sha256Name(wanted)}`, size: 4096, destination }),
      ContentHashMismatchError,
    );
    assert.equal(existsSync(destination), false);
    assert.equal(existsSync(`${destination}.partial`), false);
  });

  it("test_downloadVerified_refusesATruncatedBody", async () => {
    const wanted = randomBytes(64 * 1024);
    // Promises the whole object, sends half, hangs up.
    const cutter = await tinyServer((_, response) => {
      response.writeHead(200, { "content-length": wanted.length });
      response.write(wanted.subarray(0, wanted.length / 2), () => response.destroy());
    });
    // Sends half in a valid chunked body: only the expected size catches it.
    const short = await tinyServer((_, response) => response.end(wanted.subarray(0, wanted.length / 2)));
    closers.push(() => new Promise((resolve) => cutter.server.close(resolve)));
    closers.push(() => new Promise((resolve) => short.server.close(resolve)));
    const destination = path.join(scratch, "cut.bin");
    const sha256 = `0x${sha256Name(wanted)}` as const;
    await assert.rejects(
      downloadVerified({ url: `${cutter.url}/x`, sha256, destination }),
      (error) => error instanceof ContentStoreRequestError && !(error instanceof ContentStoreRejectedError),
    );
    await assert.rejects(
      downloadVerified({ url: `${short.url}/x`, sha256, size: wanted.length, destination }),
      ContentSizeMismatchError,
    );
    assert.equal(existsSync(destination), false);
    assert.equal(existsSync(`${destination}.partial`), false);
  });

  it("test_server_keepsObjectsAcrossARestartAndServesADirectoryStoresFiles", async () => {
    const restartDir = mkdtempSync(path.join(scratch, "restart-"));
    const first = await startStoreServer({ dir: restartDir, port: 0, policy: testChainPolicy(tc), log: silentLogger });
    const bytes = randomBytes(1234);
    const name = sha256Name(bytes);
    assert.equal((await put(first.url, name, bytes)).status, 201);
    await first.close();
    // Written straight into the directory while the server is down, as the directory store does.
    const offline = randomBytes(99);
    const offlineHash = await putContent(createDirectoryContentStore({ dir: restartDir }), { content: offline });
    const second = await startAnother({ dir: restartDir });
    const reader = createHttpContentStore({ baseUrl: second.url });
    assert.deepEqual(Buffer.from(await getContent(reader, { contentHash: `0x${name}` })), bytes);
    assert.deepEqual(Buffer.from(await getContent(reader, { contentHash: offlineHash })), offline);
  });

  it("test_put_answers503WhenTheChainCannotBeRead", async () => {
    const blind = await startAnother({ policy: testChainPolicy(tc, { rpcUrl: "http://127.0.0.1:1" }) });
    const bytes = randomBytes(10);
    const response = await put(blind.url, sha256Name(bytes), bytes);
    assert.equal(response.status, 503);
    assert.equal((await errorOf(response)).code, "chain_unavailable");
  });

  it("test_policy_readsAnAddresssRolesOnceForABurst", async () => {
    let requests = 0;
    const { OpenToken, ModelRegistry, NodeRegistry, AttributionRewards } = tc.contracts;
    const policy = chainWritePolicy({
      client: createPublicClient({ transport: http(tc.chain.url, { onFetchRequest: () => void requests++ }) }),
      contracts: { OpenToken, ModelRegistry, NodeRegistry, AttributionRewards },
      minBalance: OPEN,
    });
    await Promise.all(Array.from({ length: 10 }, () => policy.admit(alice.address, "contribution")));
    await policy.admit(alice.address, "artifact");
    // attestor, operator, adapters, OPEN balance: one read each.
    assert.equal(requests, 4);
  });

  it("test_main_servesTheStoreWithTheNamedNetworksSuite", async () => {
    const deployments = mkdtempSync(path.join(scratch, "deployments-"));
    const contracts = Object.fromEntries(
      Object.entries(tc.contracts).map(([name, address]) => [name, { address, startBlock: 0 }]),
    );
    writeFileSync(path.join(deployments, "storetest.json"), JSON.stringify({ chainId: 31337, contracts }));
    const port = 17_500 + (process.pid % 500);
    const main = await startService({
      name: "npm run store",
      command: process.execPath,
      args: ["store/main.ts"],
      cwd: repoRoot,
      env: {
        ...process.env,
        OPENPOA_DEPLOYMENTS_DIR: deployments,
        OPENPOA_NETWORK: "storetest",
        OPENPOA_RPC_URL: tc.chain.url,
        OPENPOA_STORE_DIR: path.join(scratch, "main"),
        OPENPOA_STORE_PORT: String(port),
        OPENPOA_STORE_MAX_CONTRIBUTION_BYTES: "100",
      },
      ready: async () => (await fetch(`http://127.0.0.1:${port}/${"0".repeat(64)}`)).status === 404,
    });
    closers.push(main.stop);
    const bytes = randomBytes(100);
    assert.equal((await put(`http://127.0.0.1:${port}`, sha256Name(bytes), bytes)).status, 201);
    const stranger = account(generatePrivateKey());
    assert.equal((await put(`http://127.0.0.1:${port}`, sha256Name(bytes), bytes, { signer: stranger })).status, 403);
    const tooLarge = randomBytes(101);
    assert.equal((await put(`http://127.0.0.1:${port}`, sha256Name(tooLarge), tooLarge)).status, 413);
    assert.match(main.output(), /"msg":"object stored"/);
    await main.stop();
    assert.equal(main.process.exitCode, 0);
  });

  it("test_main_exitsWith2NamingABadPort", () => {
    const run = spawnSync(process.execPath, ["store/main.ts"], {
      cwd: repoRoot,
      env: { ...process.env, OPENPOA_STORE_DIR: scratch, OPENPOA_STORE_PORT: "80a" },
      encoding: "utf8",
    });
    assert.equal(run.status, 2);
    assert.equal(run.stderr.trim().split("\n").length, 1);
    assert.match(run.stderr, /OPENPOA_STORE_PORT must be a TCP port/);
  });
});
