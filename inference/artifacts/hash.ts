/**
 * The artifact hash: what ModelRegistry stores for base models and adapters, what `openpoa model|adapter publish`
 * prints and what a worker checks before the first use. One definition for both kinds:
 *
 *   sha256( domain line ‖ for each file, in name order: name ‖ "\n" ‖ u64 little-endian length ‖ bytes )
 *
 * with the domain line `openpoa-lora-v1\n` for a PEFT LoRA adapter (exactly adapter_config.json and
 * adapter_model.safetensors; the engine's adapters.py computes the same) and `openpoa-model-v1\n` for a base model
 * (every file of its flat directory but the manifest). Files are hashed byte for byte, as published; the length
 * prefixes make the concatenation unambiguous. Files are streamed, so a 16 GB checkpoint never sits in memory.
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { ArtifactError } from "./errors.ts";

export type ArtifactKind = "lora" | "model";
export type ArtifactFile = { name: string; size: number; sha256: string };

/** The files of a LoRA adapter, in hash order. */
export const LORA_FILES = ["adapter_config.json", "adapter_model.safetensors"] as const;
/** Beside the files, never part of the hash: lists them with their sizes and sha256 (manifest.ts). */
export const MANIFEST_FILE = "openpoa-artifact.json";
/** Beside a trained adapter's files, never part of the hash: the engine's training manifest (train.py). */
export const TRAINING_MANIFEST_FILE = "openpoa-training.json";
const DOMAINS: Record<ArtifactKind, string> = { lora: "openpoa-lora-v1\n", model: "openpoa-model-v1\n" };
/** A published file name: flat, no path, no hidden files. */
const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

export const isArtifactFileName = (name: string) => FILE_NAME.test(name) && name !== MANIFEST_FILE;

const framing = (name: string, size: number) => {
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(size));
  return Buffer.concat([Buffer.from(`${name}\n`), length]);
};

/** The artifact hash of files already in memory (small adapters, tests). */
export function artifactHashOfBytes(kind: ArtifactKind, files: { name: string; bytes: Uint8Array }[]): string {
  const hash = createHash("sha256").update(DOMAINS[kind]);
  for (const { name, bytes } of [...files].sort((a, b) => compareNames(a.name, b.name)))
    hash.update(framing(name, bytes.length)).update(bytes);
  return hash.digest("hex");
}

/** Byte order of the UTF-8 names (the order every implementation can reproduce), not the locale's. */
const compareNames = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** A LoRA adapter has adapter_config.json; anything else is a base model. */
export async function artifactKindOf(dir: string): Promise<ArtifactKind> {
  return (await stat(path.join(dir, LORA_FILES[0])).catch(() => undefined)) ? "lora" : "model";
}

/** The files the hash covers, in hash order; refuses what could not be published as a flat artifact. */
export async function artifactFileNames(dir: string, kind: ArtifactKind): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((cause) => {
    throw new ArtifactError("artifact_not_found", `${dir} is not a readable directory`, { cause });
  });
  if (kind === "lora") {
    const names = new Set(entries.filter((e) => e.isFile()).map((e) => e.name));
    const missing = LORA_FILES.filter((name) => !names.has(name));
    if (missing.length) throw new ArtifactError("artifact_incomplete", `${dir} lacks ${missing.join(", ")}`);
    return [...LORA_FILES];
  }
  const names: string[] = [];
  for (const entry of entries) {
    if (entry.name === MANIFEST_FILE || entry.name.startsWith(".")) continue;
    if (!entry.isFile() || !FILE_NAME.test(entry.name))
      throw new ArtifactError(
        "artifact_not_flat",
        `${path.join(dir, entry.name)}: a model artifact is a flat directory of plain files`,
      );
    names.push(entry.name);
  }
  if (names.length === 0) throw new ArtifactError("artifact_incomplete", `${dir} holds no files`);
  return names.sort(compareNames);
}

/** Streams `file` once into the artifact hash and its own sha256. */
async function hashFileInto(artifact: Hash, dir: string, name: string): Promise<ArtifactFile> {
  const file = path.join(dir, name);
  const { size } = await stat(file);
  artifact.update(framing(name, size));
  const own = createHash("sha256");
  let read = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    artifact.update(chunk);
    own.update(chunk);
    read += chunk.length;
  }
  // A file that changes while it is hashed would give a hash of nothing that exists.
  if (read !== size) throw new ArtifactError("artifact_changed", `${file} changed size while it was hashed`);
  return { name, size, sha256: own.digest("hex") };
}

/** Kind, artifact hash (lowercase hex, no 0x) and the files with their sizes and sha256, reading each file once. */
export async function hashArtifactDir(
  dir: string,
  expectedKind?: ArtifactKind,
): Promise<{ kind: ArtifactKind; artifactHash: string; files: ArtifactFile[] }> {
  const kind = expectedKind ?? (await artifactKindOf(dir));
  const artifact = createHash("sha256").update(DOMAINS[kind]);
  const files: ArtifactFile[] = [];
  for (const name of await artifactFileNames(dir, kind)) files.push(await hashFileInto(artifact, dir, name));
  return { kind, artifactHash: artifact.digest("hex"), files };
}
