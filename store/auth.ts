/**
 * Who signed a PUT: the EIP-191 signature over storeWriteMessage (attribution/src/storeAuth.ts), rebuilt here from
 * the request itself, so a signature covers exactly this name, kind, size and a time near now.
 */
import type { IncomingHttpHeaders } from "node:http";
import { getAddress, hashMessage, isAddress, isHex, type Address } from "viem";
import { isSignedBy } from "../inference/gateway/signatures.ts";
import { storeHeaders, storeWriteMessage, type StoreWrite } from "../attribution/src/index.ts";
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
  const digest = hashMessage(storeWriteMessage({ ...write, time: Number(time) }));
  // libsecp256k1 through the gateway's helper: ~0.06 ms a check where viem's recoverMessageAddress takes ~1.2 ms,
  // which at 64 concurrent PUTs was most of a small PUT's latency.
  if (!isHex(signature) || !isSignedBy(digest, signature, signer))
    throw new StoreError(401, "bad_signature", `the signature is not ${signer}'s over this write`);
  return getAddress(signer);
}
