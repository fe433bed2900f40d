import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  createDirectoryContentStore,
  createHttpContentStore,
  getContent,
  putContent,
  sha256Hex,
} from "./contentStore.ts";
import {
  ContentHashMismatchError,
  ContentNotFoundError,
  ContentStoreRequestError,
  InvalidContentHashError,
} from "./errors.ts";

const text = new TextEncoder().encode("The quick brown fox jumps over the lazy dog");
// Known vector: sha256("The quick brown fox jumps over the lazy dog").
const textHash = "0xd7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592";

test("sha256Hex matches the known vector", () => {
  assert.equal(sha256Hex(text), textHash);
});

describe("directory content store", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "openpoa-content-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("put then get round-trips under the hex sha256 file name", async () => {
    const store = createDirectoryContentStore({ dir });
    assert.equal(await putContent(store, { content: text }), textHash);
    assert.deepEqual(await readFile(join(dir, textHash.slice(2))), Buffer.from(text));
    assert.deepEqual(Buffer.from(await getContent(store, { contentHash: textHash })), Buffer.from(text));
  });

  test("a corrupted file is rejected on read", async () => {
    const store = createDirectoryContentStore({ dir });
    await putContent(store, { content: text });
    await writeFile(join(dir, textHash.slice(2)), "The quick brown fox jumps over the lazy cat");
    await assert.rejects(getContent(store, { contentHash: textHash }), ContentHashMismatchError);
  });

  test("missing content and malformed hashes are typed errors", async () => {
    const store = createDirectoryContentStore({ dir });
    await assert.rejects(getContent(store, { contentHash: `0x${"ab".repeat(32)}` }), ContentNotFoundError);
    await assert.rejects(getContent(store, { contentHash: "0x1234" }), InvalidContentHashError);
  });
});

describe("HTTP content store (real node:http server on 127.0.0.1)", () => {
  const files = new Map<string, Buffer>();
  let server: Server;
  let baseUrl: string;
  before(async () => {
    server = createServer((request, response) => {
      const name = (request.url ?? "").replace(/^\/content\//, "");
      if (request.method === "PUT") {
        const chunks: Buffer[] = [];
        request.on("data", (chunk: Buffer) => chunks.push(chunk));
        request.on("end", () => {
          files.set(name, Buffer.concat(chunks));
          response.writeHead(201).end();
        });
        return;
      }
      // Never answers, or sends the headers and part of a body, then nothing.
      if (name === "silent") return;
      if (name === "stalled") return void response.writeHead(200).write("part");
      const body = files.get(name);
      if (body === undefined) response.writeHead(404).end();
      else response.writeHead(200, { "content-type": "application/octet-stream" }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/content/`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  test("put then get round-trips", async () => {
    const store = createHttpContentStore({ baseUrl });
    assert.equal(await putContent(store, { content: text }), textHash);
    assert.deepEqual(files.get(textHash.slice(2)), Buffer.from(text));
    assert.deepEqual(Buffer.from(await getContent(store, { contentHash: textHash })), Buffer.from(text));
  });

  test("a server returning other bytes is rejected", async () => {
    const store = createHttpContentStore({ baseUrl });
    files.set(textHash.slice(2), Buffer.from("tampered"));
    await assert.rejects(getContent(store, { contentHash: textHash }), (error: unknown) => {
      assert.ok(error instanceof ContentHashMismatchError);
      assert.equal(error.actual, sha256Hex(new TextEncoder().encode("tampered")));
      return true;
    });
  });

  test("a store that stops answering is a ContentStoreRequestError after timeoutMs", async () => {
    const store = createHttpContentStore({ baseUrl, timeoutMs: 200 });
    for (const name of ["silent", "stalled"]) {
      const started = Date.now();
      await assert.rejects(store.read(name), ContentStoreRequestError);
      assert.ok(Date.now() - started < 5_000, name);
    }
  });

  test("404 is ContentNotFoundError", async () => {
    const store = createHttpContentStore({ baseUrl });
    await assert.rejects(getContent(store, { contentHash: `0x${"cd".repeat(32)}` }), ContentNotFoundError);
  });
});
