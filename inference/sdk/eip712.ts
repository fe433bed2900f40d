import { concatBytes, hexToBytes, keccak256, numberToHex, type Address, type Hex } from "viem";

/** The payer's promise, exactly IInferencePayments.Voucher. */
export type Voucher = {
  channelId: bigint;
  cumulativeAmount: bigint;
  adapterIds: bigint[];
  adapterAmounts: bigint[];
  usageRoot: Hex;
  expiry: bigint;
};
export type SignedVoucher = { voucher: Voucher; signature: Hex };

/**
 * What the operator signs for every response it bills. `position` numbers the channel's receipts from 0 in the
 * order the operator issued them (the leaf index in the usage tree, sdk/usage.ts); `completionHash` is keccak256
 * of the completion's attribution tokens as 4-byte big-endian integers, the value its attribution record names.
 */
export type Receipt = {
  requestId: Hex;
  channelId: bigint;
  position: bigint;
  adapterId: bigint;
  promptTokens: bigint;
  completionTokens: bigint;
  amount: bigint;
  completionHash: Hex;
  attributionHash: Hex;
  timestamp: bigint;
  /** The ServingRules version in force when the response was served (contracts/ServingRules.sol). */
  rulesVersion: bigint;
};
export type SignedReceipt = { receipt: Receipt; signature: Hex };

export const voucherTypes = {
  Voucher: [
    { name: "channelId", type: "uint256" },
    { name: "cumulativeAmount", type: "uint256" },
    { name: "adapterIds", type: "uint256[]" },
    { name: "adapterAmounts", type: "uint256[]" },
    { name: "usageRoot", type: "bytes32" },
    { name: "expiry", type: "uint64" },
  ],
} as const;

export const receiptTypes = {
  Receipt: [
    { name: "requestId", type: "bytes32" },
    { name: "channelId", type: "uint256" },
    { name: "position", type: "uint64" },
    { name: "adapterId", type: "uint256" },
    { name: "promptTokens", type: "uint64" },
    { name: "completionTokens", type: "uint64" },
    { name: "amount", type: "uint256" },
    { name: "completionHash", type: "bytes32" },
    { name: "attributionHash", type: "bytes32" },
    { name: "timestamp", type: "uint64" },
    { name: "rulesVersion", type: "uint64" },
  ],
} as const;

/** The receipt schema this code signs and checks: the version of the receipt domain (ServingRules names it). */
export const receiptSchemaVersion = 3;

/** The domain InferencePayments verifies vouchers under (chain id and contract bound). */
export function voucherDomain(chainId: number, payments: Address) {
  return { name: "OpenPoA InferencePayments", version: "1", chainId, verifyingContract: payments } as const;
}

/**
 * Receipts are bound to the same chain and payment contract, under a name of their own (v2: positions; v3: the
 * serving rules' version).
 */
export function receiptDomain(chainId: number, payments: Address) {
  return {
    name: "OpenPoA Usage Receipts",
    version: String(receiptSchemaVersion),
    chainId,
    verifyingContract: payments,
  } as const;
}

export const voucherHeader = "x-openpoa-voucher";
export const receiptHeader = "x-openpoa-receipt";
/** A usage voucher (sdk/usage.ts): exact amounts over the receipts its usage root covers; the one that settles. */
export const usageHeader = "x-openpoa-usage";

/*
 * Hand-rolled EIP-712 hashing of the two structs: the gateway hashes one voucher and one receipt per request,
 * and viem's generic hashTypedData (~0.6 ms each here) was a third of its payment overhead. `eip712.test.ts`
 * checks both against viem's.
 */
const utf8 = (text: string) => new TextEncoder().encode(text);
const word = (value: bigint) => hexToBytes(numberToHex(value, { size: 32 }));
const hashWords = (values: bigint[]) => keccak256(concatBytes(values.map(word)), "bytes");

const DOMAIN_TYPEHASH = keccak256(
  utf8("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
  "bytes",
);
const VOUCHER_TYPEHASH = keccak256(
  utf8(
    "Voucher(uint256 channelId,uint256 cumulativeAmount,uint256[] adapterIds,uint256[] adapterAmounts,bytes32 usageRoot,uint64 expiry)",
  ),
  "bytes",
);
const RECEIPT_TYPEHASH = keccak256(
  utf8(
    "Receipt(bytes32 requestId,uint256 channelId,uint64 position,uint256 adapterId,uint64 promptTokens,uint64 completionTokens,uint256 amount,bytes32 completionHash,bytes32 attributionHash,uint64 timestamp,uint64 rulesVersion)",
  ),
  "bytes",
);

/** The EIP-712 domain separator; compute once per domain. */
export function domainSeparator(domain: {
  name: string;
  version: string;
  chainId: number;
  verifyingContract: Address;
}): Uint8Array {
  return keccak256(
    concatBytes([
      DOMAIN_TYPEHASH,
      keccak256(utf8(domain.name), "bytes"),
      keccak256(utf8(domain.version), "bytes"),
      word(BigInt(domain.chainId)),
      word(BigInt(domain.verifyingContract)),
    ]),
    "bytes",
  );
}

const digestOf = (separator: Uint8Array, structHash: Uint8Array): Hex =>
  keccak256(concatBytes([new Uint8Array([0x19, 0x01]), separator, structHash]));

export function voucherDigest(separator: Uint8Array, v: Voucher): Hex {
  const structHash = keccak256(
    concatBytes([
      VOUCHER_TYPEHASH,
      word(v.channelId),
      word(v.cumulativeAmount),
      hashWords(v.adapterIds),
      hashWords(v.adapterAmounts),
      hexToBytes(v.usageRoot),
      word(v.expiry),
    ]),
    "bytes",
  );
  return digestOf(separator, structHash);
}

export function receiptDigest(separator: Uint8Array, r: Receipt): Hex {
  const structHash = keccak256(
    concatBytes([
      RECEIPT_TYPEHASH,
      hexToBytes(r.requestId),
      word(r.channelId),
      word(r.position),
      word(r.adapterId),
      word(r.promptTokens),
      word(r.completionTokens),
      word(r.amount),
      hexToBytes(r.completionHash),
      hexToBytes(r.attributionHash),
      word(r.timestamp),
      word(r.rulesVersion),
    ]),
    "bytes",
  );
  return digestOf(separator, structHash);
}
