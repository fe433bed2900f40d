import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { GatewayError } from "./errors.ts";

/**
 * The adapter artifact hash of inference/README.md: sha256 over a magic line and the two files, each preceded by
 * its name and a little-endian u64 length.
 */
export function artifactHash(config: Uint8Array, weights: Uint8Array): string {
  const hash = createHash("sha256").update("openpoa-lora-v1\n");
  for (const [name, bytes] of [
    ["adapter_config.json", config],
    ["adapter_model.safetensors", weights],
  ] as const) {
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(bytes.length));
    hash.update(`${name}\n`).update(length).update(bytes);
  }
  return hash.digest("hex");
}

async function readFromStore(store: string, sha256: string, file: string): Promise<Uint8Array> {
  if (/^https?:\/\//.test(store)) {
    const response = await fetch(`${store.replace(/\/$/, "")}/${sha256}/${file}`);
    if (!response.ok) throw new Error(`GET ${file}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }
  return readFile(path.join(store, sha256, file));
}

/**
 * Checks that the store holds an artifact hashing to the on-chain hash before the engine is asked to load it.
 * (The engine hashes its own download again: a store that changes in between is caught there.)
 */
export async function verifyArtifact(store: string, sha256: string): Promise<void> {
  let actual: string;
  try {
    const [config, weights] = await Promise.all([
      readFromStore(store, sha256, "adapter_config.json"),
      readFromStore(store, sha256, "adapter_model.safetensors"),
    ]);
    actual = artifactHash(config, weights);
  } catch (cause) {
    throw new GatewayError(502, "adapter_unavailable", `adapter artifact ${sha256} is not in the artifact store`, {
      cause,
    });
  }
  if (actual !== sha256) {
    throw new GatewayError(502, "adapter_hash_mismatch", `artifact store returned ${actual} for ${sha256}`);
  }
}
