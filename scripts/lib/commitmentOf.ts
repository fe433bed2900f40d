/**
 * ICommitments' hash, computed locally, and fresh salts: browser-safe (viem and Web Crypto only), so the CLI and the
 * Studio commit the same way (commitments.ts sends the commit and the reveal from Node).
 */
import { encodeAbiParameters, keccak256, toHex, type Address, type Hex } from "viem";

/** A fresh secret for one commitment. */
export const newSalt = (): Hex => toHex(crypto.getRandomValues(new Uint8Array(32)));

/** `ICommitments.commitmentOf(submitter, hash, salt)`. */
export const commitmentOf = (submitter: Address, hash: Hex, salt: Hex): Hex =>
  keccak256(
    encodeAbiParameters([{ type: "address" }, { type: "bytes32" }, { type: "bytes32" }], [submitter, hash, salt]),
  );
