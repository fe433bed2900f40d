/**
 * The gateway's OpenAPI 3.1 document (`GET /openapi.json`), generated from the same zod schemas the routes
 * validate with (JSON Schema 2020-12, the dialect of OpenAPI 3.1), so the document cannot drift from what is
 * enforced.
 */
import { z } from "zod/v4";
import { receiptHeader, usageHeader, voucherHeader } from "../sdk/eip712.ts";
import {
  chatCompletionRequest,
  completionRequest,
  RECEIPT_PAGE,
  responseRequest,
  type RequestLimits,
} from "./schemas.ts";

const decimal = z.string().regex(/^[0-9]+$/);
const hex = z.string().regex(/^0x[0-9a-fA-F]*$/);
const perAdapter = z.record(decimal, decimal).meta({ description: "Adapter id → amount in OPEN wei" });

const errorBody = z.strictObject({
  error: z.strictObject({
    message: z.string(),
    type: z.enum(["invalid_request_error", "payment_error", "server_error"]),
    param: z.string().nullable().meta({ description: "The parameter at fault, as `messages[0].role`" }),
    code: z.string().nullable(),
  }),
});
const voucherJson = z
  .strictObject({
    channelId: decimal,
    cumulativeAmount: decimal,
    adapterIds: z.array(decimal),
    adapterAmounts: z.array(decimal),
    usageRoot: hex,
    expiry: decimal,
    signature: hex,
  })
  .meta({ description: "An EIP-712 Voucher signed by the channel's payer; integers as decimal strings" });
const receiptJson = z
  .strictObject({
    requestId: hex,
    channelId: decimal,
    position: decimal.meta({ description: "The receipt's number in the channel, from 0, in the order issued" }),
    adapterId: decimal,
    promptTokens: decimal,
    completionTokens: decimal,
    amount: decimal,
    completionHash: hex,
    attributionHash: hex,
    timestamp: decimal,
    rulesVersion: decimal.meta({ description: "The ServingRules version the response was served under" }),
    signature: hex,
  })
  .meta({ description: "An EIP-712 Receipt signed by the operator's registered signing key" });
const channelUsage = z.strictObject({
  channelId: decimal,
  billed: perAdapter.meta({ description: "What the receipts billed, per adapter" }),
  billedTotal: decimal,
  inFlight: perAdapter.meta({ description: "The most that requests in flight may still bill, per adapter" }),
  receipts: z.int().meta({ description: "How many receipts the channel has" }),
  voucher: voucherJson.nullable().meta({
    description:
      "The highest voucher the gateway holds, with the payer's signature: a payer resumes from it only after checking the signature is its own",
  }),
  vouched: z
    .strictObject({
      receipts: z.int(),
      usageRoot: hex,
      disputed: z.array(z.int()),
    })
    .meta({ description: "What the latest usage voucher covers, and the positions the payer disputed (final)" }),
});
const channelReceipts = z.strictObject({
  channelId: decimal,
  data: z.array(receiptJson),
  next: z.int().nullable().meta({ description: "The offset of the next page, or null after the last" }),
});

/** Every schema the document names, under components/schemas. */
function components(limits: RequestLimits) {
  const registry = z.registry<{ id: string }>();
  const named: [string, z.ZodType][] = [
    ["ChatCompletionRequest", chatCompletionRequest(limits)],
    ["CompletionRequest", completionRequest(limits)],
    ["ResponseRequest", responseRequest(limits)],
    ["Error", errorBody],
    ["Voucher", voucherJson],
    ["Receipt", receiptJson],
    ["ChannelUsage", channelUsage],
    ["ChannelReceipts", channelReceipts],
  ];
  for (const [id, schema] of named) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    target: "draft-2020-12",
    io: "input",
    unrepresentable: "any",
    uri: (id) => `#/components/schemas/${id}`,
  });
  // Each entry repeats the dialect; the document declares it once.
  for (const schema of Object.values(schemas)) delete (schema as { $schema?: string }).$schema;
  return schemas;
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (id: string, description: string) => ({
  description,
  content: { "application/json": { schema: ref(id) } },
});
const errors = {
  "400": json("Error", "Invalid request: the error names the parameter (`param`) and why (`code`)"),
  "402": json("Error", "Payment: missing, short or invalid voucher"),
  "404": json("Error", "Unknown model (adapter id)"),
  "409": json("Error", "Voucher replayed: sign a new one for every request"),
  "413": json("Error", "Request body too large"),
  "415": json("Error", "Content type is not application/json"),
  "503": json("Error", "Engine unavailable"),
};
const usageParameter = {
  name: usageHeader,
  in: "header",
  required: false,
  description:
    "A usage voucher (base64url JSON: a Voucher plus `receipts` and `disputed`) whose usage root and amounts are exactly the channel's receipts 0..receipts-1; required once the channel has too many receipts no usage voucher covers",
  schema: { type: "string" },
};

const voucherParameter = {
  name: voucherHeader,
  in: "header",
  required: true,
  description:
    "A voucher (base64url JSON, see the Voucher schema) covering, per adapter, what the channel's receipts billed plus the most this request and those in flight can cost",
  schema: { type: "string" },
};

function completionRoute(summary: string, request: string, streamed: string) {
  return {
    post: {
      summary,
      parameters: [voucherParameter, usageParameter],
      requestBody: { required: true, content: { "application/json": { schema: ref(request) } } },
      responses: {
        "200": {
          description: `The answer, with its signed receipt in \`${receiptHeader}\` and \`openpoa_receipt\`; streamed, ${streamed}`,
          headers: { [receiptHeader]: { description: "The receipt, base64url JSON", schema: { type: "string" } } },
          content: {
            "application/json": { schema: { type: "object" } },
            "text/event-stream": { schema: { type: "string" } },
          },
        },
        ...errors,
      },
    },
  };
}

const channelParameter = {
  name: "id",
  in: "path",
  required: true,
  schema: { type: "string", pattern: "^[0-9]{1,78}$" },
};

export function openApiDocument(limits: RequestLimits) {
  return {
    openapi: "3.1.0",
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    info: {
      title: "OpenPoA inference gateway",
      version: "1",
      description:
        "OpenAI-compatible completions paid per request with payment-channel vouchers; every answer carries a signed usage receipt.",
    },
    paths: {
      "/v1/chat/completions": completionRoute(
        "Chat completion",
        "ChatCompletionRequest",
        "chat.completion.chunk events, the receipt and usage in the last one before [DONE]",
      ),
      "/v1/completions": completionRoute(
        "Text completion",
        "CompletionRequest",
        "text_completion events, the receipt and usage in the last one before [DONE]",
      ),
      "/v1/responses": completionRoute(
        "Response (OpenAI Responses API, text in and out)",
        "ResponseRequest",
        "response.* events, the receipt in the response of response.completed (or response.incomplete)",
      ),
      "/v1/models": {
        get: {
          summary: "The base model and every adapter served, with prices",
          responses: { "200": { description: "A list of models" } },
        },
      },
      "/v1/vouchers": {
        post: {
          summary: "A usage voucher on its own, e.g. after the last receipt, so that it settles",
          parameters: [{ ...usageParameter, required: true }],
          responses: { "200": json("ChannelUsage", "The channel's usage after the voucher"), ...errors },
        },
      },
      "/v1/channels/{id}/usage": {
        get: {
          summary: "What the gateway accepted on a channel: billed amounts and the highest voucher held",
          parameters: [channelParameter],
          responses: { "200": json("ChannelUsage", "The channel's usage"), "400": errors["400"] },
        },
      },
      "/v1/channels/{id}/receipts": {
        get: {
          summary: "The receipts of a channel, in the order they were issued, a page at a time",
          parameters: [
            channelParameter,
            { name: "offset", in: "query", required: false, schema: { type: "integer", minimum: 0, default: 0 } },
            {
              name: "limit",
              in: "query",
              required: false,
              schema: { type: "integer", minimum: 1, maximum: RECEIPT_PAGE, default: RECEIPT_PAGE },
            },
          ],
          responses: { "200": json("ChannelReceipts", "The channel's receipts"), "400": errors["400"] },
        },
      },
      "/health": { get: { summary: "Ready (200) or starting (503)", responses: { "200": { description: "ok" } } } },
      "/metrics": { get: { summary: "Prometheus metrics", responses: { "200": { description: "Text exposition" } } } },
      "/openapi.json": { get: { summary: "This document", responses: { "200": { description: "OpenAPI 3.1" } } } },
    },
    components: { schemas: components(limits) },
  };
}
