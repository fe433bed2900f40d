/**
 * The OpenAI answer shapes the gateway writes: chat completions and text completions, whole or as server-sent
 * events. The receipt rides in the body (`openpoa_receipt`) or in the last event, which carries usage.
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

export const formats: Record<CompletionApi, Format> = { chat, text };
