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
import { ContentHashMismatchError, ContentNotFoundError } from "./errors.ts";
import { contentFileName, createHttpContentStore, type ContentStore } from "./httpStore.ts";
import type { StoreKind } from "./storeAuth.ts";

export {
  contentFileName,
  contentUri,
  createHttpContentStore,
  rejectionOf,
  type ContentStore,
  type HttpContentStoreOptions,
} from "./httpStore.ts";

/** sha256 of `bytes` as bytes32 hex — the on-chain `contentHash`. */
export function sha256Hex(bytes: Uint8Array): Hex {
  return `0x${createHash("sha256").update(bytes).digest("hex")}`;
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
