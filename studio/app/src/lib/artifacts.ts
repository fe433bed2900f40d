/**
 * How an adapter was trained, from its on-chain URI: an `openpoa-store://<sha256>` URI names the artifact manifest
 * (inference/artifacts/manifest.ts), whose `training` entry names the training manifest the Model Factory or `openpoa
 * adapter train` published beside the adapter. Both are read from the content store and checked against their
 * sha256, so the store is trusted for nothing: the chain's URI commits to the manifest, the manifest to the rest.
 */
import type { Hex } from "viem";
import type { TrainingManifest } from "../../../../scripts/lib/trainingParams.ts";
import { sha256Of } from "./store.ts";

const STORE_URI = /^openpoa-store:\/\/([0-9a-f]{64})$/;

/** The store returned bytes that are not the object asked for. */
export class ObjectMismatchError extends Error {
  constructor(name: string, actual: Hex) {
    super(`the content store answered other bytes for ${name} (sha256 ${actual})`);
    this.name = "ObjectMismatchError";
  }
}

/** The object `name` (its sha256) from the store at `storeUrl`, checked; undefined when the store lacks it. */
async function readObject(storeUrl: string, name: string, signal?: AbortSignal): Promise<unknown> {
  const response = await fetch(`${storeUrl.replace(/\/+$/, "")}/${name}`, { signal });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`the content store answered ${response.status} for ${name}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const actual = await sha256Of(bytes);
  if (actual.slice(2) !== name) throw new ObjectMismatchError(name, actual);
  return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
}

/**
 * The training manifest of the adapter registered at `uri` and its name in the store (its sha256, to link to), read
 * from the store at `storeUrl`; undefined for an adapter published elsewhere (another URI scheme), not in the store,
 * or trained without one.
 */
export async function trainingManifestAt(
  storeUrl: string,
  uri: string,
  signal?: AbortSignal,
): Promise<{ name: string; manifest: TrainingManifest } | undefined> {
  const match = STORE_URI.exec(uri);
  if (!match) return undefined;
  const manifest = (await readObject(storeUrl, match[1]!, signal)) as { training?: { sha256?: unknown } } | undefined;
  const name = manifest?.training?.sha256;
  if (typeof name !== "string" || !/^[0-9a-f]{64}$/.test(name)) return undefined;
  const training = (await readObject(storeUrl, name, signal)) as TrainingManifest | undefined;
  return training === undefined ? undefined : { name, manifest: training };
}
