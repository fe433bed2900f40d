import { secp256k1 } from "@noble/curves/secp256k1";
import { hexToBytes, isAddressEqual, keccak256, type Address, type Hex } from "viem";

const { ProjectivePoint, CURVE } = secp256k1;
type Point = InstanceType<typeof ProjectivePoint>;
const N = CURVE.n;
const HALF_N = N >> 1n;

const mod = (a: bigint) => ((a % N) + N) % N;
function invert(a: bigint): bigint {
  let [low, high, x0, x1] = [mod(a), N, 1n, 0n];
  while (low > 1n) {
    const q = high / low;
    [low, high] = [high - q * low, low];
    [x0, x1] = [x1 - q * x0, x0];
  }
  return mod(x0);
}

const addressOf = (point: Point): Address => `0x${keccak256(point.toRawBytes(false).subarray(1)).slice(-40)}`;

/**
 * ECDSA (secp256k1) checks of payer signatures on digests. Public-key recovery costs a full variable-base scalar
 * multiplication per voucher (~1.5 ms in JS here); a channel's payer signs every voucher with one key, so the key
 * is recovered once, kept with window precomputes, and later vouchers are verified against it (several times
 * faster). High-s signatures are refused, as OpenZeppelin's ECDSA in InferencePayments refuses them.
 */
export class SignatureVerifier {
  private keys = new Map<string, Point>();

  isValid(hash: Hex, signature: Hex, signer: Address): boolean {
    const bytes = hexToBytes(signature);
    if (bytes.length !== 65) return false;
    const r = BigInt(signature.slice(0, 66));
    const s = BigInt(`0x${signature.slice(66, 130)}`);
    const v = bytes[64]! >= 27 ? bytes[64]! - 27 : bytes[64]!;
    if (r === 0n || r >= N || s === 0n || s > HALF_N || v > 1) return false;
    const key = this.keys.get(signer.toLowerCase());
    if (key) return verify(BigInt(hash), r, s, key);
    let recovered: Point;
    try {
      recovered = new secp256k1.Signature(r, s).addRecoveryBit(v).recoverPublicKey(hash.slice(2)) as Point;
    } catch {
      return false;
    }
    if (!isAddressEqual(addressOf(recovered), signer)) return false;
    recovered._setWindowSize(8);
    this.keys.set(signer.toLowerCase(), recovered);
    return true;
  }
}

function verify(hash: bigint, r: bigint, s: bigint, key: Point): boolean {
  const w = invert(s);
  const point = ProjectivePoint.BASE.multiply(mod(hash * w)).add(key.multiply(mod(r * w)));
  return !point.equals(ProjectivePoint.ZERO) && mod(point.toAffine().x) === r;
}
