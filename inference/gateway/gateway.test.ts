import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import OpenAI from "openai";
import { createPublicClient, custom, keccak256, toHex, verifyTypedData, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  chatPrompt,
  checkpoint,
  encodeUsageVoucher,
  receiptDigest,
  usageHeader,
  usageLeaf,
  UsageTree,
  costOf,
  countPromptTokens,
  encodeHeader,
  fetchPrices,
  openChannel,
  Payer,
  receiptDomain,
  receiptTypes,
  voucherDomain,
  voucherFromJson,
  voucherHeader,
  voucherToJson,
  voucherTypes,
  receiptFromJson,
  receiptHeader,
  type ReceiptJson,
  type VoucherJson,
} from "../sdk/index.ts";
import { hashArtifactDir } from "../artifacts/index.ts";
import { startGateway, type RunningGateway } from "./index.ts";
import { Settler } from "./settler.ts";
import {
  adapterParams,
  generatedModel,
  keys,
  OPEN,
  parsePrometheus,
  PRICE_PER_1K,
  startTestChain,
  testGatewayConfig,
  testServingRules,
  type TestChain,
} from "./testSupport.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const BPS = 10_000n;

describe("inference gateway, end to end on a local chain with the real engine", () => {
  let tc: TestChain;
  let gateway: RunningGateway;
  let dir: string;
  let prices: Map<string, bigint>;
  const model = generatedModel();

  const newChannel = async (key: Hex = keys.alice, deposit = 100n * OPEN) => {
    const wallet = tc.walletOf(key);
    return openChannel(wallet, tc.client, {
      payments: tc.contracts.InferencePayments,
      token: tc.contracts.OpenToken,
      operator: tc.operator,
      deposit,
    });
  };
  const newPayer = (channelId: bigint, key: Hex = keys.alice, voucherLifetimeSec?: number) =>
    new Payer({
      account: privateKeyToAccount(key),
      chainId: 31337,
      payments: tc.contracts.InferencePayments,
      channelId,
      operatorSigningKey: tc.operator,
      prices,
      voucherLifetimeSec,
    });
  /** Each receipt is signed by the operator's registered key (the SDK checked it; here once more, independently). */
  const assertSignedByRegisteredKey = async (payer: Payer) => {
    const registeredKey = (await tc.read("NodeRegistry", tc.contracts.NodeRegistry, "signingKeyOf", [
      tc.operator,
    ])) as Hex;
    for (const { receipt, signature } of payer.receipts) {
      assert.ok(
        await verifyTypedData({
          address: registeredKey,
          domain: receiptDomain(31337, tc.contracts.InferencePayments),
          types: receiptTypes,
          primaryType: "Receipt",
          message: receipt,
          signature,
        }),
      );
    }
  };
  const openaiFor = (payer: Payer) =>
    new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", fetch: payer.fetch, maxRetries: 0 });
  const billedOf = async (channelId: bigint) =>
    (
      (await (await fetch(`${gateway.url}/v1/channels/${channelId}/usage`)).json()) as {
        billed: Record<string, string>;
      }
    ).billed;
  const channelOf = (channelId: bigint) =>
    tc.read("InferencePayments", tc.contracts.InferencePayments, "getChannel", [channelId]) as Promise<{
      settled: bigint;
      deposit: bigint;
      usageRoot: Hex;
    }>;

  /**
   * A usage voucher signed by `payer` over the channel's logged receipts (all of them, or the first `receipts`),
   * computed independently of the SDK: `disputed` positions, `extra` adapter entries, or another `usageRoot`.
   */
  const usageVoucherOver = async (
    payer: Payer,
    channelId: bigint,
    {
      receipts,
      disputed = [],
      extra,
      usageRoot,
      claimed,
    }: { receipts?: number; disputed?: number[]; extra?: [bigint, bigint]; usageRoot?: Hex; claimed?: number } = {},
  ) => {
    const logged = gateway.usageLog.receipts(channelId).slice(0, receipts);
    const tree = new UsageTree();
    const amounts = new Map<bigint, bigint>();
    for (const { receipt } of logged) {
      const status = disputed.includes(Number(receipt.position)) ? "disputed" : "accepted";
      tree.append(usageLeaf(receiptDigest(gateway.payment.receiptSeparator, receipt), status));
      if (status === "accepted")
        amounts.set(receipt.adapterId, (amounts.get(receipt.adapterId) ?? 0n) + receipt.amount);
    }
    if (extra) amounts.set(extra[0], extra[1]);
    const signed = await payer.signVoucher(amounts, usageRoot ?? tree.root());
    return encodeUsageVoucher({ signed, receipts: claimed ?? logged.length, disputed });
  };
  /** Carol registers the artifact `sha256` at `uri`; its id, priced for the payers. */
  const registerAdapter = async (sha256: string, uri: string) => {
    const params = adapterParams(sha256, uri);
    await tc.sendRevealing(
      keys.carol,
      tc.contracts.ModelRegistry,
      "ModelRegistry",
      "registerAdapter",
      params.artifactHash,
      [params],
    );
    const adapterId = String(await tc.read("ModelRegistry", tc.contracts.ModelRegistry, "adapterCount"));
    prices.set(adapterId, PRICE_PER_1K);
    return adapterId;
  };
  const postUsage = async (header: string) => {
    const response = await fetch(`${gateway.url}/v1/vouchers`, { method: "POST", headers: { [usageHeader]: header } });
    const json = (await response.json()) as { error?: { code: string } };
    return [response.status, json.error?.code ?? null];
  };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "openpoa-gateway-"));
    tc = await startTestChain(18_745 + (process.pid % 1000), model);
    gateway = await startGateway({
      ...testGatewayConfig(tc, dir),
      // Settlement only when a test asks for it.
      thresholds: { minAmount: 10n ** 30n, maxAgeMs: 1e12 },
      settleIntervalMs: 3_600_000,
      // Caps above the 200 concurrent requests of one test; the caps' own test lowers them.
      limits: { maxTokens: 1000, maxInFlightPerChannel: 256, maxUnvouchedReceipts: 256 },
    });
    prices = await fetchPrices(gateway.url);
  });
  // Processes a test started; stopped here too, so a failed assertion never leaves one polling a stopped chain
  // (which would keep this file's process, and the whole run, alive).
  const children = new Set<ChildProcess>();
  after(async () => {
    for (const child of children) child.kill("SIGKILL");
    await gateway?.close().catch(() => {});
    await tc?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers browsers of any origin: preflights of paid requests, and a receipt header the page can read; not on /metrics", async () => {
    const origin = "http://studio.example";
    const preflight = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": `content-type, ${voucherHeader}, ${usageHeader}`,
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
    assert.match(preflight.headers.get("access-control-allow-headers") ?? "", new RegExp(voucherHeader));
    const models = await fetch(`${gateway.url}/v1/models`, { headers: { origin } });
    assert.equal(models.headers.get("access-control-allow-origin"), "*");
    assert.match(models.headers.get("access-control-expose-headers") ?? "", new RegExp(receiptHeader));
    const health = await fetch(`${gateway.url}/health`, { headers: { origin } });
    assert.equal(health.headers.get("access-control-allow-origin"), "*");
    // The operator's metrics are not for other sites' pages to read.
    const metrics = await fetch(`${gateway.url}/metrics`, { headers: { origin } });
    assert.equal(metrics.status, 200);
    assert.equal(metrics.headers.get("access-control-allow-origin"), null);
  });

  it("lists the base model and every adapter on it", async () => {
    const models = await openaiFor(newPayer(0n)).models.list();
    assert.deepEqual(
      models.data.map((m) => [m.id, (m as unknown as { parent: string | null }).parent]),
      [
        ["0", null],
        ["1", "0"],
        ["2", "0"],
        ["3", "0"],
      ],
    );
  });

  it("streams a chat completion through the official openai client; receipts verify; the voucher settles with the right split", async () => {
    const channelId = await newChannel();
    const payer = newPayer(channelId);
    const openai = openaiFor(payer);
    const stream = await openai.chat.completions.create({
      model: "1",
      messages: [{ role: "user", content: "Hello there" }],
      max_tokens: 24,
      stream: true,
      seed: 7,
    });
    let text = "";
    let usage;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      usage ??= chunk.usage ?? undefined;
    }
    assert.ok(text.length > 0);
    const plain = await openai.completions.create({ model: "0", prompt: "The base model", max_tokens: 8 });
    assert.equal(plain.usage?.completion_tokens, 8);

    // Each receipt is signed by the operator's registered key (checked by the SDK, and here once more).
    assert.equal(payer.receipts.length, 2);
    await assertSignedByRegisteredKey(payer);
    const [chat, base] = payer.receipts.map((r) => r.receipt);
    assert.equal(chat!.promptTokens + chat!.completionTokens, BigInt(usage!.total_tokens));
    assert.equal(chat!.amount, (prices.get("1")! * (chat!.promptTokens + chat!.completionTokens) + 999n) / 1000n);
    assert.deepEqual(await billedOf(channelId), { "0": base!.amount.toString(), "1": chat!.amount.toString() });

    const balance = (account: string) =>
      tc.read("InferencePayments", tc.contracts.InferencePayments, "balanceOf", [account]) as Promise<bigint>;
    const rewardsBefore = (await tc.read("OpenToken", tc.contracts.OpenToken, "balanceOf", [
      tc.contracts.AttributionRewards,
    ])) as bigint;
    const [operatorBefore, ownerBefore, treasuryBefore] = await Promise.all([
      balance(tc.operator),
      balance(privateKeyToAccount(keys.carol).address),
      balance(tc.governance),
    ]);
    // Only usage vouchers settle: the second request carried the one over the first receipt. Below every
    // threshold, a voucher about to expire is due too (it expires within the margin here).
    const { expiryMarginSec } = gateway.settler.options;
    gateway.settler.options.expiryMarginSec = 10n ** 9n;
    await gateway.settler.tick();
    gateway.settler.options.expiryMarginSec = expiryMarginSec;
    const settled = await channelOf(channelId);
    assert.equal(settled.settled, chat!.amount);
    await checkpoint(payer, gateway.url);
    gateway.settler.options.thresholds.minAmount = 1n;
    await gateway.settler.tick();
    gateway.settler.options.thresholds.minAmount = 10n ** 30n;
    assert.equal((await channelOf(channelId)).settled, payer.billedTotal);

    // Adapter 1: 5 % protocol, 10 % operator, of the rest 30 % data share and 70 % to its owner; base: rest to operator.
    const split = (amount: bigint) => {
      const protocol = (amount * 500n) / BPS;
      const operator = (amount * 1_000n) / BPS;
      const rest = amount - protocol - operator;
      const data = (rest * 3_000n) / BPS;
      return { protocol, operator, rest, data, owner: rest - data };
    };
    const a = split(chat!.amount);
    const b = split(base!.amount);
    assert.equal((await balance(tc.operator)) - operatorBefore, a.operator + b.operator + b.rest);
    assert.equal((await balance(privateKeyToAccount(keys.carol).address)) - ownerBefore, a.owner);
    assert.equal((await balance(tc.governance)) - treasuryBefore, a.protocol + b.protocol);
    const rewardsAfter = (await tc.read("OpenToken", tc.contracts.OpenToken, "balanceOf", [
      tc.contracts.AttributionRewards,
    ])) as bigint;
    assert.equal(rewardsAfter - rewardsBefore, a.data);
  });

  it("refuses bad input with a clear 4xx and bills nothing", async () => {
    const channelId = await newChannel(keys.alice, 1n * OPEN);
    const payer = newPayer(channelId);
    const post = async (body: unknown, voucher?: string | null, route = "completions") => {
      const response = await fetch(`${gateway.url}/v1/${route}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(voucher ? { [voucherHeader]: voucher } : {}) },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      const json = (await response.json()) as { error?: { code: string; message: string; type: string } };
      return { status: response.status, code: json.error?.code, json };
    };
    const cover = async (p = payer, amount = 10n ** 15n, adapter = 1n) =>
      encodeHeader(voucherToJson(await p.signVoucher(new Map([[adapter, amount]]))));
    const ok = { model: "1", prompt: "hi", max_tokens: 4 };

    assert.deepEqual(await post("{not json", await cover()).then((r) => [r.status, r.code]), [400, "invalid_json"]);
    assert.deepEqual(await post({ ...ok, model: "99" }, await cover()).then((r) => [r.status, r.code]), [
      404,
      "model_not_found",
    ]);
    assert.deepEqual(await post({ ...ok, max_tokens: 100_000 }, await cover()).then((r) => [r.status, r.code]), [
      400,
      "invalid_max_tokens",
    ]);
    assert.deepEqual(await post({ ...ok, prompt: "x".repeat(1_100) }, await cover()).then((r) => [r.status, r.code]), [
      400,
      "context_length_exceeded",
    ]);
    assert.deepEqual(
      await post({ ...ok, prompt: "x".repeat(1_100_000) }, await cover()).then((r) => [r.status, r.code]),
      [413, "request_too_large"],
    );
    // Without a content-length the limit holds while reading: a body that never ends is refused, not buffered.
    let sent = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent += 64 * 1024;
        controller.enqueue(new Uint8Array(64 * 1024).fill(0x20));
      },
    });
    const streamed = await fetch(`${gateway.url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: endless,
      duplex: "half",
    } as RequestInit);
    assert.equal(streamed.status, 413);
    assert.ok(sent < 64 * gateway.limits.maxBodyBytes, `${sent} bytes sent before the refusal`);
    assert.deepEqual(await post(ok, null).then((r) => [r.status, r.code]), [402, "voucher_missing"]);
    assert.deepEqual(await post(ok, "bm90IGEgdm91Y2hlcg").then((r) => [r.status, r.code]), [400, "voucher_malformed"]);
    assert.deepEqual(await post(ok, await cover(newPayer(channelId, keys.mallory))).then((r) => [r.status, r.code]), [
      402,
      "voucher_invalid_signature",
    ]);
    assert.deepEqual(
      await post(ok, await cover(newPayer(channelId, keys.alice, -60))).then((r) => [r.status, r.code]),
      [402, "voucher_expired"],
    );
    assert.deepEqual(await post(ok, await cover(payer, 1n)).then((r) => [r.status, r.code]), [
      402,
      "insufficient_voucher",
    ]);
    assert.deepEqual(await post(ok, await cover(payer, 2n * OPEN)).then((r) => [r.status, r.code]), [
      402,
      "insufficient_balance",
    ]);
    assert.deepEqual(await post(ok, await cover(newPayer(999n))).then((r) => [r.status, r.code]), [
      402,
      "channel_not_found",
    ]);
    assert.deepEqual(await billedOf(channelId), {});
    // Refused vouchers, validly signed or not, are neither kept nor remembered: presenting one again gets the same
    // answer, not "replayed", and the usage log holds none of them (a flood of them costs nothing that lasts).
    const short = await cover(payer, 1n);
    assert.deepEqual(await post(ok, short).then((r) => [r.status, r.code]), [402, "insufficient_voucher"]);
    assert.deepEqual(await post(ok, short).then((r) => [r.status, r.code]), [402, "insufficient_voucher"]);
    assert.deepEqual(gateway.usageLog.vouchers(channelId), []);

    // Free service: a 1-wei entry for an adapter the channel never used (here one that does not exist) in every
    // voucher would keep the settler from ever settling, so such a voucher is refused, with the request.
    const stray = encodeHeader(
      voucherToJson(
        await payer.signVoucher(
          new Map([
            [1n, 10n ** 15n],
            [999n, 1n],
          ]),
        ),
      ),
    );
    assert.deepEqual(await post(ok, stray).then((r) => [r.status, r.code]), [400, "voucher_unbilled_adapter"]);
    assert.deepEqual(await billedOf(channelId), {});

    const once = await cover();
    assert.equal((await post(ok, once)).status, 200);
    const billed = await billedOf(channelId);
    // Nor can a usage voucher carry one: its amounts must be exactly what its receipts billed.
    const strayUsage = await usageVoucherOver(payer, channelId, { extra: [999n, 1n] });
    assert.deepEqual(await postUsage(strayUsage), [400, "usage_amounts_mismatch"]);
    const replay = await post(ok, once);
    assert.deepEqual([replay.status, replay.code, replay.json.error?.type], [409, "voucher_replayed", "payment_error"]);

    await tc.send(keys.carol, tc.contracts.ModelRegistry, "ModelRegistry", "deprecate", [3n]);
    await tc.send(keys.alice, tc.contracts.InferencePayments, "InferencePayments", "requestClose", [channelId]);
    await gateway.chain.poll();
    assert.deepEqual(
      await post({ ...ok, model: "3" }, await cover(payer, 10n ** 15n, 3n)).then((r) => [r.status, r.code]),
      [410, "model_deprecated"],
    );
    assert.deepEqual(await post(ok, await cover(payer, 10n ** 15n + 1n)).then((r) => [r.status, r.code]), [
      402,
      "channel_closed",
    ]);
    assert.deepEqual(await billedOf(channelId), billed);
  });

  it("refuses what it does not support with a 400 naming the parameter, before payment: nothing billed or logged", async () => {
    const channelId = await newChannel(keys.alice, 1n * OPEN);
    const payer = newPayer(channelId);
    // One voucher for every refused request: none may take it, so it still pays for a good request at the end.
    const voucher = encodeHeader(voucherToJson(await payer.signVoucher(new Map([[1n, 10n ** 15n]]))));
    const send = async (route: string, body: unknown, contentType: string | null = "application/json") => {
      const response = await fetch(`${gateway.url}/v1/${route}`, {
        method: "POST",
        headers: { ...(contentType ? { "content-type": contentType } : {}), [voucherHeader]: voucher },
        // Bytes, so that fetch adds no content type of its own.
        body: new TextEncoder().encode(typeof body === "string" ? body : JSON.stringify(body)),
      });
      const json = (await response.json()) as {
        error: { message: string; type: string; param: string | null; code: string };
      };
      return { status: response.status, ...json.error };
    };
    const chat = { model: "1", messages: [{ role: "user", content: "hi" }], max_tokens: 4 };
    const text = { model: "1", prompt: "hi", max_tokens: 4 };
    const responses = { model: "1", input: "hi", max_output_tokens: 4 };
    const tool = { type: "function", function: { name: "f", parameters: {} } };
    const cases: [string, object, string, string][] = [
      ["chat/completions", { ...chat, stream: "yes" }, "stream", "invalid_stream"],
      ["chat/completions", { ...chat, stream: 1 }, "stream", "invalid_stream"],
      ["completions", { ...text, stream: "true" }, "stream", "invalid_stream"],
      ["responses", { ...responses, stream: "yes" }, "stream", "invalid_stream"],
      ["chat/completions", { ...chat, stop: Array(1_000).fill("x") }, "stop", "invalid_stop"],
      ["completions", { ...text, stop: ["a", "b", "c", "d", "e"] }, "stop", "invalid_stop"],
      ["chat/completions", { ...chat, tools: [tool] }, "tools", "unsupported_parameter"],
      ["chat/completions", { ...chat, tool_choice: "auto" }, "tool_choice", "unsupported_parameter"],
      ["chat/completions", { ...chat, functions: [tool.function] }, "functions", "unsupported_parameter"],
      ["chat/completions", { ...chat, logprobs: true }, "logprobs", "unsupported_parameter"],
      ["chat/completions", { ...chat, top_logprobs: 2 }, "top_logprobs", "unsupported_parameter"],
      [
        "chat/completions",
        { ...chat, response_format: { type: "json_object" } },
        "response_format",
        "unsupported_parameter",
      ],
      ["chat/completions", { ...chat, n: 2 }, "n", "unsupported_parameter"],
      ["chat/completions", { ...chat, audio: { voice: "alloy", format: "mp3" } }, "audio", "unsupported_parameter"],
      ["chat/completions", { ...chat, modalities: ["text", "audio"] }, "modalities", "unsupported_parameter"],
      ["chat/completions", { ...chat, presence_penalty: 0.5 }, "presence_penalty", "unsupported_parameter"],
      ["completions", { ...text, n: 3 }, "n", "unsupported_parameter"],
      ["completions", { ...text, logprobs: 1 }, "logprobs", "unsupported_parameter"],
      ["completions", { ...text, echo: true }, "echo", "unsupported_parameter"],
      ["completions", { ...text, best_of: 2 }, "best_of", "unsupported_parameter"],
      ["responses", { ...responses, tools: [{ type: "web_search" }] }, "tools", "unsupported_parameter"],
      ["responses", { ...responses, text: { format: { type: "json_object" } } }, "text", "unsupported_parameter"],
      ["responses", { ...responses, previous_response_id: "resp_1" }, "previous_response_id", "unsupported_parameter"],
      ["responses", { ...responses, store: true }, "store", "unsupported_parameter"],
      [
        "chat/completions",
        { ...chat, messages: [{ role: "bogus", content: "hi" }] },
        "messages[0].role",
        "invalid_messages",
      ],
      [
        "chat/completions",
        { ...chat, messages: [{ role: "tool", content: "x", tool_call_id: "c" }] },
        "messages[0].tool_call_id",
        "unknown_parameter",
      ],
      ["chat/completions", { ...chat, frobnicate: true }, "frobnicate", "unknown_parameter"],
      ["responses", { ...responses, seed: 1 }, "seed", "unknown_parameter"],
      [
        "responses",
        { ...responses, input: [{ role: "user", content: [{ type: "input_image", image_url: "https://x/y.png" }] }] },
        "input",
        "invalid_input",
      ],
      ["chat/completions", { ...chat, max_tokens: 0 }, "max_tokens", "invalid_max_tokens"],
      ["responses", { ...responses, max_output_tokens: 1.5 }, "max_output_tokens", "invalid_max_output_tokens"],
    ];
    for (const [route, body, param, code] of cases) {
      const refused = await send(route, body);
      assert.deepEqual(
        [refused.status, refused.type, refused.param, refused.code],
        [400, "invalid_request_error", param, code],
        `${route} ${JSON.stringify(body).slice(0, 120)}: ${refused.message}`,
      );
      assert.ok(refused.message.includes(param), refused.message);
    }
    for (const contentType of ["text/plain", null, "application/x-www-form-urlencoded"]) {
      const refused = await send("chat/completions", chat, contentType);
      assert.deepEqual(
        [refused.status, refused.type, refused.code],
        [415, "invalid_request_error", "unsupported_media_type"],
      );
    }
    // Through the official client as well.
    const openai = openaiFor(payer);
    await assert.rejects(
      openai.chat.completions.create({ ...chat, messages: [{ role: "user", content: "hi" }], tools: [tool as never] }),
      (error: InstanceType<typeof OpenAI.APIError>) =>
        error.status === 400 && error.param === "tools" && error.code === "unsupported_parameter",
    );
    await assert.rejects(
      openai.responses.create({ ...responses, tools: [{ type: "web_search" }] }),
      (error: InstanceType<typeof OpenAI.APIError>) => error.status === 400 && error.param === "tools",
    );

    assert.deepEqual(await billedOf(channelId), {});
    assert.equal(gateway.usageLog.receipts(channelId).length, 0);
    assert.equal(gateway.usageLog.vouchers(channelId).length, 0);
    // Neutral values of unsupported parameters pass, and the voucher none of the refusals took still pays.
    const served = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8", [voucherHeader]: voucher },
      body: JSON.stringify({ ...chat, n: 1, logprobs: false, tools: null, stream: false, user: "u-1" }),
    });
    assert.equal(served.status, 200);
    assert.equal(gateway.usageLog.receipts(channelId).length, 1);
  });

  it("publishes the schemas it enforces as an OpenAPI 3.1 document at /openapi.json", async () => {
    const response = await fetch(`${gateway.url}/openapi.json`);
    assert.equal(response.status, 200);
    type Schema = { [key: string]: unknown; properties?: Record<string, Schema>; required?: string[] };
    const document = (await response.json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: { $ref: string } }> } }>
      >;
      components: { schemas: Record<string, Schema> };
    };
    assert.equal(document.openapi, "3.1.0");
    for (const route of [
      "/v1/chat/completions",
      "/v1/completions",
      "/v1/responses",
      "/v1/models",
      "/v1/vouchers",
      "/v1/channels/{id}/usage",
      "/v1/channels/{id}/receipts",
      "/metrics",
      "/openapi.json",
    ])
      assert.ok(document.paths[route], `no ${route}`);
    const requestSchema = (route: string) => {
      const { $ref } = document.paths[route]!.post!.requestBody!.content["application/json"]!.schema;
      return document.components.schemas[$ref.replace("#/components/schemas/", "")]!;
    };
    const chat = requestSchema("/v1/chat/completions");
    assert.deepEqual(chat.required, ["model", "messages"]);
    assert.equal(chat.additionalProperties, false);
    const props = chat.properties!;
    assert.deepEqual(props.stream, { anyOf: [{ type: "boolean" }, { type: "null" }] });
    assert.ok(JSON.stringify(props.stop).includes('"maxItems":4'));
    assert.ok(JSON.stringify(props.max_tokens).includes('"maximum":1000'));
    assert.equal(props.tools!.type, "null");
    assert.deepEqual(props.n!.enum, [null, 1]);
    assert.deepEqual((props.messages!.items as Schema).properties!.role!.enum, [
      "system",
      "developer",
      "user",
      "assistant",
    ]);
    assert.deepEqual(requestSchema("/v1/completions").required, ["model", "prompt"]);
    const responses = requestSchema("/v1/responses");
    for (const name of ["input", "instructions", "max_output_tokens", "temperature", "top_p", "stream"])
      assert.ok(responses.properties![name], `responses lack ${name}`);
    assert.equal(responses.properties!.tools!.type, "null");
    assert.ok(document.components.schemas.ChannelUsage!.properties!.voucher);
    // Every reference resolves.
    for (const [, id] of JSON.stringify(document).matchAll(/"#\/components\/schemas\/([^"]+)"/g))
      assert.ok(document.components.schemas[id!], `dangling $ref ${id}`);
  });

  it("serves the Responses API through the official openai client, streamed and not; receipts verify", async () => {
    const channelId = await newChannel();
    const payer = newPayer(channelId);
    const openai = openaiFor(payer);
    const whole = await openai.responses.create({
      model: "1",
      instructions: "Answer briefly.",
      input: "Hello there",
      max_output_tokens: 12,
      temperature: 0.7,
    });
    assert.equal(whole.object, "response");
    assert.ok(["completed", "incomplete"].includes(whole.status!));
    assert.ok(whole.output_text.length > 0);
    assert.equal(whole.instructions, "Answer briefly.");

    const stream = await openai.responses.create({
      model: "2",
      input: [
        { role: "user", content: "Tell me" },
        { role: "assistant", content: whole.output_text },
        { role: "user", content: [{ type: "input_text", text: "more" }] },
      ],
      max_output_tokens: 8,
      stream: true,
    });
    const types: string[] = [];
    const sequence: number[] = [];
    let streamed = "";
    let final;
    for await (const event of stream) {
      types.push(event.type);
      sequence.push(event.sequence_number);
      if (event.type === "response.output_text.delta") streamed += event.delta;
      if (event.type === "response.completed" || event.type === "response.incomplete") final = event.response;
    }
    assert.equal(types[0], "response.created");
    assert.ok(types.includes("response.output_text.delta"));
    assert.ok(["response.completed", "response.incomplete"].includes(types.at(-1)!));
    assert.deepEqual(
      sequence,
      sequence.map((_, i) => i),
    );
    const content = final!.output[0] as { content: { text: string }[] };
    assert.equal(streamed, content.content[0]!.text);
    // The streaming helper reads the same events.
    const helped = await openai.responses.stream({ model: "0", input: "helper", max_output_tokens: 4 }).finalResponse();
    assert.equal(helped.usage?.output_tokens, 4);

    assert.equal(payer.receipts.length, 3);
    await assertSignedByRegisteredKey(payer);
    for (const { receipt } of payer.receipts) {
      const tokens = receipt.promptTokens + receipt.completionTokens;
      assert.equal(receipt.amount, costOf(prices.get(receipt.adapterId.toString())!, tokens));
    }
    const [first, second] = payer.receipts.map((r) => r.receipt);
    // instructions go first, as a system message; a string input is one user turn.
    const prompt = chatPrompt([
      { role: "system", content: "Answer briefly." },
      { role: "user", content: "Hello there" },
    ]);
    assert.equal(first!.promptTokens, BigInt(countPromptTokens(prompt)));
    assert.equal(BigInt(whole.usage!.total_tokens), first!.promptTokens + first!.completionTokens);
    assert.equal(BigInt(final!.usage!.total_tokens), second!.promptTokens + second!.completionTokens);
    assert.deepEqual(
      gateway.usageLog.receipts(channelId).map((r) => r.receipt.requestId),
      payer.receipts.map((r) => r.receipt.requestId),
    );
    const billed = await billedOf(channelId);
    assert.equal(
      Object.values(billed).reduce((s, a) => s + BigInt(a), 0n),
      payer.billedTotal,
    );
  });

  it("two Payers with no shared memory, one in another process, take turns on a channel: each resumes, nothing is paid twice", async () => {
    const channelId = await newChannel();
    const first = newPayer(channelId);
    const openai = openaiFor(first);
    await openai.completions.create({ model: "1", prompt: "first process", max_tokens: 4 });
    await openai.chat.completions.create({ model: "2", messages: [{ role: "user", content: "hi" }], max_tokens: 3 });

    // The gateway's account of the channel: its highest voucher, signed by the payer.
    const usage = (await (await fetch(`${gateway.url}/v1/channels/${channelId}/usage`)).json()) as {
      billedTotal: string;
      receipts: number;
      voucher: VoucherJson;
    };
    assert.deepEqual([BigInt(usage.billedTotal), usage.receipts], [first.billedTotal, 2]);
    const held = voucherFromJson(usage.voucher);
    assert.ok(
      await verifyTypedData({
        address: privateKeyToAccount(keys.alice).address,
        domain: voucherDomain(31337, tc.contracts.InferencePayments),
        types: voucherTypes,
        primaryType: "Voucher",
        message: held.voucher,
        signature: held.signature,
      }),
    );

    // Another process, with a Payer of its own that starts from nothing: its first voucher is short (402), it
    // resumes from the gateway and pays.
    const script = `
      import OpenAI from "openai";
      import { privateKeyToAccount } from "viem/accounts";
      import { Payer } from ${JSON.stringify(path.join(here, "../sdk/index.ts"))};
      const o = JSON.parse(process.env.OPENPOA_PAYER);
      const payer = new Payer({
        account: privateKeyToAccount(o.key), chainId: 31337, payments: o.payments, channelId: BigInt(o.channelId),
        operatorSigningKey: o.operator, prices: new Map(Object.entries(o.prices).map(([k, v]) => [k, BigInt(v)])),
      });
      const openai = new OpenAI({ baseURL: o.url + "/v1", apiKey: "unused", fetch: payer.fetch, maxRetries: 0 });
      await openai.chat.completions.create({ model: "1", messages: [{ role: "user", content: "second process" }], max_tokens: 5 });
      await openai.responses.create({ model: "2", input: "and again", max_output_tokens: 3 });
      console.log(JSON.stringify({ billed: payer.billedTotal.toString(), receipts: payer.receipts.length }));
    `;
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
        cwd: path.resolve(here, "../.."),
        env: {
          ...process.env,
          OPENPOA_PAYER: JSON.stringify({
            key: keys.alice,
            payments: tc.contracts.InferencePayments,
            channelId: channelId.toString(),
            operator: tc.operator,
            prices: Object.fromEntries([...prices].map(([k, v]) => [k, v.toString()])),
            url: gateway.url,
          }),
        },
        stdio: ["ignore", "pipe", "inherit"],
      });
      let out = "";
      child.stdout!.on("data", (chunk) => (out += chunk));
      child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`payer process exited ${code}`))));
    });
    const other = JSON.parse(output) as { billed: string; receipts: number };
    assert.equal(other.receipts, 4);
    assert.equal(gateway.usageLog.receipts(channelId).length, 4);

    // The first Payer's next voucher is short now: it resumes on its own, streamed or not.
    const stream = await openai.chat.completions.create({
      model: "1",
      messages: [{ role: "user", content: "first again" }],
      max_tokens: 4,
      stream: true,
    });
    for await (const chunk of stream) void chunk;
    await openai.completions.create({ model: "2", prompt: "and once more", max_tokens: 2 });

    // A restarted app resumes explicitly, and takes over every receipt.
    const restarted = newPayer(channelId);
    const resumed = await restarted.resume(gateway.url);
    const logged = gateway.usageLog.receipts(channelId);
    const total = logged.reduce((s, r) => s + r.receipt.amount, 0n);
    assert.equal(logged.length, 6);
    assert.equal(new Set(logged.map((r) => r.receipt.requestId)).size, 6);
    assert.deepEqual([resumed.receipts, resumed.unbacked.size, restarted.billedTotal], [6, 0, total]);
    assert.equal(
      BigInt(other.billed),
      logged.slice(0, 4).reduce((s, r) => s + r.receipt.amount, 0n),
    );
    assert.equal(first.billedTotal, total);
    // The receipts come a page at a time.
    const page = async (query: string) => {
      const response = await fetch(`${gateway.url}/v1/channels/${channelId}/receipts?${query}`);
      return { status: response.status, ...((await response.json()) as { data?: unknown[]; next?: number | null }) };
    };
    assert.deepEqual(
      [await page("offset=4&limit=2"), await page("offset=2&limit=2")].map((p) => [p.status, p.data!.length, p.next]),
      [
        [200, 2, null],
        [200, 2, 4],
      ],
    );
    assert.equal((await page("limit=0")).status, 400);
    assert.deepEqual(
      new Set(first.receipts.map((r) => r.receipt.requestId)),
      new Set(logged.map((r) => r.receipt.requestId)),
    );

    // The exact voucher of either settles every receipt once.
    await checkpoint(restarted, gateway.url);
    gateway.settler.options.thresholds.minAmount = 1n;
    await gateway.settler.tick();
    gateway.settler.options.thresholds.minAmount = 10n ** 30n;
    assert.equal((await channelOf(channelId)).settled, total);
  });

  it("follows the governed serving rules: new limits without a restart, receipts name the rules version, unmet rules stop new requests and refuse a start", async () => {
    const setRules = async (change: Partial<typeof testServingRules>) => {
      await tc.send(keys.deployer, tc.contracts.ServingRules, "ServingRules", "setRules", [
        { ...testServingRules, ...change },
      ]);
      // The poll the worker runs every second, run now so the test need not wait for it.
      await gateway.rules.poll();
      return gateway.rules.rules.version;
    };
    const channelId = await newChannel();
    const payer = newPayer(channelId);
    const openai = openaiFor(payer);
    const complete = (max_tokens: number) => openai.completions.create({ model: "1", prompt: "Rules", max_tokens });
    const refusal = (request: Promise<unknown>) =>
      request.then(
        () => assert.fail("the request was served"),
        (error: { status: number; code: string; message: string }) => [error.status, error.code],
      );

    await complete(8);
    const first = payer.receipts.at(-1)!.receipt.rulesVersion;
    assert.equal(first, gateway.rules.rules.version);

    const capped = await setRules({ maxOutputTokens: 6 });
    assert.equal(capped, first + 1n);
    assert.deepEqual(await refusal(complete(8)), [400, "max_tokens_exceeds_rules"]);
    await complete(6);
    assert.equal(payer.receipts.at(-1)!.receipt.rulesVersion, capped);

    // Rules this worker cannot meet stop new requests (nothing billed) until they change again.
    const billed = payer.billedTotal;
    await setRules({ receiptSchemaVersion: 4 });
    assert.deepEqual(await refusal(complete(4)), [503, "serving_rules_unmet"]);
    await setRules({ requireAttributionHash: true });
    assert.deepEqual(await refusal(complete(4)), [503, "serving_rules_unmet"]);
    assert.equal(payer.billedTotal, billed);
    // ... and a worker refuses to start under them, in one line naming the rule.
    await assert.rejects(
      startGateway({ ...testGatewayConfig(tc, mkdtempSync(path.join(dir, "refused-"))) }),
      (error: Error) =>
        error.name === "ServingRulesUnmetError" &&
        /require an attribution hash/.test(error.message) &&
        !error.message.includes("\n"),
    );

    const restored = await setRules({});
    await complete(8);
    assert.equal(payer.receipts.at(-1)!.receipt.rulesVersion, restored);
    await assertSignedByRegisteredKey(payer);
  });

  it("test_adapter_refusedWith409WhenItsConfigDisagreesWithItsRegistration", async () => {
    // A real adapter re-published with a config that adapts fewer modules than the chain says (a new artifact, so
    // a new hash): the files are what they claim, but not what was registered.
    const mismatched = path.join(dir, "mismatched");
    cpSync(path.join(model.artifactStore, model.adapterHashes[0]!), mismatched, { recursive: true });
    const configFile = path.join(mismatched, "adapter_config.json");
    const config = JSON.parse(readFileSync(configFile, "utf8")) as { target_modules: string[] };
    writeFileSync(configFile, JSON.stringify({ ...config, target_modules: ["q_proj", "v_proj"] }));
    const { artifactHash } = await hashArtifactDir(mismatched);
    const adapterId = await registerAdapter(artifactHash, pathToFileURL(mismatched).href);
    const channelId = await newChannel();
    await assert.rejects(
      openaiFor(newPayer(channelId)).completions.create({ model: adapterId, prompt: "mismatch", max_tokens: 4 }),
      (error: InstanceType<typeof OpenAI.APIError>) => {
        assert.equal(error.status, 409);
        assert.equal(error.code, "adapter_config_mismatch");
        assert.match(error.message, /targets q_proj,v_proj in its config, q_proj,.*down_proj on chain/);
        return true;
      },
    );
    assert.deepEqual(await billedOf(channelId), {});
  });

  it("refuses an adapter whose stored artifact does not hash to its on-chain hash; reports health and metrics", async () => {
    // A copy of a real adapter filed under another hash: the store answers, but the bytes do not match.
    const forged = keccak256(toHex(`forged-${process.pid}`)).slice(2);
    const forgedDir = path.join(model.artifactStore, forged);
    cpSync(path.join(model.artifactStore, model.adapterHashes[0]!), forgedDir, { recursive: true });
    try {
      const adapterId = await registerAdapter(forged, pathToFileURL(forgedDir).href);
      const channelId = await newChannel();
      const openai = openaiFor(newPayer(channelId));
      await assert.rejects(
        openai.completions.create({ model: adapterId, prompt: "forged", max_tokens: 4 }),
        (error: InstanceType<typeof OpenAI.APIError>) => error.status === 502 && error.code === "adapter_hash_mismatch",
      );
      assert.deepEqual(await billedOf(channelId), {});
    } finally {
      rmSync(forgedDir, { recursive: true, force: true });
    }
    assert.deepEqual(await (await fetch(`${gateway.url}/health`)).json(), { status: "ok", engineRestarts: 0 });
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    for (const series of [
      'openpoa_requests_total{adapter="1",status="200"}',
      'openpoa_prompt_tokens_total{adapter="1"}',
      'openpoa_completion_tokens_total{adapter="1"}',
      'openpoa_revenue_wei_total{adapter="1"}',
      'openpoa_adapter_cache_misses_total{adapter="1"}',
      'openpoa_adapter_load_seconds_count{adapter="1"}',
      "openpoa_payment_overhead_seconds_count",
      "openpoa_engine_restarts_total 0",
    ]) {
      assert.ok(metrics.includes(series), `metrics lack ${series}`);
    }
    // The exposition parses, and the summary's quantile lines carry the adapter label as _sum and _count do.
    const { samples } = parsePrometheus(metrics);
    const quantiles = samples.filter((s) => s.name === "openpoa_adapter_load_seconds" && s.labels.quantile);
    assert.ok(quantiles.length >= 2);
    for (const sample of quantiles) assert.match(sample.labels.adapter ?? "", /^[0-9]+$/);
    assert.ok(samples.some((s) => s.name === "openpoa_payment_overhead_seconds" && s.labels.quantile === "0.99"));
  });

  it("fails in-flight requests with 503 when the engine crashes, bills nothing, and serves again after the restart", async () => {
    const channelId = await newChannel();
    const openai = openaiFor(newPayer(channelId));
    // Frozen first, so the request is surely in flight inside the engine when it dies.
    process.kill(gateway.engine.pid!, "SIGSTOP");
    const inFlight = openai.completions.create({ model: "0", prompt: "crash", max_tokens: 100 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    process.kill(gateway.engine.pid!, "SIGKILL");
    await assert.rejects(
      inFlight,
      (error: InstanceType<typeof OpenAI.APIError>) => error.status === 503 && error.code === "engine_unavailable",
    );
    assert.deepEqual(await billedOf(channelId), {});
    const again = await openai.completions.create({ model: "2", prompt: "back", max_tokens: 4 });
    assert.equal(again.usage?.completion_tokens, 4);
    assert.equal(gateway.engine.restarts, 1);
  });

  it("serves 200 concurrent requests with every receipt accounted for", async () => {
    const channelId = await newChannel();
    const payer = newPayer(channelId);
    const openai = openaiFor(payer);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        openai.completions.create({ model: String(i % 3), prompt: `request ${i}`, max_tokens: 4, seed: i }),
      ),
    );
    assert.equal(results.length, 200);
    const logged = gateway.usageLog.receipts(channelId);
    assert.equal(logged.length, 200);
    assert.equal(payer.receipts.length, 200);
    assert.deepEqual(
      new Set(logged.map((r) => r.receipt.requestId)),
      new Set(payer.receipts.map((r) => r.receipt.requestId)),
    );
    const total = logged.reduce((s, r) => s + r.receipt.amount, 0n);
    assert.equal(total, payer.billedTotal);
    const billed = await billedOf(channelId);
    assert.equal(
      Object.values(billed).reduce((s, a) => s + BigInt(a), 0n),
      total,
    );
    // Positions are exactly 0..199, and the usage voucher over all of them bills exactly what the receipts did.
    assert.deepEqual(
      logged.map((r) => r.receipt.position),
      Array.from({ length: 200 }, (_, i) => BigInt(i)),
    );
    await checkpoint(payer, gateway.url);
    const usage = (await (await fetch(`${gateway.url}/v1/channels/${channelId}/usage`)).json()) as {
      vouched: { receipts: number; usageRoot: Hex; disputed: number[] };
    };
    assert.deepEqual(usage.vouched, {
      receipts: 200,
      usageRoot: (await payer.usageVoucher())!.signed.voucher.usageRoot,
      disputed: [],
    });
  });

  /** A completion paid with a cover voucher only (no usage voucher), booked into `payer` like the SDK would. */
  const coverOnly = async (payer: Payer, prompt: string) => {
    const maxCost = payer.maxCost("1", prompt, 4);
    const signed = await payer.cover(1n, maxCost);
    const response = await fetch(`${gateway.url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", [voucherHeader]: encodeHeader(voucherToJson(signed)) },
      body: JSON.stringify({ model: "1", prompt, max_tokens: 4 }),
    });
    const json = (await response.json()) as {
      openpoa_receipt?: ReceiptJson;
      choices?: { text: string }[];
      error?: { code: string };
    };
    if (response.ok) await payer.accept(1n, maxCost, receiptFromJson(json.openpoa_receipt!), json.choices![0]!.text);
    else payer.cancel(1n, maxCost);
    return [response.status, json.error?.code ?? null];
  };

  it("refuses usage vouchers that do not match its receipts, naming what differs; a disputed receipt is never billed or settled", async () => {
    const channelId = await newChannel();
    const payer = newPayer(channelId);
    for (const i of [0, 1, 2]) await coverOnly(payer, `usage ${i}`);
    const logged = gateway.usageLog.receipts(channelId);
    const total = logged.reduce((sum, r) => sum + r.receipt.amount, 0n);

    const otherRoot = await usageVoucherOver(payer, channelId, { usageRoot: `0x${"12".repeat(32)}` });
    assert.deepEqual(await postUsage(otherRoot), [400, "usage_root_mismatch"]);
    assert.deepEqual(await postUsage(await usageVoucherOver(payer, channelId, { extra: [1n, 1n] })), [
      400,
      "usage_amounts_mismatch",
    ]);
    assert.deepEqual(await postUsage(await usageVoucherOver(payer, channelId, { claimed: 9 })), [
      400,
      "usage_voucher_ahead",
    ]);

    // The payer disputes receipt 1: it stops counting as billed, and no usage voucher may accept it again.
    assert.deepEqual(await postUsage(await usageVoucherOver(payer, channelId, { disputed: [1] })), [200, null]);
    const accepted = total - logged[1]!.receipt.amount;
    assert.equal(BigInt((await billedOf(channelId))["1"]!), accepted);
    await coverOnly(payer, "usage 3");
    assert.deepEqual(await postUsage(await usageVoucherOver(payer, channelId)), [400, "usage_status_changed"]);
    const final = await usageVoucherOver(payer, channelId, { disputed: [1] });
    assert.deepEqual(await postUsage(final), [200, null]);

    const options = { ...gateway.settler.options, thresholds: { minAmount: 1n, maxAgeMs: 1e12 } };
    await new Settler(options).tick();
    const channel = await channelOf(channelId);
    const fourth = gateway.usageLog.receipts(channelId)[3]!.receipt.amount;
    assert.equal(channel.settled, accepted + fourth, "everything but the disputed receipt");
    assert.equal(channel.usageRoot, gateway.ledger.view(channelId)!.vouched.tree.root());
  });

  it("refuses a payer that sends no usage vouchers after maxUnvouchedReceipts, and settles it from its cover vouchers, never above its receipts", async () => {
    const channelId = await newChannel();
    const payer = newPayer(channelId);
    const { limits } = gateway;
    const saved = limits.maxUnvouchedReceipts;
    limits.maxUnvouchedReceipts = 2;
    try {
      assert.deepEqual(await coverOnly(payer, "free 0"), [200, null]);
      assert.deepEqual(await coverOnly(payer, "free 1"), [200, null]);
      assert.deepEqual(await coverOnly(payer, "free 2"), [402, "usage_voucher_required"]);
      assert.equal(gateway.usageLog.receipts(channelId).length, 2);

      // Silent and overdue: the highest cover voucher its receipts account for settles.
      const options = { ...gateway.settler.options, thresholds: { minAmount: 10n ** 30n, maxAgeMs: 0 } };
      await new Settler(options).tick();
      const settled = (await channelOf(channelId)).settled;
      const [first] = gateway.usageLog.receipts(channelId);
      assert.ok(settled >= first!.receipt.amount && settled <= payer.billedTotal, `${settled} of ${payer.billedTotal}`);

      // The SDK sends its usage voucher with the next request, and is served again.
      const again = await openaiFor(payer).completions.create({ model: "1", prompt: "paying again", max_tokens: 4 });
      assert.equal(again.usage?.completion_tokens !== undefined, true);
    } finally {
      limits.maxUnvouchedReceipts = saved;
    }
  });

  it("answers 429 with Retry-After beyond the in-flight caps, taking and billing nothing for those", async () => {
    const channelId = await newChannel();
    const payer = newPayer(channelId);
    const openai = openaiFor(payer);
    const { limits } = gateway;
    const saved = { ...limits };
    const burst = async (code: string) => {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) =>
          openai.completions.create({ model: "1", prompt: `burst ${i}`, max_tokens: 16, seed: i }),
        ),
      );
      const refused = outcomes.flatMap((o) =>
        o.status === "rejected" ? [o.reason as InstanceType<typeof OpenAI.APIError>] : [],
      );
      assert.ok(refused.length > 0 && refused.length < outcomes.length, `${refused.length} of 8 refused`);
      for (const error of refused) {
        assert.deepEqual([error.status, error.code, error.headers?.get("retry-after")], [429, code, "1"]);
      }
      return outcomes.length - refused.length;
    };
    try {
      limits.maxInFlightPerChannel = 2;
      let served = await burst("channel_busy");
      limits.maxInFlightPerChannel = 256;
      limits.maxInFlight = 1;
      served += await burst("engine_busy");
      // Exactly the served requests were billed and logged; nothing stays reserved.
      assert.equal(payer.receipts.length, served);
      assert.equal(gateway.usageLog.receipts(channelId).length, served);
      assert.equal(gateway.ledger.inFlight(channelId), 0);
      assert.equal(
        Object.values(await billedOf(channelId)).reduce((sum, amount) => sum + BigInt(amount), 0n),
        payer.billedTotal,
      );
    } finally {
      Object.assign(limits, saved);
    }
  });

  it("keeps a settlement whose broadcast failed journalled, and a new settler sends that same transaction once", async () => {
    const options = { ...gateway.settler.options, thresholds: { minAmount: 1n, maxAgeMs: 1e12 } };
    // Whatever earlier tests left due is settled first, so that only this channel's broadcast is dropped.
    await new Settler(options).tick();
    const channelId = await newChannel();
    const payer = newPayer(channelId);
    await openaiFor(payer).completions.create({ model: "2", prompt: "journal", max_tokens: 5 });
    await checkpoint(payer, gateway.url);
    let dropBroadcast = true;
    const flaky = createPublicClient({
      transport: custom({
        request: async ({ method, params }: { method: string; params: unknown }) => {
          if (method === "eth_sendRawTransaction" && dropBroadcast) {
            dropBroadcast = false;
            throw new Error("connection reset");
          }
          return tc.client.request({ method, params } as never);
        },
      }),
    });
    await new Settler({ ...options, client: flaky as never }).tick();
    const journalled = gateway.usageLog.settlements().filter((s) => s.channelId === channelId);
    assert.deepEqual(
      journalled.map((s) => s.status),
      ["signed"],
    );
    assert.equal((await channelOf(channelId)).settled, 0n);

    // As after a restart: the journal is reconciled before anything new is planned.
    await new Settler(options).tick();
    assert.equal((await channelOf(channelId)).settled, payer.billedTotal);
    const after = gateway.usageLog.settlements().filter((s) => s.channelId === channelId);
    assert.deepEqual(
      after.map((s) => [s.txHash, s.status]),
      [[journalled[0]!.txHash, "confirmed"]],
    );
  });

  it("after a kill between response and settlement, the usage log is intact and the voucher settles exactly once", async () => {
    await gateway.close();
    const deployments = path.join(dir, "deployments");
    const contracts = Object.fromEntries(
      Object.entries(tc.contracts).map(([name, address]) => [name, { address, startBlock: 0 }]),
    );
    rmSync(deployments, { recursive: true, force: true });
    await import("node:fs/promises").then((fs) => fs.mkdir(deployments));
    writeFileSync(path.join(deployments, "localhost.json"), JSON.stringify({ chainId: 31337, contracts }));
    // A worker whose local base model is not the registered one refuses to start, naming both hashes.
    const tampered = path.join(dir, "tampered-model");
    cpSync(model.modelDir, tampered, { recursive: true });
    writeFileSync(path.join(tampered, "config.json"), readFileSync(path.join(tampered, "config.json"), "utf8") + " ");
    const registered = (await hashArtifactDir(model.modelDir)).artifactHash;
    const actual = (await hashArtifactDir(tampered)).artifactHash;
    const refused = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        [path.join(here, "worker.ts")],
        {
          env: {
            ...process.env,
            OPENPOA_DEPLOYMENTS_DIR: deployments,
            OPENPOA_RPC_URL: tc.chain.url,
            OPENPOA_OPERATOR_KEY: keys.bob,
            OPENPOA_MODEL_DIR: tampered,
            OPENPOA_ARTIFACT_CACHE_DIR: path.join(dir, "refused-artifacts"),
            OPENPOA_USAGE_LOG: path.join(dir, "refused.sqlite"),
          },
          timeout: 60_000,
        },
        (_error, _stdout, stderr) => resolve({ code: child.exitCode, stderr }),
      );
    });
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      new RegExp(
        `^openpoa worker: base model 1 \\(tiny-llama\\) from ${tampered} hashes to ${actual}, expected ${registered}$`,
        "m",
      ),
    );

    const usageLogFile = path.join(dir, "worker.sqlite");
    const port = 19_745 + (process.pid % 1000);
    const url = `http://127.0.0.1:${port}`;
    const startWorker = async (minAmount: string): Promise<ChildProcess> => {
      const child = spawn(process.execPath, [path.join(here, "worker.ts")], {
        env: {
          ...process.env,
          OPENPOA_DEPLOYMENTS_DIR: deployments,
          OPENPOA_RPC_URL: tc.chain.url,
          OPENPOA_OPERATOR_KEY: keys.bob,
          OPENPOA_MODEL_DIR: model.modelDir,
          OPENPOA_ARTIFACT_CACHE_DIR: path.join(dir, "worker-artifacts"),
          OPENPOA_USAGE_LOG: usageLogFile,
          OPENPOA_PORT: String(port),
          OPENPOA_SETTLE_MIN_AMOUNT: minAmount,
          OPENPOA_SETTLE_INTERVAL_MS: "200",
          OPENPOA_LOG_LEVEL: "warn",
        },
        stdio: ["ignore", "ignore", "inherit"],
      });
      children.add(child);
      child.once("exit", () => children.delete(child));
      for (let i = 0; i < 300; i++) {
        if (
          await fetch(`${url}/health`).then(
            (r) => r.ok,
            () => false,
          )
        )
          return child;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error("worker did not start");
    };
    const stop = (child: ChildProcess, signal: NodeJS.Signals) =>
      new Promise((resolve) => {
        child.once("exit", resolve);
        child.kill(signal);
      });

    const channelId = await newChannel();
    const payer = newPayer(channelId);
    let worker = await startWorker((10n ** 30n).toString());
    const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", fetch: payer.fetch, maxRetries: 0 });
    await openai.completions.create({ model: "1", prompt: "kept", max_tokens: 6 });
    await checkpoint(payer, url);
    await stop(worker, "SIGKILL");

    const db = new DatabaseSync(usageLogFile, { readOnly: true });
    const rows = db
      .prepare("SELECT request_id, amount FROM receipts WHERE channel_id = ?")
      .all(channelId.toString()) as { request_id: string; amount: string }[];
    db.close();
    assert.deepEqual(
      rows.map((r) => [r.request_id, BigInt(r.amount)]),
      [[payer.receipts[0]!.receipt.requestId, payer.billedTotal]],
    );

    const settledEvents = async () =>
      (
        await tc.client.getContractEvents({
          address: tc.contracts.InferencePayments,
          abi: (await import("../sdk/abis.ts")).abiOf("InferencePayments"),
          eventName: "ChannelSettled",
          args: { channelId },
          fromBlock: 0n,
        })
      ).length;
    worker = await startWorker("1");
    // Generous: a slow machine's settlement takes a few seconds; this waits for it, it does not time it.
    for (let i = 0; i < 600 && (await channelOf(channelId)).settled === 0n; i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal((await channelOf(channelId)).settled, payer.billedTotal);
    await stop(worker, "SIGTERM");

    worker = await startWorker("1");
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await stop(worker, "SIGTERM");
    assert.equal(await settledEvents(), 1);
    const journal = new DatabaseSync(usageLogFile, { readOnly: true });
    const settlements = journal
      .prepare("SELECT status FROM settlements WHERE channel_id = ?")
      .all(channelId.toString());
    journal.close();
    assert.deepEqual(
      settlements.map((s) => (s as { status: string }).status),
      ["confirmed"],
    );
  });
});
