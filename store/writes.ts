/**
 * PUT: an object is kept only if a writer the policy admits for its kind signed it, it fits the kind's limit and
 * its bytes hash to its name. Raw objects stream to a temporary file while they are hashed, never whole in memory;
 * records and usage batches, small, are read whole (up to their limit) and decoded.
 */
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  Sha256Meter,
  storeHeaders,
  storeKinds,
  storeNameForm,
  type StoreKind,
  type StoreNameForm,
} from "../attribution/src/index.ts";
import { authenticateWrite } from "./auth.ts";
import { StoreError } from "./errors.ts";
import type { SizeLimits } from "./limits.ts";
import type { ObjectDirectory } from "./objects.ts";
import type { WritePolicy } from "./policy.ts";
import { badName } from "./reads.ts";
import { checkSmallObject, hashMismatch } from "./verify.ts";

export type WriteContext = { objects: ObjectDirectory; policy: WritePolicy; limits: SizeLimits };

export type StoredObject = { name: string; kind: StoreKind; size: number; created: boolean; signer: string };

/** The kind the request declares, which records and usage batches must match their names with. */
function declaredKind(request: IncomingMessage, name: string, form: StoreNameForm): StoreKind {
  const kind = request.headers[storeHeaders.kind] as StoreKind;
  if (!storeKinds.includes(kind))
    throw new StoreError(400, "bad_kind", `a PUT declares ${storeHeaders.kind}: one of ${storeKinds.join(", ")}`);
  const namedKind = kind === "record" || kind === "usage";
  if (form === "raw" ? namedKind : kind !== form)
    throw new StoreError(
      400,
      "kind_mismatch",
      `${kind} objects are named ${namedKind ? `${kind}-<hex>` : "<sha256 hex>"}; ${name} is not`,
    );
  return kind;
}

/** Content-Length, or "chunked" for a body sent without one (counted as it streams instead). */
function declaredSize(request: IncomingMessage): number | "chunked" {
  const length = request.headers["content-length"];
  if (length !== undefined) return Number(length);
  return request.headers["transfer-encoding"] === undefined ? 0 : "chunked";
}

const tooLarge = (kind: StoreKind, limit: number) =>
  new StoreError(413, "too_large", `${kind} objects are at most ${limit} bytes`);

/**
 * Streams the body through `meter` into `sink`. Unlike pipeline(request, …), a failure (the meter's 413) leaves
 * the request and its socket alone, so the refusal can still be answered.
 */
async function receiveBody(request: IncomingMessage, meter: Sha256Meter, sink: Writable): Promise<void> {
  const abandoned = () => {
    if (!request.complete) meter.destroy(new StoreError(400, "incomplete_body", "the upload ended before its body"));
  };
  request.once("close", abandoned);
  // The client may have gone while the write was being authorized.
  if (request.destroyed) abandoned();
  request.pipe(meter);
  try {
    await pipeline(meter, sink);
  } finally {
    request.off("close", abandoned);
    request.unpipe(meter);
  }
}

const discard = () => new Writable({ write: (_chunk, _encoding, done) => done() });

const collectInto = (chunks: Buffer[]) =>
  new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      chunks.push(chunk);
      done();
    },
  });

/** A raw object: hashed as it streams to a temporary file; an object already stored is only hashed. */
async function receiveRaw(objects: ObjectDirectory, name: string, request: IncomingMessage, meter: Sha256Meter) {
  const check = () => {
    const actual = meter.sha256();
    if (actual.slice(2) !== name) throw hashMismatch(name, actual);
  };
  if (await objects.has(name)) {
    await receiveBody(request, meter, discard());
    check();
    return false;
  }
  const temporary = objects.temporaryPathFor(name);
  try {
    await receiveBody(request, meter, createWriteStream(temporary, { flush: true }));
    check();
    return await objects.commit(temporary, name);
  } finally {
    await rm(temporary, { force: true });
  }
}

async function receiveSmall(
  objects: ObjectDirectory,
  form: "record" | "usage",
  name: string,
  request: IncomingMessage,
  meter: Sha256Meter,
) {
  const chunks: Buffer[] = [];
  await receiveBody(request, meter, collectInto(chunks));
  const bytes = Buffer.concat(chunks);
  checkSmallObject(form, name, bytes);
  return objects.writeBytes(name, bytes);
}

export async function storeObject(
  { objects, policy, limits }: WriteContext,
  name: string,
  request: IncomingMessage,
): Promise<StoredObject> {
  const form = storeNameForm(name);
  if (form === undefined) throw badName(name);
  const kind = declaredKind(request, name, form);
  const limit = limits[kind];
  const size = declaredSize(request);
  if (size !== "chunked" && size > limit) throw tooLarge(kind, limit);
  const signer = authenticateWrite(request.headers, { name, kind, size });
  await policy.admit(signer, kind);
  const meter = new Sha256Meter({ maxBytes: limit, tooLong: () => tooLarge(kind, limit) });
  const created =
    form === "raw"
      ? await receiveRaw(objects, name, request, meter)
      : await receiveSmall(objects, form, name, request, meter);
  return { name, kind, size: meter.bytes, created, signer };
}
