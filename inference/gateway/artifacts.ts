/**
 * Adapters as the gateway serves them: fetched by their on-chain `uri` into the worker's artifact cache (verified
 * against the on-chain artifact hash there), and refused when their config disagrees with their registration.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import {
  ArtifactError,
  ArtifactHashMismatchError,
  LORA_FILES,
  loraMismatch,
  parseLoraConfig,
  type ArtifactCache,
  type HeldArtifact,
} from "../artifacts/index.ts";
import type { AdapterRecord } from "./chain.ts";
import type { Engine } from "./engine.ts";
import { GatewayError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";

/**
 * Adapters ready to serve: fetched, checked against their registration and loaded by the engine, once per
 * artifact for as long as the cache keeps its files (the engine may read them again after evicting its copy).
 */
export class ServedAdapters {
  private readonly ready = new Map<string, Promise<void>>();
  private readonly cache: ArtifactCache;
  private readonly engine: Engine;
  private readonly metrics: Metrics;
  private readonly log: Logger;

  constructor(cache: ArtifactCache, engine: Engine, metrics: Metrics, log: Logger) {
    this.cache = cache;
    this.engine = engine;
    this.metrics = metrics;
    this.log = log;
  }

  /** Forget an artifact whose files left the cache: the next request fetches and checks it again. */
  evicted(artifactHash: string) {
    this.ready.delete(artifactHash);
  }

  /** The adapter, ready, with its files held until the request that asked is done with the engine. */
  async hold(adapter: AdapterRecord): Promise<HeldArtifact> {
    const sha256 = adapter.sha256!;
    const label = { adapter: adapter.id.toString() };
    let ready = this.ready.get(sha256);
    if (ready) {
      this.metrics.adapterCacheHits.inc(label);
    } else {
      this.metrics.adapterCacheMisses.inc(label);
      const started = performance.now();
      ready = (async () => {
        const held = await checkedAdapter(this.cache, adapter, this.log);
        try {
          await this.engine.loadAdapter(sha256);
        } finally {
          held.release();
        }
        this.metrics.adapterLoadSeconds.observe(label, (performance.now() - started) / 1000);
      })();
      this.ready.set(sha256, ready);
      ready.catch(() => this.ready.delete(sha256));
    }
    await ready;
    // Present unless evicted in between; then fetched again (and checked: its bytes are the same by hash).
    return this.cache.hold({ artifactHash: sha256, uri: adapter.uri, kind: "lora" }).catch((error: unknown) => {
      throw unavailable(adapter, error);
    });
  }
}

/** The adapter's verified directory, held in the cache until released; a GatewayError says why not. */
async function checkedAdapter(cache: ArtifactCache, adapter: AdapterRecord, log: Logger): Promise<HeldArtifact> {
  let held: HeldArtifact;
  try {
    held = await cache.hold({ artifactHash: adapter.sha256!, uri: adapter.uri, kind: "lora" });
  } catch (error) {
    throw unavailable(adapter, error);
  }
  try {
    const file = path.join(held.dir, LORA_FILES[0]);
    const mismatch = loraMismatch(parseLoraConfig(await readFile(file), file), adapter);
    if (mismatch) {
      log("warn", "adapter refused: its config disagrees with its registration", {
        adapterId: adapter.id,
        artifactHash: adapter.sha256,
        mismatch,
      });
      throw new GatewayError(409, "adapter_config_mismatch", `adapter ${adapter.id} is refused: ${mismatch}`, {
        param: "model",
      });
    }
    return held;
  } catch (error) {
    held.release();
    throw error instanceof GatewayError ? error : unavailable(adapter, error);
  }
}

function unavailable(adapter: AdapterRecord, error: unknown): GatewayError {
  if (error instanceof ArtifactHashMismatchError)
    return new GatewayError(502, "adapter_hash_mismatch", `adapter ${adapter.id}: ${error.message}`, { cause: error });
  if (error instanceof ArtifactError && error.code === "artifact_cache_full")
    return new GatewayError(503, "adapter_cache_full", error.message, { cause: error });
  const reason = error instanceof Error ? error.message : String(error);
  return new GatewayError(
    502,
    "adapter_unavailable",
    `adapter ${adapter.id} cannot be fetched from ${adapter.uri}: ${reason}`,
    {
      cause: error,
    },
  );
}
