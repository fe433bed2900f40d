import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { isAddressEqual, recoverTypedDataAddress, zeroHash, type Account, type Address, type Hex } from "viem";
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
  receiptTypes,
  voucherDomain,
  voucherHeader,
  voucherTypes,
  type SignedReceipt,
  type SignedVoucher,
  type Voucher,
} from "./eip712.ts";
import { costOf, countPromptTokens } from "./pricing.ts";
import { apiOfPath, maxTokensOf, promptOf, type CompletionApi, type CompletionBody } from "./requests.ts";

/** A receipt the SDK refused: bad signature, wrong channel, or an amount its prices and tokens do not give. */
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

export type PayerOptions = {
  /** The channel's payer: signs vouchers. */
  account: Account & { signTypedData: NonNullable<Account["signTypedData"]> };
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
   * On a 402 `insufficient_voucher` (another process, or an earlier run, paid on this channel since), `resume` from
   * the gateway and send the request once more. Default true.
   */
  autoResume?: boolean;
};

export type ResumeOptions = {
  /** The channel's deposit, as the caller read it on chain: a voucher promising more is refused. */
  deposit?: bigint;
};

/** What `resume` took over. */
export type Resumed = {
  /** Per adapter, what the Payer now counts as billed. */
  billed: Map<bigint, bigint>;
  /** Receipts new to this Payer, each verified. */
  receipts: number;
  /** Per adapter, what the gateway's receipts claim beyond anything this payer signed: not counted, never paid. */
  unbacked: Map<bigint, bigint>;
};

/** The gateway's GET /v1/channels/:id/usage and /receipts, as far as the Payer reads them. */
type UsageJson = { voucher: VoucherJson | null };
type ReceiptPage = { data: ReceiptJson[]; next: number | null };

const add = (map: Map<bigint, bigint>, key: bigint, amount: bigint) => map.set(key, (map.get(key) ?? 0n) + amount);
const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);

/**
 * The payer's side of a channel. Every voucher it signs promises, per adapter, what the receipts so far billed
 * plus the most that requests in flight (this one included) can cost; the unused part of a request's cover is
 * credited back when its receipt arrives. `receipts` keeps every receipt, verified.
 *
 * Several processes (or a restarted app) can pay on one channel in turn: each `resume`s from the gateway's account
 * of the channel, trusting only what the payer's own signature backs.
 */
export class Payer {
  readonly receipts: SignedReceipt[] = [];
  private billed = new Map<bigint, bigint>();
  private inFlight = new Map<bigint, bigint>();
  /** Request ids of `receipts`: a receipt is counted once, however it arrives. */
  private known = new Set<Hex>();
  /** Per adapter, the most this Payer has signed for. */
  private signed = new Map<bigint, bigint>();
  private resuming: Promise<Resumed> | undefined;
  /** How many of the channel's receipts, in the gateway's log order, resumes have read. */
  private listed = 0;
  readonly options: PayerOptions;

  constructor(options: PayerOptions) {
    this.options = options;
  }

  /** What the receipts add up to, per adapter and in total. */
  get billedTotal() {
    return [...this.billed.values()].reduce((s, a) => s + a, 0n);
  }

  /** The cover a request needs: price × (prompt + max_tokens) / 1000, rounded up. */
  maxCost(model: string, prompt: string, maxTokens: number): bigint {
    const price = this.options.prices.get(model);
    if (price === undefined) throw new Error(`no price known for model ${model}`);
    return costOf(price, BigInt(countPromptTokens(prompt) + maxTokens));
  }

  async signVoucher(amounts: Map<bigint, bigint>, usageRoot = this.root): Promise<SignedVoucher> {
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

  /** Reserves the request's cover and signs the voucher that carries it; call `settle` or `cancel` after. */
  async cover(adapterId: bigint, maxCost: bigint): Promise<SignedVoucher> {
    add(this.inFlight, adapterId, maxCost);
    const amounts = new Map(this.billed);
    for (const [id, amount] of this.inFlight) add(amounts, id, amount);
    return this.signVoucher(amounts);
  }

  cancel(adapterId: bigint, maxCost: bigint) {
    add(this.inFlight, adapterId, -maxCost);
  }

  /** Checks a receipt against the operator's key, this channel, the price and the cover; then books it. */
  async accept(adapterId: bigint, maxCost: bigint, signed: SignedReceipt): Promise<SignedReceipt> {
    this.cancel(adapterId, maxCost);
    await this.verifyReceipt(signed);
    const { receipt } = signed;
    if (receipt.adapterId !== adapterId) throw new ReceiptError("receipt is for another adapter");
    if (receipt.amount > maxCost)
      throw new ReceiptError(`receipt charges ${receipt.amount}, more than the request's cover ${maxCost}`);
    // A resume that ran while this request was in flight may have counted it already.
    if (!this.known.has(receipt.requestId)) this.book(signed);
    return signed;
  }

  private book(signed: SignedReceipt) {
    add(this.billed, signed.receipt.adapterId, signed.receipt.amount);
    this.receipts.push(signed);
    this.known.add(signed.receipt.requestId);
  }

  /** Signed by the operator's key, for this channel, and no dearer than its tokens at the known price. */
  private async verifyReceipt({ receipt, signature }: SignedReceipt) {
    const { chainId, payments, channelId, operatorSigningKey, prices } = this.options;
    const signer = await recoverTypedDataAddress({
      domain: receiptDomain(chainId, payments),
      types: receiptTypes,
      primaryType: "Receipt",
      message: receipt,
      signature,
    });
    if (!isAddressEqual(signer, operatorSigningKey))
      throw new ReceiptError(`receipt signed by ${signer}, not the operator's key ${operatorSigningKey}`);
    if (receipt.channelId !== channelId) throw new ReceiptError("receipt is for another channel");
    const price = prices.get(receipt.adapterId.toString());
    const tokens = receipt.promptTokens + receipt.completionTokens;
    if (price !== undefined && receipt.amount > costOf(price, tokens)) {
      throw new ReceiptError(`receipt charges ${receipt.amount}, but ${tokens} tokens cost ${costOf(price, tokens)}`);
    }
  }

  /** A voucher for exactly what the receipts billed: the one the operator settles (POST it to /v1/vouchers). */
  exactVoucher(): Promise<SignedVoucher> {
    return this.signVoucher(new Map(this.billed), this.computeUsageRoot());
  }

  /**
   * Merkle root (OpenZeppelin standard tree) over the EIP-712 digests of the receipts, computed for exact
   * vouchers; cover vouchers repeat the last one, since a tree per request would cost O(receipts) each.
   */
  private root: Hex = zeroHash;

  private computeUsageRoot(): Hex {
    if (this.receipts.length === 0) return zeroHash;
    const separator = domainSeparator(receiptDomain(this.options.chainId, this.options.payments));
    const leaves = this.receipts.map(({ receipt }) => [receiptDigest(separator, receipt)]);
    this.root = StandardMerkleTree.of(leaves, ["bytes32"]).root as Hex;
    return this.root;
  }

  /**
   * Takes over what was paid on the channel elsewhere (another process, an earlier run of this app), from the
   * gateway's `GET /v1/channels/:id/usage` and `/receipts`, trusting nothing the payer's own signature does not
   * back:
   *
   * - the gateway's highest voucher must be signed by this payer's account, for this channel (and, given
   *   `deposit`, promise no more than it), else `ResumeError`;
   * - every receipt must be signed by the operator's key, for this channel, priced right where the price is
   *   known, else `ResumeError`;
   * - per adapter, the Payer counts as billed what the receipts add up to, but never more than that voucher (or a
   *   voucher this Payer signed itself) promised: whatever the gateway claims beyond is returned as `unbacked`.
   *
   * So a gateway cannot make the Payer promise more than the payer already signed for, plus new requests' cover.
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
    // Everything after the awaits happens at once: no receipt accepted meanwhile is lost or counted twice.
    const sums = new Map<bigint, bigint>();
    for (const { receipt } of [...this.receipts, ...fresh.values()]) add(sums, receipt.adapterId, receipt.amount);
    const backed = new Map(this.signed);
    voucher?.adapterIds.forEach((id, i) => backed.set(id, max(backed.get(id) ?? 0n, voucher.adapterAmounts[i]!)));
    const billed = new Map<bigint, bigint>();
    const unbacked = new Map<bigint, bigint>();
    for (const [id, sum] of sums) {
      billed.set(id, min(sum, backed.get(id) ?? 0n));
      if (sum > billed.get(id)!) unbacked.set(id, sum - billed.get(id)!);
    }
    for (const signed of fresh.values()) {
      this.receipts.push(signed);
      this.known.add(signed.receipt.requestId);
    }
    this.billed = billed;
    this.listed = listed;
    return { billed: new Map(billed), receipts: fresh.size, unbacked };
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

  /** One resume at a time; true if it changed what the Payer counts as billed. */
  private async resync(base: string): Promise<boolean> {
    const before = new Map(this.billed);
    this.resuming ??= this.resume(base).finally(() => (this.resuming = undefined));
    await this.resuming;
    return before.size !== this.billed.size || [...this.billed].some(([id, amount]) => before.get(id) !== amount);
  }

  /**
   * A `fetch` for the openai client (`new OpenAI({ fetch: payer.fetch })`): attaches a voucher covering each
   * completion request (`/v1/chat/completions`, `/v1/completions`, `/v1/responses`) and verifies the receipt of
   * each response, streamed or not, before handing it on. A body it cannot price goes out without a voucher, so
   * that the gateway says what is wrong with it.
   */
  fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : String(input);
    const { pathname } = new URL(url);
    const api = apiOfPath(pathname);
    if (!api || typeof init?.body !== "string") return fetch(input, init);
    const request = this.priced(api, init.body);
    if (!request) return fetch(input, init);
    let response = await this.send(input, init, request);
    if (
      response.status === 402 &&
      this.options.autoResume !== false &&
      (await errorCode(response)) === "insufficient_voucher" &&
      (await this.resync(url.slice(0, url.lastIndexOf("/v1/"))))
    ) {
      response = await this.send(input, init, request);
    }
    return this.receive(response, request);
  };

  /** The adapter and cover of a completion body, or undefined where the body is not one the gateway takes. */
  private priced(api: CompletionApi, text: string): { adapterId: bigint; maxCost: bigint } | undefined {
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
    return { adapterId: BigInt(body.model), maxCost: this.maxCost(body.model, prompt, maxTokens as number) };
  }

  private async send(
    input: string | URL | Request,
    init: RequestInit,
    { adapterId, maxCost }: { adapterId: bigint; maxCost: bigint },
  ): Promise<Response> {
    const signed = await this.cover(adapterId, maxCost);
    const headers = new Headers(init.headers);
    headers.set(voucherHeader, encodeHeader(voucherToJson(signed)));
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

  private async receive(response: Response, { adapterId, maxCost }: { adapterId: bigint; maxCost: bigint }) {
    if (!response.ok) return response;
    if (!(response.headers.get("content-type") ?? "").includes("text/event-stream")) {
      const text = await response.text();
      const json = JSON.parse(text) as { openpoa_receipt?: ReceiptJson };
      if (!json.openpoa_receipt) {
        this.cancel(adapterId, maxCost);
        throw new ReceiptError("response carries no receipt");
      }
      await this.accept(adapterId, maxCost, parseReceipt(json.openpoa_receipt));
      return new Response(text, { status: response.status, headers: response.headers });
    }
    return new Response(this.watchStream(response.body!, adapterId, maxCost), {
      status: response.status,
      headers: response.headers,
    });
  }

  /**
   * Passes the SSE bytes through unchanged and verifies the receipt where it comes: the last chunk of a
   * completion, or the response of `response.completed` / `response.incomplete`.
   */
  private watchStream(body: ReadableStream<Uint8Array>, adapterId: bigint, maxCost: bigint) {
    const decoder = new TextDecoder();
    let buffer = "";
    let accepted = false;
    return body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform: async (chunk, controller) => {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const event = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            if (!event.includes('"openpoa_receipt"')) continue;
            const data = JSON.parse(dataOf(event)) as {
              openpoa_receipt?: ReceiptJson;
              response?: { openpoa_receipt?: ReceiptJson };
            };
            const receipt = data.openpoa_receipt ?? data.response?.openpoa_receipt;
            if (receipt) {
              await this.accept(adapterId, maxCost, parseReceipt(receipt));
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

/** Posts the exact voucher so the operator can settle everything the receipts billed. */
export async function checkpoint(payer: Payer, gatewayUrl: string): Promise<{ billed: Record<string, string> }> {
  const signed = await payer.exactVoucher();
  const response = await fetch(`${gatewayUrl}/v1/vouchers`, {
    method: "POST",
    headers: { [voucherHeader]: encodeHeader(voucherToJson(signed)) },
  });
  const json = (await response.json()) as { billed: Record<string, string>; error?: { message: string } };
  if (!response.ok) throw new Error(`checkpoint refused: ${json.error?.message}`);
  return json;
}

/** Prices from the gateway's /v1/models (a careful client compares them with ModelRegistry). */
export async function fetchPrices(gatewayUrl: string): Promise<Map<string, bigint>> {
  const response = await fetch(`${gatewayUrl}/v1/models`);
  const { data } = (await response.json()) as { data: { id: string; openpoa: { pricePer1kTokens: string } }[] };
  return new Map(data.map((m) => [m.id, BigInt(m.openpoa.pricePer1kTokens)]));
}
