import assert from "node:assert/strict";
import { it } from "node:test";
import { keccak256, toHex, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { SignatureVerifier } from "./signatures.ts";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

it("verifies by recovery first and by the cached key after, refusing other signers, tampering and high s", async () => {
  const payer = privateKeyToAccount(generatePrivateKey());
  const other = privateKeyToAccount(generatePrivateKey());
  const verifier = new SignatureVerifier();
  for (let i = 0; i < 3; i++) {
    const hash = keccak256(toHex(`voucher ${i}`));
    const signature = await payer.sign({ hash });
    assert.equal(verifier.isValid(hash, signature, payer.address), true);
    assert.equal(verifier.isValid(keccak256(toHex(`tampered ${i}`)), signature, payer.address), false);
    assert.equal(verifier.isValid(hash, await other.sign({ hash }), payer.address), false);
    assert.equal(verifier.isValid(hash, signature, other.address), false);
    // The same signature with s flipped to the upper half: valid ecrecover, refused by the contract and here.
    const s = BigInt(`0x${signature.slice(66, 130)}`);
    const v = Number.parseInt(signature.slice(130), 16);
    const malleated =
      `${signature.slice(0, 66)}${(N - s).toString(16).padStart(64, "0")}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
    assert.equal(verifier.isValid(hash, malleated, payer.address), false);
  }
  assert.equal(new SignatureVerifier().isValid(keccak256("0x01"), "0x1234", payer.address), false);
});
