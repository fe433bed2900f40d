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
import type { Receipt, SignedReceipt, SignedVoucher } from "../sdk/eip712.ts";
import type { ReceiptStatus } from "../sdk/usage.ts";

type LoggedVoucher = { digest: Hex; signed: SignedVoucher };
/** A receipt before the log numbers it: its position in the channel is assigned, and it is signed, at commit. */
export type UnnumberedReceipt = Omit<Receipt, "position">;
type PendingReceipt = {
  unnumbered: UnnumberedReceipt;
  sign: (receipt: Receipt) => Hex;
  voucher: LoggedVoucher;
  resolve: (signed: SignedReceipt) => void;
  reject: (error: unknown) => void;
};
/** A receipt with the status the payer's latest usage voucher gave it (null: no usage voucher covers it yet). */
export type LoggedReceipt = SignedReceipt & { status: ReceiptStatus | null };
/** A usage voucher the gateway accepted: it covers the channel's first `receipts` receipts. */
export type UsageVoucherRow = {
  channelId: bigint;
  receipts: number;
  usageRoot: Hex;
  digest: Hex;
  signed: SignedVoucher;
  /** The usage tree's frontier after those receipts (sdk/usage.ts), where the next batch starts. */
  frontier: Hex[];
};

/**
 * Bumped whenever a table or a stored receipt changes shape (3: receipts of receipt schema 3, with rulesVersion): an
 * older file is refused, never silently misread.
 */
const schemaVersion = 3;

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
 * The durable usage log: receipts, accepted vouchers, usage vouchers and settlement intents in SQLite (WAL,
 * synchronous=FULL), so a receipt handed to a client is on disk first and a settlement survives a crash between
 * sending and confirming. Receipts are numbered per channel (0, 1, …) in the order they commit. Amounts are
 * decimal strings: SQLite integers stop at 2^63.
 */
export class UsageLog {
  private db: DatabaseSync;
  private insertReceipt: StatementSync;
  private insertVoucher: StatementSync;
  private pending: PendingReceipt[] = [];
  /** Usage vouchers accepted since the last commit: written with the next group commit (see recordUsageVoucher). */
  private pendingUsage: { row: UsageVoucherRow; from: number; statuses: readonly ReceiptStatus[] }[] = [];
  /** Per channel, the position the next receipt takes (loaded from the file on first use). */
  private nextPositions = new Map<bigint, number>();

  constructor(file: string) {
    this.db = new DatabaseSync(file);
    const { user_version: version } = this.db.prepare("PRAGMA user_version").get() as { user_version: number };
    const empty = this.db.prepare("SELECT COUNT(*) AS n FROM sqlite_master").get() as { n: number };
    if (version !== schemaVersion && empty.n > 0) {
      throw new Error(
        `usage log ${file} has schema version ${version}, this gateway writes ${schemaVersion}: settle it with the gateway that wrote it, then start with a new file`,
      );
    }
    this.db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
      PRAGMA user_version = ${schemaVersion};
      CREATE TABLE IF NOT EXISTS receipts (
        request_id TEXT PRIMARY KEY, channel_id TEXT NOT NULL, position INTEGER NOT NULL, adapter_id TEXT NOT NULL,
        amount TEXT NOT NULL, json TEXT NOT NULL, status TEXT, logged_at INTEGER NOT NULL,
        UNIQUE (channel_id, position));
      CREATE TABLE IF NOT EXISTS usage_vouchers (
        channel_id TEXT NOT NULL, receipts INTEGER NOT NULL, usage_root TEXT NOT NULL, digest TEXT NOT NULL,
        json TEXT NOT NULL, frontier TEXT NOT NULL, accepted_at INTEGER NOT NULL,
        PRIMARY KEY (channel_id, receipts));
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
      "INSERT INTO receipts (request_id, channel_id, position, adapter_id, amount, json, logged_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    this.insertVoucher = this.db.prepare(
      "INSERT OR IGNORE INTO vouchers (digest, channel_id, cumulative, json, received_at) VALUES (?, ?, ?, ?, ?)",
    );
  }

  /**
   * Numbers, signs and logs a receipt. Group commit: the receipts handed in during one event-loop turn share one
   * transaction, so one fsync; each promise resolves with its signed receipt once it is on disk. Alone, a receipt
   * waits only for the turn to end. Positions are assigned inside the transaction, so a failed commit leaves no gap.
   */
  appendDurably(
    unnumbered: UnnumberedReceipt,
    voucher: LoggedVoucher,
    sign: (receipt: Receipt) => Hex,
  ): Promise<SignedReceipt> {
    return new Promise((resolve, reject) => {
      this.scheduleFlush();
      this.pending.push({ unnumbered, sign, voucher, resolve, reject });
    });
  }

  private scheduleFlush() {
    if (this.pending.length === 0 && this.pendingUsage.length === 0) setImmediate(() => this.flush());
  }

  /** One transaction for everything waiting; returns the error if it failed (each receipt's promise has it too). */
  private flush(): unknown {
    const batch = this.pending;
    const usage = this.pendingUsage;
    this.pending = [];
    this.pendingUsage = [];
    let signed: SignedReceipt[] = [];
    try {
      this.transaction(() => {
        signed = batch.map(({ unnumbered, sign, voucher }) => {
          const receipt: Receipt = { ...unnumbered, position: BigInt(this.takePosition(unnumbered.channelId)) };
          const entry = { receipt, signature: sign(receipt) };
          this.insert(entry, voucher);
          return entry;
        });
        usage.forEach(({ row, from, statuses }) => this.insertUsageVoucher(row, from, statuses));
      });
      batch.forEach(({ resolve }, k) => resolve(signed[k]!));
    } catch (error) {
      // The positions taken were rolled back with the rows: count again from the file. The usage vouchers are
      // still accepted in memory: they wait for the next commit.
      this.nextPositions.clear();
      this.pendingUsage = [...usage, ...this.pendingUsage];
      batch.forEach(({ reject }) => reject(error));
      return error;
    }
    return undefined;
  }

  /** Commits whatever waits for the group commit now; throws if it cannot. The settler calls it before settling. */
  commitPending() {
    if (this.pending.length === 0 && this.pendingUsage.length === 0) return;
    const error = this.flush();
    if (error !== undefined) throw error;
  }

  private takePosition(channelId: bigint): number {
    const next = this.nextPositions.get(channelId) ?? this.receiptCount(channelId);
    this.nextPositions.set(channelId, next + 1);
    return next;
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
        Number(receipt.position),
        receipt.adapterId.toString(),
        receipt.amount.toString(),
        JSON.stringify(receiptToJson(signed)),
        Date.now(),
      );
    }
  }

  /** Every receipt (of one channel), with its status; in position order within each channel. */
  receipts(channelId?: bigint): LoggedReceipt[] {
    const rows = (
      channelId === undefined
        ? this.db.prepare("SELECT json, status FROM receipts ORDER BY channel_id, position").all()
        : this.db
            .prepare("SELECT json, status FROM receipts WHERE channel_id = ? ORDER BY position")
            .all(channelId.toString())
    ) as { json: string; status: ReceiptStatus | null }[];
    return rows.map(loggedReceipt);
  }

  /** The channel's receipts at positions [from, to), in order. */
  receiptRange(channelId: bigint, from: number, to: number): LoggedReceipt[] {
    const rows = this.db
      .prepare(
        "SELECT json, status FROM receipts WHERE channel_id = ? AND position >= ? AND position < ? ORDER BY position",
      )
      .all(channelId.toString(), from, to) as { json: string; status: ReceiptStatus | null }[];
    return rows.map(loggedReceipt);
  }

  /** A page of the channel's receipts by position: `limit` of them from `offset` on. */
  receiptPage(channelId: bigint, offset: number, limit: number): SignedReceipt[] {
    return this.receiptRange(channelId, offset, offset + limit).map(({ receipt, signature }) => ({
      receipt,
      signature,
    }));
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

  /**
   * Keeps an accepted usage voucher and the statuses it gave the receipts it covers beyond the previous one
   * (`from`): from then on they are final. Written with the next group commit, not at once: a usage voucher lost
   * to a crash is replaced by the payer's next one, and nothing is settled from one before `commitPending`.
   */
  recordUsageVoucher(row: UsageVoucherRow, from: number, statuses: readonly ReceiptStatus[]) {
    this.scheduleFlush();
    this.pendingUsage.push({ row, from, statuses });
  }

  private insertUsageVoucher(row: UsageVoucherRow, from: number, statuses: readonly ReceiptStatus[]) {
    const setStatus = this.db.prepare("UPDATE receipts SET status = ? WHERE channel_id = ? AND position = ?");
    this.db
      .prepare(
        "INSERT INTO usage_vouchers (channel_id, receipts, usage_root, digest, json, frontier, accepted_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      )
      .run(
        row.channelId.toString(),
        row.receipts,
        row.usageRoot.toLowerCase(),
        row.digest,
        JSON.stringify(voucherToJson(row.signed)),
        JSON.stringify(row.frontier),
        Date.now(),
      );
    statuses.forEach((status, k) => setStatus.run(status, row.channelId.toString(), from + k));
  }

  /** The usage voucher covering the most receipts of the channel, if any. */
  latestUsageVoucher(channelId: bigint): UsageVoucherRow | undefined {
    const row = this.db
      .prepare("SELECT * FROM usage_vouchers WHERE channel_id = ? ORDER BY receipts DESC LIMIT 1")
      .get(channelId.toString());
    return row === undefined ? undefined : usageVoucherRow(row as Record<string, string | number>);
  }

  /** The accepted usage voucher with this root (e.g. the one a settlement on chain named), if any. */
  usageVoucherByRoot(channelId: bigint, usageRoot: Hex): UsageVoucherRow | undefined {
    const row = this.db
      .prepare("SELECT * FROM usage_vouchers WHERE channel_id = ? AND usage_root = ?")
      .get(channelId.toString(), usageRoot.toLowerCase());
    return row === undefined ? undefined : usageVoucherRow(row as Record<string, string | number>);
  }

  channelsWithUsageVouchers(): bigint[] {
    return (this.db.prepare("SELECT DISTINCT channel_id FROM usage_vouchers").all() as { channel_id: string }[]).map(
      (r) => BigInt(r.channel_id),
    );
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
    this.commitPending();
    this.db.close();
  }
}

function loggedReceipt(row: { json: string; status: ReceiptStatus | null }): LoggedReceipt {
  return { ...receiptFromJson(JSON.parse(row.json) as ReceiptJson), status: row.status };
}

function usageVoucherRow(row: Record<string, string | number>): UsageVoucherRow {
  return {
    channelId: BigInt(row.channel_id!),
    receipts: Number(row.receipts),
    usageRoot: row.usage_root as Hex,
    digest: row.digest as Hex,
    signed: voucherFromJson(JSON.parse(row.json as string) as VoucherJson),
    frontier: JSON.parse(row.frontier as string) as Hex[],
  };
}
