/**
 * Writes the usage log's receipts in the format `openpoa epoch run --receipts` reads (scripts/lib/epochs.ts):
 * a JSON array of { receiptId, adapterId, amount, attributionHash }, the receipt id being the request id as a
 * decimal integer. Usage: `node inference/gateway/exportReceipts.ts USAGE_LOG OUT.json [CHANNEL_ID]`.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { UsageLog } from "./usageLog.ts";

export function epochReceipts(log: UsageLog, channelId?: bigint) {
  return log.receipts(channelId).map(({ receipt }) => ({
    receiptId: BigInt(receipt.requestId).toString(),
    adapterId: receipt.adapterId.toString(),
    amount: receipt.amount.toString(),
    attributionHash: receipt.attributionHash,
  }));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, out, channel] = process.argv.slice(2);
  if (!file || !out) throw new Error("usage: exportReceipts.ts USAGE_LOG OUT.json [CHANNEL_ID]");
  const log = new UsageLog(file);
  const receipts = epochReceipts(log, channel === undefined ? undefined : BigInt(channel));
  log.close();
  writeFileSync(out, JSON.stringify(receipts, null, 2) + "\n");
  console.log(`wrote ${receipts.length} receipts to ${out}`);
}
