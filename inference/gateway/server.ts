import { randomBytes } from "node:crypto";
import { zValidator } from "@hono/zod-validator";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { type Hex, zeroHash } from "viem";
import type { $ZodIssue } from "zod/v4/core";
import { byteTokenizer, hashTokens } from "../../attribution/src/index.ts";
import type { Attributor } from "./attribution.ts";
import { encodeHeader, receiptToJson, voucherToJson } from "../sdk/codec.ts";
import { receiptDigest, receiptHeader, usageHeader, voucherHeader } from "../sdk/eip712.ts";
import { costOf, estimatePromptTokens, type ChatMessage } from "../sdk/pricing.ts";
import {
  maxTokensOf,
  messagesOf,
  promptOf,
  templateTextsOf,
  type CompletionApi,
  type CompletionBody,
} from "../sdk/requests.ts";
import type { ServedAdapters } from "./artifacts.ts";
import type { AdapterRecord, ChainView } from "./chain.ts";
import type { Engine, GenerateDone, GenerateParams } from "./engine.ts";
import type { GovernedRules, ServingRules } from "./governed.ts";
import { badRequest, busy, GatewayError, paymentError } from "./errors.ts";
import { formats, type AnswerMeta } from "./formats.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import { openApiDocument } from "./openapi.ts";
import type { DigestSigner } from "./signatures.ts";
import { verifyVoucher, type Ledger, type PaymentContext, type Reservation } from "./payment.ts";
import {
  channelIdParam,
  chatCompletionRequest,
  completionRequest,
  receiptPageQuery,
  requestError,
  responseRequest,
  type ChatCompletionRequest,
  type CompletionRequest,
  type ResponseRequest,
} from "./schemas.ts";
import type { UnnumberedReceipt, UsageLog } from "./usageLog.ts";
import { acceptUsageVoucher, unvouchedReceipts } from "./usageVouchers.ts";

export type GatewayLimits = {
  maxTokens: number;
  maxBodyBytes: number;
  /** Requests one channel may have in flight at once; more get 429 (one payer cannot hold the engine alone). */
  maxInFlightPerChannel: number;
  /** Requests in flight at once over all channels (the engine's queue); more get 429. */
  maxInFlight: number;
  /**
   * Receipts a channel may have that no usage voucher covers; beyond, requests get 402 until one arrives. What the
   * operator risks serving a payer who never pays: this many requests.
   */
  maxUnvouchedReceipts: number;
};
export type Gateway = {
  engine: Engine;
  chain: ChainView;
  ledger: Ledger;
  usageLog: UsageLog;
  payment: PaymentContext;
  /** The operator's registered receipt signing key (NodeRegistry.signingKeyOf). */
  signer: DigestSigner;
  /** Computes and publishes each response's attribution record; absent, receipts carry a zero hash. */
  attributor?: Attributor;
  /** Adapters fetched by their on-chain URI, verified, checked against their registration, loaded. */
  adapters: ServedAdapters;
  /** The governed serving rules in force (ServingRules on chain). */
  rules: GovernedRules;
  limits: GatewayLimits;
  metrics: Metrics;
  log: Logger;
};

/** A validated request, as the engine and the bill see it. */
type Completion = {
  api: CompletionApi;
  adapterId: bigint;
  prompt: string;
  /** A chat's messages (chat and responses APIs): the engine renders them with the model's template if it has one. */
  messages?: ChatMessage[];
  stream: boolean;
  engine: Omit<GenerateParams, "prompt" | "messages" | "adapter">;
  echo: AnswerMeta["echo"];
  /** Template and system-prompt text the completion may repeat: never credited (sdk/requests.ts). */
  exclude: string[];
};
type ValidatedBody = ChatCompletionRequest | CompletionRequest | ResponseRequest;

/**
 * The response's attribution hash. Unless the serving rules require one, a failure (say the content store is
 * unreachable) must not cost the payer the answer it paid for: the receipt then carries a zero hash, and the epoch
 * splits that request pro rata. Under rules that require it, the request fails unbilled instead.
 */
async function attributionOf(
  gateway: Gateway,
  rules: ServingRules,
  { adapterId, completion, exclude }: { adapterId: bigint; completion: string; exclude: string[] },
): Promise<Hex> {
  if (!gateway.attributor) return zeroHash;
  try {
    return await gateway.attributor.attribute({ adapterId, completion, exclude });
  } catch (error) {
    gateway.log("warn", "attribution failed", { adapterId, error: String(error) });
    gateway.metrics.attributionFailures.inc({ adapter: adapterId.toString() });
    if (rules.requireAttributionHash && adapterId !== 0n) {
      throw new GatewayError(
        503,
        "attribution_unavailable",
        `ServingRules v${rules.version} require an attribution hash, and this response could not be attributed: retry shortly (not billed)`,
        { cause: error, retryAfterSec: 5 },
      );
    }
    return zeroHash;
  }
}

export function createApp(gateway: Gateway): Hono {
  const app = new Hono();
  const schemas = {
    chat: chatCompletionRequest(gateway.limits),
    text: completionRequest(gateway.limits),
    responses: responseRequest(gateway.limits),
  };
  const document = openApiDocument(gateway.limits);

  // Browsers (the Studio's playground, any web app) call workers directly: payment rides in signed headers, never
  // cookies, so any origin may; the receipt header must be readable by the page that pays. /metrics is the
  // operator's, not the public's: no page may read it.
  const anyOrigin = cors({
    origin: "*",
    exposeHeaders: [receiptHeader, "x-openpoa-request-id", "retry-after"],
    maxAge: 86_400,
  });
  for (const route of ["/v1/*", "/health", "/openapi.json"]) app.use(route, anyOrigin);

  app.onError((error, c) => {
    const known =
      error instanceof GatewayError
        ? error
        : error instanceof HTTPException
          ? new GatewayError(error.status, "http_error", error.message)
          : new GatewayError(500, "internal", "internal error", { cause: error });
    if (known.status >= 500)
      gateway.log("error", "request failed", {
        path: c.req.path,
        error: String(error),
        cause: String(known.cause ?? ""),
      });
    const headers = known.retryAfterSec === undefined ? undefined : { "retry-after": String(known.retryAfterSec) };
    return c.json(known.toJSON(), known.status as 400, headers);
  });
  app.notFound((c) =>
    c.json(new GatewayError(404, "not_found", `no route ${c.req.method} ${c.req.path}`).toJSON(), 404),
  );

  app.get("/health", (c) => {
    const ready = gateway.engine.hello !== undefined;
    return c.json({ status: ready ? "ok" : "starting", engineRestarts: gateway.engine.restarts }, ready ? 200 : 503);
  });

  app.get("/metrics", async (c) => {
    const { text, contentType } = await gateway.metrics.render();
    return c.body(text, 200, { "content-type": contentType });
  });

  app.get("/openapi.json", (c) => c.json(document));

  app.get("/v1/models", async (c) => {
    const created = 0;
    const describe = (a: AdapterRecord) => ({
      id: a.id.toString(),
      object: "model",
      created,
      owned_by: "openpoa",
      parent: a.id === 0n ? null : "0",
      openpoa: {
        baseModelId: a.baseModelId.toString(),
        artifactHash: a.sha256,
        pricePer1kTokens: a.pricePer1kTokens.toString(),
      },
    });
    const base = await gateway.chain.adapter(0n);
    const adapters = await gateway.chain.servedAdapters();
    return c.json({ object: "list", data: [base, ...adapters].map(describe) });
  });

  /** A usage voucher on its own (`x-openpoa-usage`), e.g. after a client's last receipt, so that it settles. */
  app.post("/v1/vouchers", async (c) => {
    const header = c.req.header(usageHeader);
    if (!header) throw badRequest("voucher_missing", `missing ${usageHeader} header: post a usage voucher`);
    const channelId = await acceptUsageVoucher(gateway, header);
    // A checkpoint is the payer's last word before it may go away: answer only once its voucher is on disk. (A
    // usage voucher riding on a completion request may wait for the group commit: the next one replaces it.)
    gateway.usageLog.commitPending();
    return c.json(channelUsage(gateway, channelId));
  });

  const channelId = zValidator("param", channelIdParam, (result) => {
    if (!result.success) throw badRequest("invalid_channel", "channel id must be a decimal integer", "id");
  });
  /** What the gateway accepted on the channel; a payer resumes from it (sdk/payer.ts, `Payer.resume`). */
  app.get("/v1/channels/:id/usage", channelId, (c) => c.json(channelUsage(gateway, BigInt(c.req.valid("param").id))));
  /** The channel's receipts in log order, a page at a time (`next`: the offset of the next page, or null). */
  app.get("/v1/channels/:id/receipts", channelId, zValidator("query", receiptPageQuery, refuse), (c) => {
    const id = c.req.valid("param").id;
    const { offset, limit } = c.req.valid("query");
    // One more than asked for tells whether another page follows.
    const page = gateway.usageLog.receiptPage(BigInt(id), offset, limit + 1);
    const data = page.slice(0, limit).map(receiptToJson);
    return c.json({ channelId: id, data, next: page.length > limit ? offset + limit : null });
  });

  const body = jsonBody(gateway.limits.maxBodyBytes);
  app.post("/v1/chat/completions", body, zValidator("json", schemas.chat, refuse), (c) =>
    complete(gateway, c, completionOf("chat", c.req.valid("json"))),
  );
  app.post("/v1/completions", body, zValidator("json", schemas.text, refuse), (c) =>
    complete(gateway, c, completionOf("text", c.req.valid("json"))),
  );
  app.post("/v1/responses", body, zValidator("json", schemas.responses, refuse), (c) =>
    complete(gateway, c, completionOf("responses", c.req.valid("json"))),
  );
  return app;
}

/** The validator's hook: an invalid body is an OpenAI-shaped 400 naming the parameter. */
function refuse(result: { success: true } | { success: false; error: { issues: readonly $ZodIssue[] } }) {
  if (!result.success) throw requestError(result.error.issues);
}

/** A JSON body: `application/json` (else 415), at most `maxBytes` (else 413), parseable (else 400). */
function jsonBody(maxBytes: number): MiddlewareHandler {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: async (c) => {
      // Refused on its content-length, the body is still on the wire: read it away (a bounded amount), or the
      // client, still sending, sees a reset instead of the 413.
      const body = c.req.raw.body;
      if (body && !body.locked) await drain(body, 16 * maxBytes);
      throw new GatewayError(413, "request_too_large", `request body exceeds ${maxBytes} bytes`);
    },
  });
  return async (c, next) => {
    const type = c.req.header("content-type") ?? "";
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      throw new GatewayError(
        415,
        "unsupported_media_type",
        `request body must be application/json, not ${type ? `'${type}'` : "without a content type"}`,
      );
    }
    return limit(c, async () => {
      // Parsed once here; the validator reads the same cached body.
      await c.req.json().catch(() => {
        throw badRequest("invalid_json", "request body is not valid JSON");
      });
      await next();
    });
  };
}

async function drain(body: ReadableStream<Uint8Array>, atMost: number) {
  const reader = body.getReader();
  let read = 0;
  try {
    while (read <= atMost) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.length;
    }
    await reader.cancel();
  } catch {
    // The client went away: nothing left to read.
  }
}

/** The adapter id a model name stands for: its on-chain id in decimal; "0" is the base model. */
function adapterIdOf(model: string): bigint {
  if (!/^(0|[1-9][0-9]{0,30})$/.test(model)) {
    throw new GatewayError(
      404,
      "model_not_found",
      `The model '${model}' does not exist: name an adapter by its on-chain id ("0" is the base model)`,
      { param: "model" },
    );
  }
  return BigInt(model);
}

function completionOf<A extends CompletionApi>(api: A, body: CompletionBody<A> & ValidatedBody): Completion {
  const optional = <T>(value: T | null | undefined) => value ?? undefined;
  const seed = "seed" in body ? optional(body.seed) : undefined;
  const stop = "stop" in body ? optional(body.stop) : undefined;
  return {
    api,
    adapterId: adapterIdOf(body.model),
    prompt: promptOf(api, body),
    messages: messagesOf(api, body),
    exclude: templateTextsOf(api, body),
    stream: body.stream === true,
    engine: {
      max_tokens: maxTokensOf(api, body),
      temperature: optional(body.temperature),
      top_p: optional(body.top_p),
      seed,
      stop,
    },
    echo: {
      instructions: "instructions" in body ? body.instructions : undefined,
      max_output_tokens: "max_output_tokens" in body ? body.max_output_tokens : undefined,
      temperature: body.temperature,
      top_p: body.top_p,
    },
  };
}

/** Per adapter, in decimal: `{"<adapterId>": "<wei>"}`. */
const decimals = (entries: Iterable<[bigint, bigint]>) =>
  Object.fromEntries([...entries].map(([id, amount]) => [id.toString(), amount.toString()]));

/** What the gateway accepted on a channel, and the highest voucher it holds (with the payer's signature). */
function channelUsage(gateway: Gateway, channelId: bigint) {
  const book = gateway.ledger.view(channelId);
  const billed = book?.billed ?? new Map<bigint, bigint>();
  const reserved = book?.reserved ?? new Map<bigint, bigint>();
  return {
    channelId: channelId.toString(),
    billed: decimals(billed),
    billedTotal: [...billed.values()].reduce((s, a) => s + a, 0n).toString(),
    inFlight: decimals([...reserved].filter(([, amount]) => amount !== 0n)),
    receipts: gateway.usageLog.receiptCount(channelId),
    voucher: book?.best ? voucherToJson(book.best) : null,
    /** What the latest usage voucher covers, and the receipts the payer disputed (final). */
    vouched: {
      receipts: book?.vouched.count ?? 0,
      usageRoot: book?.vouched.voucher?.signed.voucher.usageRoot ?? zeroHash,
      disputed: [...(book?.disputed ?? [])].sort((a, b) => a - b),
    },
  };
}

async function complete(gateway: Gateway, c: Context, request: Completion) {
  // The rules in force when the request arrives are the ones it is served and billed under.
  const rules = gateway.rules.forRequest();
  const adapter = await gateway.chain.adapter(request.adapterId).catch((error: unknown) => {
    throw error instanceof GatewayError
      ? error
      : new GatewayError(502, "chain_unavailable", "cannot read the model registry", { cause: error });
  });
  if (adapter.deprecated)
    throw new GatewayError(410, "model_deprecated", `adapter ${adapter.id} is deprecated and no longer served`, {
      param: "model",
    });
  if (adapter.baseModelId !== gateway.payment.chain.options.baseModelId) {
    throw new GatewayError(
      404,
      "model_not_found",
      `adapter ${adapter.id} is for base model ${adapter.baseModelId}, which this node does not serve`,
      { param: "model" },
    );
  }
  const promptTokens = estimatePromptTokens(request.api, request.prompt);
  const maxSeqLen = gateway.engine.hello?.limits.max_seq_len ?? Infinity;
  const maxParam = { chat: "max_tokens", text: "max_tokens", responses: "max_output_tokens" }[request.api];
  if (request.engine.max_tokens > rules.maxOutputTokens) {
    throw badRequest(
      "max_tokens_exceeds_rules",
      `${maxParam} (${request.engine.max_tokens}) exceeds the ${rules.maxOutputTokens} output tokens ServingRules v${rules.version} allow per request`,
      maxParam,
    );
  }
  if (promptTokens + request.engine.max_tokens > maxSeqLen) {
    throw badRequest(
      "context_length_exceeded",
      `prompt (${promptTokens} tokens) plus ${maxParam} (${request.engine.max_tokens}) exceeds the context of ${maxSeqLen} tokens`,
      maxParam,
    );
  }
  const maxCost = costOf(adapter.pricePer1kTokens, BigInt(promptTokens + request.engine.max_tokens));

  const started = performance.now();
  // The usage voucher first: the disputes it carries lower what the cover voucher must cover.
  const usage = c.req.header(usageHeader);
  if (usage) await acceptUsageVoucher(gateway, usage);
  const { signed, digest } = await verifyVoucher(gateway.payment, gateway.ledger, c.req.header(voucherHeader));
  let reservation: Reservation;
  try {
    // Checked and reserved in one synchronous step, so concurrent requests cannot all slip under the caps.
    const { maxInFlightPerChannel, maxInFlight } = gateway.limits;
    if (gateway.ledger.inFlight(signed.voucher.channelId) >= maxInFlightPerChannel) {
      throw busy(
        "channel_busy",
        `channel ${signed.voucher.channelId} has ${maxInFlightPerChannel} requests in flight already: retry when one ends`,
      );
    }
    if (gateway.ledger.inFlight() >= maxInFlight) {
      throw busy("engine_busy", `the engine has ${maxInFlight} requests queued or running: retry shortly`);
    }
    const unvouched = unvouchedReceipts(gateway.ledger, signed.voucher.channelId);
    if (unvouched >= gateway.limits.maxUnvouchedReceipts) {
      throw paymentError(
        "usage_voucher_required",
        `channel ${signed.voucher.channelId} has ${unvouched} receipts no usage voucher covers: send one (${usageHeader}) with this request`,
      );
    }
    reservation = gateway.ledger.reserve(signed, digest, adapter.id, maxCost);
  } catch (error) {
    // A refused voucher is neither kept nor remembered: a payer flooding signed but useless vouchers costs the
    // gateway nothing that lasts.
    gateway.ledger.releaseDigest(digest);
    throw error;
  }
  let overhead = performance.now() - started;
  const label = { adapter: adapter.id.toString() };

  const fail = (error: unknown): never => {
    gateway.ledger.release(reservation);
    gateway.usageLog.append(null, reservation.voucher);
    gateway.metrics.requests.inc({
      ...label,
      status: String(error instanceof GatewayError ? error.status : 500),
    });
    throw error;
  };
  const held = adapter.sha256 ? await gateway.adapters.hold(adapter).catch(fail) : undefined;
  /** The engine's generation, with the adapter's files held until it ends (the engine may read them again). */
  const generate = (onText: (text: string) => void, signal: AbortSignal) => {
    const generation = gateway.engine.generate(params, onText, signal);
    generation.finally(() => held?.release()).catch(() => {});
    return generation;
  };

  const requestId = `0x${randomBytes(32).toString("hex")}` as Hex;
  const params = { ...request.engine, prompt: request.prompt, messages: request.messages, adapter: adapter.sha256 };
  const meta: AnswerMeta = {
    requestId,
    model: adapter.id.toString(),
    created: Math.floor(Date.now() / 1000),
    echo: request.echo,
  };
  const format = formats[request.api];

  /** Signs, logs (durably) and books the receipt; the caller sends it only after this returns. */
  const bill = async (done: GenerateDone) => {
    const signStarted = performance.now();
    const usage = done.usage;
    // Never more than the reservation the voucher covered; with the byte tokenizer the two agree anyway.
    const amount = [
      costOf(adapter.pricePer1kTokens, BigInt(usage.prompt_tokens + usage.completion_tokens)),
      maxCost,
    ].reduce((a, b) => (a < b ? a : b));
    const tokenizer = gateway.attributor?.tokenizer ?? byteTokenizer;
    const unnumbered: UnnumberedReceipt = {
      requestId,
      channelId: reservation.channelId,
      adapterId: adapter.id,
      promptTokens: BigInt(usage.prompt_tokens),
      completionTokens: BigInt(usage.completion_tokens),
      amount,
      completionHash: hashTokens(tokenizer.encode(new TextEncoder().encode(done.text))),
      attributionHash: await attributionOf(gateway, rules, {
        adapterId: adapter.id,
        completion: done.text,
        exclude: request.exclude,
      }),
      timestamp: BigInt(Math.floor(Date.now() / 1000)),
      rulesVersion: rules.version,
    };
    const signedReceipt = await gateway.usageLog.appendDurably(unnumbered, reservation.voucher, (receipt) =>
      gateway.signer.sign(receiptDigest(gateway.payment.receiptSeparator, receipt)),
    );
    gateway.ledger.commit(reservation, amount);
    overhead += performance.now() - signStarted;
    const { metrics } = gateway;
    metrics.observeOverhead(overhead / 1000);
    metrics.requests.inc({ ...label, status: "200" });
    metrics.promptTokens.inc(label, usage.prompt_tokens);
    metrics.completionTokens.inc(label, usage.completion_tokens);
    metrics.revenueWei.inc(label, Number(amount));
    gateway.log("info", "served", {
      requestId,
      channelId: reservation.channelId,
      position: signedReceipt.receipt.position,
      adapterId: adapter.id,
      amount,
      promptTokens: usage.prompt_tokens,
      completionTokens: usage.completion_tokens,
      overheadMs: overhead,
    });
    return receiptToJson(signedReceipt);
  };

  if (!request.stream) {
    const done = await generate(() => {}, c.req.raw.signal).catch(fail);
    const receipt = await bill(done).catch(fail);
    return c.json(format.whole(meta, { done, receipt }), 200, { [receiptHeader]: encodeHeader(receipt) });
  }

  const encoder = new TextEncoder();
  const abort = new AbortController();
  const events = format.stream(meta);
  let open = true;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      // After the client has gone, writes are dropped: billing must not fail because nobody listens.
      const write = (text: string) => open && text && controller.enqueue(encoder.encode(text));
      const end = () => {
        if (open) controller.close();
        open = false;
      };
      // Headers are gone already: the error travels as an SSE event, and nothing is billed.
      const settleFailure = (error: unknown) => {
        try {
          fail(error);
        } catch (known) {
          const shaped = known instanceof GatewayError ? known : new GatewayError(500, "internal", String(known));
          write(events.fail(shaped));
          end();
        }
      };
      write(events.open());
      generate((text) => write(text && events.delta(text)), abort.signal).then(async (done) => {
        let receipt;
        try {
          receipt = await bill(done);
        } catch (error) {
          return settleFailure(error);
        }
        write(events.close({ done, receipt }));
        end();
      }, settleFailure);
    },
    cancel() {
      // The client went away: stop generating; the tokens produced so far are still billed and logged.
      open = false;
      abort.abort();
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache", "x-openpoa-request-id": requestId },
  });
}
