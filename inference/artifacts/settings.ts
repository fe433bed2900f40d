/**
 * Where a process keeps the artifacts it fetches, and how it reads their URIs: one set of settings for the worker
 * and for `openpoa adapter train`, read from the same variables with the same defaults (.env.example).
 */
import { fromEnvironment as env, optionalFromEnvironment as optional } from "../../scripts/lib/environment.ts";
import type { Logger } from "../gateway/log.ts";
import { ArtifactCache } from "./cache.ts";

export type ArtifactCacheSettings = { cacheDir: string; maxBytes: number; contentStore?: string; ipfsGateway?: string };

/** OPENPOA_ARTIFACT_CACHE_DIR, OPENPOA_ARTIFACT_CACHE_MB and OPENPOA_IPFS_GATEWAY; `contentStore` as the caller has it. */
export function artifactCacheSettings(contentStore: string | undefined): ArtifactCacheSettings {
  return {
    cacheDir: env("OPENPOA_ARTIFACT_CACHE_DIR", "text", "openpoa-artifacts"),
    maxBytes: env("OPENPOA_ARTIFACT_CACHE_MB", "positiveNumber", "20480") * 2 ** 20,
    contentStore,
    ipfsGateway: optional("OPENPOA_IPFS_GATEWAY", "url"),
  };
}

export function openArtifactCache(settings: ArtifactCacheSettings, log: Logger): Promise<ArtifactCache> {
  const { cacheDir, maxBytes, contentStore, ipfsGateway } = settings;
  return ArtifactCache.open({ dir: cacheDir, maxBytes, sources: { contentStore, ipfsGateway }, log });
}
