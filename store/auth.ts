/**
 * Who signed a PUT: the EIP-191 signature over storeWriteMessage (attribution/src/storeAuth.ts), rebuilt here from
 * the request itself, so a signature covers exactly this name, kind, size and a time near now.
 */
import type { IncomingHttpHeaders } from "node:http";
import { isAddress, isHex, recoverMessageAddress, type Address } from "viem";
import { storeHeaders, storeWriteMessage, type StoreWrite } from "../attribution/src/index.ts";
import { StoreError } from "./errors.ts";

/** How far a signed time may be from the server's clock: bounds how long a captured signature can be replayed. */
export const maxClockSkewSeconds = 300;

const header = (headers: IncomingHttpHeaders, name: string) => {
  const value = headers[name];
  return typeof value === "string" && value !== "" ? value : undefined;
};

/** The address that signed `write`, or a 401 StoreError saying what is missing or wrong. */
export async function authenticateWrite(
  headers: IncomingHttpHeaders,
  write: Omit<StoreWrite, "time">,
  nowSeconds = Date.now() / 1000,
): Promise<Address> {
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
  const message = storeWriteMessage({ ...write, time: Number(time) });
  const recovered = isHex(signature)
    ? await recoverMessageAddress({ message, signature }).catch(() => undefined)
    : undefined;
  if (recovered?.toLowerCase() !== signer.toLowerCase())
    throw new StoreError(401, "bad_signature", `the signature is not ${signer}'s over this write`);
  return recovered;
}
