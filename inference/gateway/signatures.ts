import secp256k1 from "secp256k1";
import { bytesToHex, getAddress, hexToBytes, isAddressEqual, keccak256, type Address, type Hex } from "viem";

/**
 * ECDSA over secp256k1 on the request path, through libsecp256k1 (the `secp256k1` package's prebuilt binding):
 * a recovery or a signature takes ~0.05 ms here against 0.3–1.5 ms in JavaScript, which was most of the gateway's
 * payment overhead. Where the binding cannot load, the package falls back to JavaScript: slower, same answers.
 */

/** The upper bound of low-s values, (n - 1) / 2, as 32 big-endian bytes. */
const HALF_N = hexToBytes("0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0");

/** Compares two 32-byte big-endian numbers. */
function above(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return false;
}

const isZero = (bytes: Uint8Array) => bytes.every((b) => b === 0);

/**
 * Whether `signature` (65 bytes r ‖ s ‖ v, v in {0, 1, 27, 28}) over `hash` was made by `signer`. High-s signatures
 * are refused, as OpenZeppelin's ECDSA in InferencePayments refuses them; anything malformed is simply invalid.
 */
export function isSignedBy(hash: Hex, signature: Hex, signer: Address): boolean {
  const bytes = hexToBytes(signature);
  if (bytes.length !== 65) return false;
  const rs = bytes.subarray(0, 64);
  const s = bytes.subarray(32, 64);
  const v = bytes[64]! >= 27 ? bytes[64]! - 27 : bytes[64]!;
  if (v > 1 || isZero(s) || above(s, HALF_N)) return false;
  let publicKey: Uint8Array;
  try {
    // Throws for r or s out of range and for points that do not recover.
    publicKey = secp256k1.ecdsaRecover(rs, v, hexToBytes(hash), false);
  } catch {
    return false;
  }
  return isAddressEqual(addressOfPublicKey(publicKey), signer);
}

/** The address of an uncompressed public key (0x04 ‖ x ‖ y), lowercase: viem's publicKeyToAddress would take hex
 * and checksum it, a hex round trip and a keccak more on every request. */
const addressOfPublicKey = (publicKey: Uint8Array): Address => `0x${keccak256(publicKey.subarray(1)).slice(-40)}`;

/** A private key that signs digests: the operator's receipt key. */
export type DigestSigner = { address: Address; sign(hash: Hex): Hex };

/**
 * Signs 32-byte digests with `privateKey` (RFC 6979 nonces, low s): byte for byte the signature viem's
 * `account.sign({ hash })` makes, as r ‖ s ‖ v with v = 27 + recovery id.
 */
export function digestSigner(privateKey: Hex): DigestSigner {
  const key = hexToBytes(privateKey);
  if (key.length !== 32 || !secp256k1.privateKeyVerify(key)) throw new Error("not a secp256k1 private key");
  const address = getAddress(addressOfPublicKey(secp256k1.publicKeyCreate(key, false)));
  return {
    address,
    sign(hash: Hex): Hex {
      const { signature, recid } = secp256k1.ecdsaSign(hexToBytes(hash), key);
      const bytes = new Uint8Array(65);
      bytes.set(signature);
      bytes[64] = 27 + recid;
      return bytesToHex(bytes);
    },
  };
}
