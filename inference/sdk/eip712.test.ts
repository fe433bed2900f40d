import assert from "node:assert/strict";
import { it } from "node:test";
import { hashTypedData, zeroHash } from "viem";
import {
  domainSeparator,
  receiptDigest,
  type Receipt,
  type Voucher,
  receiptDomain,
  receiptTypes,
  voucherDigest,
  voucherDomain,
  voucherTypes,
} from "./eip712.ts";
import { decodeHeader, encodeHeader, voucherFromJson, voucherToJson } from "./codec.ts";
import { costOf, countPromptTokens } from "./pricing.ts";

const payments = "0x8A791620dd6260079BF849Dc5567aDC3F2FdC318";
const voucher: Voucher = {
  channelId: 7n,
  cumulativeAmount: 2n ** 200n + 5n,
  adapterIds: [0n, 3n],
  adapterAmounts: [2n ** 200n, 5n],
  usageRoot: `0x${"ab".repeat(32)}`,
  expiry: 2n ** 63n,
};
const receipt: Receipt = {
  requestId: `0x${"cd".repeat(32)}`,
  channelId: 7n,
  position: 2n ** 40n,
  adapterId: 3n,
  promptTokens: 12n,
  completionTokens: 30n,
  amount: 42_000_000_000_000n,
  completionHash: `0x${"ef".repeat(32)}`,
  attributionHash: zeroHash,
  timestamp: 1_800_000_000n,
  rulesVersion: 1n,
};

it("hashes vouchers and receipts exactly as EIP-712 (viem) does", () => {
  const vDomain = voucherDomain(31337, payments);
  assert.equal(
    voucherDigest(domainSeparator(vDomain), voucher),
    hashTypedData({ domain: vDomain, types: voucherTypes, primaryType: "Voucher", message: voucher }),
  );
  const rDomain = receiptDomain(1, payments);
  assert.equal(
    receiptDigest(domainSeparator(rDomain), receipt),
    hashTypedData({ domain: rDomain, types: receiptTypes, primaryType: "Receipt", message: receipt }),
  );
});

it("round-trips vouchers through the header encoding without losing precision", () => {
  const signed = { voucher, signature: "0x1234" as const };
  assert.deepEqual(voucherFromJson(decodeHeader(encodeHeader(voucherToJson(signed)))), signed);
  assert.deepEqual(voucherFromJson(decodeHeader(JSON.stringify(voucherToJson(signed)))), signed);
  assert.throws(() => voucherFromJson({ ...voucherToJson(signed), cumulativeAmount: "1e30" }));
  assert.throws(() => voucherFromJson({ ...voucherToJson(signed), channelId: 7 as never }));
});

it("encodes headers as Node's base64url did, and reads base64 of either alphabet, padded or not", () => {
  const value = { note: "prix en € — ✓", n: "12345678901234567890", pad: "a" };
  const encoded = encodeHeader(value);
  assert.equal(encoded, Buffer.from(JSON.stringify(value)).toString("base64url"));
  assert.deepEqual(decodeHeader(encoded), value);
  assert.deepEqual(decodeHeader(Buffer.from(JSON.stringify(value)).toString("base64")), value);
  assert.throws(() => decodeHeader("not base64!"));
});

it("counts a prompt's tokens as its UTF-8 bytes plus one", () => {
  assert.equal(countPromptTokens(""), 1);
  assert.equal(countPromptTokens("é€𝄞"), 1 + 2 + 3 + 4);
});

it("rounds each request's price up to the wei", () => {
  assert.equal(costOf(1_000n, 1n), 1n);
  assert.equal(costOf(1_001n, 1_000n), 1_001n);
  assert.equal(costOf(10n ** 15n, 1_999n), 1_999_000_000_000_000n);
  assert.equal(costOf(7n, 0n), 0n);
});
