/**
 * Who signed a PUT: the EIP-191 signature over storeWriteMessage (attribution/src/storeAuth.ts), rebuilt here from
 * the request itself, so a signature covers exactly this name, kind, size and a time near now. A PUT of a write
 * session carries the session's list instead; the signature is over storeWriteSessionMessage of that list, which
 * must name this very write (name, kind and exact size).
 */
import type { IncomingHttpHeaders } from "node:http";
import { getAddress, hashMessage, isAddress, isHex, type Address } from "viem";
import { isSignedBy } from "../inference/gateway/signatures.ts";
import {
  decodeSessionWrites,
  maxSessionWrites,
  storeHeaders,
  storeWriteMessage,
  storeWriteSessionMessage,
  type StoreWrite,
} from "../attribution/src/index.ts";
import { StoreError } from "./errors.ts";

/** How far a signed time may be from the server's clock: bounds how long a captured signature can be replayed. */
const maxClockSkewSeconds = 300;

const header = (headers: IncomingHttpHeaders, name: string) => {
  const value = headers[name];
  return typeof value === "string" && value !== "" ? value : undefined;
};

/** The address that signed `write`, or a 401 StoreError saying what is missing or wrong. */
export function authenticateWrite(
  headers: IncomingHttpHeaders,
  write: Omit<StoreWrite, "time">,
  nowSeconds = Date.now() / 1000,
): Address {
  const signer = header(headers, storeHeaders.signer);
  const time = header(headers, storeHeaders.time);
  const signature = header(headers, storeHeaders.signature);
  if (!signer || !time || !signature)
    throw new StoreError(
      401,
      "unsigned",
      `a PUT needs ${storeHeaders.signer}, ${storeHeaders.time} and ${storeHeaders.signature} (store/README.md)`,
    );
  if (!isAddress(signer, { strict: false })) throw new StoreError(401, "bad_signer", `${signer} is not an address`);
  if (!/^[0-9]{1,12}$/.test(time) || Math.abs(Number(time) - nowSeconds) > maxClockSkewSeconds)
    throw new StoreError(
      401,
      "stale_time",
      `${storeHeaders.time} ${time} is more than ${maxClockSkewSeconds} s from the server's ${Math.floor(nowSeconds)}`,
    );
  const session = header(headers, storeHeaders.session);
  const digest = hashMessage(
    session === undefined
      ? storeWriteMessage({ ...write, time: Number(time) })
      : storeWriteSessionMessage({ writes: sessionListing(session, write), time: Number(time) }),
  );
  // libsecp256k1 through the gateway's helper: ~0.06 ms a check where viem's recoverMessageAddress takes ~1.2 ms,
  // which at 64 concurrent PUTs was most of a small PUT's latency.
  if (!isHex(signature) || !isSignedBy(digest, signature, signer))
    throw new StoreError(401, "bad_signature", `the signature is not ${signer}'s over this write`);
  return getAddress(signer);
}

/** The writes a session header lists, refused unless one of them is exactly `write`. */
function sessionListing(value: string, write: Omit<StoreWrite, "time">) {
  const writes = decodeSessionWrites(value);
  if (!writes)
    throw new StoreError(
      401,
      "bad_session",
      `${storeHeaders.session} must list up to ${maxSessionWrites} writes as name:kind:size, comma-separated`,
    );
  if (!writes.some((w) => w.name === write.name && w.kind === write.kind && w.size === write.size))
    throw new StoreError(
      401,
      "not_in_session",
      `the session does not list PUT ${write.name} kind ${write.kind} size ${write.size}`,
    );
  return writes;
}
