/**
 * A JSON-RPC proxy that behaves like a public provider in front of a node that answers everything (`hardhat node`):
 * it prunes old state, caps eth_getLogs, rate-limits and drops requests, and counts what each component asked for.
 * Tests put it between the code and the chain to prove that every reader and writer survives such a provider.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { keccak256, toHex } from "viem";
import { createRandom } from "../../attribution/src/testing.ts";

/** How a request is dropped: a 503, or a reset connection before or after the node got it. */
export type DropKind = "http503" | "resetBeforeForward" | "resetAfterForward";
/** Why a call is refused: state older than the window, a log query too wide or too large, or the rate limit. */
export type RefusalKind = "stateTooOld" | "logBlockRange" | "logResults" | "rateLimited";
export const dropKinds: readonly DropKind[] = ["http503", "resetBeforeForward", "resetAfterForward"];

export type CallCounts = {
  calls: number;
  /** Calls that repeat (same method and parameters) one that the proxy failed for the same component. */
  retries: number;
  refused: Partial<Record<RefusalKind, number>>;
  dropped: Partial<Record<DropKind, number>>;
};
export type ComponentStats = CallCounts & { methods: Record<string, CallCounts> };

export type ProviderProxyOptions = {
  /** The node's JSON-RPC URL. */
  upstream: string;
  /** Default: any free port. */
  port?: number;
  /** Seeds the choice of dropped requests and how they are dropped. */
  seed: number;
  /** State queries at a block more than this many blocks below the head fail with "missing trie node". */
  stateWindowBlocks?: number;
  /**
   * eth_getLogs whose toBlock − fromBlock exceeds this fails: the rule of the geth forks (and publicnode) whose words
   * the refusal uses, and what clients that read the cap from those words (Ponder) assume.
   */
  maxLogBlockRange?: number;
  /** eth_getLogs returning more logs than this fails. */
  maxLogResults?: number;
  /** Per component (each is its own API key); calls in a batch count one each. Default: no limit. */
  maxRequestsPerSecond?: number;
  /** Sent with each 429; 0 sends none. */
  retryAfterSeconds?: number;
  /** The fraction of HTTP requests dropped, each in one of `dropKinds`. */
  dropRate?: number;
  dropKinds?: readonly DropKind[];
  /** The rate limiter's clock (ms). */
  now?: () => number;
};

export type ProviderProxy = {
  url: string;
  /** The URL a component uses: a path prefix that the proxy strips and counts by. */
  urlFor(component: string): string;
  /** Drops the next request with a call to `method` (of `component`, if named) as `kind`, whatever the seed. */
  failNext(failure: { method: string; kind: DropKind; component?: string }): void;
  stats(): Record<string, ComponentStats>;
  close(): Promise<void>;
};

type Call = { jsonrpc?: string; id?: unknown; method: string; params?: unknown[] };
type RpcError = { code: number; message: string };
type Answer = { jsonrpc: "2.0"; id: unknown; result?: unknown; error?: RpcError };

/** The block parameter's position in each state query that takes one (providers prune what is behind it). */
const stateBlockParam: Record<string, number> = {
  eth_call: 1,
  eth_getBalance: 1,
  eth_getCode: 1,
  eth_getStorageAt: 2,
  eth_getTransactionCount: 1,
  eth_estimateGas: 1,
  eth_getProof: 2,
};

// The words and codes that providers answer with: geth's pruned state, publicnode's range cap, Infura's result cap.
const refusals = {
  stateTooOld: (block: bigint): RpcError => {
    const node = keccak256(toHex(block));
    return { code: -32000, message: `missing trie node ${node.slice(2)} (path ) state ${node} is not available` };
  },
  logBlockRange: (max: number): RpcError => ({ code: -32000, message: `exceed maximum block range: ${max}` }),
  logResults: (max: number): RpcError => ({ code: -32005, message: `query returned more than ${max} results` }),
};

export class ProviderProxyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ProviderProxyError";
  }
}

export async function startProviderProxy({
  upstream,
  port = 0,
  seed,
  stateWindowBlocks = 128,
  maxLogBlockRange = 1000,
  maxLogResults = 10_000,
  maxRequestsPerSecond = Infinity,
  retryAfterSeconds = 1,
  dropRate = 0,
  dropKinds: kinds = dropKinds,
  now = Date.now,
}: ProviderProxyOptions): Promise<ProviderProxy> {
  const random = createRandom(seed);
  const scripted: { method: string; kind: DropKind; component?: string }[] = [];
  const stats: Record<string, ComponentStats> = {};
  const failed = new Map<string, Set<string>>();
  const buckets = new Map<string, { tokens: number; at: number }>();

  const empty = (): CallCounts => ({ calls: 0, retries: 0, refused: {}, dropped: {} });
  const countersOf = (component: string, method: string) => {
    const all = (stats[component] ??= { ...empty(), methods: {} });
    return [all, (all.methods[method] ??= empty())];
  };
  const keyOf = (call: Call) => `${call.method}:${JSON.stringify(call.params ?? [])}`;
  const arrived = (component: string, call: Call) => {
    const retried = failed.get(component)?.delete(keyOf(call)) ?? false;
    for (const counts of countersOf(component, call.method)) {
      counts.calls++;
      if (retried) counts.retries++;
    }
  };
  const fail = (component: string, call: Call, how: { refused: RefusalKind } | { dropped: DropKind }) => {
    if (!failed.has(component)) failed.set(component, new Set());
    failed.get(component)!.add(keyOf(call));
    for (const counts of countersOf(component, call.method)) {
      if ("refused" in how) counts.refused[how.refused] = (counts.refused[how.refused] ?? 0) + 1;
      else counts.dropped[how.dropped] = (counts.dropped[how.dropped] ?? 0) + 1;
    }
  };

  // A token bucket: bursts up to one second's worth, refilled continuously.
  const admit = (component: string, cost: number) => {
    if (!Number.isFinite(maxRequestsPerSecond)) return true;
    const at = now();
    const bucket = buckets.get(component) ?? { tokens: maxRequestsPerSecond, at };
    bucket.tokens = Math.min(maxRequestsPerSecond, bucket.tokens + ((at - bucket.at) * maxRequestsPerSecond) / 1000);
    bucket.at = at;
    buckets.set(component, bucket);
    if (bucket.tokens < Math.min(cost, maxRequestsPerSecond)) return false;
    bucket.tokens -= cost;
    return true;
  };

  const dropFor = (component: string, calls: Call[]): DropKind | undefined => {
    const i = scripted.findIndex(
      (s) => (s.component === undefined || s.component === component) && calls.some((c) => c.method === s.method),
    );
    if (i >= 0) return scripted.splice(i, 1)[0]!.kind;
    return random.next() < dropRate ? random.pick(kinds) : undefined;
  };

  const forward = async (call: Call): Promise<Answer> => {
    const response = await fetch(upstream, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: call.id ?? null, method: call.method, params: call.params ?? [] }),
    });
    return (await response.json()) as Answer;
  };
  const upstreamResult = async <T>(method: string, params: unknown[]): Promise<T> => {
    const answer = await forward({ id: 0, method, params });
    if (answer.error) throw new ProviderProxyError(`${method} failed upstream: ${answer.error.message}`);
    return answer.result as T;
  };

  /** Answers one call as a pruning, capping provider would; `head` is read once per HTTP request. */
  const answer = async (call: Call, head: () => Promise<bigint>): Promise<[Answer, RefusalKind?]> => {
    const refuse = (kind: RefusalKind, error: RpcError): [Answer, RefusalKind] => [
      { jsonrpc: "2.0", id: call.id ?? null, error },
      kind,
    ];
    const blockOf = async (tag: unknown): Promise<bigint | undefined> => {
      if (tag === undefined || tag === null) return undefined;
      if (typeof tag === "object") {
        const { blockNumber, blockHash } = tag as { blockNumber?: string; blockHash?: string };
        if (blockNumber !== undefined) return blockOf(blockNumber);
        if (blockHash === undefined) return undefined;
        const block = await upstreamResult<{ number: string } | null>("eth_getBlockByHash", [blockHash, false]);
        return block ? BigInt(block.number) : undefined;
      }
      if (tag === "earliest") return 0n;
      if (typeof tag === "string" && tag.startsWith("0x")) return BigInt(tag);
      return undefined; // latest, pending, safe, finalized: recent enough
    };
    const params = call.params ?? [];
    const stateParam = stateBlockParam[call.method];
    if (stateParam !== undefined) {
      const block = await blockOf(params[stateParam]);
      if (block !== undefined && (await head()) - block > BigInt(stateWindowBlocks))
        return refuse("stateTooOld", refusals.stateTooOld(block));
    }
    if (call.method === "eth_getLogs") {
      const filter = (params[0] ?? {}) as { fromBlock?: unknown; toBlock?: unknown; blockHash?: string };
      if (filter.blockHash === undefined) {
        const from = (await blockOf(filter.fromBlock ?? "latest")) ?? (await head());
        const to = (await blockOf(filter.toBlock ?? "latest")) ?? (await head());
        if (to - from > BigInt(maxLogBlockRange))
          return refuse("logBlockRange", refusals.logBlockRange(maxLogBlockRange));
      }
      const logs = await forward(call);
      if (Array.isArray(logs.result) && logs.result.length > maxLogResults)
        return refuse("logResults", refusals.logResults(maxLogResults));
      return [logs];
    }
    return [await forward(call)];
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const component = decodeURIComponent(new URL(request.url ?? "/", "http://proxy").pathname.split("/")[1] ?? "");
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { "content-type": "application/json", ...headers });
      response.end(JSON.stringify(body));
    };
    let parsed: Call | Call[];
    try {
      parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return send(400, { jsonrpc: "2.0", id: null, error: { code: -32700, message: "parse error" } });
    }
    const calls = Array.isArray(parsed) ? parsed : [parsed];
    const name = component || "default";
    for (const call of calls) arrived(name, call);

    if (!admit(name, calls.length)) {
      for (const call of calls) fail(name, call, { refused: "rateLimited" });
      const headers: Record<string, string> = retryAfterSeconds > 0 ? { "retry-after": String(retryAfterSeconds) } : {};
      return send(
        429,
        { jsonrpc: "2.0", id: calls[0]?.id ?? null, error: { code: 429, message: "Too Many Requests" } },
        headers,
      );
    }
    const drop = dropFor(name, calls);
    const dropped = () => calls.forEach((call) => fail(name, call, { dropped: drop! }));
    if (drop === "http503") {
      dropped();
      response.writeHead(503, { "content-type": "text/plain" });
      return response.end("Service Unavailable");
    }
    if (drop === "resetBeforeForward") {
      dropped();
      return request.socket.destroy();
    }
    let headBlock: Promise<bigint> | undefined;
    const head = () => (headBlock ??= upstreamResult<string>("eth_blockNumber", []).then(BigInt));
    const answers = await Promise.all(calls.map((call) => answer(call, head)));
    if (drop === "resetAfterForward") {
      dropped();
      return request.socket.destroy();
    }
    answers.forEach(([, refused], i) => refused && fail(name, calls[i]!, { refused }));
    send(200, Array.isArray(parsed) ? answers.map(([a]) => a) : answers[0]![0]);
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      // The node itself failed (or went away): a provider answers 502.
      if (!response.headersSent) response.writeHead(502, { "content-type": "text/plain" });
      response.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    urlFor: (component) => `${url}/${encodeURIComponent(component)}`,
    failNext: (failure) => void scripted.push(failure),
    stats: () => structuredClone(stats),
    async close() {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await closed;
    },
  };
}
