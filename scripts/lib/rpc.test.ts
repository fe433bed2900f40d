import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { createPublicClient, HttpRequestError, LimitExceededRpcError } from "viem";
import { createRandom } from "../../attribution/src/testing.ts";
import { isTransientRpcError } from "../../inference/sdk/rpc.ts";
import { backoffDelay, rpcTransport } from "./rpc.ts";

type Reply = (request: IncomingMessage, response: ServerResponse, body: { id: number }) => void;
const ok: Reply = (_, response, { id }) => response.end(JSON.stringify({ jsonrpc: "2.0", id, result: "0x7a69" }));
const status =
  (code: number, headers: Record<string, string> = {}): Reply =>
  (_, response) => {
    response.writeHead(code, headers);
    response.end("busy");
  };
const rpcError =
  (code: number, message: string): Reply =>
  (_, response, { id }) =>
    response.end(JSON.stringify({ jsonrpc: "2.0", id, error: { code, message } }));
const reset: Reply = (request) => request.socket.destroy();
const hang: Reply = () => {};

const servers: { close(): void; closeAllConnections(): void }[] = [];
after(() => servers.forEach((s) => (s.closeAllConnections(), s.close())));

/** A server answering its requests with `replies` in turn (the last one from then on); counts what it got. */
async function scripted(replies: Reply[]) {
  let seen = 0;
  const server = createServer(async (request, response) => {
    let text = "";
    for await (const chunk of request) text += chunk;
    const reply = replies[Math.min(seen++, replies.length - 1)]!;
    reply(request, response, JSON.parse(text));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen: () => seen };
}
const fast = { retryDelayMs: 1, maxRetryDelayMs: 5, random: createRandom(1).next };
const clientOf = (url: string, options = {}) =>
  createPublicClient({ transport: rpcTransport(url, { ...fast, ...options }) });

test("test_rpcTransport_retriesDropsBusyAnswersAndRateLimitsUntilTheAnswer", async () => {
  const server = await scripted([
    status(503),
    reset,
    status(429, { "retry-after": "0" }),
    rpcError(429, "Too Many Requests"),
    rpcError(-32005, "project ID request rate exceeded"),
    ok,
  ]);
  assert.equal(await clientOf(server.url).getChainId(), 31337);
  assert.equal(server.seen(), 6);
});

test("test_rpcTransport_abandonsAnAttemptThatHangsAndAsksAgain", async () => {
  const server = await scripted([hang, ok]);
  assert.equal(await clientOf(server.url, { attemptTimeoutMs: 100 }).getChainId(), 31337);
  assert.equal(server.seen(), 2);
});

test("test_rpcTransport_asksOnceWhenTheAnswerIsARefusal", async () => {
  const server = await scripted([rpcError(-32005, "query returned more than 10000 results")]);
  const error = await clientOf(server.url)
    .getChainId()
    .catch((e: unknown) => e);
  assert.ok(error instanceof LimitExceededRpcError, String(error));
  assert.match((error as Error).message, /query returned more than 10000 results/);
  assert.equal(isTransientRpcError(error), false);
  assert.equal(server.seen(), 1);
});

test("test_rpcTransport_givesUpAfterRetryCountWithTheLastStatus", async () => {
  const server = await scripted([status(503)]);
  const error = await clientOf(server.url, { retryCount: 2 })
    .getChainId()
    .catch((e: unknown) => e);
  assert.ok(error instanceof HttpRequestError, String(error));
  assert.equal(error.status, 503);
  assert.equal(isTransientRpcError(error), true);
  assert.equal(server.seen(), 3);
});

test("test_backoffDelay_honoursRetryAfterAndJittersBelowTheCap", () => {
  const random = createRandom(7).next;
  const params = { retryDelayMs: 100, maxRetryDelayMs: 5_000, random };
  for (let attempt = 0; attempt < 8; attempt++) {
    const delay = backoffDelay({ attempt, ...params });
    assert.ok(delay >= 0 && delay <= Math.min(5_000, 100 * 2 ** attempt), `attempt ${attempt}: ${delay}`);
  }
  const delays = Array.from({ length: 20 }, () => backoffDelay({ attempt: 3, ...params }));
  assert.ok(new Set(delays).size > 15, "jittered");
  const seconds = backoffDelay({ attempt: 0, retryAfter: "2", ...params });
  assert.ok(seconds >= 2_000 && seconds <= 2_200, String(seconds));
  const now = Date.parse("2026-01-01T00:00:00Z");
  const date = backoffDelay({ attempt: 0, retryAfter: "Thu, 01 Jan 2026 00:00:03 GMT", now, ...params });
  assert.ok(date >= 3_000 && date <= 3_300, String(date));
  assert.equal(backoffDelay({ attempt: 0, retryAfter: "60", ...params }), 5_000);
  // A past date or garbage falls back to the backoff.
  assert.ok(backoffDelay({ attempt: 0, retryAfter: "yesterday", ...params }) < 100);
});
