import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Hex } from "viem";
import type { SignedReceipt } from "../../../../inference/sdk/eip712.ts";
import { chatRequest, checkDeposit, receiptRows, streamedText } from "./playground.ts";

const OPEN = 10n ** 18n;

describe("checkDeposit", () => {
  it("takes a positive amount the wallet holds", () => {
    assert.deepEqual(checkDeposit("2.5", 10n * OPEN), { wei: 2n * OPEN + OPEN / 2n });
    assert.deepEqual(checkDeposit("1", undefined), { wei: OPEN });
  });
  it("says what is wrong otherwise", () => {
    assert.match((checkDeposit("0", OPEN) as { error: string }).error, /more than 0/);
    assert.match((checkDeposit("ten", OPEN) as { error: string }).error, /not an amount of OPEN/);
    assert.match((checkDeposit("11", 10n * OPEN) as { error: string }).error, /more than the wallet holds \(10 OPEN\)/);
  });
});

describe("chatRequest", () => {
  it("asks the adapter by id, streamed", () =>
    assert.deepEqual(chatRequest({ adapterId: 3n, messages: [{ role: "user", content: "hi" }], maxTokens: 32 }), {
      model: "3",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 32,
      stream: true,
    }));
  it("refuses a token limit out of range", () => {
    assert.throws(() => chatRequest({ adapterId: 1n, messages: [], maxTokens: 0 }), RangeError);
    assert.throws(() => chatRequest({ adapterId: 1n, messages: [], maxTokens: 1.5 }), RangeError);
  });
});

/** A stream of `text` cut into chunks of `size` bytes, as a network delivers it. */
function chunked(text: string, size: number): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, (at += size)));
    },
  });
}

describe("streamedText", () => {
  const event = (content: string) => `data: ${JSON.stringify({ choices: [{ delta: { content } }] })}\n\n`;
  const sse =
    event("Bon") +
    event("jour ✓") +
    `data: ${JSON.stringify({ choices: [], openpoa_receipt: {} })}\n\n` +
    "data: [DONE]\n\n";
  it("yields each delta, however the bytes are cut", async () => {
    for (const size of [1, 3, 1000]) {
      const deltas: string[] = [];
      for await (const delta of streamedText(chunked(sse, size))) deltas.push(delta);
      assert.deepEqual(deltas, ["Bon", "jour ✓"]);
    }
  });
  it("fails as the stream fails (a receipt the Payer refused)", async () => {
    const failing = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(event("Hi")));
        controller.error(new Error("receipt 0 disputed"));
      },
    });
    await assert.rejects(async () => {
      for await (const delta of streamedText(failing)) void delta;
    }, /receipt 0 disputed/);
  });
});

describe("receiptRows", () => {
  const signed = (position: bigint, amount: bigint): SignedReceipt => ({
    receipt: {
      requestId: `0x${position.toString(16).padStart(64, "0")}` as Hex,
      channelId: 1n,
      position,
      adapterId: 1n,
      promptTokens: 10n,
      completionTokens: 5n,
      amount,
      completionHash: `0x${"00".repeat(32)}`,
      attributionHash: `0x${"11".repeat(32)}`,
      timestamp: 1n,
      rulesVersion: 1n,
    },
    signature: "0x",
  });
  it("marks disputed receipts with the Payer's reason, and totals only the accepted", () => {
    const receipts = [signed(0n, 7n), signed(1n, 9n)];
    const rows = receiptRows(receipts, [
      { position: 1n, requestId: receipts[1]!.receipt.requestId, reason: "too dear" },
    ]);
    assert.deepEqual(
      rows.map((row) => [row.position, row.verified, row.disputed]),
      [
        [0n, true, undefined],
        [1n, false, "too dear"],
      ],
    );
  });
});
