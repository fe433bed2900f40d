/**
 * Usage vouchers: the payer's exact vouchers, the only ones the settler settles. One covers the channel's first
 * `receipts` receipts; its usage root commits to them and to the status the payer gave each (sdk/usage.ts), and
 * its amounts are, per adapter, exactly what the accepted ones among them billed. Cover vouchers (one per request,
 * `x-openpoa-voucher`) only let the gateway serve; usage vouchers are what it gets paid by.
 */
import type { Hex } from "viem";
import type { VoucherJson } from "../sdk/codec.ts";
import { receiptDigest, type SignedVoucher } from "../sdk/eip712.ts";
import { usageLeaf, type ReceiptStatus } from "../sdk/usage.ts";
import { paymentError } from "./errors.ts";
import {
  checkSignedOnChannel,
  checkTerms,
  decodeVoucherHeader,
  parseVoucher,
  type Ledger,
  type PaymentContext,
  type Vouched,
} from "./payment.ts";
import type { UsageLog } from "./usageLog.ts";

/** A usage voucher on the wire: the voucher, how many receipts it covers and which of them the payer disputes. */
export type UsageVoucherJson = VoucherJson & { receipts: number; disputed: number[] };

/**
 * Checks a usage voucher header (terms, signature, root, amounts) and keeps it. A voucher covering no more receipts
 * than the one held already changes nothing (concurrent requests race to deliver them); a wrong one is a 400 that
 * names what differs.
 */
export async function acceptUsageVoucher(
  { payment, ledger, usageLog }: { payment: PaymentContext; ledger: Ledger; usageLog: UsageLog },
  header: string,
): Promise<bigint> {
  const json = decodeVoucherHeader<UsageVoucherJson>(header);
  const signed = parseVoucher(json);
  const receipts = json.receipts;
  const disputed = json.disputed ?? [];
  if (!Number.isSafeInteger(receipts) || receipts < 0)
    throw paymentError("voucher_malformed", "usage voucher: `receipts` must be a whole number", 400);
  if (
    !Array.isArray(disputed) ||
    disputed.some((p, k) => !Number.isSafeInteger(p) || p < 0 || p >= receipts || (k > 0 && p <= disputed[k - 1]!))
  ) {
    throw paymentError(
      "voucher_malformed",
      `usage voucher: \`disputed\` must list increasing positions below ${receipts}`,
      400,
    );
  }
  const digest = checkTerms(payment, signed);
  await checkSignedOnChannel(payment, signed, digest);
  // Synchronous from here: no other request changes the book between the check and the update.
  applyUsageVoucher({ payment, ledger, usageLog }, { signed, digest, receipts, disputed: new Set(disputed) });
  return signed.voucher.channelId;
}

function applyUsageVoucher(
  { payment, ledger, usageLog }: { payment: PaymentContext; ledger: Ledger; usageLog: UsageLog },
  {
    signed,
    digest,
    receipts,
    disputed,
  }: { signed: SignedVoucher; digest: Hex; receipts: number; disputed: Set<number> },
) {
  const { voucher } = signed;
  const book = ledger.book(voucher.channelId);
  const { vouched } = book;
  if (receipts <= vouched.count) return;
  if (receipts > book.issued) {
    throw paymentError(
      "usage_voucher_ahead",
      `usage voucher covers ${receipts} receipts; channel ${voucher.channelId} has ${book.issued}`,
      400,
    );
  }
  // Statuses below the previous count are final: the same disputes there, no more and no fewer. Both sets are
  // small, so this costs the disputes, not the channel's length.
  const changed =
    [...disputed].find((position) => position < vouched.count && !book.disputed.has(position)) ??
    [...book.disputed].find((position) => !disputed.has(position));
  if (changed !== undefined) {
    throw paymentError(
      "usage_status_changed",
      `receipt ${changed} was ${book.disputed.has(changed) ? "disputed" : "accepted"} by an earlier usage voucher; statuses are final`,
      400,
    );
  }

  const tree = vouched.tree.clone();
  const accepted = new Map(vouched.accepted);
  const statuses: ReceiptStatus[] = [];
  const newlyDisputed: { position: number; adapterId: bigint; amount: bigint }[] = [];
  const adapters = new Set(accepted.keys());
  for (const { receipt } of usageLog.receiptRange(voucher.channelId, vouched.count, receipts)) {
    const position = Number(receipt.position);
    const status: ReceiptStatus = disputed.has(position) ? "disputed" : "accepted";
    statuses.push(status);
    tree.append(usageLeaf(receiptDigest(payment.receiptSeparator, receipt), status));
    adapters.add(receipt.adapterId);
    if (status === "accepted")
      accepted.set(receipt.adapterId, (accepted.get(receipt.adapterId) ?? 0n) + receipt.amount);
    else newlyDisputed.push({ position, adapterId: receipt.adapterId, amount: receipt.amount });
  }
  if (tree.root().toLowerCase() !== voucher.usageRoot.toLowerCase()) {
    throw paymentError(
      "usage_root_mismatch",
      `usage root ${voucher.usageRoot} is not the root of receipts 0..${receipts - 1} with ${disputed.size} disputed: expected ${tree.root()}`,
      400,
    );
  }
  const listed = new Map(voucher.adapterIds.map((id, i) => [id, voucher.adapterAmounts[i]!]));
  for (const id of new Set([...listed.keys(), ...accepted.keys()])) {
    const [promised, owed] = [listed.get(id) ?? 0n, accepted.get(id) ?? 0n];
    if (promised !== owed || (listed.has(id) && !adapters.has(id))) {
      throw paymentError(
        "usage_amounts_mismatch",
        `usage voucher promises ${promised} wei for adapter ${id}; its accepted receipts bill ${owed}`,
        400,
      );
    }
  }

  const next: Vouched = { count: receipts, tree, accepted, voucher: { digest, signed } };
  usageLog.recordUsageVoucher(
    {
      channelId: voucher.channelId,
      receipts,
      usageRoot: voucher.usageRoot,
      digest,
      signed,
      frontier: tree.frontierHex(),
    },
    vouched.count,
    statuses,
  );
  ledger.vouch(voucher.channelId, next, newlyDisputed);
}

/** How many of the channel's receipts no usage voucher covers yet. */
export function unvouchedReceipts(ledger: Ledger, channelId: bigint): number {
  const book = ledger.view(channelId);
  return book === undefined ? 0 : book.issued - book.vouched.count;
}
