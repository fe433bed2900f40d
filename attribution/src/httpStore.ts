/**
 * The content store as a client sees it (`read`/`write` by file name), its naming rule for content, and the HTTP
 * store: browser-safe (fetch, no node: modules), so a web app reads records and contents as a Node process does.
 * contentStore.ts adds the directory store and the sha256 checks.
 */
import type { Hex, LocalAccount } from "viem";
import { ContentStoreRejectedError, ContentStoreRequestError, InvalidContentHashError } from "./errors.ts";
import { signedWriteHeaders, storeHeaders, storeKindOf, type StoreKind } from "./storeAuth.ts";

export type ContentStore = {
  /** Human-readable location, used in error messages. */
  readonly source: string;
  /** Bytes stored under `fileName`, or undefined when absent. */
  read(fileName: string): Promise<Uint8Array | undefined>;
  write(fileName: string, bytes: Uint8Array): Promise<void>;
};

/** The URI content is registered under (contributions, distribution files, specifications): any store serves it by its hash. */
export const contentUri = (contentHash: Hex) => `openpoa://content/${contentHash.slice(2)}`;

export function contentFileName(contentHash: Hex): string {
  if (!/^0x[0-9a-fA-F]{64}$/.test(contentHash)) throw new InvalidContentHashError({ contentHash });
  return contentHash.slice(2).toLowerCase();
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
