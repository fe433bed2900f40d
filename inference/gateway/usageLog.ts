import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { Hex } from "viem";
import {
  receiptFromJson,
  receiptToJson,
  voucherFromJson,
  voucherToJson,
  type ReceiptJson,
  type VoucherJson,
} from "../sdk/codec.ts";
import type { SignedReceipt, SignedVoucher } from "../sdk/eip712.ts";

type LoggedVoucher = { digest: Hex; signed: SignedVoucher };
type PendingReceipt = {
  signed: SignedReceipt;
  voucher: LoggedVoucher;
  resolve: () => void;
  reject: (error: unknown) => void;
};

export type SettlementStatus = "signed" | "confirmed" | "failed";
export type SettlementRow = {
  id: number;
  channelId: bigint;
  voucherDigest: Hex;
  cumulativeAmount: bigint;
  rawTx: Hex;
  txHash: Hex;
  status: SettlementStatus;
};

/**
 * The durable usage log: receipts, accepted vouchers and settlement intents in SQLite (WAL, synchronous=FULL),
 * so a receipt handed to a client is on disk first and a settlement survives a crash between sending and
 * confirming. Amounts are decimal strings: SQLite integers stop at 2^63.
 */
export class UsageLog {
  private db: DatabaseSync;
  private insertReceipt: StatementSync;
  private insertVoucher: StatementSync;
  private pending: PendingReceipt[] = [];

  constructor(file: string) {
    this.db = new DatabaseSync(file);
    this.db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
      CREATE TABLE IF NOT EXISTS receipts (
        request_id TEXT PRIMARY KEY, channel_id TEXT NOT NULL, adapter_id TEXT NOT NULL, amount TEXT NOT NULL,
        json TEXT NOT NULL, logged_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS receipts_by_channel ON receipts (channel_id);
      CREATE TABLE IF NOT EXISTS vouchers (
        digest TEXT PRIMARY KEY, channel_id TEXT NOT NULL, cumulative TEXT NOT NULL, json TEXT NOT NULL,
        received_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS vouchers_by_channel ON vouchers (channel_id);
      CREATE TABLE IF NOT EXISTS settlements (
        id INTEGER PRIMARY KEY AUTOINCREMENT, channel_id TEXT NOT NULL, voucher_digest TEXT NOT NULL,
        cumulative TEXT NOT NULL, raw_tx TEXT NOT NULL, tx_hash TEXT NOT NULL, status TEXT NOT NULL,
        error TEXT, updated_at INTEGER NOT NULL);
    `);
    this.insertReceipt = this.db.prepare(
      "INSERT INTO receipts (request_id, channel_id, adapter_id, amount, json, logged_at) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.insertVoucher = this.db.prepare(
      "INSERT OR IGNORE INTO vouchers (digest, channel_id, cumulative, json, received_at) VALUES (?, ?, ?, ?, ?)",
    );
  }

  /**
   * Group commit: the receipts handed in during one event-loop turn share one transaction, so one fsync; each
   * promise resolves once its receipt is on disk. Alone, a receipt waits only for the turn to end.
   */
  appendDurably(signed: SignedReceipt, voucher: LoggedVoucher): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.pending.length === 0) setImmediate(() => this.flush());
      this.pending.push({ signed, voucher, resolve, reject });
    });
  }

  private flush() {
    const batch = this.pending;
    this.pending = [];
    try {
      this.transaction(() => batch.forEach(({ signed, voucher }) => this.insert(signed, voucher)));
      batch.forEach(({ resolve }) => resolve());
    } catch (error) {
      batch.forEach(({ reject }) => reject(error));
    }
  }

  /** One transaction, one fsync: a receipt (if any) and the voucher that covered it. */
  append(signed: SignedReceipt | null, voucher: LoggedVoucher | null) {
    this.transaction(() => this.insert(signed, voucher));
  }

  private transaction(body: () => void) {
    this.db.exec("BEGIN");
    try {
      body();
      this.db.exec("COMMIT");
    } catch (error) {
      this.db.exec("ROLLBACK");
      throw error;
    }
  }

  private insert(signed: SignedReceipt | null, voucher: LoggedVoucher | null) {
    if (voucher) {
      const { digest, signed: v } = voucher;
      this.insertVoucher.run(
        digest,
        v.voucher.channelId.toString(),
        v.voucher.cumulativeAmount.toString(),
        JSON.stringify(voucherToJson(v)),
        Date.now(),
      );
    }
    if (signed) {
      const { receipt } = signed;
      this.insertReceipt.run(
        receipt.requestId,
        receipt.channelId.toString(),
        receipt.adapterId.toString(),
        receipt.amount.toString(),
        JSON.stringify(receiptToJson(signed)),
        Date.now(),
      );
    }
  }

  receipts(channelId?: bigint): SignedReceipt[] {
    const rows = (
      channelId === undefined
        ? this.db.prepare("SELECT json FROM receipts ORDER BY rowid").all()
        : this.db.prepare("SELECT json FROM receipts WHERE channel_id = ? ORDER BY rowid").all(channelId.toString())
    ) as { json: string }[];
    return rows.map((row) => receiptFromJson(JSON.parse(row.json) as ReceiptJson));
  }

  /** A page of the channel's receipts, in the order they were logged: `limit` of them from `offset` on. */
  receiptPage(channelId: bigint, offset: number, limit: number): SignedReceipt[] {
    const rows = this.db
      .prepare("SELECT json FROM receipts WHERE channel_id = ? ORDER BY rowid LIMIT ? OFFSET ?")
      .all(channelId.toString(), limit, offset) as { json: string }[];
    return rows.map((row) => receiptFromJson(JSON.parse(row.json) as ReceiptJson));
  }

  receiptCount(channelId: bigint): number {
    const row = this.db.prepare("SELECT COUNT(*) AS n FROM receipts WHERE channel_id = ?").get(channelId.toString());
    return Number((row as { n: number }).n);
  }

  channelsWithVouchers(): bigint[] {
    return (this.db.prepare("SELECT DISTINCT channel_id FROM vouchers").all() as { channel_id: string }[]).map((r) =>
      BigInt(r.channel_id),
    );
  }

  vouchers(channelId: bigint): { digest: Hex; signed: SignedVoucher }[] {
    const rows = this.db
      .prepare("SELECT digest, json FROM vouchers WHERE channel_id = ?")
      .all(channelId.toString()) as { digest: Hex; json: string }[];
    return rows.map((r) => ({ digest: r.digest, signed: voucherFromJson(JSON.parse(r.json) as VoucherJson) }));
  }

  recordSettlement(channelId: bigint, voucherDigest: Hex, cumulativeAmount: bigint, rawTx: Hex, txHash: Hex): number {
    const result = this.db
      .prepare(
        "INSERT INTO settlements (channel_id, voucher_digest, cumulative, raw_tx, tx_hash, status, updated_at) VALUES (?, ?, ?, ?, ?, 'signed', ?)",
      )
      .run(channelId.toString(), voucherDigest, cumulativeAmount.toString(), rawTx, txHash, Date.now());
    return Number(result.lastInsertRowid);
  }

  markSettlement(id: number, status: SettlementStatus, error?: string) {
    this.db
      .prepare("UPDATE settlements SET status = ?, error = ?, updated_at = ? WHERE id = ?")
      .run(status, error ?? null, Date.now(), id);
  }

  settlements(status?: SettlementStatus): SettlementRow[] {
    const rows = (
      status === undefined
        ? this.db.prepare("SELECT * FROM settlements ORDER BY id").all()
        : this.db.prepare("SELECT * FROM settlements WHERE status = ? ORDER BY id").all(status)
    ) as Record<string, string | number>[];
    return rows.map((r) => ({
      id: Number(r.id),
      channelId: BigInt(r.channel_id),
      voucherDigest: r.voucher_digest as Hex,
      cumulativeAmount: BigInt(r.cumulative),
      rawTx: r.raw_tx as Hex,
      txHash: r.tx_hash as Hex,
      status: r.status as SettlementStatus,
    }));
  }

  close() {
    if (this.pending.length > 0) this.flush();
    this.db.close();
  }
}
