import { randomBytes } from "node:crypto";
import { Hono, type Context } from "hono";
import { type Hex, zeroHash } from "viem";
import type { Attributor } from "./attribution.ts";
import { encodeHeader, receiptToJson } from "../sdk/codec.ts";
import { receiptDigest, receiptHeader, voucherHeader, type Receipt, type SignedReceipt } from "../sdk/eip712.ts";
import { chatPrompt, costOf, countPromptTokens, type ChatMessage } from "../sdk/pricing.ts";
import { verifyArtifact } from "./artifacts.ts";
import type { AdapterRecord, ChainView } from "./chain.ts";
import type { Engine, GenerateDone, GenerateParams } from "./engine.ts";
import { badRequest, GatewayError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { DigestSigner } from "./signatures.ts";
import { verifyVoucher, type Ledger, type PaymentContext, type Reservation } from "./payment.ts";
import type { UsageLog } from "./usageLog.ts";

export type GatewayLimits = { maxTokens: number; maxBodyBytes: number };
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
  artifactStore: string;
  limits: GatewayLimits;
  metrics: Metrics;
  log: Logger;
};

type CompletionRequest = {
  kind: "chat" | "text";
  adapterId: bigint;
  prompt: string;
  stream: boolean;
  engine: Omit<GenerateParams, "prompt" | "adapter">;
};

/**
 * The response's attribution hash. A failure (say the content store is unreachable) must not cost the payer the
 * answer it paid for: the receipt then carries a zero hash, and the epoch splits that request pro rata.
 */
async function attributionOf(gateway: Gateway, adapterId: bigint, completion: string): Promise<Hex> {
  if (!gateway.attributor) return zeroHash;
  try {
    return await gateway.attributor.attribute({ adapterId, completion });
  } catch (error) {
    gateway.log("warn", "attribution failed", { adapterId, error: String(error) });
    gateway.metrics.attributionFailures.inc({ adapter: adapterId.toString() });
    return zeroHash;
  }
}

export function createApp(gateway: Gateway): Hono {
  const app = new Hono();
  const verified = new Map<string, Promise<void>>();

  app.onError((error, c) => {
    const known =
      error instanceof GatewayError ? error : new GatewayError(500, "internal", "internal error", { cause: error });
    if (known.status >= 500)
      gateway.log("error", "request failed", {
        path: c.req.path,
        error: String(error),
        cause: String(known.cause ?? ""),
      });
    return c.json(known.toJSON(), known.status as 400);
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

  /** A voucher on its own, e.g. the exact voucher a client signs after its last receipt, so that it settles. */
  app.post("/v1/vouchers", async (c) => {
    const { signed, digest } = await verifyVoucher(gateway.payment, gateway.ledger, c.req.header(voucherHeader));
    gateway.ledger.reserve(signed, digest, 0n, 0n);
    gateway.ledger.release({
      channelId: signed.voucher.channelId,
      adapterId: 0n,
      maxCost: 0n,
      voucher: { digest, signed },
    });
    gateway.usageLog.append(null, { digest, signed });
    return c.json(channelUsage(gateway, signed.voucher.channelId));
  });

  app.get("/v1/channels/:id/usage", (c) => {
    const id = c.req.param("id");
    if (!/^[0-9]{1,78}$/.test(id)) throw badRequest("invalid_channel", "channel id must be a decimal integer");
    return c.json(channelUsage(gateway, BigInt(id)));
  });

  app.post("/v1/completions", (c) => complete(gateway, verified, c, "text"));
  app.post("/v1/chat/completions", (c) => complete(gateway, verified, c, "chat"));
  return app;
}

function channelUsage(gateway: Gateway, channelId: bigint) {
  const book = gateway.ledger.book(channelId);
  const billed = Object.fromEntries([...book.billed].map(([id, amount]) => [id.toString(), amount.toString()]));
  return { channelId: channelId.toString(), billed };
}

async function complete(gateway: Gateway, verified: Map<string, Promise<void>>, c: Context, kind: "chat" | "text") {
  const request = await parseRequest(gateway, c, kind);
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
  const promptTokens = countPromptTokens(request.prompt);
  const maxSeqLen = gateway.engine.hello?.limits.max_seq_len ?? Infinity;
  if (promptTokens + request.engine.max_tokens > maxSeqLen) {
    throw badRequest(
      "context_length_exceeded",
      `prompt (${promptTokens} tokens) plus max_tokens (${request.engine.max_tokens}) exceeds the context of ${maxSeqLen} tokens`,
      "max_tokens",
    );
  }
  const maxCost = costOf(adapter.pricePer1kTokens, BigInt(promptTokens + request.engine.max_tokens));

  const started = performance.now();
  const { signed, digest } = await verifyVoucher(gateway.payment, gateway.ledger, c.req.header(voucherHeader));
  let reservation: Reservation;
  try {
    reservation = gateway.ledger.reserve(signed, digest, adapter.id, maxCost);
  } catch (error) {
    gateway.usageLog.append(null, { digest, signed });
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
  if (adapter.sha256) await ensureVerified(gateway, verified, adapter).catch(fail);

  const requestId = `0x${randomBytes(32).toString("hex")}` as Hex;
  const params = { ...request.engine, prompt: request.prompt, adapter: adapter.sha256 };
  const model = adapter.id.toString();
  const created = Math.floor(Date.now() / 1000);
  const id = `${kind === "chat" ? "chatcmpl" : "cmpl"}-${requestId.slice(2, 26)}`;
  const object = kind === "chat" ? "chat.completion" : "text_completion";

  /** Signs, logs (durably) and books the receipt; the caller sends it only after this returns. */
  const bill = async (done: GenerateDone) => {
    const signStarted = performance.now();
    const usage = done.usage;
    // Never more than the reservation the voucher covered; with the byte tokenizer the two agree anyway.
    const amount = [
      costOf(adapter.pricePer1kTokens, BigInt(usage.prompt_tokens + usage.completion_tokens)),
      maxCost,
    ].reduce((a, b) => (a < b ? a : b));
    const receipt: Receipt = {
      requestId,
      channelId: reservation.channelId,
      adapterId: adapter.id,
      promptTokens: BigInt(usage.prompt_tokens),
      completionTokens: BigInt(usage.completion_tokens),
      amount,
      attributionHash: await attributionOf(gateway, adapter.id, done.text),
      timestamp: BigInt(Math.floor(Date.now() / 1000)),
    };
    const signature = gateway.signer.sign(receiptDigest(gateway.payment.receiptSeparator, receipt));
    const signedReceipt: SignedReceipt = { receipt, signature };
    await gateway.usageLog.appendDurably(signedReceipt, reservation.voucher);
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
      channelId: receipt.channelId,
      adapterId: adapter.id,
      amount,
      promptTokens: usage.prompt_tokens,
      completionTokens: usage.completion_tokens,
      overheadMs: overhead,
    });
    return receiptToJson(signedReceipt);
  };
  const usageOf = (done: GenerateDone) => ({
    prompt_tokens: done.usage.prompt_tokens,
    completion_tokens: done.usage.completion_tokens,
    total_tokens: done.usage.prompt_tokens + done.usage.completion_tokens,
  });
  const finishReason = (done: GenerateDone) => (done.finish_reason === "length" ? "length" : "stop");

  if (!request.stream) {
    const done = await gateway.engine.generate(params, () => {}, c.req.raw.signal).catch(fail);
    const receipt = await bill(done).catch(fail);
    const choice =
      kind === "chat"
        ? {
            index: 0,
            message: { role: "assistant", content: done.text },
            logprobs: null,
            finish_reason: finishReason(done),
          }
        : { index: 0, text: done.text, logprobs: null, finish_reason: finishReason(done) };
    return c.json(
      { id, object, created, model, choices: [choice], usage: usageOf(done), openpoa_receipt: receipt },
      200,
      { [receiptHeader]: encodeHeader(receipt) },
    );
  }

  const encoder = new TextEncoder();
  const abort = new AbortController();
  const chunkOf = (text: string | null, finish: string | null) =>
    kind === "chat"
      ? {
          id,
          object: "chat.completion.chunk",
          created,
          model,
          choices: [
            {
              index: 0,
              delta: text === null ? {} : { role: "assistant", content: text },
              logprobs: null,
              finish_reason: finish,
            },
          ],
        }
      : {
          id,
          object: "text_completion",
          created,
          model,
          choices: [{ index: 0, text: text ?? "", logprobs: null, finish_reason: finish }],
        };
  let open = true;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      // After the client has gone, writes are dropped: billing must not fail because nobody listens.
      const write = (text: string) => open && controller.enqueue(encoder.encode(text));
      const send = (data: unknown) => write(`data: ${JSON.stringify(data)}\n\n`);
      const end = () => {
        if (open) controller.close();
        open = false;
      };
      gateway.engine
        .generate(params, (text) => text && send(chunkOf(text, null)), abort.signal)
        .then(
          async (done) => {
            let receipt;
            try {
              receipt = await bill(done);
            } catch (error) {
              return settleFailure(error);
            }
            send({
              ...chunkOf(done.delta || null, finishReason(done)),
              usage: usageOf(done),
              openpoa_receipt: receipt,
            });
            write("data: [DONE]\n\n");
            end();
          },
          (error: unknown) => settleFailure(error),
        );
      // Headers are gone already: the error travels as an SSE event, and nothing is billed.
      const settleFailure = (error: unknown) => {
        try {
          fail(error);
        } catch (known) {
          const shaped = known instanceof GatewayError ? known : new GatewayError(500, "internal", String(known));
          send(shaped.toJSON());
          end();
        }
      };
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

async function ensureVerified(gateway: Gateway, verified: Map<string, Promise<void>>, adapter: AdapterRecord) {
  const sha256 = adapter.sha256!;
  const label = { adapter: adapter.id.toString() };
  let loading = verified.get(sha256);
  if (loading) {
    gateway.metrics.adapterCacheHits.inc(label);
    return loading;
  }
  gateway.metrics.adapterCacheMisses.inc(label);
  const started = performance.now();
  loading = verifyArtifact(gateway.artifactStore, sha256).then(async () => {
    await gateway.engine.loadAdapter(sha256);
    gateway.metrics.adapterLoadSeconds.observe(label, (performance.now() - started) / 1000);
  });
  verified.set(sha256, loading);
  loading.catch(() => verified.delete(sha256));
  return loading;
}

async function parseRequest(gateway: Gateway, c: Context, kind: "chat" | "text"): Promise<CompletionRequest> {
  const text = await c.req.text();
  if (Buffer.byteLength(text) > gateway.limits.maxBodyBytes) {
    throw new GatewayError(413, "request_too_large", `request body exceeds ${gateway.limits.maxBodyBytes} bytes`);
  }
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text);
  } catch {
    throw badRequest("invalid_json", "request body is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw badRequest("invalid_json", "request body must be a JSON object");

  const model = body.model;
  if (typeof model !== "string" || !/^(0|[1-9][0-9]{0,30})$/.test(model)) {
    throw new GatewayError(
      404,
      "model_not_found",
      `The model '${String(model)}' does not exist: name an adapter by its on-chain id ("0" is the base model)`,
      { param: "model" },
    );
  }
  let prompt: string;
  if (kind === "chat") {
    const messages = body.messages;
    if (
      !Array.isArray(messages) ||
      messages.length === 0 ||
      !messages.every((m) => typeof m?.role === "string" && typeof m?.content === "string")
    ) {
      throw badRequest(
        "invalid_messages",
        "messages must be a non-empty array of {role, content} with string content",
        "messages",
      );
    }
    prompt = chatPrompt(messages as ChatMessage[]);
  } else {
    const raw = Array.isArray(body.prompt) && body.prompt.length === 1 ? body.prompt[0] : body.prompt;
    if (typeof raw !== "string") throw badRequest("invalid_prompt", "prompt must be a string", "prompt");
    prompt = raw;
  }
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? 16;
  if (!Number.isInteger(maxTokens) || (maxTokens as number) < 1 || (maxTokens as number) > gateway.limits.maxTokens) {
    throw badRequest(
      "invalid_max_tokens",
      `max_tokens must be an integer in 1..${gateway.limits.maxTokens}`,
      "max_tokens",
    );
  }
  if ((body.n ?? 1) !== 1) throw badRequest("unsupported_n", "only n = 1 is supported", "n");
  const number = (name: string, ok: (x: number) => boolean) => {
    const value = body[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "number" || !ok(value)) throw badRequest(`invalid_${name}`, `${name} is out of range`, name);
    return value;
  };
  const stop = body.stop;
  if (
    stop !== undefined &&
    stop !== null &&
    typeof stop !== "string" &&
    !(Array.isArray(stop) && stop.every((s) => typeof s === "string"))
  ) {
    throw badRequest("invalid_stop", "stop must be a string or an array of strings", "stop");
  }
  return {
    kind,
    adapterId: BigInt(model),
    prompt,
    stream: body.stream === true,
    engine: {
      max_tokens: maxTokens as number,
      temperature: number("temperature", (x) => x >= 0 && x <= 2),
      top_p: number("top_p", (x) => x > 0 && x <= 1),
      seed: number("seed", Number.isSafeInteger),
      stop: (stop ?? undefined) as string | string[] | undefined,
    },
  };
}
