export * from "./eip712.ts";
export * from "./codec.ts";
export * from "./pricing.ts";
export * from "./requests.ts";
export * from "./channel.ts";
export * from "./usage.ts";
export * from "./rpc.ts";
export * from "./logs.ts";
export * from "./discovery.ts";
export * from "./router.ts";
export {
  Payer,
  ReceiptError,
  ResumeError,
  checkpoint,
  encodeUsageVoucher,
  fetchPrices,
  walletSigner,
  type Dispute,
  type UsageVoucher,
  type PayerOptions,
  type Resumed,
  type ResumeOptions,
  type SigningAccount,
  type VoucherSigner,
} from "./payer.ts";
