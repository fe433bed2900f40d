import { chatPrompt, type ChatMessage } from "./pricing.ts";

/**
 * What a completion request asks of the engine, read the same way by the gateway (which bills, after validating
 * the body) and the Payer (which covers, before sending it): the prompt, byte for byte, and the most tokens.
 */
export type CompletionApi = "chat" | "text" | "responses";

/** `max_tokens` (or `max_completion_tokens`, `max_output_tokens`) when the request names none. */
export const DEFAULT_MAX_TOKENS = 16;

const paths: Record<string, CompletionApi> = {
  "/v1/chat/completions": "chat",
  "/v1/completions": "text",
  "/v1/responses": "responses",
};

/** The API a request path is for (a prefix before `/v1` is allowed), or undefined. */
export function apiOfPath(pathname: string): CompletionApi | undefined {
  const at = pathname.lastIndexOf("/v1/");
  return at < 0 ? undefined : paths[pathname.slice(at)];
}

/** A chat message's content: a string, or text parts (`text`, `input_text`, `output_text`) joined as they are. */
export type MessageContent = string | readonly { type: string; text: string }[];
export type RequestMessage = { role: string; content: MessageContent };

export type ChatBody = {
  messages: readonly RequestMessage[];
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
};
export type TextBody = { prompt: string | readonly [string]; max_tokens?: number | null };
export type ResponsesBody = {
  input: string | readonly RequestMessage[];
  instructions?: string | null;
  max_output_tokens?: number | null;
};
export type CompletionBody<A extends CompletionApi> = A extends "chat"
  ? ChatBody
  : A extends "text"
    ? TextBody
    : ResponsesBody;

export const textOf = (content: MessageContent): string =>
  typeof content === "string" ? content : content.map((part) => part.text).join("");

const asChat = (messages: readonly RequestMessage[]): ChatMessage[] =>
  messages.map((m) => ({ role: m.role, content: textOf(m.content) }));

/** The Responses API as chat: `instructions` first, as a system message, then `input` (a string is one user turn). */
export function responsesMessages(body: ResponsesBody): ChatMessage[] {
  const instructions = body.instructions ? [{ role: "system", content: body.instructions }] : [];
  const input = typeof body.input === "string" ? [{ role: "user", content: body.input }] : asChat(body.input);
  return [...instructions, ...input];
}

/**
 * Text that attribution must not credit when the completion repeats it: the chat template's role markers and the
 * system prompt (`system`/`developer` messages, `instructions`). The request's author wrote it, no contributor did.
 */
export function templateTextsOf<A extends CompletionApi>(api: A, body: CompletionBody<A>): string[] {
  if (api === "text") return [];
  const messages = api === "chat" ? asChat((body as ChatBody).messages) : responsesMessages(body as ResponsesBody);
  const markers = new Set([...messages.map((m) => m.role), "assistant"].map((role) => `<|${role}|>`));
  const system = messages.filter((m) => m.role === "system" || m.role === "developer").map((m) => m.content);
  return [...markers, ...system.filter((text) => text.length > 0)];
}

/**
 * The messages of a chat (`chat` and `responses`), undefined for a text completion. An engine whose model has its
 * own chat template is given these instead of promptOf's text, and counts the prompt in its own tokens.
 */
export function messagesOf<A extends CompletionApi>(api: A, body: CompletionBody<A>): ChatMessage[] | undefined {
  if (api === "chat") return asChat((body as ChatBody).messages);
  if (api === "responses") return responsesMessages(body as ResponsesBody);
  return undefined;
}

/**
 * The prompt text: what the engine is given with the byte-level generated models, and what the cover estimates the
 * prompt's tokens from (countPromptTokens: UTF-8 bytes + 1), whatever the engine's tokenizer.
 */
export function promptOf<A extends CompletionApi>(api: A, body: CompletionBody<A>): string {
  if (api === "chat") return chatPrompt(asChat((body as ChatBody).messages));
  if (api === "responses") return chatPrompt(responsesMessages(body as ResponsesBody));
  const { prompt } = body as TextBody;
  return typeof prompt === "string" ? prompt : prompt[0];
}

/** The most completion tokens the request allows. */
export function maxTokensOf<A extends CompletionApi>(api: A, body: CompletionBody<A>): number {
  if (api === "chat") {
    const chat = body as ChatBody;
    return chat.max_completion_tokens ?? chat.max_tokens ?? DEFAULT_MAX_TOKENS;
  }
  if (api === "responses") return (body as ResponsesBody).max_output_tokens ?? DEFAULT_MAX_TOKENS;
  return (body as TextBody).max_tokens ?? DEFAULT_MAX_TOKENS;
}

/**
 * The completion text of a whole (non-streamed) answer, as the gateway wrote it (gateway/formats.ts): what the
 * receipt's completion hash covers. Undefined where the answer has no such field.
 */
export function answerTextOf(api: CompletionApi, answer: unknown): string | undefined {
  const json = answer as {
    choices?: { message?: { content?: unknown }; text?: unknown }[];
    output?: { content?: { type?: string; text?: unknown }[] }[];
  };
  const text =
    api === "chat"
      ? json.choices?.[0]?.message?.content
      : api === "text"
        ? json.choices?.[0]?.text
        : json.output?.[0]?.content?.find((part) => part.type === "output_text")?.text;
  return typeof text === "string" ? text : undefined;
}

/** The text one streamed event adds to the completion ("" when it adds none). */
export function streamDeltaOf(api: CompletionApi, event: unknown): string {
  const json = event as {
    type?: string;
    delta?: unknown;
    choices?: { delta?: { content?: unknown }; text?: unknown }[];
  };
  const delta =
    api === "chat"
      ? json.choices?.[0]?.delta?.content
      : api === "text"
        ? json.choices?.[0]?.text
        : json.type === "response.output_text.delta"
          ? json.delta
          : undefined;
  return typeof delta === "string" ? delta : "";
}
