/**
 * Uploads to the content store from the browser: the wallet signs the store's EIP-191 write message (the one
 * attribution/src/storeAuth.ts builds for every writer, so the two sides never disagree on a byte) and the browser
 * PUTs the bytes under their sha256 with those headers.
 */
import { bytesToHex, type Address, type Hex } from "viem";
import { ContentStoreRejectedError, ContentStoreRequestError } from "../../../../attribution/src/errors.ts";
import { contentUri } from "../../../../attribution/src/httpStore.ts";
import { storeHeaders, storeWriteMessage, type StoreKind } from "../../../../attribution/src/storeAuth.ts";

/** What signs a write: the connected wallet's personal_sign. */
export type MessageSigner = { address: Address; signMessage(message: string): Promise<Hex> };

export type Uploaded = { contentHash: Hex; uri: string; created: boolean };

/** The sha256 of `bytes` (Web Crypto). */
export async function sha256Of(bytes: Uint8Array): Promise<Hex> {
  return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", Uint8Array.from(bytes))));
}

/** The store's JSON error, as the typed error every store client throws. */
async function rejection(url: string, response: Response): Promise<ContentStoreRejectedError> {
  const body = (await response.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  return new ContentStoreRejectedError({
    url,
    status: response.status,
    code: body?.error?.code ?? "unknown",
    message: body?.error?.message ?? response.statusText,
  });
}

/** Stores `bytes` in the store at `storeUrl` as `kind`, signed by `signer`; an object already there is fine. */
export async function uploadToStore(
  storeUrl: string,
  { bytes, signer, kind = "contribution" }: { bytes: Uint8Array; signer: MessageSigner; kind?: StoreKind },
): Promise<Uploaded> {
  const contentHash = await sha256Of(bytes);
  const name = contentHash.slice(2);
  const time = Math.floor(Date.now() / 1000);
  const signature = await signer.signMessage(storeWriteMessage({ name, kind, size: bytes.length, time }));
  const url = `${storeUrl.replace(/\/+$/, "")}/${name}`;
  const response = await fetch(url, {
    method: "PUT",
    body: Uint8Array.from(bytes),
    headers: {
      "content-type": "application/octet-stream",
      [storeHeaders.kind]: kind,
      [storeHeaders.signer]: signer.address,
      [storeHeaders.time]: String(time),
      [storeHeaders.signature]: signature,
    },
  }).catch((cause: unknown) => {
    throw new ContentStoreRequestError({ url, cause });
  });
  if (!response.ok) throw await rejection(url, response);
  return { contentHash, uri: contentUri(contentHash), created: response.status === 201 };
}
