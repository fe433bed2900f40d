/**
 * Where an artifact's on-chain `uri` points, and how its manifest and files are read from there:
 *
 *   file:///abs/dir              a local directory (files read in place)
 *   http(s)://host/base          base/openpoa-artifact.json and base/<file name>
 *   ipfs://CID/path              the same through a configured IPFS HTTP gateway: <gateway>/ipfs/CID/path/…
 *   openpoa-store://<sha256>     the manifest stored under its sha256 in the configured content store, and each file
 *                                under its own sha256 (what `openpoa model|adapter publish` prints)
 *
 * A LoRA adapter served over HTTP without a manifest (a plain PEFT directory) is read by its two file names; the
 * artifact hash checked afterwards covers it. Every byte read is checked: files against the manifest as they
 * arrive, the manifest against its address where it has one, and the whole against the chain's artifact hash.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { Sha256Meter } from "../../attribution/src/index.ts";
import { ArtifactError, ArtifactHashMismatchError } from "./errors.ts";
import { LORA_FILES, MANIFEST_FILE, type ArtifactKind } from "./hash.ts";
import { decodeManifest, type ArtifactManifest } from "./manifest.ts";

export const STORE_SCHEME = "openpoa-store:";

export type ArtifactSourceOptions = {
  /** Where `openpoa-store://` artifacts are read from: a content store's http(s) base URL or its directory. */
  contentStore?: string;
  /** An IPFS HTTP gateway (e.g. `https://ipfs.io`): `ipfs://CID/p` is read from `<gateway>/ipfs/CID/p`. */
  ipfsGateway?: string;
};

/** A file's address: a URL or a local path. */
type Ref = { url: string } | { path: string };
const describe = (ref: Ref) => ("url" in ref ? ref.url : ref.path);

export type ArtifactLocation = {
  uri: string;
  /** Set for file:// artifacts: their directory, usable in place. */
  localDir?: string;
  /** The manifest, or undefined where the location has none (then `fileNames` says what to read). */
  readManifest(kind: ArtifactKind): Promise<ArtifactManifest | undefined>;
  fileRef(file: { name: string; sha256?: string }): Ref;
};

const joinUrl = (base: string, name: string) => `${base.replace(/\/+$/, "")}/${name}`;

/** The uri's location; throws for schemes no option enables, naming the setting that would. */
export function locateArtifact(uri: string, options: ArtifactSourceOptions = {}): ArtifactLocation {
  let parsed: URL;
  try {
    parsed = new URL(uri);
  } catch (cause) {
    throw new ArtifactError("unsupported_uri", `artifact URI "${uri}" is not a URI`, { cause });
  }
  switch (parsed.protocol) {
    case "file:": {
      const dir = fileURLToPath(parsed);
      return { uri, localDir: dir, ...besideManifest(uri, (name) => ({ path: path.join(dir, name) })) };
    }
    case "http:":
    case "https:":
      return { uri, ...besideManifest(uri, (name) => ({ url: joinUrl(uri, name) })) };
    case "ipfs:": {
      if (!options.ipfsGateway)
        throw new ArtifactError("unsupported_uri", `${uri}: set OPENPOA_IPFS_GATEWAY to read ipfs:// artifacts`);
      const base = joinUrl(options.ipfsGateway, `ipfs/${parsed.host}${parsed.pathname}`);
      return { uri, ...besideManifest(uri, (name) => ({ url: joinUrl(base, name) })) };
    }
    case STORE_SCHEME:
      return inContentStore(uri, parsed.host, options.contentStore);
    default:
      throw new ArtifactError("unsupported_uri", `artifact URI "${uri}": unsupported scheme ${parsed.protocol}`);
  }
}

/** file, http(s) and ipfs: the manifest and the files side by side under one base. */
function besideManifest(uri: string, at: (name: string) => Ref): Omit<ArtifactLocation, "uri" | "localDir"> {
  return {
    async readManifest(kind) {
      const ref = at(MANIFEST_FILE);
      const bytes = await readRef(ref, { optional: kind === "lora" });
      return bytes && decodeManifest(bytes, describe(ref));
    },
    fileRef: ({ name }) => at(name),
  };
}

function inContentStore(uri: string, manifestSha256: string, store: string | undefined): ArtifactLocation {
  if (!/^[0-9a-f]{64}$/.test(manifestSha256))
    throw new ArtifactError("unsupported_uri", `${uri}: ${STORE_SCHEME}// takes the manifest's lowercase sha256`);
  if (!store)
    throw new ArtifactError("unsupported_uri", `${uri}: set OPENPOA_CONTENT_URL to read ${STORE_SCHEME}// artifacts`);
  const at = (sha256: string): Ref =>
    /^https?:\/\//.test(store) ? { url: joinUrl(store, sha256) } : { path: path.join(store, sha256) };
  return {
    uri,
    async readManifest() {
      const ref = at(manifestSha256);
      const bytes = (await readRef(ref, { optional: false }))!;
      const actual = createHash("sha256").update(bytes).digest("hex");
      if (actual !== manifestSha256)
        throw new ArtifactHashMismatchError({ what: "the manifest", expected: manifestSha256, actual, source: store });
      return decodeManifest(bytes, describe(ref));
    },
    fileRef({ name, sha256 }) {
      if (!sha256) throw new ArtifactError("manifest_invalid", `${uri}: no sha256 for ${name}`);
      return at(sha256);
    },
  };
}

/** A small object (a manifest) in memory; undefined when absent and `optional`. */
async function readRef(ref: Ref, { optional }: { optional: boolean }): Promise<Uint8Array | undefined> {
  if ("path" in ref) {
    try {
      return await readFile(ref.path);
    } catch (cause) {
      if (optional && (cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new ArtifactError("artifact_unavailable", `cannot read ${ref.path}`, { cause });
    }
  }
  const response = await fetchOrThrow(ref.url);
  if (response.status === 404 && optional) return undefined;
  if (!response.ok)
    throw new ArtifactError(unavailableCode(response.status), `GET ${ref.url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

const unavailableCode = (status: number) => (status === 404 ? "artifact_not_found" : "artifact_unavailable");

async function fetchOrThrow(url: string): Promise<Response> {
  try {
    return await fetch(url);
  } catch (cause) {
    throw new ArtifactError("artifact_unavailable", `GET ${url} failed`, { cause });
  }
}

/**
 * Streams one file to `destination`, hashing as it goes; with `expected`, a file of another size or sha256 (a
 * lying or truncated source) throws before anyone can use it. The caller owns `destination` (a scratch directory).
 */
export async function copyArtifactFile(
  ref: Ref,
  destination: string,
  expected?: { sha256: string; size: number },
): Promise<void> {
  let source: Readable;
  if ("path" in ref) {
    source = createReadStream(ref.path, { highWaterMark: 1 << 20 });
  } else {
    const response = await fetchOrThrow(ref.url);
    if (!response.ok || !response.body)
      throw new ArtifactError(unavailableCode(response.status), `GET ${ref.url}: HTTP ${response.status}`);
    source = Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>);
  }
  // Stops a lying source as soon as it sends more than announced, not after it filled the disk.
  const oversized = () =>
    new ArtifactError("artifact_oversized", `${describe(ref)} is larger than its ${expected!.size} bytes`);
  const meter = new Sha256Meter(expected && { maxBytes: expected.size, tooLong: oversized });
  try {
    await pipeline(source, meter, createWriteStream(destination));
  } catch (cause) {
    if (cause instanceof ArtifactError) throw cause;
    throw new ArtifactError("artifact_unavailable", `reading ${describe(ref)} failed`, { cause });
  }
  if (!expected) return;
  if (meter.bytes !== expected.size)
    throw new ArtifactError(
      "artifact_truncated",
      `${describe(ref)} ended after ${meter.bytes} of its ${expected.size} bytes`,
    );
  const actual = meter.sha256().slice(2);
  if (actual !== expected.sha256)
    throw new ArtifactHashMismatchError({
      what: path.basename(destination),
      expected: expected.sha256,
      actual,
      source: describe(ref),
    });
}

/** What to read when the location has no manifest: a LoRA adapter's two files, sizes unknown. */
export const filesWithoutManifest = (kind: ArtifactKind, uri: string) => {
  if (kind !== "lora")
    throw new ArtifactError("manifest_missing", `${uri} has no ${MANIFEST_FILE}: a base model needs one (publish it)`);
  return LORA_FILES.map((name) => ({ name }));
};
