import {
  isAddressEqual,
  recoverAddress,
  recoverTypedDataAddress,
  zeroHash,
  type Account,
  type Address,
  type Chain,
  type Hex,
  type Transport,
  type WalletClient,
} from "viem";
// The attribution modules a payer needs, by name rather than through the library's index: these are browser-safe,
// the index also reaches the ones that read files.
import { checkRecordAgainstCompletion } from "../../attribution/src/completionCheck.ts";
import type { ContentStore } from "../../attribution/src/httpStore.ts";
import { hashTokens, type AttributionRecord } from "../../attribution/src/record.ts";
import { getAttributionRecord } from "../../attribution/src/recordStore.ts";
import { byteTokenizer, type Tokenizer } from "../../attribution/src/tokenizer.ts";
import {
  encodeHeader,
  receiptFromJson,
  voucherFromJson,
  voucherToJson,
  type ReceiptJson,
  type VoucherJson,
} from "./codec.ts";
import {
  domainSeparator,
  receiptDigest,
  receiptDomain,
  usageHeader,
  voucherDomain,
  voucherHeader,
  voucherTypes,
  type Receipt,
  type SignedReceipt,
  type SignedVoucher,
  type Voucher,
} from "./eip712.ts";
import { costOf, estimatePromptTokens } from "./pricing.ts";
import {
  answerTextOf,
  apiOfPath,
  maxTokensOf,
  promptOf,
  streamDeltaOf,
  type CompletionApi,
  type CompletionBody,
} from "./requests.ts";
import { usageLeaf, UsageTree, type ReceiptStatus } from "./usage.ts";

/** A receipt the SDK refused (bad signature, wrong channel) or disputed (see `Payer.accept`). */
export class ReceiptError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ReceiptError";
  }
}

/** A gateway's account of a channel that the Payer will not resume from (see `Payer.resume`). */
export class ResumeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ResumeError";
  }
}

/** A viem account that signs typed data itself (a LocalAccount). */
export type SigningAccount = Account & { signTypedData: NonNullable<Account["signTypedData"]> };

/**
 * What signs a payer's vouchers (EIP-712): a viem LocalAccount, or a wallet's account through `walletSigner`.
 */
export type VoucherSigner = Pick<SigningAccount, "address" | "signTypedData">;

/**
 * The account of `wallet` as a VoucherSigner: each voucher goes to the wallet as `eth_signTypedData_v4` (a browser
 * wallet asks its user; an unlocked node account signs at once), or is signed locally when the account is local.
 */
export function walletSigner(wallet: WalletClient<Transport, Chain | undefined, Account>): VoucherSigner {
  const { account } = wallet;
  return {
    address: account.address,
    signTypedData: (typedData) =>
      wallet.signTypedData({ ...typedData, account } as Parameters<typeof wallet.signTypedData>[0]),
  };
}

export type PayerOptions = {
  /** The channel's payer: signs vouchers (a LocalAccount, or `walletSigner(wallet)`). */
  account: VoucherSigner;
  chainId: number;
  payments: Address;
  channelId: bigint;
  /** The operator's registered signing key (NodeRegistry.signingKeyOf): receipts must recover to it. */
  operatorSigningKey: Address;
  /** Price per 1,000 tokens of each model id ("0" = base model), e.g. from GET /v1/models or the registry. */
  prices: Map<string, bigint>;
  /** How long each voucher stays valid (seconds). */
  voucherLifetimeSec?: number;
  /**
   * On a 402 `insufficient_voucher` or `usage_voucher_required` (another process, or an earlier run, paid on this
   * channel since, or a receipt never reached this one), `resume` from the gateway and send the request once more.
   * Default true.
   */
  autoResume?: boolean;
  /**
   * Where the operator publishes attribution records: given, each record is fetched and checked against the
   * completion received before its receipt is accepted.
   */
  records?: ContentStore;
  /** The tokenizer attribution counts in (the gateway's); default the byte tokenizer. */
  tokenizer?: Tokenizer;
};

export type ResumeOptions = {
  /** The channel's deposit, as the caller read it on chain: a voucher promising more is refused. */
  deposit?: bigint;
  /**
   * Dispute every receipt new to this Payer. When the Payer alone pays on its channel and has nothing in flight,
   * those are receipts whose response never reached it. The Router resumes a channel so after it sent a request
   * lost on it to another operator: that request is not paid twice, and the receipts after it still settle.
   */
  disputeNew?: boolean;
};

/** What `resume` took over. */
export type Resumed = {
  /** Per adapter, what the Payer now counts as billed. */
  billed: Map<bigint, bigint>;
  /** Receipts new to this Payer, each verified. */
  receipts: number;
  /** Per adapter, what the gateway's receipts claim beyond anything this payer signed: disputed, never paid. */
  unbacked: Map<bigint, bigint>;
};

/** A disputed receipt: in the usage tree with status "disputed", never paid. */
export type Dispute = { position: bigint; requestId: Hex; reason: string };

/** A usage voucher and what it covers, as `x-openpoa-usage` carries it. */
export type UsageVoucher = { signed: SignedVoucher; receipts: number; disputed: number[] };

/** The gateway's GET /v1/channels/:id/usage and /receipts, as far as the Payer reads them. */
type UsageJson = { voucher: VoucherJson | null; vouched?: { disputed?: number[] } };
type ReceiptPage = { data: ReceiptJson[]; next: number | null };
type Booked = { signed: SignedReceipt; status: ReceiptStatus };

const add = (map: Map<bigint, bigint>, key: bigint, amount: bigint) => map.set(key, (map.get(key) ?? 0n) + amount);
const max = (a: bigint, b: bigint) => (a > b ? a : b);

/**
 * The payer's side of a channel. Every cover voucher it signs promises, per adapter, what the accepted receipts
 * billed plus the most that requests in flight (this one included) can cost; the unused part of a request's cover
 * is credited back when its receipt arrives.
 *
 * What it pays by is its usage voucher (sdk/usage.ts): the receipts at positions 0..n-1, each accepted or disputed,
 * their usage root, and per adapter exactly what the accepted ones billed. It is re-signed whenever n grows and
 * travels with the next request (`x-openpoa-usage`) or by `checkpoint`. A receipt is disputed, so never paid, when
 * it is dearer than its tokens at the known price or than the request's cover, when its completion hash is not the
 * hash of the completion received, or (with `records`) when its attribution record does not check against that
 * completion. `receipts` keeps every receipt, verified; `disputes` says why each disputed one was.
 *
 * Several processes (or a restarted app) can pay on one channel in turn: each `resume`s from the gateway's account
 * of the channel, trusting only what the payer's own signature backs.
 */
export class Payer {
  readonly receipts: SignedReceipt[] = [];
  readonly disputes: Dispute[] = [];
  private billed = new Map<bigint, bigint>();
  private inFlight = new Map<bigint, bigint>();
  /** Request ids of `receipts`: a receipt is counted once, however it arrives. */
  private known = new Set<Hex>();
  /** Per adapter, the most this Payer has signed for. */
  private signed = new Map<bigint, bigint>();
  private resuming: Promise<Resumed> | undefined;
  /** How many of the channel's receipts, by position, resumes have read. */
  private listed = 0;
  /** Receipts booked beyond the usage tree's contiguous prefix (they arrived out of order). */
  private waiting = new Map<number, Booked>();
  private tree = new UsageTree();
  /** Per adapter, the accepted receipts in the tree; and the disputed positions in it. */
  private treeAccepted = new Map<bigint, bigint>();
  private treeDisputed: number[] = [];
  private usage: UsageVoucher | undefined;
  private readonly receiptSeparator: Uint8Array;
  readonly options: PayerOptions;

  constructor(options: PayerOptions) {
    this.options = options;
    this.receiptSeparator = domainSeparator(receiptDomain(options.chainId, options.payments));
  }

  /** What the accepted receipts add up to, per adapter and in total. */
  get billedTotal() {
    return [...this.billed.values()].reduce((s, a) => s + a, 0n);
  }

  /** The cover a request needs: price × (estimated prompt + max_tokens) / 1000, rounded up. */
  maxCost(model: string, prompt: string, maxTokens: number, api: CompletionApi = "text"): bigint {
    const price = this.options.prices.get(model);
    if (price === undefined) throw new Error(`no price known for model ${model}`);
    return costOf(price, BigInt(estimatePromptTokens(api, prompt) + maxTokens));
  }

  async signVoucher(amounts: Map<bigint, bigint>, usageRoot = this.tree.root()): Promise<SignedVoucher> {
    const { account, chainId, payments, channelId, voucherLifetimeSec = 86_400 } = this.options;
    const adapterIds = [...amounts.keys()].sort((a, b) => (a < b ? -1 : 1));
    const voucher: Voucher = {
      channelId,
      cumulativeAmount: [...amounts.values()].reduce((s, a) => s + a, 0n),
      adapterIds,
      adapterAmounts: adapterIds.map((id) => amounts.get(id)!),
      usageRoot,
      expiry: BigInt(Math.floor(Date.now() / 1000) + voucherLifetimeSec),
    };
    for (const [id, amount] of amounts) this.signed.set(id, max(this.signed.get(id) ?? 0n, amount));
    const signature = await account.signTypedData({
      domain: voucherDomain(chainId, payments),
      types: voucherTypes,
      primaryType: "Voucher",
      message: voucher,
    });
    return { voucher, signature };
  }

  /** Reserves the request's cover and signs the voucher that carries it; call `accept` or `cancel` after. */
  async cover(adapterId: bigint, maxCost: bigint): Promise<SignedVoucher> {
    add(this.inFlight, adapterId, maxCost);
    const amounts = new Map(this.billed);
    for (const [id, amount] of this.inFlight) add(amounts, id, amount);
    return this.signVoucher(amounts);
  }

  cancel(adapterId: bigint, maxCost: bigint) {
    add(this.inFlight, adapterId, -maxCost);
  }

  /**
   * The usage voucher over every receipt up to the first one not yet received (undefined before the first):
   * amounts exactly what the accepted ones billed. Signed again only when that prefix grew.
   */
  async usageVoucher(): Promise<UsageVoucher | undefined> {
    const count = this.tree.count;
    if (count === 0) return undefined;
    if (this.usage?.receipts === count) return this.usage;
    const disputed = [...this.treeDisputed];
    const amounts = new Map([...this.treeAccepted].filter(([, amount]) => amount > 0n));
    const signed = await this.signVoucher(amounts, this.tree.root());
    // Another call may have signed a longer prefix meanwhile: keep the longest.
    if (!this.usage || this.usage.receipts < count) this.usage = { signed, receipts: count, disputed };
    return this.usage;
  }

  /**
   * Checks a receipt and books it. Not signed by the operator's key or not for this channel: `ReceiptError`, not
   * booked. Otherwise it is booked, and disputed (then `ReceiptError` too) when its terms, its completion hash or
   * its record do not hold; `completion` is the text the response carried.
   */
  async accept(adapterId: bigint, maxCost: bigint, signed: SignedReceipt, completion?: string): Promise<SignedReceipt> {
    this.cancel(adapterId, maxCost);
    await this.verifyReceipt(signed);
    // A resume that ran while this request was in flight may have counted it already.
    if (this.known.has(signed.receipt.requestId)) return signed;
    const reason = await this.disputeReason(signed.receipt, { adapterId, maxCost, completion });
    this.book(signed, reason);
    if (reason !== undefined) throw new ReceiptError(`receipt ${signed.receipt.position} disputed: ${reason}`);
    return signed;
  }

  private book(signed: SignedReceipt, disputeReason: string | undefined) {
    const { receipt } = signed;
    const status: ReceiptStatus = disputeReason === undefined ? "accepted" : "disputed";
    if (status === "accepted") add(this.billed, receipt.adapterId, receipt.amount);
    else this.disputes.push({ position: receipt.position, requestId: receipt.requestId, reason: disputeReason! });
    this.receipts.push(signed);
    this.known.add(receipt.requestId);
    this.waiting.set(Number(receipt.position), { signed, status });
    for (let next = this.waiting.get(this.tree.count); next; next = this.waiting.get(this.tree.count)) {
      this.waiting.delete(this.tree.count);
      if (next.status === "accepted") add(this.treeAccepted, next.signed.receipt.adapterId, next.signed.receipt.amount);
      else this.treeDisputed.push(this.tree.count);
      this.tree.append(usageLeaf(receiptDigest(this.receiptSeparator, next.signed.receipt), next.status));
    }
  }

  /** Signed by the operator's key and for this channel, or `ReceiptError`. */
  private async verifyReceipt({ receipt, signature }: SignedReceipt) {
    const { operatorSigningKey, channelId } = this.options;
    const digest = receiptDigest(this.receiptSeparator, receipt);
    const signer = await recoverAddress({ hash: digest, signature }).catch(() => undefined);
    if (!signer || !isAddressEqual(signer, operatorSigningKey))
      throw new ReceiptError(`receipt signed by ${signer ?? "nobody"}, not the operator's key ${operatorSigningKey}`);
    if (receipt.channelId !== channelId) throw new ReceiptError("receipt is for another channel");
    const position = Number(receipt.position);
    if (!this.known.has(receipt.requestId) && (position < this.tree.count || this.waiting.has(position)))
      throw new ReceiptError(`receipt ${position} of this channel is another receipt already`);
  }

  /** Why the payer disputes a receipt, or undefined when it accepts it. */
  private async disputeReason(
    receipt: Receipt,
    request: { adapterId?: bigint; maxCost?: bigint; completion?: string },
  ): Promise<string | undefined> {
    const price = this.options.prices.get(receipt.adapterId.toString());
    const tokens = receipt.promptTokens + receipt.completionTokens;
    if (request.adapterId !== undefined && receipt.adapterId !== request.adapterId)
      return `it is for adapter ${receipt.adapterId}, the request for ${request.adapterId}`;
    if (request.maxCost !== undefined && receipt.amount > request.maxCost)
      return `it charges ${receipt.amount}, more than the request's cover ${request.maxCost}`;
    if (price !== undefined && receipt.amount > costOf(price, tokens))
      return `it charges ${receipt.amount}, but ${tokens} tokens cost ${costOf(price, tokens)}`;
    if (request.completion === undefined) return undefined;
    const { tokenizer = byteTokenizer, records } = this.options;
    const completionTokens = tokenizer.encode(new TextEncoder().encode(request.completion));
    if (hashTokens(completionTokens) !== receipt.completionHash)
      return "its completion hash is not the hash of the completion received";
    if (!records || receipt.attributionHash === zeroHash) return undefined;
    let record: AttributionRecord;
    try {
      record = await getAttributionRecord(records, { attributionHash: receipt.attributionHash });
    } catch (error) {
      return `its attribution record cannot be read: ${(error as Error).message}`;
    }
    if (record.adapterId !== receipt.adapterId) return `its attribution record is for adapter ${record.adapterId}`;
    const issues = checkRecordAgainstCompletion(record, completionTokens);
    return issues.length === 0 ? undefined : `its attribution record does not fit the completion: ${issues[0]}`;
  }

  /**
   * Takes over what was paid on the channel elsewhere (another process, an earlier run of this app), from the
   * gateway's `GET /v1/channels/:id/usage` and `/receipts`, trusting nothing the payer's own signature does not
   * back:
   *
   * - the gateway's highest voucher must be signed by this payer's account, for this channel (and, given
   *   `deposit`, promise no more than it), else `ResumeError`;
   * - every receipt must be signed by the operator's key and for this channel, else `ResumeError`;
   * - receipts are disputed where an earlier usage voucher of this payer disputed them, where they are dearer than
   *   their tokens, and where, per adapter in position order, they would bill beyond what that voucher (or one
   *   this Payer signed itself) promised: that excess is returned as `unbacked`; given `disputeNew`, all of them.
   *
   * So a gateway cannot make the Payer pay more than the payer already signed for, plus new requests' cover.
   */
  async resume(gatewayUrl: string, options: ResumeOptions = {}): Promise<Resumed> {
    const base = gatewayUrl.replace(/\/+$/, "");
    const { channelId } = this.options;
    const usage = await getJson<UsageJson>(`${base}/v1/channels/${channelId}/usage`);
    const voucher = usage.voucher === null ? undefined : await this.ownVoucher(usage.voucher);
    if (voucher && options.deposit !== undefined && voucher.cumulativeAmount > options.deposit) {
      throw new ResumeError(
        `the gateway's voucher promises ${voucher.cumulativeAmount} wei, more than the deposit ${options.deposit}`,
      );
    }
    // The log only grows: read on from where the last resume stopped.
    const fresh = new Map<Hex, SignedReceipt>();
    let offset: number | null = this.listed;
    let listed = this.listed;
    while (offset !== null) {
      const page: ReceiptPage = await getJson<ReceiptPage>(
        `${base}/v1/channels/${channelId}/receipts?offset=${offset}`,
      );
      const data = Array.isArray(page.data) ? page.data : [];
      for (const json of data) {
        const signed = parseReceipt(json);
        if (this.known.has(signed.receipt.requestId) || fresh.has(signed.receipt.requestId)) continue;
        await this.verifyReceipt(signed).catch((cause: unknown) => {
          throw new ResumeError(`the gateway lists a receipt the Payer refuses: ${(cause as Error).message}`, {
            cause,
          });
        });
        fresh.set(signed.receipt.requestId, signed);
      }
      listed = offset + data.length;
      offset = Number.isSafeInteger(page.next) && page.next! > offset ? page.next! : null;
    }
    const reasons = new Map<Hex, string | undefined>();
    for (const signed of fresh.values())
      reasons.set(signed.receipt.requestId, await this.disputeReason(signed.receipt, {}));
    // Everything after the awaits happens at once: no receipt accepted meanwhile is lost or counted twice.
    const backed = new Map(this.signed);
    voucher?.adapterIds.forEach((id, i) => backed.set(id, max(backed.get(id) ?? 0n, voucher.adapterAmounts[i]!)));
    const disputedBefore = new Set(usage.vouched?.disputed ?? []);
    const unbacked = new Map<bigint, bigint>();
    const byPosition = [...fresh.values()].sort((a, b) => (a.receipt.position < b.receipt.position ? -1 : 1));
    for (const signed of byPosition) {
      const { receipt } = signed;
      if (this.known.has(receipt.requestId)) continue;
      let reason = options.disputeNew
        ? "its response never reached the payer"
        : disputedBefore.has(Number(receipt.position))
          ? "an earlier usage voucher disputed it"
          : reasons.get(receipt.requestId);
      if (
        reason === undefined &&
        (this.billed.get(receipt.adapterId) ?? 0n) + receipt.amount > (backed.get(receipt.adapterId) ?? 0n)
      ) {
        reason = "it bills beyond anything the payer signed for";
        add(unbacked, receipt.adapterId, receipt.amount);
      }
      this.book(signed, reason);
    }
    this.listed = listed;
    return { billed: new Map(this.billed), receipts: fresh.size, unbacked };
  }
  /** The gateway's voucher, if this payer signed it for this channel. */
  private async ownVoucher(json: VoucherJson): Promise<Voucher> {
    const { account, chainId, payments, channelId } = this.options;
    let signed: SignedVoucher;
    try {
      signed = voucherFromJson(json);
    } catch (cause) {
      throw new ResumeError(`the gateway's voucher is malformed: ${(cause as Error).message}`, { cause });
    }
    if (signed.voucher.channelId !== channelId)
      throw new ResumeError(`the gateway's voucher is for channel ${signed.voucher.channelId}, not ${channelId}`);
    const signer = await recoverTypedDataAddress({
      domain: voucherDomain(chainId, payments),
      types: voucherTypes,
      primaryType: "Voucher",
      message: signed.voucher,
      signature: signed.signature,
    }).catch(() => undefined);
    if (!signer || !isAddressEqual(signer, account.address))
      throw new ResumeError(
        `the gateway's voucher is signed by ${signer ?? "nobody"}, not this payer ${account.address}`,
      );
    return signed.voucher;
  }

  /** One resume at a time; true if it brought receipts this Payer did not have. */
  private async resync(base: string): Promise<boolean> {
    const before = this.known.size;
    this.resuming ??= this.resume(base).finally(() => (this.resuming = undefined));
    await this.resuming;
    return this.known.size !== before;
  }

  /**
   * A `fetch` for the openai client (`new OpenAI({ fetch: payer.fetch })`): attaches a voucher covering each
   * completion request (`/v1/chat/completions`, `/v1/completions`, `/v1/responses`) and the latest usage voucher,
   * and verifies the receipt of each response against the completion it carries, streamed or not, before handing
   * it on. A body it cannot price goes out without a voucher, so that the gateway says what is wrong with it.
   */
  fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : String(input);
    const { pathname } = new URL(url);
    const api = apiOfPath(pathname);
    if (!api || typeof init?.body !== "string") return fetch(input, init);
    const request = this.priced(api, init.body);
    if (!request) return fetch(input, init);
    let response = await this.send(input, init, request);
    if (response.status === 402 && this.options.autoResume !== false) {
      const code = await errorCode(response);
      const base = url.slice(0, url.lastIndexOf("/v1/"));
      // Usage voucher lagging: the receipts that arrived since, or that a resume brings, let the next one cover
      // more. Cover short: worth a retry only if the gateway knew receipts this Payer did not.
      if (code === "usage_voucher_required") {
        await this.resync(base);
        response = await this.send(input, init, request);
      } else if (code === "insufficient_voucher" && (await this.resync(base))) {
        response = await this.send(input, init, request);
      }
    }
    return this.receive(response, request);
  };

  /** The adapter and cover of a completion body, or undefined where the body is not one the gateway takes. */
  private priced(api: CompletionApi, text: string): PricedRequest | undefined {
    let body: CompletionBody<CompletionApi> & { model?: unknown };
    let prompt: unknown;
    let maxTokens: unknown;
    try {
      body = JSON.parse(text);
      prompt = promptOf(api, body);
      maxTokens = maxTokensOf(api, body);
    } catch {
      return undefined;
    }
    if (typeof body.model !== "string" || !/^(0|[1-9][0-9]*)$/.test(body.model)) return undefined;
    if (typeof prompt !== "string" || !Number.isSafeInteger(maxTokens) || (maxTokens as number) < 0) return undefined;
    return { api, adapterId: BigInt(body.model), maxCost: this.maxCost(body.model, prompt, maxTokens as number, api) };
  }

  private async send(input: string | URL | Request, init: RequestInit, { adapterId, maxCost }: PricedRequest) {
    const usage = await this.usageVoucher();
    const signed = await this.cover(adapterId, maxCost);
    const headers = new Headers(init.headers);
    headers.set(voucherHeader, encodeHeader(voucherToJson(signed)));
    if (usage) headers.set(usageHeader, encodeUsageVoucher(usage));
    let response: Response;
    try {
      response = await fetch(input, { ...init, headers });
    } catch (error) {
      this.cancel(adapterId, maxCost);
      throw error;
    }
    if (!response.ok) this.cancel(adapterId, maxCost);
    return response;
  }

  private async receive(response: Response, request: PricedRequest) {
    const { api, adapterId, maxCost } = request;
    if (!response.ok) return response;
    if (!(response.headers.get("content-type") ?? "").includes("text/event-stream")) {
      const text = await response.text();
      const json = JSON.parse(text) as { openpoa_receipt?: ReceiptJson };
      if (!json.openpoa_receipt) {
        this.cancel(adapterId, maxCost);
        throw new ReceiptError("response carries no receipt");
      }
      await this.accept(adapterId, maxCost, parseReceipt(json.openpoa_receipt), answerTextOf(api, json) ?? "");
      return new Response(text, { status: response.status, headers: response.headers });
    }
    return new Response(this.watchStream(response.body!, request), {
      status: response.status,
      headers: response.headers,
    });
  }

  /**
   * Passes the SSE bytes through unchanged, gathering the completion from the deltas, and verifies the receipt
   * against it where it comes: the last chunk of a completion, or the response of `response.completed` /
   * `response.incomplete`.
   */
  private watchStream(body: ReadableStream<Uint8Array>, { api, adapterId, maxCost }: PricedRequest) {
    const decoder = new TextDecoder();
    let buffer = "";
    let completion = "";
    let accepted = false;
    return body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform: async (chunk, controller) => {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const event = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const payload = dataOf(event);
            if (payload === "" || payload === "[DONE]") continue;
            const data = JSON.parse(payload) as {
              openpoa_receipt?: ReceiptJson;
              response?: { openpoa_receipt?: ReceiptJson };
            };
            completion += streamDeltaOf(api, data);
            const receipt = data.openpoa_receipt ?? data.response?.openpoa_receipt;
            if (receipt) {
              await this.accept(adapterId, maxCost, parseReceipt(receipt), completion);
              accepted = true;
            }
          }
          controller.enqueue(chunk);
        },
        flush: () => {
          if (!accepted) this.cancel(adapterId, maxCost);
        },
      }),
    );
  }
}

type PricedRequest = { api: CompletionApi; adapterId: bigint; maxCost: bigint };

/** The `x-openpoa-usage` header of a usage voucher. */
export const encodeUsageVoucher = ({ signed, receipts, disputed }: UsageVoucher) =>
  encodeHeader({ ...voucherToJson(signed), receipts, disputed });

/** The data of one server-sent event (its `data:` lines joined). */
const dataOf = (event: string) =>
  event
    .split("\n")
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(line.startsWith("data: ") ? 6 : 5))
    .join("\n");

function parseReceipt(json: ReceiptJson): SignedReceipt {
  try {
    return receiptFromJson(json);
  } catch (cause) {
    throw new ReceiptError(`malformed receipt: ${(cause as Error).message}`, { cause });
  }
}

async function errorCode(response: Response): Promise<string | undefined> {
  const json = (await response
    .clone()
    .json()
    .catch(() => undefined)) as { error?: { code?: string } } | undefined;
  return json?.error?.code;
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  const json = (await response.json().catch(() => undefined)) as (T & { error?: { message: string } }) | undefined;
  if (!response.ok || json === undefined || json === null || typeof json !== "object")
    throw new ResumeError(`GET ${url}: ${response.status} ${json?.error?.message ?? "no JSON"}`);
  return json;
}

/** Posts the usage voucher over every receipt so far, so the operator can settle all the payer accepted. */
export async function checkpoint(payer: Payer, gatewayUrl: string): Promise<{ billed: Record<string, string> }> {
  const usage = await payer.usageVoucher();
  if (!usage) return { billed: {} };
  const response = await fetch(`${gatewayUrl}/v1/vouchers`, {
    method: "POST",
    headers: { [usageHeader]: encodeUsageVoucher(usage) },
  });
  const json = (await response.json()) as { billed: Record<string, string>; error?: { message: string } };
  if (!response.ok) throw new Error(`checkpoint refused: ${json.error?.message}`);
  return json;
}

/** Prices from the gateway's /v1/models (a careful client compares them with ModelRegistry). */
export async function fetchPrices(gatewayUrl: string, init?: RequestInit): Promise<Map<string, bigint>> {
  const response = await fetch(`${gatewayUrl}/v1/models`, init);
  const { data } = (await response.json()) as { data: { id: string; openpoa: { pricePer1kTokens: string } }[] };
  return new Map(data.map((m) => [m.id, BigInt(m.openpoa.pricePer1kTokens)]));
}
