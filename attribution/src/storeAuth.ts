/**
 * The content store's write protocol, shared by the store server (store/) and its clients: the names objects take,
 * the kind every write declares, and the EIP-191 message a writer signs. Both sides build the message with the one
 * function here, so they can never disagree on a byte of it.
 */
import type { LocalAccount } from "viem";

/** What a write is for; the store's policy admits writers and caps sizes per kind. */
export const storeKinds = ["contribution", "record", "usage", "distribution", "artifact"] as const;
export type StoreKind = (typeof storeKinds)[number];

export const storeHeaders = {
  kind: "x-openpoa-kind",
  signer: "x-openpoa-signer",
  time: "x-openpoa-time",
  signature: "x-openpoa-signature",
} as const;

/**
 * What an object's name says its bytes hash to: `<sha256 hex>` the bytes themselves (raw), `record-<keccak hex>` an
 * attribution record's hash, `usage-<hex>` a usage batch's recomputed root. Hex is 64 lowercase digits, no 0x.
 */
export type StoreNameForm = "raw" | "record" | "usage";

const objectName = /^(?:(record|usage)-)?([0-9a-f]{64})$/;

/** The form of `name`, or undefined when it is no object name. */
export function storeNameForm(name: string): StoreNameForm | undefined {
  const match = objectName.exec(name);
  if (!match) return undefined;
  return (match[1] as "record" | "usage" | undefined) ?? "raw";
}

/** The 0x hash an object name commits to. */
export function storeNameHash(name: string): `0x${string}` {
  return `0x${name.slice(-64)}`;
}

/** The kind a write of `name` declares: records and usage batches are named as such, raw objects are `rawKind`. */
export function storeKindOf(name: string, rawKind: StoreKind = "contribution"): StoreKind {
  const form = storeNameForm(name);
  return form === "record" || form === "usage" ? form : rawKind;
}

export type StoreWrite = {
  name: string;
  kind: StoreKind;
  /** The body's Content-Length; "chunked" for a body sent without one. */
  size: number | "chunked";
  /** Unix seconds; the server refuses a time more than five minutes from its own clock. */
  time: number;
};

/** The message a writer signs with personal_sign (EIP-191) to PUT an object. */
export function storeWriteMessage({ name, kind, size, time }: StoreWrite): string {
  return ["openpoa-store-write-v1", `PUT ${name}`, `kind: ${kind}`, `size: ${size}`, `time: ${time}`].join("\n");
}

/** The headers that declare `write`'s kind and carry `signer`'s signature over it (time: now unless given). */
export async function signedWriteHeaders(
  signer: LocalAccount,
  write: Omit<StoreWrite, "time"> & { time?: number },
): Promise<Record<string, string>> {
  const time = write.time ?? Math.floor(Date.now() / 1000);
  const signature = await signer.signMessage({ message: storeWriteMessage({ ...write, time }) });
  return {
    [storeHeaders.kind]: write.kind,
    [storeHeaders.signer]: signer.address,
    [storeHeaders.time]: String(time),
    [storeHeaders.signature]: signature,
  };
}
