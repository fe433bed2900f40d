import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { isAddressEqual, recoverTypedDataAddress, zeroHash, type Account, type Address, type Hex } from "viem";
import { encodeHeader, receiptFromJson, voucherToJson, type ReceiptJson } from "./codec.ts";
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
};

/**
 * The payer's side of a channel. Every voucher it signs promises, per adapter, what the receipts so far billed
 * plus the most that requests in flight (this one included) can cost; the unused part of a request's cover is
 * credited back when its receipt arrives. `receipts` keeps every receipt, verified.
 */
export class Payer {
  readonly receipts: SignedReceipt[] = [];
  private billed = new Map<bigint, bigint>();
  private inFlight = new Map<bigint, bigint>();
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
    this.inFlight.set(adapterId, (this.inFlight.get(adapterId) ?? 0n) + maxCost);
    const amounts = new Map(this.billed);
    for (const [id, amount] of this.inFlight) amounts.set(id, (amounts.get(id) ?? 0n) + amount);
    return this.signVoucher(amounts);
  }

  cancel(adapterId: bigint, maxCost: bigint) {
    this.inFlight.set(adapterId, this.inFlight.get(adapterId)! - maxCost);
  }

  /** Checks a receipt against the operator's key, this channel, the price and the cover; then books it. */
  async accept(adapterId: bigint, maxCost: bigint, signed: SignedReceipt): Promise<SignedReceipt> {
    this.cancel(adapterId, maxCost);
    const { receipt, signature } = signed;
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
    if (receipt.channelId !== channelId || receipt.adapterId !== adapterId)
      throw new ReceiptError("receipt is for another channel or adapter");
    const expected = costOf(prices.get(adapterId.toString())!, receipt.promptTokens + receipt.completionTokens);
    if (receipt.amount > expected || receipt.amount > maxCost) {
      throw new ReceiptError(
        `receipt charges ${receipt.amount}, but ${receipt.promptTokens + receipt.completionTokens} tokens cost ${expected} (cover ${maxCost})`,
      );
    }
    this.billed.set(adapterId, (this.billed.get(adapterId) ?? 0n) + receipt.amount);
    this.receipts.push(signed);
    return signed;
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
   * A `fetch` for the openai client (`new OpenAI({ fetch: payer.fetch })`): attaches a voucher covering each
   * completion request (`/v1/chat/completions`, `/v1/completions`, `/v1/responses`) and verifies the receipt of
   * each response, streamed or not, before handing it on. A body it cannot price goes out without a voucher, so
   * that the gateway says what is wrong with it.
   */
  fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : String(input);
    const api = apiOfPath(new URL(url).pathname);
    if (!api || typeof init?.body !== "string") return fetch(input, init);
    const request = this.priced(api, init.body);
    if (!request) return fetch(input, init);
    const { adapterId, maxCost } = request;
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
    if (!response.ok) {
      this.cancel(adapterId, maxCost);
      return response;
    }
    if (!(response.headers.get("content-type") ?? "").includes("text/event-stream")) {
      const text = await response.text();
      const json = JSON.parse(text) as { openpoa_receipt?: ReceiptJson };
      if (!json.openpoa_receipt) {
        this.cancel(adapterId, maxCost);
        throw new ReceiptError("response carries no receipt");
      }
      await this.accept(adapterId, maxCost, receiptFromJson(json.openpoa_receipt));
      return new Response(text, { status: response.status, headers: response.headers });
    }
    return new Response(this.watchStream(response.body!, adapterId, maxCost), {
      status: response.status,
      headers: response.headers,
    });
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
              await this.accept(adapterId, maxCost, receiptFromJson(receipt));
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
