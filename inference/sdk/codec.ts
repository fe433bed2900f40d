import type { Hex } from "viem";
import type { Receipt, SignedReceipt, SignedVoucher, Voucher } from "./eip712.ts";

/**
 * Wire format of vouchers and receipts: JSON with every integer as a decimal string (JSON numbers lose
 * precision above 2^53), base64url-encoded when carried in a header.
 */
export type VoucherJson = {
  channelId: string;
  cumulativeAmount: string;
  adapterIds: string[];
  adapterAmounts: string[];
  usageRoot: Hex;
  expiry: string;
  signature: Hex;
};
export type ReceiptJson = { [K in keyof Receipt]: Receipt[K] extends bigint ? string : Receipt[K] } & {
  signature: Hex;
};

export function voucherToJson({ voucher, signature }: SignedVoucher): VoucherJson {
  return {
    channelId: voucher.channelId.toString(),
    cumulativeAmount: voucher.cumulativeAmount.toString(),
    adapterIds: voucher.adapterIds.map(String),
    adapterAmounts: voucher.adapterAmounts.map(String),
    usageRoot: voucher.usageRoot,
    expiry: voucher.expiry.toString(),
    signature,
  };
}

/** Throws on anything that is not a well-formed voucher; the signature is not checked here. */
export function voucherFromJson(json: VoucherJson): SignedVoucher {
  const voucher: Voucher = {
    channelId: uint(json.channelId),
    cumulativeAmount: uint(json.cumulativeAmount),
    adapterIds: list(json.adapterIds).map(uint),
    adapterAmounts: list(json.adapterAmounts).map(uint),
    usageRoot: hex(json.usageRoot, 32),
    expiry: uint(json.expiry),
  };
  return { voucher, signature: hex(json.signature) };
}

export function receiptToJson({ receipt, signature }: SignedReceipt): ReceiptJson {
  return {
    requestId: receipt.requestId,
    channelId: receipt.channelId.toString(),
    position: receipt.position.toString(),
    adapterId: receipt.adapterId.toString(),
    promptTokens: receipt.promptTokens.toString(),
    completionTokens: receipt.completionTokens.toString(),
    amount: receipt.amount.toString(),
    completionHash: receipt.completionHash,
    attributionHash: receipt.attributionHash,
    timestamp: receipt.timestamp.toString(),
    rulesVersion: receipt.rulesVersion.toString(),
    signature,
  };
}

export function receiptFromJson(json: ReceiptJson): SignedReceipt {
  return {
    receipt: {
      requestId: hex(json.requestId, 32),
      channelId: uint(json.channelId),
      position: uint(json.position),
      adapterId: uint(json.adapterId),
      promptTokens: uint(json.promptTokens),
      completionTokens: uint(json.completionTokens),
      amount: uint(json.amount),
      completionHash: hex(json.completionHash, 32),
      attributionHash: hex(json.attributionHash, 32),
      timestamp: uint(json.timestamp),
      rulesVersion: uint(json.rulesVersion),
    },
    signature: hex(json.signature),
  };
}

/** The base64url (unpadded) of `value`'s JSON: what the payment headers carry. */
export function encodeHeader(value: unknown): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(JSON.stringify(value))) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Accepts the JSON itself or its base64/base64url encoding (padded or not). */
export function decodeHeader<T>(header: string): T {
  if (header.trimStart().startsWith("{")) return JSON.parse(header) as T;
  // atob (browsers and Node alike) takes the standard alphabet and throws on anything outside it.
  const binary = atob(header.trim().replace(/-/g, "+").replace(/_/g, "/"));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)))) as T;
}

function uint(value: unknown): bigint {
  if (typeof value !== "string" || !/^(0|[1-9][0-9]{0,77})$/.test(value)) {
    throw new TypeError(`expected a decimal integer string, got ${JSON.stringify(value)}`);
  }
  return BigInt(value);
}

function list(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new TypeError(`expected an array, got ${JSON.stringify(value)}`);
  return value;
}

function hex(value: unknown, bytes?: number): Hex {
  const pattern = bytes === undefined ? /^0x([0-9a-fA-F]{2})*$/ : new RegExp(`^0x[0-9a-fA-F]{${bytes * 2}}$`);
  if (typeof value !== "string" || !pattern.test(value)) {
    throw new TypeError(`expected ${bytes ?? "some"}-byte hex, got ${JSON.stringify(value)}`);
  }
  return value as Hex;
}
