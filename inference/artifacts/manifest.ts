/**
 * `openpoa-artifact.json`: the files of a published artifact with their sizes and sha256, and the artifact hash
 * they make. It lets a reader fetch each file from any address (a URL beside it, or a content store by its sha256)
 * and check every file as it arrives; the artifact hash, recomputed from the files, is what is compared with the
 * chain. The manifest itself is never trusted: a lying manifest only leads to files whose hash the chain refutes.
 */
import { z } from "zod/v4";
import { ArtifactError } from "./errors.ts";
import { isArtifactFileName, type ArtifactFile, type ArtifactKind } from "./hash.ts";

export const MANIFEST_FORMAT = "openpoa-artifact-v1";
const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

const manifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  kind: z.enum(["lora", "model"]),
  artifactHash: hex64,
  files: z
    .array(
      z.object({
        name: z.string().refine(isArtifactFileName, "a flat file name"),
        size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
        sha256: hex64,
      }),
    )
    .min(1)
    .refine((files) => new Set(files.map((f) => f.name)).size === files.length, "file names are unique"),
});

export type ArtifactManifest = {
  format: typeof MANIFEST_FORMAT;
  kind: ArtifactKind;
  artifactHash: string;
  files: ArtifactFile[];
};

/** Canonical bytes (fixed key order, no spaces), so the same artifact always publishes the same manifest hash. */
export function encodeManifest({ kind, artifactHash, files }: Omit<ArtifactManifest, "format">): Uint8Array {
  const manifest: ArtifactManifest = {
    format: MANIFEST_FORMAT,
    kind,
    artifactHash,
    files: files.map(({ name, size, sha256 }) => ({ name, size, sha256 })),
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
