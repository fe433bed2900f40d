export * from "./eip712.ts";
export * from "./codec.ts";
export * from "./pricing.ts";
export * from "./requests.ts";
export * from "./channel.ts";
export { Payer, ReceiptError, checkpoint, fetchPrices, type PayerOptions } from "./payer.ts";
