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
  /** Present on a write signed as part of a session: the session's writes (encodeSessionWrites). */
  session: "x-openpoa-session",
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

/**
 * A write session: one signature for several writes, so that a wallet publishing an artifact (its files, manifest
 * and training manifest) is asked once, not once per file. The signed message lists every write by name, kind and
 * exact size, so a session admits exactly those objects and nothing else; its time bounds it like a single write's.
 */
export type StoreSessionWrite = { name: string; kind: StoreKind; size: number };
export type StoreWriteSession = { writes: StoreSessionWrite[]; time: number };

/** The most writes one session lists: its header stays a few KiB, well under an HTTP server's header limit. */
export const maxSessionWrites = 64;

/** The message a writer signs with personal_sign to allow every write of a session. */
export function storeWriteSessionMessage({ writes, time }: StoreWriteSession): string {
  return [
    "openpoa-store-write-session-v1",
    `time: ${time}`,
    ...writes.map(({ name, kind, size }) => `PUT ${name} kind: ${kind} size: ${size}`),
  ].join("\n");
}

/** The session's writes as its header carries them: `name:kind:size`, comma-separated, in the signed order. */
export const encodeSessionWrites = (writes: StoreSessionWrite[]): string =>
  writes.map(({ name, kind, size }) => `${name}:${kind}:${size}`).join(",");

/** The writes a session header lists, or undefined when it is not a well-formed list of at most maxSessionWrites. */
export function decodeSessionWrites(value: string): StoreSessionWrite[] | undefined {
  const entries = value.split(",");
  if (entries.length > maxSessionWrites) return undefined;
  const writes: StoreSessionWrite[] = [];
  for (const entry of entries) {
    const match = /^([a-z0-9-]{1,80}):([a-z]{1,16}):([0-9]{1,16})$/.exec(entry);
    if (!match || !storeKinds.includes(match[2] as StoreKind)) return undefined;
    writes.push({ name: match[1]!, kind: match[2] as StoreKind, size: Number(match[3]) });
  }
  return writes;
}

/**
 * The headers of the session's PUT of `name` (one of its writes), signed by `signer` (an address: the signature
 * may come from a wallet) with `signature` over storeWriteSessionMessage.
 */
export function sessionWriteHeaders(session: SignedWriteSession, name: string): Record<string, string> {
  const write = session.writes.find((w) => w.name === name);
  if (!write) throw new Error(`${name} is not one of the session's writes`);
  return {
    [storeHeaders.kind]: write.kind,
    [storeHeaders.signer]: session.signer,
    [storeHeaders.time]: String(session.time),
    [storeHeaders.signature]: session.signature,
    [storeHeaders.session]: encodeSessionWrites(session.writes),
  };
}

/** A session's writes with the signature over them: what a wallet's personal_sign of the session gives. */
export type SignedWriteSession = StoreWriteSession & { signer: string; signature: string };

/** Signs a session of `writes` with a local key (time: now unless given): what a wallet does with personal_sign. */
export async function signWriteSession(
  signer: LocalAccount,
  writes: StoreSessionWrite[],
  time = Math.floor(Date.now() / 1000),
): Promise<SignedWriteSession> {
  const signature = await signer.signMessage({ message: storeWriteSessionMessage({ writes, time }) });
  return { writes, time, signer: signer.address, signature };
}
