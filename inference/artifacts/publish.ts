/**
 * `openpoa model publish DIR` / `adapter publish DIR`: the artifact's files and manifest into a content store, each
 * under its sha256, and the URI to register (`openpoa-store://<manifest sha256>`). The manifest is also written
 * beside the files, so that the directory can as well be served as is by any HTTP server (register its URL then).
 * A trained adapter's training manifest (openpoa-training.json) is published beside the files and named by the
 * artifact manifest.
 */
import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import type { LocalAccount } from "viem";
import { uploadFile, type SignedWriteSession } from "../../attribution/src/index.ts";
import { ArtifactError } from "./errors.ts";
import {
  hashArtifactDir,
  MANIFEST_FILE,
  TRAINING_MANIFEST_FILE,
  type ArtifactFile,
  type ArtifactKind,
} from "./hash.ts";
import { encodeManifest } from "./manifest.ts";
import { STORE_SCHEME } from "./sources.ts";

export type PublishedArtifact = {
  uri: string;
  kind: ArtifactKind;
  /** Lowercase hex, no 0x: what ModelRegistry records (as bytes32). */
  artifactHash: string;
  manifestSha256: string;
  files: ArtifactFile[];
  /** A trained adapter's training manifest, stored under its sha256 and named by the artifact manifest. */
  training?: ArtifactFile;
};

/** A store object to write: the file at `path`, stored under `name` (its sha256). */
export type ArtifactUpload = { path: string; name: string; size: number };

/** An artifact hashed and its manifest written, ready to upload: what to upload, and what it will publish. */
export type PreparedArtifact = PublishedArtifact & { uploads: ArtifactUpload[] };

const sha256Of = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Hashes `dir`, writes its manifest beside the files and lists the objects that publish it (manifest last). */
export async function prepareArtifact(dir: string): Promise<PreparedArtifact> {
  const hashed = await hashArtifactDir(dir);
  let training: ArtifactFile | undefined;
  if (hashed.kind === "lora") {
    const bytes = await readFile(path.join(dir, TRAINING_MANIFEST_FILE)).catch(() => undefined);
    if (bytes) training = { name: TRAINING_MANIFEST_FILE, size: bytes.length, sha256: sha256Of(bytes) };
  }
  const manifest = encodeManifest({ ...hashed, training });
  const manifestSha256 = sha256Of(manifest);
  await writeFile(path.join(dir, MANIFEST_FILE), manifest);
  const uploads = [...hashed.files, ...(training ? [training] : [])].map((file) => ({
    path: path.join(dir, file.name),
    name: file.sha256,
    size: file.size,
  }));
  uploads.push({ path: path.join(dir, MANIFEST_FILE), name: manifestSha256, size: manifest.length });
  return {
    uri: `${STORE_SCHEME}//${manifestSha256}`,
    ...hashed,
    ...(training && { training }),
    manifestSha256,
    uploads,
  };
}

/**
 * Uploads a prepared artifact to `store` (a content store's http(s) URL, writes signed by `signer`: a local key or a
 * write session a wallet signed over the uploads; or its directory).
 */
export async function uploadArtifact({
  uploads,
  store,
  signer,
}: {
  uploads: ArtifactUpload[];
  store: string;
  signer?: LocalAccount | SignedWriteSession;
}): Promise<void> {
  for (const upload of uploads) {
    if (/^https?:\/\//.test(store)) {
      if (!signer)
        throw new ArtifactError("signer_required", `publishing to ${store} needs a key to sign the uploads with`);
      const stored = await uploadFile({ baseUrl: store, signer, file: upload.path, kind: "artifact" });
      // The file changed between hashing and uploading: what was stored is not what the manifest lists.
      if (stored.sha256.slice(2) !== upload.name)
        throw new ArtifactError("artifact_changed", `${upload.path} changed while it was published`);
    } else {
      await copyIntoDirectory(store, upload);
    }
  }
}

/** Publishes `dir` to `store` (a content store's http(s) URL, writes signed by `signer`, or its directory). */
export async function publishArtifact({
  dir,
  store,
  signer,
}: {
  dir: string;
  store: string;
  signer?: LocalAccount;
}): Promise<PublishedArtifact> {
  const { uploads, ...published } = await prepareArtifact(dir);
  await uploadArtifact({ uploads, store, signer });
  return published;
}

/** A directory content store: the file under its sha256, copied aside and renamed (a reader never sees half). */
async function copyIntoDirectory(store: string, { path: file, name }: ArtifactUpload) {
  const target = path.join(store, name);
  const [present, source] = await Promise.all([stat(target).catch(() => undefined), stat(file)]);
  if (present?.size === source.size) return;
  await mkdir(store, { recursive: true });
  const scratch = `${target}.${process.pid}.partial`;
  await copyFile(file, scratch);
  await rename(scratch, target);
}
