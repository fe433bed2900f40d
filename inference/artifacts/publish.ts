/**
 * `openpoa model publish DIR` / `adapter publish DIR`: the artifact's files and manifest into a content store, each
 * under its sha256, and the URI to register (`openpoa-store://<manifest sha256>`). The manifest is also written
 * beside the files, so that the directory can as well be served as is by any HTTP server (register its URL then).
 */
import { createHash } from "node:crypto";
import { copyFile, mkdir, rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import type { LocalAccount } from "viem";
import { uploadFile } from "../../attribution/src/index.ts";
import { ArtifactError } from "./errors.ts";
import { hashArtifactDir, MANIFEST_FILE, type ArtifactFile, type ArtifactKind } from "./hash.ts";
import { encodeManifest } from "./manifest.ts";
import { STORE_SCHEME } from "./sources.ts";

export type PublishedArtifact = {
  uri: string;
  kind: ArtifactKind;
  /** Lowercase hex, no 0x: what ModelRegistry records (as bytes32). */
  artifactHash: string;
  manifestSha256: string;
  files: ArtifactFile[];
};

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
  const hashed = await hashArtifactDir(dir);
  const manifest = encodeManifest(hashed);
  const manifestSha256 = createHash("sha256").update(manifest).digest("hex");
  await writeFile(path.join(dir, MANIFEST_FILE), manifest);
  const uploads = [
    ...hashed.files.map((file) => ({ path: path.join(dir, file.name), sha256: file.sha256 })),
    { path: path.join(dir, MANIFEST_FILE), sha256: manifestSha256 },
  ];
  for (const upload of uploads) {
    if (/^https?:\/\//.test(store)) {
      if (!signer)
        throw new ArtifactError("signer_required", `publishing to ${store} needs a key to sign the uploads with`);
      const stored = await uploadFile({ baseUrl: store, signer, file: upload.path, kind: "artifact" });
      // The file changed between hashing and uploading: what was stored is not what the manifest lists.
      if (stored.sha256.slice(2) !== upload.sha256)
        throw new ArtifactError("artifact_changed", `${upload.path} changed while it was published`);
    } else {
      await copyIntoDirectory(store, upload);
    }
  }
  return { uri: `${STORE_SCHEME}//${manifestSha256}`, ...hashed, manifestSha256 };
}

/** A directory content store: the file under its sha256, copied aside and renamed (a reader never sees half). */
async function copyIntoDirectory(store: string, { path: file, sha256 }: { path: string; sha256: string }) {
  const target = path.join(store, sha256);
  const [present, source] = await Promise.all([stat(target).catch(() => undefined), stat(file)]);
  if (present?.size === source.size) return;
  await mkdir(store, { recursive: true });
  const scratch = `${target}.${process.pid}.partial`;
  await copyFile(file, scratch);
  await rename(scratch, target);
}
