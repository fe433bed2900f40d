/**
 * `openpoa-artifact.json`: the files of a published artifact with their sizes and sha256, and the artifact hash
 * they make. It lets a reader fetch each file from any address (a URL beside it, or a content store by its sha256)
 * and check every file as it arrives; the artifact hash, recomputed from the files, is what is compared with the
 * chain. The manifest itself is never trusted: a lying manifest only leads to files whose hash the chain refutes.
 *
 * An adapter trained by OpenPoA also names its training manifest (`training`: openpoa-training.json, what it was
 * trained on and how it went), a store object of its own outside the artifact hash. The manifest's sha256 is the
 * URI registered on chain, so the registration commits to that training manifest too.
 */
import { z } from "zod/v4";
import { ArtifactError } from "./errors.ts";
import { isArtifactFileName, type ArtifactFile, type ArtifactKind } from "./hash.ts";

export const MANIFEST_FORMAT = "openpoa-artifact-v1";
const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const storedFile = z.object({
  name: z.string().refine(isArtifactFileName, "a flat file name"),
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  sha256: hex64,
});

const manifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  kind: z.enum(["lora", "model"]),
  artifactHash: hex64,
  files: z
    .array(storedFile)
    .min(1)
    .refine((files) => new Set(files.map((f) => f.name)).size === files.length, "file names are unique"),
  training: storedFile.optional(),
});

export type ArtifactManifest = {
  format: typeof MANIFEST_FORMAT;
  kind: ArtifactKind;
  artifactHash: string;
  files: ArtifactFile[];
  /** An adapter's training manifest (TRAINING_MANIFEST_FILE), stored under its sha256; not part of the hash. */
  training?: ArtifactFile;
};

const fileEntry = ({ name, size, sha256 }: ArtifactFile): ArtifactFile => ({ name, size, sha256 });

/** Canonical bytes (fixed key order, no spaces), so the same artifact always publishes the same manifest hash. */
export function encodeManifest({ kind, artifactHash, files, training }: Omit<ArtifactManifest, "format">): Uint8Array {
  const manifest: ArtifactManifest = {
    format: MANIFEST_FORMAT,
    kind,
    artifactHash,
    files: files.map(fileEntry),
    ...(training && { training: fileEntry(training) }),
  };
  return new TextEncoder().encode(JSON.stringify(manifest));
}

export function decodeManifest(bytes: Uint8Array, source: string): ArtifactManifest {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new ArtifactError("manifest_invalid", `the manifest from ${source} is not JSON`, { cause });
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success)
    throw new ArtifactError(
      "manifest_invalid",
      `the manifest from ${source} is not an ${MANIFEST_FORMAT} manifest: ${z.prettifyError(parsed.error)}`,
    );
  return parsed.data;
}
