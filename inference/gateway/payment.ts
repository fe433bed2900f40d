import { isAddressEqual, zeroAddress, type Address, type Hex } from "viem";
import { decodeHeader, voucherFromJson, type VoucherJson } from "../sdk/codec.ts";
import { voucherDigest, type SignedVoucher, type Voucher } from "../sdk/eip712.ts";
import { UsageTree } from "../sdk/usage.ts";
import type { ChainView } from "./chain.ts";
import { GatewayError, paymentError } from "./errors.ts";
import { isSignedBy } from "./signatures.ts";

export type PaymentContext = {
  chain: ChainView;
  chainId: number;
  payments: Address;
  operator: Address;
  /** EIP-712 domain separators of vouchers and receipts (sdk/eip712.ts), computed once. */
  voucherSeparator: Uint8Array;
  receiptSeparator: Uint8Array;
  /** A voucher must stay valid this long, so that the settler can still submit it. */
  minVoucherLifetimeSec: bigint;
};

/** What the channel's latest usage voucher covers (sdk/usage.ts). */
export type Vouched = {
  /** Receipts covered: positions [0, count). */
  count: number;
  /** The usage tree after them. */
  tree: UsageTree;
  /** Per adapter, the accepted receipts among them: exactly the voucher's amounts. */
  accepted: Map<bigint, bigint>;
  voucher: { digest: Hex; signed: SignedVoucher } | undefined;
};

/** Per channel and adapter: what receipts billed, and what requests in flight may still bill. */
type ChannelBook = {
  /** Per adapter, the receipts' amounts, less those the payer disputed. */
  billed: Map<bigint, bigint>;
  reserved: Map<bigint, bigint>;
  /** Receipts issued on the channel: the position the next one takes. */
  issued: number;
  /** Positions the payer disputed (final once a usage voucher says so). */
  disputed: Set<number>;
  vouched: Vouched;
  /** When the latest usage voucher arrived (ms): a payer silent for long is settled from its cover vouchers. */
  lastUsageAt: number | undefined;
  /** Requests in flight (reserved, not yet billed or released). */
  requests: number;
  /** The highest voucher the payer signed that the gateway holds: what a payer resumes from. */
  best: SignedVoucher | undefined;
  /** When the first receipt not yet settled was issued (ms), for the settler's age threshold. */
  unsettledSince: number | undefined;
};

export type Reservation = {
  channelId: bigint;
  adapterId: bigint;
  maxCost: bigint;
  voucher: { digest: Hex; signed: SignedVoucher };
};

const add = (map: Map<bigint, bigint>, key: bigint, amount: bigint) => map.set(key, (map.get(key) ?? 0n) + amount);

/**
 * The gateway's payment state. Invariant: for every channel, one voucher the payer signed (`best`) covers, per
 * adapter, billed + reserved, so nothing is served without signed cover.
 */
export class Ledger {
  private books = new Map<bigint, ChannelBook>();
  private seen = new Set<Hex>();
  private requests = 0;

  book(channelId: bigint): ChannelBook {
    let book = this.books.get(channelId);
    if (!book) {
      book = {
        billed: new Map(),
        reserved: new Map(),
        issued: 0,
        disputed: new Set(),
        vouched: { count: 0, tree: new UsageTree(), accepted: new Map(), voucher: undefined },
        lastUsageAt: undefined,
        requests: 0,
        best: undefined,
        unsettledSince: undefined,
      };
      this.books.set(channelId, book);
    }
    return book;
  }

  channels() {
    return [...this.books.keys()];
  }

  /** Requests in flight on `channelId`, or on every channel. */
  inFlight(channelId?: bigint): number {
    return channelId === undefined ? this.requests : (this.books.get(channelId)?.requests ?? 0);
  }

  /** The channel's book if the gateway knows the channel, without creating one. */
  view(channelId: bigint): Readonly<ChannelBook> | undefined {
    return this.books.get(channelId);
  }

  /** Rebuilds the books from the usage log after a restart. */
  restore({
    receipts,
    vouchers,
    usageVouchers,
  }: {
    /** In position order within each channel. */
    receipts: Iterable<{
      receipt: { channelId: bigint; position: bigint; adapterId: bigint; amount: bigint };
      status: string | null;
    }>;
    vouchers: Iterable<readonly [Hex, SignedVoucher]>;
    /** Each channel's latest usage voucher. */
    usageVouchers: Iterable<{ receipts: number; frontier: Hex[]; digest: Hex; signed: SignedVoucher }>;
  }) {
    const latest = new Map([...usageVouchers].map((row) => [row.signed.voucher.channelId, row]));
    for (const [channelId, row] of latest) {
      // Unknown when it arrived: counted from the restart.
      this.book(channelId).lastUsageAt = Date.now();
      this.book(channelId).vouched = {
        count: row.receipts,
        tree: new UsageTree(row.receipts, row.frontier),
        accepted: new Map(),
        voucher: { digest: row.digest, signed: row.signed },
      };
    }
    for (const { receipt, status } of receipts) {
      const book = this.book(receipt.channelId);
      book.issued = Number(receipt.position) + 1;
      if (status === "disputed") book.disputed.add(Number(receipt.position));
      else add(book.billed, receipt.adapterId, receipt.amount);
      if (status === "accepted") add(book.vouched.accepted, receipt.adapterId, receipt.amount);
      // Unknown how old: the settler looks at the channel on its next pass and clears this if nothing is due.
      book.unsettledSince ??= Date.now();
    }
    for (const [digest, voucher] of vouchers) {
      this.seen.add(digest);
      this.offer(voucher);
    }
  }

  /** Keeps the voucher if it beats the best one held. */
  offer(signed: SignedVoucher) {
    const book = this.book(signed.voucher.channelId);
    if (!book.best || signed.voucher.cumulativeAmount > book.best.voucher.cumulativeAmount) book.best = signed;
  }

  claimDigest(digest: Hex): boolean {
    if (this.seen.has(digest)) return false;
    this.seen.add(digest);
    return true;
  }

  releaseDigest(digest: Hex) {
    this.seen.delete(digest);
  }

  /**
   * Takes the presented voucher as cover and reserves the request's most it can cost, or throws 402 with what is
   * missing. Synchronous: no other request can slip between the check and the reservation.
   */
  reserve(signed: SignedVoucher, digest: Hex, adapterId: bigint, maxCost: bigint): Reservation {
    const book = this.take(signed, { adapterId, maxCost });
    add(book.reserved, adapterId, maxCost);
    book.requests++;
    this.requests++;
    return { channelId: signed.voucher.channelId, adapterId, maxCost, voucher: { digest, signed } };
  }

  /** A voucher on its own (no request, e.g. the exact one after the last receipt): it must cover what is owed. */
  accept(signed: SignedVoucher) {
    this.take(signed, undefined);
  }

  /** Checks the voucher against the channel's book (and the request, if any) and keeps it if it is the best. */
  private take(signed: SignedVoucher, request: { adapterId: bigint; maxCost: bigint } | undefined): ChannelBook {
    const { voucher } = signed;
    const book = this.book(voucher.channelId);
    const stray = voucher.adapterIds.find(
      (id) => id !== request?.adapterId && !book.billed.has(id) && !book.reserved.has(id),
    );
    if (stray !== undefined) {
      // The settler settles only vouchers whose every entry its receipts account for, and InferencePayments reverts
      // on an adapter that does not exist: one such entry in every voucher would make the service free.
      throw paymentError(
        "voucher_unbilled_adapter",
        `voucher lists adapter ${stray}, which this channel was never billed for: list only adapters it used`,
        400,
      );
    }
    // The presented voucher is the payer's current view; a higher one held already may cover a request that
    // overtook this one on the wire.
    const shortfall = this.shortfall(book, voucher, request);
    if (shortfall === undefined) book.best = signed;
    else if (!book.best || this.shortfall(book, book.best.voucher, request) !== undefined) {
      throw paymentError("insufficient_voucher", shortfall);
    }
    return book;
  }

  /** Why `voucher` does not cover billed + reserved (+ this request), per adapter; undefined if it does. */
  private shortfall(
    book: ChannelBook,
    voucher: Voucher,
    request: { adapterId: bigint; maxCost: bigint } | undefined,
  ): string | undefined {
    const covered = new Map(voucher.adapterIds.map((id, i) => [id, voucher.adapterAmounts[i]!]));
    const ids = new Set([...book.billed.keys(), ...book.reserved.keys()]);
    if (request) ids.add(request.adapterId);
    for (const id of ids) {
      const billed = book.billed.get(id) ?? 0n;
      const reserved = book.reserved.get(id) ?? 0n;
      const forThis = id === request?.adapterId ? request.maxCost : 0n;
      const needed = billed + reserved + forThis;
      const have = covered.get(id) ?? 0n;
      if (have < needed) {
        return (
          `voucher covers ${have} wei for adapter ${id}; needed ${needed} = billed ${billed} + in flight ${reserved}` +
          (id === request?.adapterId ? ` + at most ${forThis} for this request` : "")
        );
      }
    }
    return undefined;
  }

  /** The request ended with a receipt for `amount` (≤ maxCost): the unused rest stays as cover for later ones. */
  commit(reservation: Reservation, amount: bigint) {
    const book = this.end(reservation);
    add(book.billed, reservation.adapterId, amount);
    book.issued++;
    book.unsettledSince ??= Date.now();
  }

  /** A usage voucher was accepted: it covers `vouched`, and the payer disputed `disputed` (adapter, amount) too. */
  vouch(channelId: bigint, vouched: Vouched, disputed: { position: number; adapterId: bigint; amount: bigint }[]) {
    const book = this.book(channelId);
    for (const { position, adapterId, amount } of disputed) {
      book.disputed.add(position);
      add(book.billed, adapterId, -amount);
    }
    book.vouched = vouched;
    book.lastUsageAt = Date.now();
    if (vouched.voucher) this.offer(vouched.voucher.signed);
  }

  /** The request failed: nothing billed. */
  release(reservation: Reservation) {
    this.end(reservation);
  }

  private end(reservation: Reservation): ChannelBook {
    const book = this.book(reservation.channelId);
    add(book.reserved, reservation.adapterId, -reservation.maxCost);
    book.requests--;
    this.requests--;
    return book;
  }
}

/** Decodes and checks a voucher header: structure, expiry, replay, channel, signature, deposit. */
export async function verifyVoucher(
  context: PaymentContext,
  ledger: Ledger,
  header: string | undefined,
): Promise<{ signed: SignedVoucher; digest: Hex }> {
  if (!header)
    throw paymentError("voucher_missing", "missing x-openpoa-voucher header: every request must carry a voucher");
  const signed = parseVoucher(decodeVoucherHeader<VoucherJson>(header));
  const digest = checkTerms(context, signed);
  if (!ledger.claimDigest(digest)) {
    throw paymentError("voucher_replayed", "this voucher was already used: sign a new one for every request", 409);
  }
  try {
    await checkSignedOnChannel(context, signed, digest);
    return { signed, digest };
  } catch (error) {
    ledger.releaseDigest(digest);
    throw error;
  }
}

/** The JSON of a voucher header (base64url or plain), or 400. */
export function decodeVoucherHeader<T>(header: string): T {
  try {
    return decodeHeader<T>(header);
  } catch (cause) {
    throw paymentError("voucher_malformed", `malformed voucher: ${(cause as Error).message}`, 400, cause);
  }
}

export function parseVoucher(json: VoucherJson): SignedVoucher {
  try {
    return voucherFromJson(json);
  } catch (cause) {
    throw paymentError("voucher_malformed", `malformed voucher: ${(cause as Error).message}`, 400, cause);
  }
}

/** Structure and remaining lifetime; returns the voucher's EIP-712 digest. */
export function checkTerms(context: PaymentContext, { voucher }: SignedVoucher): Hex {
  checkStructure(voucher);
  const now = BigInt(Math.floor(Date.now() / 1000));
  if (voucher.expiry < now + context.minVoucherLifetimeSec) {
    throw paymentError(
      "voucher_expired",
      `voucher expires at ${voucher.expiry}; it must stay valid until at least ${now + context.minVoucherLifetimeSec}`,
    );
  }
  return voucherDigest(context.voucherSeparator, voucher);
}

/** The channel is open with this operator, the voucher is signed by its voucher signer and within its deposit. */
export async function checkSignedOnChannel(
  context: PaymentContext,
  { voucher, signature }: SignedVoucher,
  digest: Hex,
) {
  const channel = await readOpenChannel(context, voucher.channelId);
  // The contract settles only ECDSA signatures of the signer fixed at open: nothing else is worth serving for.
  const signer = channel.voucherSigner === zeroAddress ? channel.payer : channel.voucherSigner;
  if (!isSignedBy(digest, signature, signer)) {
    throw paymentError("voucher_invalid_signature", `voucher is not signed by the channel's voucher signer ${signer}`);
  }
  if (voucher.cumulativeAmount > channel.deposit) {
    // A top-up may be newer than the cached channel: read it again before refusing.
    context.chain.forgetChannel(voucher.channelId);
    const fresh = await readOpenChannel(context, voucher.channelId);
    if (voucher.cumulativeAmount > fresh.deposit) {
      throw paymentError(
        "insufficient_balance",
        `voucher promises ${voucher.cumulativeAmount} wei but channel ${voucher.channelId} holds ${fresh.deposit}: top up`,
      );
    }
  }
}

async function readOpenChannel(context: PaymentContext, channelId: bigint) {
  const channel = await context.chain.channel(channelId).catch((cause: unknown) => {
    // getChannel reverts ChannelNotFound for an unknown id.
    if (/ChannelNotFound/.test(String(cause)))
      throw paymentError("channel_not_found", `channel ${channelId} does not exist`);
    throw new GatewayError(502, "chain_unavailable", "cannot read the channel from the chain", { cause });
  });
  if (!isAddressEqual(channel.operator, context.operator)) {
    throw paymentError(
      "channel_wrong_operator",
      `channel ${channelId} pays operator ${channel.operator}, not this one`,
    );
  }
  if (channel.finalized || channel.closesAt !== 0n) {
    throw paymentError("channel_closed", `channel ${channelId} is closing or closed: open a new channel`);
  }
  return channel;
}

function checkStructure(voucher: Voucher) {
  const { adapterIds, adapterAmounts, cumulativeAmount } = voucher;
  const fail = (why: string) => {
    throw paymentError("voucher_malformed", `malformed voucher: ${why}`, 400);
  };
  if (adapterIds.length !== adapterAmounts.length) fail("adapterIds and adapterAmounts differ in length");
  adapterIds.forEach((id, i) => i > 0 && id <= adapterIds[i - 1]! && fail("adapterIds must strictly increase"));
  if (adapterAmounts.reduce((s, a) => s + a, 0n) !== cumulativeAmount)
    fail("adapterAmounts must sum to cumulativeAmount");
}
