/**
 * Tokens and prices, shared by the gateway (which bills) and the SDK (which covers): both must agree to the wei.
 * Byte tokenizer (project convention): one token per UTF-8 byte, plus <bos>.
 */
export const countPromptTokens = (prompt: string) => 1 + Buffer.byteLength(prompt, "utf8");

export type ChatMessage = { role: string; content: string };

/** The chat template of the generated models: one `<|role|>` block per message, then the assistant's turn. */
export function chatPrompt(messages: ChatMessage[]): string {
  return messages.map((m) => `<|${m.role}|>\n${m.content}\n`).join("") + "<|assistant|>\n";
}

/** price per 1,000 tokens × tokens, rounded up to the wei: what a receipt charges. */
export const costOf = (pricePer1kTokens: bigint, tokens: bigint) => (pricePer1kTokens * tokens + 999n) / 1000n;
