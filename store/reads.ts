/**
 * GET and HEAD: objects streamed from disk. Reads are public, and an object never changes once stored, so its
 * name is its ETag and any cache may keep it for a year.
 */
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import { storeNameForm } from "../attribution/src/index.ts";
import { StoreError } from "./errors.ts";
import type { ObjectDirectory } from "./objects.ts";
import { requestedRange } from "./ranges.ts";

/** Bytes read from disk at a time: large reads move large objects with few syscalls and event-loop turns. */
const readChunkBytes = 1024 * 1024;

/** Up to this size an object (or range) is read in one go and sent whole: setting up a stream costs more. */
const wholeReadBytes = 64 * 1024;

export const badName = (name: string) =>
  new StoreError(400, "bad_name", `"${name}" is not an object name: <sha256 hex>, record-<hex> or usage-<hex>`);

/** Whether If-None-Match names `etag` (or is "*"): the client already has these exact bytes. */
function matchesETag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.trim() === "*" || header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag);
}

async function openObject(objects: ObjectDirectory, name: string): Promise<FileHandle> {
  try {
    return await open(objects.pathOf(name), "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT")
      throw new StoreError(404, "not_found", `no object ${name} in this store`);
    throw error;
  }
}

export async function serveObject(
  objects: ObjectDirectory,
  name: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  if (storeNameForm(name) === undefined) throw badName(name);
  const handle = await openObject(objects, name);
  let streaming = false;
  try {
    const { size } = await handle.stat();
    const etag = `"${name}"`;
    const headers = {
      etag,
      "cache-control": "public, max-age=31536000, immutable",
      "accept-ranges": "bytes",
    };
    if (matchesETag(request.headers["if-none-match"], etag)) {
      response.writeHead(304, headers).end();
      return;
    }
    const range = requestedRange(request.headers.range, size);
    if (range === "unsatisfiable")
      throw new StoreError(416, "range_not_satisfiable", `${name} has ${size} bytes`, {
        headers: { "content-range": `bytes */${size}` },
      });
    const { start, end } = range ?? { start: 0, end: size - 1 };
    response.writeHead(range ? 206 : 200, {
      ...headers,
      "content-type": "application/octet-stream",
      "content-length": end - start + 1,
      ...(range && { "content-range": `bytes ${start}-${end}/${size}` }),
    });
    if (request.method === "HEAD" || size === 0) {
      response.end();
      return;
    }
    const length = end - start + 1;
    if (length <= wholeReadBytes) {
      const { buffer, bytesRead } = await handle.read(Buffer.allocUnsafe(length), 0, length, start);
      // A file shorter than its stat said (a damaged disk) is cut off, never padded to look whole.
      if (bytesRead < length) response.destroy();
      else response.end(buffer);
      return;
    }
    streaming = true;
    // The read stream closes the handle when it ends or the client goes away.
    await pipeline(handle.createReadStream({ start, end, highWaterMark: readChunkBytes }), response);
  } finally {
    if (!streaming) await handle.close();
  }
}
