/**
 * The request bodies the gateway accepts, as zod schemas: validated by the routes (through @hono/zod-validator)
 * and published as the OpenAPI document (openapi.ts). Strict: a parameter OpenAI defines but this gateway does not
 * offer is refused with 400 `unsupported_parameter` naming it; a parameter OpenAI does not define, with 400
 * `unknown_parameter`. Nothing refused here reaches payment: no voucher is taken, nothing is billed or logged.
 */
import { z } from "zod/v4";
import type { $ZodIssue } from "zod/v4/core";
import { badRequest, GatewayError } from "./errors.ts";

export type RequestLimits = { maxTokens: number };

const UNSUPPORTED = "unsupported_parameter";

/**
 * A parameter OpenAI defines that this gateway does not offer: accepted only absent, null, or at a value that
 * asks for nothing (`n: 1`, `logprobs: false`, ...); anything else is a 400 naming it.
 */
function refused(feature: string, ...neutral: (string | number | boolean)[]) {
  const shown = neutral.map((v) => JSON.stringify(v)).join(", ");
  return z
    .unknown()
    .refine((value) => value === null || neutral.includes(value as never), {
      message: `${feature} is not supported by this gateway`,
      params: { code: UNSUPPORTED },
    })
    .optional()
    .meta({
      description: `Not supported (${feature}): refused with 400 unsupported_parameter unless absent, null${shown ? ` or ${shown}` : ""}.`,
      ...(neutral.length ? { enum: [null, ...neutral] } : { type: "null" }),
    });
}

const model = z.string().meta({
  description: 'The adapter\'s on-chain id as a decimal string; "0" is the base model. Other names: 404.',
  examples: ["0", "1"],
});
const maxTokens = (limits: RequestLimits) => z.int().min(1).max(limits.maxTokens).nullable().optional();
const temperature = z.number().min(0).max(2).nullable().optional();
const topP = z.number().gt(0).max(1).nullable().optional();
const seed = z.int().nullable().optional();
const stream = z.boolean().nullable().optional();
const stop = z
  .union([z.string().min(1), z.array(z.string().min(1)).max(4)], {
    error: "stop must be a non-empty string or an array of at most 4 non-empty strings",
  })
  .nullable()
  .optional();
const streamOptions = z
  .strictObject({
    include_usage: z.boolean().optional().meta({ description: "Usage is always sent, in the last chunk." }),
  })
  .nullable()
  .optional();
const user = z.string().optional().meta({ description: "Accepted and ignored." });

/** Sampling and streaming, alike for chat and text completions. */
const sampling = {
  temperature,
  top_p: topP,
  seed,
  stop,
  stream,
  stream_options: streamOptions,
  user,
};

/** Parameters that only stored completions, caching, moderation or routing use: refused alike on every API. */
const platformOnly = {
  store: refused("stored completions", false),
  metadata: refused("stored completions"),
  service_tier: refused("service tiers"),
  prompt_cache_key: refused("prompt caching"),
  prompt_cache_retention: refused("prompt caching"),
  prompt_cache_options: refused("prompt caching"),
  safety_identifier: refused("safety identifiers"),
  moderation: refused("moderation"),
};
const penalties = {
  frequency_penalty: refused("penalties", 0),
  presence_penalty: refused("penalties", 0),
  logit_bias: refused("logit bias"),
};

const chatRole = z.enum(["system", "developer", "user", "assistant"]);
const chatContent = z.union(
  [z.string(), z.array(z.strictObject({ type: z.literal("text"), text: z.string() })).min(1)],
  { error: "content must be a string or a non-empty array of text parts" },
);
const chatMessage = z.strictObject({
  role: chatRole,
  content: chatContent,
  name: z.string().optional().meta({ description: "Accepted and ignored." }),
});

export const chatCompletionRequest = (limits: RequestLimits) =>
  z
    .strictObject({
      model,
      messages: z.array(chatMessage).min(1),
      max_tokens: maxTokens(limits),
      max_completion_tokens: maxTokens(limits),
      ...sampling,
      n: refused("several choices", 1),
      logprobs: refused("log probabilities", false),
      top_logprobs: refused("log probabilities"),
      tools: refused("tool calling"),
      tool_choice: refused("tool calling", "none"),
      parallel_tool_calls: refused("tool calling"),
      functions: refused("function calling"),
      function_call: refused("function calling", "none"),
      response_format: refused("structured output"),
      audio: refused("audio"),
      modalities: refused("modalities other than text"),
      prediction: refused("predicted outputs"),
      reasoning_effort: refused("reasoning"),
      verbosity: refused("verbosity"),
      web_search_options: refused("web search"),
      ...penalties,
      ...platformOnly,
    })
    .meta({ title: "POST /v1/chat/completions" });

export const completionRequest = (limits: RequestLimits) =>
  z
    .strictObject({
      model,
      prompt: z.union([z.string(), z.tuple([z.string()])], {
        error: "prompt must be a string (or an array of exactly one string)",
      }),
      max_tokens: maxTokens(limits),
      ...sampling,
      n: refused("several choices", 1),
      best_of: refused("several choices", 1),
      echo: refused("echo", false),
      logprobs: refused("log probabilities"),
      suffix: refused("suffixes", ""),
      ...penalties,
    })
    .meta({ title: "POST /v1/completions" });

const inputText = z.strictObject({ type: z.literal("input_text"), text: z.string() });
/** An earlier answer's text, as `response.output` gives it back. */
const outputText = z.strictObject({
  type: z.literal("output_text"),
  text: z.string(),
  annotations: z.array(z.unknown()).optional(),
  logprobs: z.array(z.unknown()).optional(),
});
const inputMessage = z.strictObject({
  type: z.literal("message").optional(),
  role: chatRole,
  content: z.union([z.string(), z.array(z.discriminatedUnion("type", [inputText, outputText])).min(1)], {
    error: "content must be a string or a non-empty array of input_text / output_text parts",
  }),
  id: z.string().optional(),
  status: z.enum(["in_progress", "completed", "incomplete"]).optional(),
});

export const responseRequest = (limits: RequestLimits) =>
  z
    .strictObject({
      model,
      input: z.union([z.string(), z.array(inputMessage).min(1)], {
        error: "input must be a string or a non-empty array of messages with text content",
      }),
      instructions: z.string().nullable().optional().meta({ description: "Sent first, as a system message." }),
      max_output_tokens: maxTokens(limits),
      temperature,
      top_p: topP,
      stream,
      user,
      tools: refused("tool calling"),
      tool_choice: refused("tool calling", "none"),
      parallel_tool_calls: refused("tool calling"),
      max_tool_calls: refused("tool calling"),
      text: refused("text formats and verbosity"),
      reasoning: refused("reasoning"),
      include: refused("additional output data"),
      top_logprobs: refused("log probabilities"),
      previous_response_id: refused("stored responses"),
      conversation: refused("conversations"),
      background: refused("background responses", false),
      prompt: refused("prompt templates"),
      truncation: refused("truncation", "disabled"),
      stream_options: refused("stream options"),
      context_management: refused("context management"),
      access_programs: refused("access programs"),
      image: refused("image generation"),
      ...platformOnly,
    })
    .meta({ title: "POST /v1/responses" });

export type ChatCompletionRequest = z.output<ReturnType<typeof chatCompletionRequest>>;
export type CompletionRequest = z.output<ReturnType<typeof completionRequest>>;
export type ResponseRequest = z.output<ReturnType<typeof responseRequest>>;

export const channelIdParam = z.strictObject({
  id: z
    .string()
    .regex(/^[0-9]{1,78}$/, "channel id must be a decimal integer")
    .meta({ description: "The channel id, decimal" }),
});

/** The most receipts one page of GET /v1/channels/:id/receipts holds. */
export const RECEIPT_PAGE = 1_000;
export const receiptPageQuery = z.strictObject({
  offset: z.coerce.number().int().min(0).default(0).meta({ description: "Receipts to skip, in log order" }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(RECEIPT_PAGE)
    .default(RECEIPT_PAGE)
    .meta({ description: `At most ${RECEIPT_PAGE}` }),
});

/** `messages[0].role`, as OpenAI names a nested parameter. */
export const paramOf = (path: readonly PropertyKey[]) =>
  path.reduce<string>(
    (name, key) => (typeof key === "number" ? `${name}[${key}]` : name ? `${name}.${String(key)}` : String(key)),
    "",
  );

/** The first issue as an OpenAI-shaped 400; refusals of parameters come before other issues. */
export function requestError(issues: readonly $ZodIssue[]): GatewayError {
  const refusal = issues.find(
    (i) => i.code === "unrecognized_keys" || (i.code === "custom" && i.params?.code === UNSUPPORTED),
  );
  const issue = refusal ?? issues[0];
  if (!issue) return badRequest("invalid_request", "invalid request");
  if (issue.code === "unrecognized_keys") {
    const param = paramOf([...issue.path, issue.keys[0]!]);
    return badRequest("unknown_parameter", `Unrecognized request argument supplied: ${param}`, param);
  }
  const param = paramOf(issue.path);
  if (issue.code === "custom" && issue.params?.code === UNSUPPORTED)
    return badRequest(UNSUPPORTED, `Unsupported parameter: '${param}': ${issue.message}`, param);
  if (issue.path.length === 0) return badRequest("invalid_json", "request body must be a JSON object");
  return badRequest(`invalid_${String(issue.path[0])}`, `Invalid '${param}': ${issue.message}`, param);
}
