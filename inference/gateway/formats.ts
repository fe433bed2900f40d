/**
 * The three OpenAI answer shapes the gateway writes: chat completions, text completions and the Responses API,
 * whole or as server-sent events. The receipt rides in the body (`openpoa_receipt`) or in the last event that
 * carries usage.
 */
import type { Hex } from "viem";
import type { ReceiptJson } from "../sdk/codec.ts";
import type { CompletionApi } from "../sdk/requests.ts";
import type { GenerateDone } from "./engine.ts";
import type { GatewayError } from "./errors.ts";

export type AnswerMeta = {
  requestId: Hex;
  model: string;
  /** Unix seconds. */
  created: number;
  /** What the request asked for, echoed by the Responses API. */
  echo: {
    instructions?: string | null;
    max_output_tokens?: number | null;
    temperature?: number | null;
    top_p?: number | null;
  };
};
export type Finished = { done: GenerateDone; receipt: ReceiptJson };

/** One streamed answer: the SSE text to write at each step. */
export type EventStream = {
  open(): string;
  delta(text: string): string;
  close(finished: Finished): string;
  fail(error: GatewayError): string;
};
export type Format = { whole(meta: AnswerMeta, finished: Finished): object; stream(meta: AnswerMeta): EventStream };

const data = (payload: unknown) => `data: ${JSON.stringify(payload)}\n\n`;
const finishReason = (done: GenerateDone) => (done.finish_reason === "length" ? "length" : "stop");
const usageOf = ({ usage }: GenerateDone) => ({
  prompt_tokens: usage.prompt_tokens,
  completion_tokens: usage.completion_tokens,
  total_tokens: usage.prompt_tokens + usage.completion_tokens,
});
const idOf = (prefix: string, requestId: Hex) => `${prefix}-${requestId.slice(2, 26)}`;

const chat: Format = {
  whole: (meta, { done, receipt }) => ({
    id: idOf("chatcmpl", meta.requestId),
    object: "chat.completion",
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: done.text },
        logprobs: null,
        finish_reason: finishReason(done),
      },
    ],
    usage: usageOf(done),
    openpoa_receipt: receipt,
  }),
  stream(meta) {
    const chunk = (text: string | null, finish: string | null) => ({
      id: idOf("chatcmpl", meta.requestId),
      object: "chat.completion.chunk",
      created: meta.created,
      model: meta.model,
      choices: [
        {
          index: 0,
          delta: text === null ? {} : { role: "assistant", content: text },
          logprobs: null,
          finish_reason: finish,
        },
      ],
    });
    return {
      open: () => "",
      delta: (text) => data(chunk(text, null)),
      close: ({ done, receipt }) =>
        data({ ...chunk(done.delta || null, finishReason(done)), usage: usageOf(done), openpoa_receipt: receipt }) +
        "data: [DONE]\n\n",
      fail: (error) => data(error.toJSON()),
    };
  },
};

const text: Format = {
  whole: (meta, { done, receipt }) => ({
    id: idOf("cmpl", meta.requestId),
    object: "text_completion",
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, text: done.text, logprobs: null, finish_reason: finishReason(done) }],
    usage: usageOf(done),
    openpoa_receipt: receipt,
  }),
  stream(meta) {
    const chunk = (text: string, finish: string | null) => ({
      id: idOf("cmpl", meta.requestId),
      object: "text_completion",
      created: meta.created,
      model: meta.model,
      choices: [{ index: 0, text, logprobs: null, finish_reason: finish }],
    });
    return {
      open: () => "",
      delta: (text) => data(chunk(text, null)),
      close: ({ done, receipt }) =>
        data({ ...chunk(done.delta, finishReason(done)), usage: usageOf(done), openpoa_receipt: receipt }) +
        "data: [DONE]\n\n",
      fail: (error) => data(error.toJSON()),
    };
  },
};

/** The Responses API: one output message with one output_text part; `incomplete` when max_output_tokens ran out. */
function response(meta: AnswerMeta, finished?: Finished) {
  const done = finished?.done;
  const status = !done ? "in_progress" : done.finish_reason === "length" ? "incomplete" : "completed";
  return {
    id: idOf("resp", meta.requestId),
    object: "response",
    created_at: meta.created,
    status,
    ...(done && { completed_at: Math.floor(Date.now() / 1000) }),
    error: null,
    incomplete_details: status === "incomplete" ? { reason: "max_output_tokens" } : null,
    instructions: meta.echo.instructions ?? null,
    max_output_tokens: meta.echo.max_output_tokens ?? null,
    model: meta.model,
    output: done ? [message(meta, status, done.text)] : [],
    parallel_tool_calls: false,
    previous_response_id: null,
    reasoning: null,
    store: false,
    temperature: meta.echo.temperature ?? null,
    text: { format: { type: "text" } },
    tool_choice: "none",
    tools: [],
    top_p: meta.echo.top_p ?? null,
    truncation: "disabled",
    metadata: null,
    ...(done && {
      usage: {
        input_tokens: done.usage.prompt_tokens,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: done.usage.completion_tokens,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: done.usage.prompt_tokens + done.usage.completion_tokens,
      },
    }),
    ...(finished && { openpoa_receipt: finished.receipt }),
  };
}
const outputText = (text: string) => ({ type: "output_text", text, annotations: [], logprobs: [] });
const message = (meta: AnswerMeta, status: string, text: string | undefined) => ({
  type: "message",
  id: idOf("msg", meta.requestId),
  status,
  role: "assistant",
  content: text === undefined ? [] : [outputText(text)],
});

const responses: Format = {
  whole: (meta, finished) => response(meta, finished),
  stream(meta) {
    let sequence = 0;
    const event = (type: string, payload: object) =>
      `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...payload })}\n\n`;
    const at = { item_id: idOf("msg", meta.requestId), output_index: 0, content_index: 0 };
    const delta = (piece: string) => event("response.output_text.delta", { ...at, delta: piece, logprobs: [] });
    return {
      open: () =>
        event("response.created", { response: response(meta) }) +
        event("response.in_progress", { response: response(meta) }) +
        event("response.output_item.added", { output_index: 0, item: message(meta, "in_progress", undefined) }) +
        event("response.content_part.added", { ...at, part: outputText("") }),
      delta,
      close(finished) {
        const whole = response(meta, finished);
        const { status } = whole;
        const { text } = finished.done;
        return (
          (finished.done.delta ? delta(finished.done.delta) : "") +
          event("response.output_text.done", { ...at, text, logprobs: [] }) +
          event("response.content_part.done", { ...at, part: outputText(text) }) +
          event("response.output_item.done", { output_index: 0, item: whole.output[0] }) +
          event(status === "incomplete" ? "response.incomplete" : "response.completed", { response: whole })
        );
      },
      fail: (error) => {
        const { message, code, param } = error.toJSON().error;
        return event("error", { code, message, param });
      },
    };
  },
};

export const formats: Record<CompletionApi, Format> = { chat, text, responses };
