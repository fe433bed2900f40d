import type { Address, Hex } from "viem";

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

/** What the operator signs for every response it bills. */
export type Receipt = {
  requestId: Hex;
  channelId: bigint;
  adapterId: bigint;
  promptTokens: bigint;
  completionTokens: bigint;
  amount: bigint;
  attributionHash: Hex;
  timestamp: bigint;
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
    { name: "adapterId", type: "uint256" },
    { name: "promptTokens", type: "uint32" },
    { name: "completionTokens", type: "uint32" },
    { name: "amount", type: "uint256" },
    { name: "attributionHash", type: "bytes32" },
    { name: "timestamp", type: "uint64" },
  ],
} as const;

/** The domain InferencePayments verifies vouchers under (chain id and contract bound). */
export function voucherDomain(chainId: number, payments: Address) {
  return { name: "OpenPoA InferencePayments", version: "1", chainId, verifyingContract: payments } as const;
}

/** Receipts are bound to the same chain and payment contract, under a name of their own. */
export function receiptDomain(chainId: number, payments: Address) {
  return { name: "OpenPoA Usage Receipts", version: "1", chainId, verifyingContract: payments } as const;
}

export const voucherHeader = "x-openpoa-voucher";
export const receiptHeader = "x-openpoa-receipt";
