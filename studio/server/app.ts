/**
 * The Studio's backend, a Hono app: the built single-page app, GET /api/config (what the browser needs to find the
 * chain, the contracts, the indexer and the content store) and POST /rpc, a JSON-RPC proxy to the chain so that an
 * RPC URL carrying a provider's key never reaches the browser. It never holds a user's key: signing methods are
 * forwarded only to a local chain (id 31337), whose node signs with Hardhat's unlocked test accounts (the
 * development wallet); on any other chain the browser's own wallet signs. /api/jobs is the Model Factory
 * (jobs.ts): training jobs run here, and their adapters are published with the user's wallet signature.
 */
import { serveStatic } from "@hono/node-server/serve-static";
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Deployment } from "../../scripts/lib/deployments.ts";
import { jobRoutes, type JobRunner } from "./jobs.ts";

export const LOCAL_CHAIN_ID = 31337;

/** Methods that sign with an account of the node: forwarded only to a local chain. */
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

/**
 * Forwards one JSON-RPC request (or a batch) to `rpcUrl`; a signing method on a chain that is not local is answered
 * with error 4200 (EIP-1193 "unsupported method") without reaching the node.
 */
export async function forwardRpc(
  { rpcUrl, local }: { rpcUrl: string; local: boolean },
  body: JsonRpcRequest | JsonRpcRequest[],
): Promise<unknown> {
  const requests = Array.isArray(body) ? body : [body];
  const refused = (request: JsonRpcRequest) =>
    typeof request.method !== "string" || (!local && signingMethods.has(request.method));
  const answers = new Map<JsonRpcRequest, unknown>();
  for (const request of requests.filter(refused)) {
    const method = typeof request.method === "string" ? request.method : "(none)";
    answers.set(request, rpcError(request, 4200, `${method} is not forwarded: sign with your own wallet`));
  }
  const forwarded = requests.filter((request) => !refused(request));
  if (forwarded.length > 0) {
    const response = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(Array.isArray(body) ? forwarded : forwarded[0]),
    });
    const answer = (await response.json()) as unknown;
    const list = Array.isArray(answer) ? answer : [answer];
    forwarded.forEach((request, i) => answers.set(request, list[i] ?? rpcError(request, -32603, "no answer")));
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

export function studioApp(options: StudioAppOptions): Hono {
  const config = studioConfigOf(options);
  const app = new Hono();
  app.get("/api/config", (c) => c.json(config));
  app.post("/rpc", bodyLimit({ maxSize: maxRpcBodyBytes }), async (c) => {
    let body: JsonRpcRequest | JsonRpcRequest[];
    try {
      body = await c.req.json();
    } catch {
      return c.json(rpcError({}, -32700, "parse error"), 400);
    }
    return c.json(await forwardRpc({ rpcUrl: options.rpcUrl, local: config.devWallet }, body));
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
