/**
 * Large objects to and from a content store without holding them in memory: `uploadFile` hashes a file by streaming
 * it, then streams it up; `downloadVerified` streams an object down beside its destination and moves it into place
 * only once its sha256 (and size) are right, so a lying or broken server never leaves a file that looks complete.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { pipeline } from "node:stream/promises";
import type { Hex, LocalAccount } from "viem";
import { contentFileName, rejectionOf } from "./contentStore.ts";
import {
  BaseError,
  ContentHashMismatchError,
  ContentNotFoundError,
  ContentSizeMismatchError,
  ContentStoreRequestError,
} from "./errors.ts";
import { Sha256Meter } from "./sha256Meter.ts";
import { sessionWriteHeaders, signedWriteHeaders, type SignedWriteSession, type StoreKind } from "./storeAuth.ts";

/** The kinds a raw, sha256-named file can be (records and usage batches are small and written whole). */
export type RawStoreKind = Exclude<StoreKind, "record" | "usage">;

/** fetch, its failure to connect or to finish a body a ContentStoreRequestError naming the URL. */
async function fetchOrThrow(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (cause) {
    throw new ContentStoreRequestError({ url, cause });
  }
}

async function sha256OfFile(file: string): Promise<Hex> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `0x${hash.digest("hex")}`;
}

/**
 * Stores `file` under its sha256 as `kind`, signed by `signer`: a local key, or a write session a wallet signed that
 * lists this write. A store that already holds an object of that name and size is not sent it again. Returns the
 * file's sha256 (0x hex) and size.
 */
export async function uploadFile({
  baseUrl,
  signer,
  file,
  kind,
}: {
  baseUrl: string;
  signer: LocalAccount | SignedWriteSession;
  file: string;
  kind: RawStoreKind;
}): Promise<{ sha256: Hex; size: number }> {
  const { size } = await stat(file);
  const sha256 = await sha256OfFile(file);
  const name = contentFileName(sha256);
  const url = `${baseUrl.replace(/\/+$/, "")}/${name}`;
  const present = await fetchOrThrow(url, { method: "HEAD" });
  if (present.ok && Number(present.headers.get("content-length")) === size) return { sha256, size };
  const response = await fetchOrThrow(url, {
    method: "PUT",
    body: Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>,
    // A stream body is sent as it is read; the declared length lets the store refuse an oversize file up front.
    duplex: "half",
    headers: {
      "content-type": "application/octet-stream",
      "content-length": String(size),
      ...("writes" in signer
        ? sessionWriteHeaders(signer, name)
        : await signedWriteHeaders(signer, { name, kind, size })),
    },
  } as RequestInit);
  if (!response.ok) throw await rejectionOf(response);
  return { sha256, size };
}

/**
 * Downloads `url` to `destination`, which it only creates once the bytes hash to `sha256` (and are `size` long when
 * given); until then they are in `destination + ".partial"`, removed on any failure. A server that sends other
 * bytes or cuts the body short is a typed error (ContentHashMismatchError, ContentSizeMismatchError,
 * ContentStoreRequestError).
 */
export async function downloadVerified({
  url,
  sha256,
  size,
  destination,
}: {
  url: string;
  sha256: Hex;
  size?: number;
  destination: string;
}): Promise<{ sha256: Hex; size: number }> {
  const expected: Hex = `0x${contentFileName(sha256)}`;
  const response = await fetchOrThrow(url);
  if (response.status === 404) {
    await response.body?.cancel();
    throw new ContentNotFoundError({ contentHash: expected, source: url });
  }
  if (!response.ok || !response.body) throw await rejectionOf(response);
  const wrongSize = (bytes: number) => new ContentSizeMismatchError({ expected: size!, actual: bytes, source: url });
  const meter = new Sha256Meter(size === undefined ? undefined : { maxBytes: size, tooLong: wrongSize });
  const partial = `${destination}.partial`;
  try {
    await pipeline(
      Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
      meter,
      createWriteStream(partial, { flush: true }),
    ).catch((cause: unknown) => {
      throw cause instanceof BaseError ? cause : new ContentStoreRequestError({ url, cause });
    });
    if (size !== undefined && meter.bytes !== size) throw wrongSize(meter.bytes);
    const actual = meter.sha256();
    if (actual !== expected) throw new ContentHashMismatchError({ expected, actual, source: url });
    await rename(partial, destination);
    return { sha256: expected, size: meter.bytes };
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}
