/**
 * Tokens and prices, shared by the gateway (which bills) and the SDK (which covers): both must agree to the wei.
 * Byte tokenizer (project convention): one token per UTF-8 byte, plus <bos>.
 */
export const countPromptTokens = (prompt: string) => 1 + new TextEncoder().encode(prompt).length;

/**
 * Tokens a model's own chat template may add to a chat beyond what its text costs in bytes (role markers, a default
 * system prompt): SmolLM2-135M-Instruct's adds a 22-token system prompt, so a one-word chat is up to 5 tokens over
 * its bytes. The cover reserves them, so that the bill the engine counts stays within it.
 */
export const CHAT_TEMPLATE_ALLOWANCE = 32;

/**
 * The prompt tokens a request's cover is computed for (gateway and SDK alike): UTF-8 bytes + 1 of its prompt text,
 * plus CHAT_TEMPLATE_ALLOWANCE for chats. An upper bound for the byte-level generated models and for byte-level
 * BPE models (a token is at least one byte) whose template adds at most the allowance.
 */
export const estimatePromptTokens = (api: "chat" | "text" | "responses", prompt: string) =>
  countPromptTokens(prompt) + (api === "text" ? 0 : CHAT_TEMPLATE_ALLOWANCE);

export type ChatMessage = { role: string; content: string };

/** The chat template of the generated models: one `<|role|>` block per message, then the assistant's turn. */
export function chatPrompt(messages: ChatMessage[]): string {
  return messages.map((m) => `<|${m.role}|>\n${m.content}\n`).join("") + "<|assistant|>\n";
}

/** price per 1,000 tokens × tokens, rounded up to the wei: what a receipt charges. */
export const costOf = (pricePer1kTokens: bigint, tokens: bigint) => (pricePer1kTokens * tokens + 999n) / 1000n;
