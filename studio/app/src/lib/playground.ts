/**
 * The playground's pure parts: the deposit a user types, the chat request, the streamed answer, and each receipt as
 * the page shows it. The payment itself is the SDK's Payer (inference/sdk/payer.ts).
 */
import type { Hex } from "viem";
import type { Dispute } from "../../../../inference/sdk/payer.ts";
import type { SignedReceipt } from "../../../../inference/sdk/eip712.ts";
import { streamDeltaOf, type RequestMessage } from "../../../../inference/sdk/requests.ts";
import { formatOpen, InvalidAmountError, parseOpen } from "./format.ts";

/** The deposit typed in, in wei, or why it cannot be deposited (nothing is signed then). */
export function checkDeposit(text: string, balance: bigint | undefined): { wei: bigint } | { error: string } {
  let wei: bigint;
  try {
    wei = parseOpen(text);
  } catch (error) {
    if (error instanceof InvalidAmountError) return { error: error.message };
    throw error;
  }
  if (wei === 0n) return { error: "The deposit must be more than 0 OPEN." };
  if (balance !== undefined && wei > balance)
    return { error: `The deposit ${formatOpen(wei)} is more than the wallet holds (${formatOpen(balance)}).` };
  return { wei };
}

/** The most completion tokens one playground request may ask for. */
export const MAX_ANSWER_TOKENS = 512;

/** The OpenAI chat completion request for `adapterId` ("0" would be the base model alone), streamed. */
export function chatRequest({
  adapterId,
  messages,
  maxTokens,
}: {
  adapterId: bigint;
  messages: readonly RequestMessage[];
  maxTokens: number;
}) {
  if (!Number.isSafeInteger(maxTokens) || maxTokens < 1 || maxTokens > MAX_ANSWER_TOKENS)
    throw new RangeError(`max tokens must be 1 to ${MAX_ANSWER_TOKENS}`);
  return { model: adapterId.toString(), messages, max_tokens: maxTokens, stream: true };
}

/**
 * The text of a streamed chat completion, delta by delta, from its server-sent events (the bytes the Payer passed
 * through after checking the receipt in them; a receipt it refuses errors the stream, and so this).
 */
export async function* streamedText(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).trimStart())
          .join("\n");
        if (data === "" || data === "[DONE]") continue;
        const delta = streamDeltaOf("chat", JSON.parse(data));
        if (delta) yield delta;
      }
      if (done) return;
    }
  } finally {
    reader.releaseLock();
  }
}

/** A receipt as the playground lists it. */
export type ReceiptRow = {
  position: bigint;
  requestId: Hex;
  amount: bigint;
  promptTokens: bigint;
  completionTokens: bigint;
  attributionHash: Hex;
  /** Accepted by the Payer: the operator's signature, its terms, the completion hash and its record all checked. */
  verified: boolean;
  /** Why the Payer disputed it (it is then never paid). */
  disputed?: string;
};

export function receiptRows(receipts: readonly SignedReceipt[], disputes: readonly Dispute[]): ReceiptRow[] {
  const reasons = new Map(disputes.map((d) => [d.requestId, d.reason]));
  return receipts.map(({ receipt }) => {
    const disputed = reasons.get(receipt.requestId);
    return {
      position: receipt.position,
      requestId: receipt.requestId,
      amount: receipt.amount,
      promptTokens: receipt.promptTokens,
      completionTokens: receipt.completionTokens,
      attributionHash: receipt.attributionHash,
      verified: disputed === undefined,
      ...(disputed !== undefined && { disputed }),
    };
  });
}
