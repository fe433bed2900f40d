/**
 * Content-addressed store for contribution bytes. A store only moves bytes
 * (`read`/`write` by file name); `putContent`/`getContent` own the addressing
 * rule (file name = lowercase hex sha256, no 0x) and check the hash on every
 * read, so a lying mirror or a corrupted disk can never feed an index. Writes to an HTTP store declare their kind
 * and, given a signer, are signed for a store server that admits writers (store/README.md).
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Hex, LocalAccount } from "viem";
import {
  ContentHashMismatchError,
  ContentNotFoundError,
  ContentStoreRejectedError,
  ContentStoreRequestError,
  InvalidContentHashError,
} from "./errors.ts";
import { signedWriteHeaders, storeHeaders, storeKindOf, type StoreKind } from "./storeAuth.ts";

export type ContentStore = {
  /** Human-readable location, used in error messages. */
  readonly source: string;
  /** Bytes stored under `fileName`, or undefined when absent. */
  read(fileName: string): Promise<Uint8Array | undefined>;
  write(fileName: string, bytes: Uint8Array): Promise<void>;
};

/** sha256 of `bytes` as bytes32 hex — the on-chain `contentHash`. */
export function sha256Hex(bytes: Uint8Array): Hex {
  return `0x${createHash("sha256").update(bytes).digest("hex")}`;
}

export function contentFileName(contentHash: Hex): string {
  if (!/^0x[0-9a-fA-F]{64}$/.test(contentHash)) throw new InvalidContentHashError({ contentHash });
  return contentHash.slice(2).toLowerCase();
}

export async function putContent(store: ContentStore, { content }: { content: Uint8Array }): Promise<Hex> {
  const contentHash = sha256Hex(content);
  await store.write(contentFileName(contentHash), content);
  return contentHash;
}

export async function getContent(store: ContentStore, { contentHash }: { contentHash: Hex }): Promise<Uint8Array> {
  const bytes = await store.read(contentFileName(contentHash));
  if (bytes === undefined) throw new ContentNotFoundError({ contentHash, source: store.source });
  const actual = sha256Hex(bytes);
  if (actual !== contentHash.toLowerCase()) {
    throw new ContentHashMismatchError({ expected: contentHash, actual, source: store.source });
  }
  return bytes;
}

export function createDirectoryContentStore({ dir }: { dir: string }): ContentStore {
  return {
    source: dir,
    async read(fileName) {
      try {
        return await readFile(join(dir, fileName));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
    },
    async write(fileName, bytes) {
      await mkdir(dir, { recursive: true });
      // Write-then-rename so a reader never sees a half-written file.
      const temporary = join(dir, `.${fileName}.${process.pid}.${Date.now()}.tmp`);
      await writeFile(temporary, bytes);
      await rename(temporary, join(dir, fileName));
    },
  };
}

export type HttpContentStoreOptions = {
  baseUrl: string;
  headers?: Record<string, string>;
  /** Signs every write (store/README.md); without one, writes go unsigned (a store that admits anyone). */
  signer?: LocalAccount;
  /** The kind raw (sha256-named) writes declare; records and usage batches declare theirs by name. */
  kind?: StoreKind;
  /** Gives up on a request, its body included, after this many milliseconds (a ContentStoreRequestError). */
  timeoutMs?: number;
};

/** The error a store's non-2xx answer means: its JSON error body's code and message when it sent one. */
export async function rejectionOf(response: Response): Promise<ContentStoreRejectedError> {
  const text = await response.text().catch(() => "");
  let error: { code?: unknown; message?: unknown } | undefined;
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error;
  } catch {
    // Not one of ours (a proxy's page, a plain file server): the status says what there is to say.
  }
  return new ContentStoreRejectedError({
    url: response.url,
    status: response.status,
    code: typeof error?.code === "string" ? error.code : "unknown",
    message: typeof error?.message === "string" ? error.message : text.slice(0, 200),
  });
}

export function createHttpContentStore({
  baseUrl,
  headers,
  signer,
  kind,
  timeoutMs,
}: HttpContentStoreOptions): ContentStore {
  const base = baseUrl.replace(/\/+$/, "");
  const request = async (fileName: string, init: RequestInit): Promise<Response> => {
    const url = `${base}/${fileName}`;
    try {
      return await fetch(url, {
        ...init,
        headers: { ...headers, ...init.headers },
        signal: timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs),
      });
    } catch (cause) {
      throw new ContentStoreRequestError({ url, cause });
    }
  };
  return {
    source: base,
    async read(fileName) {
      const response = await request(fileName, { method: "GET" });
      if (response.status === 404) return undefined;
      if (!response.ok) throw await rejectionOf(response);
      try {
        return new Uint8Array(await response.arrayBuffer());
      } catch (cause) {
        // The body broke off or ran past the timeout.
        throw new ContentStoreRequestError({ url: response.url, cause });
      }
    },
    async write(fileName, bytes) {
      const write = { name: fileName, kind: storeKindOf(fileName, kind), size: bytes.length };
      const response = await request(fileName, {
        method: "PUT",
        // Copy: fetch wants a view on a plain (non-shared) ArrayBuffer.
        body: Uint8Array.from(bytes),
        headers: {
          "content-type": "application/octet-stream",
          ...(signer ? await signedWriteHeaders(signer, write) : { [storeHeaders.kind]: write.kind }),
        },
      });
      if (!response.ok) throw await rejectionOf(response);
    },
  };
}

/**
 * The store at `location`: an http(s) base URL, or a local directory. Writes to a URL are signed by `writer.signer`
 * when given, raw (sha256-named) ones declared `writer.kind` (default contribution).
 */
export function contentStoreAt(
  location: string,
  writer: { signer?: LocalAccount; kind?: StoreKind } = {},
): ContentStore {
  return /^https?:\/\//.test(location)
    ? createHttpContentStore({ baseUrl: location, ...writer })
    : createDirectoryContentStore({ dir: location });
}
