import assert from "node:assert/strict";
import { it } from "node:test";
import { keccak256, recoverAddress, toHex, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { digestSigner, isSignedBy } from "./signatures.ts";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

it("accepts the signer's signatures and refuses other signers, tampering, high s and malformed bytes", async () => {
  const payer = privateKeyToAccount(generatePrivateKey());
  const other = privateKeyToAccount(generatePrivateKey());
  for (let i = 0; i < 3; i++) {
    const hash = keccak256(toHex(`voucher ${i}`));
    const signature = await payer.sign({ hash });
    assert.equal(isSignedBy(hash, signature, payer.address), true);
    // v as a bare recovery id (0 or 1), as some wallets send it.
    const bareV = `${signature.slice(0, 130)}0${Number.parseInt(signature.slice(130), 16) - 27}` as Hex;
    assert.equal(isSignedBy(hash, bareV, payer.address), true);
    assert.equal(isSignedBy(keccak256(toHex(`tampered ${i}`)), signature, payer.address), false);
    assert.equal(isSignedBy(hash, await other.sign({ hash }), payer.address), false);
    assert.equal(isSignedBy(hash, signature, other.address), false);
    // The same signature with s flipped to the upper half: valid ecrecover, refused by the contract and here.
    const s = BigInt(`0x${signature.slice(66, 130)}`);
    const v = Number.parseInt(signature.slice(130), 16);
    const malleated =
      `${signature.slice(0, 66)}${(N - s).toString(16).padStart(64, "0")}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
    assert.equal(await recoverAddress({ hash, signature: malleated }), payer.address);
    assert.equal(isSignedBy(hash, malleated, payer.address), false);
  }
  const hash = keccak256("0x01");
  const valid = await payer.sign({ hash });
  assert.equal(isSignedBy(hash, "0x1234", payer.address), false);
  assert.equal(isSignedBy(hash, `${valid.slice(0, 130)}1d`, payer.address), false, "v = 29");
  assert.equal(isSignedBy(hash, `0x${"00".repeat(32)}${valid.slice(66)}` as Hex, payer.address), false, "r = 0");
  assert.equal(isSignedBy(hash, `0x${"ff".repeat(32)}${valid.slice(66)}` as Hex, payer.address), false, "r >= n");
  assert.equal(isSignedBy(hash, `${valid.slice(0, 66)}${"00".repeat(32)}1b` as Hex, payer.address), false, "s = 0");
});

it("signs digests exactly as viem does, and refuses keys off the curve", async () => {
  for (let i = 0; i < 5; i++) {
    const key = generatePrivateKey();
    const signer = digestSigner(key);
    const account = privateKeyToAccount(key);
    assert.equal(signer.address, account.address);
    const hash = keccak256(toHex(`receipt ${i}`));
    const signature = signer.sign(hash);
    assert.equal(signature, await account.sign({ hash }));
    assert.equal(isSignedBy(hash, signature, account.address), true);
  }
  assert.throws(() => digestSigner(`0x${"00".repeat(32)}`), /not a secp256k1 private key/);
  assert.throws(() => digestSigner(`0x${N.toString(16)}`), /not a secp256k1 private key/);
  assert.throws(() => digestSigner("0x1234"), /not a secp256k1 private key/);
});
