/**
 * A worker's verified artifacts on local disk, fetched by their on-chain URI:
 *
 *   <dir>/<artifact hash>/            the files and their manifest, complete and verified
 *   <dir>/.partial-<hash>-<n>/        a fetch in progress (removed at start: a crash leaves nothing half-used)
 *
 * An entry appears only by renaming a scratch directory whose files matched the manifest as they arrived and
 * whose recomputed artifact hash is the chain's, so whatever sits under a hash was checked. The size cap covers
 * fetches in progress (their space is reserved from their manifests first) and evicts the least recently used
 * entries that nobody holds; an artifact larger than the whole cap is refused. Fetches run concurrently, one per
 * hash however many requests ask for it.
 */
import { mkdir, readdir, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../gateway/log.ts";
import { ArtifactError, ArtifactHashMismatchError } from "./errors.ts";
import { hashArtifactDir, MANIFEST_FILE, type ArtifactKind } from "./hash.ts";
import { encodeManifest } from "./manifest.ts";
import {
  copyArtifactFile,
  filesWithoutManifest,
  locateArtifact,
  type ArtifactLocation,
  type ArtifactSourceOptions,
} from "./sources.ts";

export type ArtifactRequest = { artifactHash: string; uri: string; kind: ArtifactKind };
/** A verified artifact's directory, held (never evicted) until `release()`. */
export type HeldArtifact = { dir: string; release(): void };
type Entry = { bytes: number; lastUsed: number; holds: number };

export type ArtifactCacheOptions = {
  dir: string;
  maxBytes: number;
  sources: ArtifactSourceOptions;
  log: Logger;
};

export class ArtifactCache {
  private readonly entries = new Map<string, Entry>();
  private readonly fetching = new Map<string, Promise<void>>();
  private reserved = 0;
  private scratchCount = 0;
  fetches = 0;
  evictions = 0;
  /** Told when an entry leaves the disk, so that whoever loaded it from there knows it must fetch it again. */
  onEvict: ((artifactHash: string) => void) | undefined;

  private readonly options: ArtifactCacheOptions;

  private constructor(options: ArtifactCacheOptions) {
    this.options = options;
  }

  /** The directory that holds the entries. */
  get dir() {
    return this.options.dir;
  }

  /** Opens the cache, keeping the complete entries already on disk (by last use) and dropping scratch leftovers. */
  static async open(options: ArtifactCacheOptions): Promise<ArtifactCache> {
    const cache = new ArtifactCache(options);
    await mkdir(options.dir, { recursive: true });
    for (const entry of await readdir(options.dir, { withFileTypes: true })) {
      const full = path.join(options.dir, entry.name);
      if (!entry.isDirectory() || !/^[0-9a-f]{64}$/.test(entry.name)) {
        if (entry.name.startsWith(".partial-")) await rm(full, { recursive: true, force: true });
        continue;
      }
      const files = await readdir(full);
      if (!files.includes(MANIFEST_FILE)) continue;
      let bytes = 0;
      for (const name of files) bytes += (await stat(path.join(full, name))).size;
      cache.entries.set(entry.name, { bytes, lastUsed: (await stat(full)).mtimeMs, holds: 0 });
    }
    await cache.makeRoom(0);
    return cache;
  }

  get usedBytes() {
    let total = this.reserved;
    for (const entry of this.entries.values()) total += entry.bytes;
    return total;
  }

  /**
   * The artifact's verified directory, fetched from its uri if not on disk, held until released. A `file://`
   * base model is verified and used in place rather than copied.
   */
  async hold(request: ArtifactRequest): Promise<HeldArtifact> {
    const location = locateArtifact(request.uri, this.options.sources);
    if (location.localDir && request.kind === "model") return this.verifyInPlace(location.localDir, request);
    for (;;) {
      const entry = this.entries.get(request.artifactHash);
      if (entry) return this.holdEntry(request.artifactHash, entry);
      let fetching = this.fetching.get(request.artifactHash);
      if (!fetching) {
        fetching = this.fetch(location, request).finally(() => this.fetching.delete(request.artifactHash));
        this.fetching.set(request.artifactHash, fetching);
      }
      await fetching;
    }
  }

  private holdEntry(artifactHash: string, entry: Entry): HeldArtifact {
    entry.holds++;
    entry.lastUsed = Date.now();
    const dir = path.join(this.options.dir, artifactHash);
    // The order of use survives a restart through the directory's mtime.
    void utimes(dir, new Date(), new Date()).catch(() => {});
    let released = false;
    return {
      dir,
      release: () => {
        if (!released) entry.holds--;
        released = true;
      },
    };
  }

  private async verifyInPlace(dir: string, { artifactHash, kind, uri }: ArtifactRequest): Promise<HeldArtifact> {
    const actual = (await hashArtifactDir(dir, kind)).artifactHash;
    if (actual !== artifactHash)
      throw new ArtifactHashMismatchError({
        what: `the ${kind} artifact`,
        expected: artifactHash,
        actual,
        source: uri,
      });
    return { dir, release() {} };
  }

  private async fetch(location: ArtifactLocation, { artifactHash, kind, uri }: ArtifactRequest): Promise<void> {
    const started = performance.now();
    const manifest = await location.readManifest(kind);
    if (manifest && (manifest.kind !== kind || manifest.artifactHash !== artifactHash)) {
      // Refused before a byte of the files moves: the chain registered another artifact at this hash.
      throw new ArtifactHashMismatchError({
        what: `the manifest's ${manifest.kind}`,
        expected: artifactHash,
        actual: manifest.artifactHash,
        source: uri,
      });
    }
    const files = manifest?.files ?? filesWithoutManifest(kind, uri);
    // Without a manifest the size is unknown until the bytes are here: reserve nothing, check the cap after.
    const size = manifest ? manifest.files.reduce((sum, f) => sum + f.size, 0) : 0;
    await this.makeRoom(size);
    let reservation = size;
    this.reserved += reservation;
    const scratch = path.join(this.options.dir, `.partial-${artifactHash}-${process.pid}-${this.scratchCount++}`);
    try {
      await mkdir(scratch);
      await Promise.all(
        files.map((file) =>
          copyArtifactFile(location.fileRef(file), path.join(scratch, file.name), "sha256" in file ? file : undefined),
        ),
      );
      const hashed = await hashArtifactDir(scratch, kind);
      if (hashed.artifactHash !== artifactHash)
        throw new ArtifactHashMismatchError({
          what: `the ${kind} artifact`,
          expected: artifactHash,
          actual: hashed.artifactHash,
          source: uri,
        });
      await writeFile(path.join(scratch, MANIFEST_FILE), encodeManifest(hashed));
      const bytes = hashed.files.reduce((sum, f) => sum + f.size, 0);
      this.reserved -= reservation;
      reservation = 0;
      await this.makeRoom(bytes);
      await rename(scratch, path.join(this.options.dir, artifactHash));
      this.entries.set(artifactHash, { bytes, lastUsed: Date.now(), holds: 0 });
      this.fetches++;
      this.options.log("info", "artifact fetched", {
        artifactHash,
        uri,
        bytes,
        ms: Math.round(performance.now() - started),
      });
    } catch (error) {
      await rm(scratch, { recursive: true, force: true });
      throw error;
    } finally {
      this.reserved -= reservation;
    }
  }

  /** Evicts unheld entries, least recently used first, until `incoming` more bytes fit under the cap. */
  private async makeRoom(incoming: number) {
    const { maxBytes, dir, log } = this.options;
    if (incoming > maxBytes)
      throw new ArtifactError(
        "artifact_too_large",
        `an artifact of ${incoming} bytes does not fit the ${maxBytes}-byte artifact cache`,
      );
    while (this.usedBytes + incoming > maxBytes) {
      // Chosen and removed synchronously, so concurrent fetches making room never pick the same entry, nor one
      // that a request took hold of meanwhile.
      const artifactHash = this.leastRecentlyUsedUnheld();
      if (!artifactHash)
        throw new ArtifactError(
          "artifact_cache_full",
          `the artifact cache is full of artifacts in use (${this.usedBytes} of ${maxBytes} bytes): retry shortly`,
        );
      this.entries.delete(artifactHash);
      await rm(path.join(dir, artifactHash), { recursive: true, force: true });
      this.evictions++;
      log("info", "artifact evicted", { artifactHash });
      this.onEvict?.(artifactHash);
    }
  }

  private leastRecentlyUsedUnheld(): string | undefined {
    let oldest: [string, Entry] | undefined;
    for (const candidate of this.entries) {
      if (candidate[1].holds === 0 && (!oldest || candidate[1].lastUsed < oldest[1].lastUsed)) oldest = candidate;
    }
    return oldest?.[0];
  }
}
