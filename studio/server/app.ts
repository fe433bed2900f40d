/**
 * The Studio's backend, a Hono app: the built single-page app, GET /api/config (what the browser needs to find the
 * chain, the contracts, the indexer and the content store) and POST /rpc, a JSON-RPC proxy to the chain so that an
 * RPC URL carrying a provider's key never reaches the browser. It never holds a user's key: signing methods are
 * forwarded only to a local chain (id 31337), whose node signs with Hardhat's unlocked test accounts (the
 * development wallet); on any other chain the browser's own wallet signs. /api/jobs is the Model Factory
 * (jobs.ts): training jobs run here, and their adapters are published with the user's wallet signature. Only the
 * Studio's own pages may use /rpc and /api/* (sameOriginOnly), never another site open in the same browser.
 */
import { serveStatic } from "@hono/node-server/serve-static";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Deployment } from "../../scripts/lib/deployments.ts";
import { jobRoutes, type JobRunner } from "./jobs.ts";

export const LOCAL_CHAIN_ID = 31337;

/**
 * Read-only methods, forwarded on every chain: what viem and wagmi call to read, estimate, prepare and follow a
 * transaction, and to broadcast one the user's own wallet signed. Anything else (admin namespaces such as hardhat_*,
 * evm_*, debug_*, filters kept on the node) is refused: the app does not call it.
 */
export const readMethods: ReadonlySet<string> = new Set([
  "eth_blobBaseFee",
  "eth_blockNumber",
  "eth_call",
  "eth_chainId",
  "eth_createAccessList",
  "eth_estimateGas",
  "eth_feeHistory",
  "eth_fillTransaction",
  "eth_gasPrice",
  "eth_getBalance",
  "eth_getBlockByHash",
  "eth_getBlockByNumber",
  "eth_getBlockReceipts",
  "eth_getBlockTransactionCountByHash",
  "eth_getBlockTransactionCountByNumber",
  "eth_getCode",
  "eth_getLogs",
  "eth_getProof",
  "eth_getStorageAt",
  "eth_getTransactionByBlockHashAndIndex",
  "eth_getTransactionByBlockNumberAndIndex",
  "eth_getTransactionByHash",
  "eth_getTransactionCount",
  "eth_getTransactionReceipt",
  "eth_maxPriorityFeePerGas",
  "eth_sendRawTransaction",
  "net_version",
  "web3_clientVersion",
]);

/** Methods that sign with an account of the node (the development wallet): forwarded only to a local chain. */
export const signingMethods: ReadonlySet<string> = new Set([
  "eth_accounts",
  "eth_requestAccounts",
  "eth_sendTransaction",
  "eth_sign",
  "eth_signTransaction",
  "eth_signTypedData",
  "eth_signTypedData_v4",
  "personal_sign",
]);

/** Most requests in one JSON-RPC batch (viem batches a few; a page never needs more). */
export const maxRpcBatch = 100;

/** What GET /api/config answers; app/src/config.ts reads it. */
export type StudioConfig = {
  network: string;
  chainId: number;
  /** Where the browser sends JSON-RPC: this backend's proxy. */
  rpcPath: "/rpc";
  contracts: Deployment["contracts"];
  indexerUrl: string;
  contentUrl: string;
  /** Whether the development wallet (the node's unlocked accounts through /rpc) is offered: local chains only. */
  devWallet: boolean;
};

export type StudioAppOptions = {
  network: string;
  deployment: Deployment;
  rpcUrl: string;
  indexerUrl: string;
  contentUrl: string;
  /** The built app (studio/dist). */
  distDir: string;
  /**
   * The origins the Studio's pages are served from (scheme://host:port): the address it listens on, and the public
   * one behind a proxy (OPENPOA_STUDIO_ORIGIN). /rpc and /api/* answer only requests from these (sameOriginOnly).
   */
  origins: readonly string[];
  /** The Model Factory's job runner, served under /api/jobs. */
  jobs?: JobRunner;
};

type JsonRpcRequest = { jsonrpc?: string; id?: unknown; method?: unknown; params?: unknown };

/** A JSON-RPC error answer for `request`, in the shape a wallet library expects. */
const rpcError = (request: JsonRpcRequest, code: number, message: string) => ({
  jsonrpc: "2.0",
  id: request.id ?? null,
  error: { code, message },
});

/** Largest JSON-RPC body the proxy forwards (a batch of calls, a transaction with calldata). */
const maxRpcBodyBytes = 1 << 20;

export function studioConfigOf(options: StudioAppOptions): StudioConfig {
  return {
    network: options.network,
    chainId: options.deployment.chainId,
    rpcPath: "/rpc",
    contracts: options.deployment.contracts,
    indexerUrl: options.indexerUrl,
    contentUrl: options.contentUrl,
    devWallet: options.deployment.chainId === LOCAL_CHAIN_ID,
  };
}

/** A /rpc request the proxy answers itself: `answer` (a JSON-RPC error) with HTTP `status`. */
export class RpcProxyError extends Error {
  readonly status: 400 | 502;
  readonly answer: ReturnType<typeof rpcError>;
  constructor(status: RpcProxyError["status"], code: number, message: string, id: unknown = null) {
    super(message);
    this.name = "RpcProxyError";
    this.status = status;
    this.answer = rpcError({ id }, code, message);
  }
}

const isObject = (value: unknown): value is JsonRpcRequest =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The JSON-RPC error answering `request` when the proxy does not forward it, or undefined when it does. */
function refusalOf(request: JsonRpcRequest, local: boolean) {
  const { method } = request;
  if (typeof method !== "string") return rpcError(request, -32600, "invalid request: a request names its method");
  if (readMethods.has(method) || (local && signingMethods.has(method))) return undefined;
  if (signingMethods.has(method))
    return rpcError(request, 4200, `${method} is not forwarded: sign with your own wallet`);
  // What a node answers for a method it does not serve, so that a library falls back as it would there.
  return rpcError(request, -32601, `${method} is not available through the Studio`);
}

/**
 * Forwards one JSON-RPC request (or a batch) to `rpcUrl`. Read methods go to any chain, signing methods only to a
 * local one (elsewhere error 4200, EIP-1193 "unsupported method"); any other method is answered with error -32601
 * ("method not found") without reaching the node.
 * Throws RpcProxyError for a body that is not a request or a batch of at most maxRpcBatch requests (400), and for a
 * node that cannot be reached or does not answer JSON (502).
 */
export async function forwardRpc(
  { rpcUrl, local }: { rpcUrl: string; local: boolean },
  body: unknown,
): Promise<unknown> {
  const requests = Array.isArray(body) ? body : [body];
  if (requests.length === 0 || !requests.every(isObject))
    throw new RpcProxyError(400, -32600, "invalid request: a JSON-RPC request object or a batch of them");
  if (requests.length > maxRpcBatch)
    throw new RpcProxyError(400, -32600, `a batch of ${requests.length} requests: at most ${maxRpcBatch}`);
  const answers = new Map<JsonRpcRequest, unknown>();
  for (const request of requests) {
    const refusal = refusalOf(request, local);
    if (refusal) answers.set(request, refusal);
  }
  const forwarded = requests.filter((request) => !answers.has(request));
  if (forwarded.length > 0) {
    const id = Array.isArray(body) ? null : (requests[0]!.id ?? null);
    const answer = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(Array.isArray(body) ? forwarded : forwarded[0]),
    })
      .then((response) => response.json() as Promise<unknown>)
      .catch((error: unknown) => {
        throw new RpcProxyError(502, -32603, `the chain's RPC did not answer: ${(error as Error).message}`, id);
      });
    // A node may answer a batch in any order (JSON-RPC 2.0): match each answer to its request by id.
    const byId = new Map<string, unknown[]>();
    for (const one of Array.isArray(answer) ? answer : [answer]) {
      if (!isObject(one)) continue;
      const key = JSON.stringify(one.id ?? null);
      byId.set(key, [...(byId.get(key) ?? []), one]);
    }
    for (const request of forwarded)
      answers.set(
        request,
        byId.get(JSON.stringify(request.id ?? null))?.shift() ?? rpcError(request, -32603, "no answer"),
      );
  }
  const ordered = requests.map((request) => answers.get(request));
  return Array.isArray(body) ? ordered : ordered[0];
}

/**
 * The app's index.html with `config` inlined where it marks the place, so that the first render needs no round trip
 * for it (app/src/config.ts reads it, and falls back to GET /api/config under Vite's dev server).
 */
export function shellWithConfig(html: string, config: StudioConfig): string {
  // JSON inside <script> must not close it: escape every "<".
  const json = JSON.stringify(config).replace(/</g, "\\u003c");
  return html.replace("<!--openpoa-config-->", `<script id="openpoa-config" type="application/json">${json}</script>`);
}

/**
 * Guards /rpc and /api/*, which act with the Studio's means (the development wallet's accounts, the RPC URL's key,
 * the Model Factory), against other web pages a visitor's browser has open: a request carrying an Origin header
 * that is not one of `origins` is refused (403), as is one whose Host is none of theirs (a DNS rebinding page
 * reaches a local Studio under its own name), and a POST body must be JSON (415): a cross-origin page can send a
 * text/plain or form body without asking first, never an application/json one.
 */
export function sameOriginOnly(origins: readonly string[]): MiddlewareHandler {
  const allowed = new Set(origins.map((origin) => new URL(origin).origin));
  const hosts = new Set(origins.map((origin) => new URL(origin).host));
  const refuse = (c: Context, status: 403 | 415, code: string, message: string) =>
    c.json({ error: { code, message } }, status);
  return async (c, next) => {
    const origin = c.req.header("origin");
    if (origin !== undefined && !allowed.has(origin))
      return refuse(c, 403, "cross_origin", `a page from ${origin} may not use the Studio's ${c.req.path}`);
    // node-server builds the request's URL from its Host header.
    const host = new URL(c.req.url).host;
    if (!hosts.has(host))
      return refuse(c, 403, "cross_origin", `the Studio is not served as ${host}: set OPENPOA_STUDIO_ORIGIN`);
    const type = c.req.header("content-type")?.split(";")[0]!.trim().toLowerCase();
    if (c.req.method === "POST" && type !== "application/json")
      return refuse(c, 415, "unsupported_media_type", "the body must be sent as content-type: application/json");
    await next();
  };
}

export function studioApp(options: StudioAppOptions): Hono {
  const config = studioConfigOf(options);
  const app = new Hono();
  const guard = sameOriginOnly(options.origins);
  app.use("/rpc", guard);
  app.use("/api/*", guard);
  app.get("/api/config", (c) => c.json(config));
  app.post("/rpc", bodyLimit({ maxSize: maxRpcBodyBytes }), async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return c.json(rpcError({}, -32700, "parse error"), 400);
    }
    try {
      return c.json(await forwardRpc({ rpcUrl: options.rpcUrl, local: config.devWallet }, body));
    } catch (error) {
      if (error instanceof RpcProxyError) return c.json(error.answer, error.status);
      throw error;
    }
  });
  if (options.jobs) app.route("/api/jobs", jobRoutes(options.jobs));
  const root = path.relative(process.cwd(), options.distDir) || ".";
  const shell = shellWithConfig(readFileSync(path.join(options.distDir, "index.html"), "utf8"), config);
  const serveShell = (c: Context) => c.html(shell, 200, { "cache-control": "no-cache" });
  app.get("/", serveShell);
  // Hashed bundles never change under their name; index.html must be read fresh.
  app.use("/assets/*", async (c, next) => {
    await next();
    if (c.res.ok) c.header("cache-control", "public, max-age=31536000, immutable");
  });
  app.use("*", serveStatic({ root }));
  // A client-side route (e.g. /datanets/3) reloaded: the app shell, which routes it. A missing file stays a 404.
  app.get("*", (c) => (/\.[a-z0-9]+$/i.test(c.req.path) ? c.notFound() : serveShell(c)));
  return app;
}
