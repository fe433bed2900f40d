import {
  zeroHash,
  encodeFunctionData,
  keccak256,
  type Account,
  type Address,
  type Chain,
  type Hex,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import type { ContentStore } from "../../attribution/src/index.ts";
import { abiOf } from "../sdk/abis.ts";
import type { SignedVoucher } from "../sdk/eip712.ts";
import { NonceTakenError, sendRawTransactionOnce } from "../sdk/rpc.ts";
import { encodeUsageBatch, usageBatchFileName, usageBatchFormat, type UsageBatch } from "../sdk/usage.ts";
import type { ChannelRecord } from "./chain.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { Ledger } from "./payment.ts";
import type { SettlementRow, UsageLog } from "./usageLog.ts";

export type SettlementThresholds = {
  /** Settle once the settleable increase reaches this many wei. */
  minAmount: bigint;
  /** ...or once the oldest unsettled receipt is this old. */
  maxAgeMs: number;
};
/**
 * Whatever the thresholds, a voucher is settled once it has less than this many seconds left. The gateway accepts
 * only vouchers that live at least twice as long (`minVoucherLifetimeSec`), so every voucher it took as cover is
 * settled before it expires, however small the payer.
 */
export const settleBeforeExpiry = (minVoucherLifetimeSec: bigint) => minVoucherLifetimeSec / 2n;
export type SettlerOptions = {
  client: PublicClient;
  chainId: number;
  /** Where each settlement's receipts are published (sdk/usage.ts); without one, epochs split them pro rata. */
  contentStore: ContentStore | undefined;
  wallet: WalletClient<Transport, Chain | undefined, Account>;
  payments: Address;
  usageLog: UsageLog;
  ledger: Ledger;
  thresholds: SettlementThresholds;
  /** Settle a voucher, due or not, once it expires within this many seconds (`settleBeforeExpiry`). */
  expiryMarginSec: bigint;
  log: Logger;
  metrics: Metrics;
};

/**
 * Submits usage vouchers on chain: the only vouchers whose amounts are exactly what accepted receipts billed and
 * whose usage root commits to those receipts. Before each settlement the receipts it pays for are published to the
 * content store under the voucher's usage root (sdk/usage.ts), so that the epoch can take them from there. Each
 * transaction is signed first and journalled (raw bytes and hash) before it is broadcast: after a crash `reconcile`
 * rebroadcasts that same transaction (same nonce) or records its outcome, so no voucher is ever submitted twice.
 */
export class Settler {
  private running: Promise<void> | undefined;
  private refused = new Set<Hex>();
  readonly options: SettlerOptions;

  constructor(options: SettlerOptions) {
    this.options = options;
  }

  /** Finishes what a previous process left in the journal. Run before the first `tick`. */
  async reconcile(): Promise<void> {
    for (const row of this.options.usageLog.settlements("signed")) await this.finish(row, true);
  }

  /** One pass over every channel; concurrent calls share the pass in progress. */
  tick(): Promise<void> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass() {
    const { ledger, usageLog, thresholds, expiryMarginSec, log } = this.options;
    await this.reconcile();
    for (const channelId of ledger.channels()) {
      const book = ledger.book(channelId);
      const unsettledSince = book.unsettledSince;
      if (unsettledSince === undefined) continue;
      try {
        const channel = await this.readChannel(channelId);
        const now = BigInt(Math.floor(Date.now() / 1000));
        const live = (candidate: { digest: Hex; signed: SignedVoucher } | undefined) =>
          candidate !== undefined &&
          !this.refused.has(candidate.digest) &&
          candidate.signed.voucher.cumulativeAmount > channel.settled &&
          candidate.signed.voucher.expiry > now
            ? candidate
            : undefined;
        const usage = live(book.vouched.voucher);
        // Cover vouchers matter only where usage vouchers leave receipts uncovered: skip reading them otherwise.
        const lagging = !usage || book.vouched.count < book.issued;
        const cover = lagging
          ? live(settleable(usageLog.vouchers(channelId), book.billed, channel.settled, this.refused))
          : undefined;
        if (channel.finalized || (!usage && !cover)) {
          if (book.vouched.count === book.issued) book.unsettledSince = undefined;
          continue;
        }
        const overdue = Date.now() - unsettledSince >= thresholds.maxAgeMs;
        const expiring = (c: typeof usage) => c !== undefined && c.signed.voucher.expiry - now <= expiryMarginSec;
        // A closing channel settles at once, long before its window ends.
        const closing = channel.closesAt !== 0n;
        // A payer that stopped sending usage vouchers (none for maxAgeMs) is settled from its cover vouchers, never
        // above what its receipts billed; such a settlement's receipts are not published, so its epoch splits it
        // pro rata. So is a closing channel whose last receipts no usage voucher covers.
        const silent = usage === undefined || Date.now() - (book.lastUsageAt ?? 0) >= thresholds.maxAgeMs;
        const fallback =
          cover !== undefined &&
          (usage === undefined || cover.signed.voucher.cumulativeAmount > usage.signed.voucher.cumulativeAmount) &&
          (closing || (silent && (overdue || expiring(cover))));
        const candidate = fallback ? cover! : usage;
        if (!candidate) continue;
        const due =
          candidate.signed.voucher.cumulativeAmount - channel.settled >= thresholds.minAmount ||
          overdue ||
          expiring(candidate) ||
          closing;
        if (!due) continue;
        // Nothing is settled from a usage voucher (or statuses) not yet on disk.
        usageLog.commitPending();
        if (candidate === usage) await this.publish(channel, book.vouched.count, candidate.signed);
        await this.submit(candidate.digest, candidate.signed);
        // Receipts issued meanwhile, or beyond what this voucher covered, wait from now on.
        const billedTotal = [...book.billed.values()].reduce((sum, amount) => sum + amount, 0n);
        book.unsettledSince = candidate.signed.voucher.cumulativeAmount === billedTotal ? undefined : Date.now();
      } catch (error) {
        // Retried on the next pass.
        log("warn", "settlement failed", { channelId, error: String(error) });
      }
    }
  }

  /**
   * Publishes the receipts the voucher pays for beyond the channel's settled usage root: positions [from, to) with
   * the tree's frontier at `from`, under `usage-<usageRoot>`.
   */
  private async publish(channel: ChannelRecord, to: number, { voucher }: SignedVoucher) {
    const { usageLog, contentStore, chainId, payments, log } = this.options;
    if (!contentStore) return;
    const start =
      channel.usageRoot === zeroHash
        ? { receipts: 0, frontier: [] }
        : usageLog.usageVoucherByRoot(voucher.channelId, channel.usageRoot);
    if (start === undefined) {
      // Settled from a root this log never accepted (a lost log): the epoch will split this settlement pro rata.
      log("error", "cannot publish the receipts of a settlement", {
        channelId: voucher.channelId,
        from: channel.usageRoot,
      });
      return;
    }
    const batch: UsageBatch = {
      format: usageBatchFormat,
      chainId,
      payments,
      channelId: voucher.channelId,
      from: start.receipts,
      frontier: start.frontier,
      previousUsageRoot: channel.usageRoot,
      usageRoot: voucher.usageRoot,
      receipts: usageLog.receiptRange(voucher.channelId, start.receipts, to).map(({ receipt, signature, status }) => ({
        receipt,
        signature,
        // Every receipt below a usage voucher's count has the status that voucher gave it.
        status: status!,
      })),
    };
    await contentStore.write(usageBatchFileName(voucher.usageRoot), new TextEncoder().encode(encodeUsageBatch(batch)));
  }

  private async readChannel(channelId: bigint): Promise<ChannelRecord> {
    return (await this.options.client.readContract({
      address: this.options.payments,
      abi: abiOf("InferencePayments"),
      functionName: "getChannel",
      args: [channelId],
    })) as ChannelRecord;
  }

  private async submit(digest: Hex, { voucher, signature }: SignedVoucher) {
    const { client, wallet, payments, usageLog, log } = this.options;
    const call = { abi: abiOf("InferencePayments"), functionName: "settle", args: [voucher, signature] } as const;
    try {
      await client.simulateContract({ ...call, account: wallet.account, address: payments });
    } catch (error) {
      // A revert will not heal by retrying the same voucher (say a contract wallet that stopped signing): skip it.
      this.refused.add(digest);
      throw error;
    }
    const prepared = await wallet.prepareTransactionRequest({
      to: payments,
      data: encodeFunctionData(call),
      chain: wallet.chain,
    });
    const rawTx = await wallet.signTransaction(prepared as never);
    const txHash = keccak256(rawTx);
    const id = usageLog.recordSettlement(voucher.channelId, digest, voucher.cumulativeAmount, rawTx, txHash);
    log("info", "settling", { channelId: voucher.channelId, cumulativeAmount: voucher.cumulativeAmount, txHash });
    await this.finish(
      {
        id,
        channelId: voucher.channelId,
        voucherDigest: digest,
        cumulativeAmount: voucher.cumulativeAmount,
        rawTx,
        txHash,
        status: "signed",
      },
      false,
    );
  }

  /** Broadcasts the journalled transaction (again, after a crash) and records how it ended. */
  private async finish(row: SettlementRow, recovering: boolean) {
    const { client, usageLog, log, metrics } = this.options;
    let receipt = recovering
      ? await client.getTransactionReceipt({ hash: row.txHash }).catch(() => undefined)
      : undefined;
    if (!receipt) {
      const channel = await this.readChannel(row.channelId);
      if (recovering && channel.settled >= row.cumulativeAmount) {
        // Settled by this transaction, whose receipt the node no longer has; nothing to send.
        usageLog.markSettlement(row.id, "confirmed");
        return;
      }
      try {
        // Resolves once the node has these bytes, whether this send or an earlier one (its answer lost) got there.
        await sendRawTransactionOnce(client, { serializedTransaction: row.rawTx });
      } catch (error) {
        // A nonce that another transaction took means this one can never land.
        if (error instanceof NonceTakenError) {
          usageLog.markSettlement(row.id, "failed", error.message);
          metrics.settlements.inc({ outcome: "failed" });
        }
        // Anything else may or may not have reached the node: the row stays journalled and the next pass
        // rebroadcasts the same bytes.
        throw error;
      }
      receipt = await client.waitForTransactionReceipt({ hash: row.txHash, timeout: 60_000 });
    }
    const outcome = receipt.status === "success" ? "confirmed" : "failed";
    usageLog.markSettlement(row.id, outcome);
    metrics.settlements.inc({ outcome });
    log(outcome === "confirmed" ? "info" : "error", `settlement ${outcome}`, {
      channelId: row.channelId,
      txHash: row.txHash,
      cumulativeAmount: row.cumulativeAmount,
    });
  }
}

/**
 * The cover voucher to fall back on: the highest cumulative amount above what is settled whose every adapter
 * amount is at most what that adapter's accepted receipts billed, so the payer is never charged for cover it did
 * not use.
 */
export function settleable(
  vouchers: { digest: Hex; signed: SignedVoucher }[],
  billed: Map<bigint, bigint>,
  settled: bigint,
  refused: Set<Hex>,
) {
  let best: { digest: Hex; signed: SignedVoucher } | undefined;
  for (const candidate of vouchers) {
    const { voucher } = candidate.signed;
    if (voucher.cumulativeAmount <= settled || refused.has(candidate.digest)) continue;
    if (best && voucher.cumulativeAmount <= best.signed.voucher.cumulativeAmount) continue;
    const accounted = voucher.adapterIds.every((id, i) => voucher.adapterAmounts[i]! <= (billed.get(id) ?? 0n));
    if (accounted) best = candidate;
  }
  return best;
}
