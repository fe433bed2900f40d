/**
 * The one HTTP transport every component uses to reach a chain through a public provider, which rate-limits and
 * drops requests.
 *
 * viem's `http()` already retries (3 times, 150·2^n ms apart) on connection errors and on 408/429/5xx, and honours
 * Retry-After. What it lacks, and this adds: jitter (clients refused together would otherwise come back together),
 * a cap on the delay, a timeout per attempt rather than one for all attempts together, and telling a rate limit
 * from a refusal under the same code: viem retries every -32005 and -32603, so Infura's "query returned more than
 * 10000 results" (-32005, like its "request rate exceeded") is asked again, with backoff, before the caller may
 * split the query.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { http, type HttpTransport } from "viem";
import { backoffDelay, isRateLimitError, transientStatuses } from "../../inference/sdk/rpc.ts";

// Defined in the SDK, whose chunked log reader (inference/sdk/logs.ts) needs it and cannot import from scripts/.
export { backoffDelay };

export type RpcTransportOptions = {
  /** Retries after the first attempt. */
  retryCount?: number;
  /** The backoff's base: the n-th retry waits up to retryDelayMs·2^n (full jitter). */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** A request that has not answered by then is abandoned and retried. */
  attemptTimeoutMs?: number;
  /** The jitter's source (tests pass a seeded one). */
  random?: () => number;
};

/** Whether a response answers "ask again later": a transient status, or a single JSON-RPC rate-limit error. */
function asksAgain(status: number, body: string): boolean {
  if (transientStatuses.has(status)) return true;
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    return parsed.error !== undefined && isRateLimitError(parsed.error);
  } catch {
    return false;
  }
}

/**
 * viem's `http(url)` with the retries done by its fetch: each attempt has its own timeout and reads the whole body,
 * so a rate limit sent in a JSON-RPC body (HTTP 200) is retried as a 429 is. Re-sending eth_sendRawTransaction is
 * safe: the same signed bytes are the same transaction (inference/sdk/rpc.ts checks what became of it).
 */
export function rpcTransport(url: string, options: RpcTransportOptions = {}): HttpTransport {
  // viem's own retries and its timeout over all attempts are off: the fetch does both, per attempt.
  return http(url, { fetchFn: retryingFetch(options), retryCount: 0, timeout: 0 });
}

/** A `fetch` that retries what a busy or flaky provider answers (see rpcTransport), each attempt with its timeout. */
export function retryingFetch({
  retryCount = 6,
  retryDelayMs = 200,
  maxRetryDelayMs = 10_000,
  attemptTimeoutMs = 15_000,
  random = Math.random,
}: RpcTransportOptions = {}): (input: string | URL | Request, init?: RequestInit) => Promise<Response> {
  return async (input, init) => {
    for (let attempt = 0; ; attempt++) {
      let retryAfter: string | null = null;
      try {
        const signal = AbortSignal.any([init?.signal, AbortSignal.timeout(attemptTimeoutMs)].filter((s) => !!s));
        const response = await fetch(input, { ...init, signal });
        const body = await response.text();
        if (attempt >= retryCount || !asksAgain(response.status, body)) {
          return new Response(body, {
            status: response.status,
            statusText: response.statusText,
            headers: response.headers,
          });
        }
        retryAfter = response.headers.get("retry-after");
      } catch (error) {
        // The caller's own abort ends it; a reset connection or an attempt's timeout is tried again.
        if (init?.signal?.aborted || attempt >= retryCount) throw error;
      }
      const delay = backoffDelay({ attempt, retryAfter, retryDelayMs, maxRetryDelayMs, random });
      await sleep(delay, undefined, { signal: init?.signal ?? undefined });
    }
  };
}

/**
 * A local JSON-RPC relay in front of `upstream` that retries as rpcTransport does, for clients that cannot take a
 * transport of ours (Hardhat's network provider, which Ignition deploys through, gives up on the first dropped
 * request). Only for clients that sign locally: eth_sendTransaction (signed by the node) is refused, since asking
 * again could send a second transaction.
 */
export async function startRetryingRelay(upstream: string, options: RpcTransportOptions = {}) {
  const forward = retryingFetch(options);
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    if (/"eth_sendTransaction"/.test(body)) {
      response.writeHead(400, { "content-type": "application/json" });
      response.end(
        JSON.stringify({
          jsonrpc: "2.0",
          id: null,
          error: { code: -32601, message: "sign locally: eth_sendTransaction is not relayed" },
        }),
      );
      return;
    }
    try {
      const answer = await forward(upstream, { method: "POST", headers: { "content-type": "application/json" }, body });
      response.writeHead(answer.status, { "content-type": "application/json" });
      response.end(await answer.text());
    } catch (error) {
      response.writeHead(502, { "content-type": "application/json" });
      response.end(
        JSON.stringify({
          jsonrpc: "2.0",
          id: null,
          error: { code: -32603, message: `upstream unreachable: ${String(error)}` },
        }),
      );
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
