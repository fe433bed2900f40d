/**
 * The content store's HTTP service (store/README.md): GET and HEAD serve objects (reads.ts), PUT stores them
 * (writes.ts); every refusal is a JSON error {"error":{"code","message"}}. Plain node:http: the read path is a file
 * streamed to a socket, and nothing should stand between the two.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { storeHeaders } from "../attribution/src/storeAuth.ts";
import { jsonLogger, type Logger } from "../inference/gateway/log.ts";
import { StoreError } from "./errors.ts";
import { defaultSizeLimits, type SizeLimits } from "./limits.ts";
import { ObjectDirectory } from "./objects.ts";
import type { WritePolicy } from "./policy.ts";
import { serveObject } from "./reads.ts";
import { storeObject, type WriteContext } from "./writes.ts";

export type StoreServerConfig = {
  dir: string;
  port: number;
  host?: string;
  policy: WritePolicy;
  /** Per kind, replacing the defaults in limits.ts. */
  limits?: Partial<SizeLimits>;
  log?: Logger;
};

export type StoreServer = { url: string; port: number; close(): Promise<void> };

/** A stalled connection (an upload that stopped sending, a reader that stopped reading) is dropped after this. */
const idleTimeoutMs = 120_000;

/** A refused upload's unread body up to this size is read out, keeping the connection; a longer one is cut off. */
const drainableBytes = 1024 * 1024;

type Context = WriteContext & { log: Logger };

/**
 * Browsers (the Studio) read and write the store from any origin: it sets no cookies and every write carries its own
 * signature, so there is nothing an origin check would protect.
 */
const corsHeaders = {
  "access-control-allow-origin": "*",
  "access-control-expose-headers": "etag, location, content-length, content-range, accept-ranges",
};
const preflightHeaders = {
  "access-control-allow-methods": "GET, HEAD, PUT",
  "access-control-allow-headers": ["content-type", "range", "if-none-match", ...Object.values(storeHeaders)].join(", "),
  "access-control-max-age": "86400",
};

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
}

/**
 * Whether answering now must close the connection: a body not all read is still on the wire. Node reads out an
 * untouched short one itself; one partly read, chunked or long would be read for nothing, so it is cut off.
 */
function mustClose(request: IncomingMessage): boolean {
  if (request.complete) return false;
  const length = Number(request.headers["content-length"]);
  return request.readableDidRead || !(length <= drainableBytes);
}

function fail({ log }: Context, request: IncomingMessage, response: ServerResponse, error: unknown) {
  const fields = { method: request.method, path: request.url };
  if (response.headersSent) {
    // Mid-download: the client went away, or the disk failed under the stream. Nothing more can be said to it.
    log("debug", "response cut short", { ...fields, error: String(error) });
    response.destroy();
    return;
  }
  const refusal =
    error instanceof StoreError ? error : new StoreError(500, "internal", "the store failed to handle the request");
  if (refusal.status >= 500) log("error", "request failed", { ...fields, code: refusal.code, error: String(error) });
  else if (request.method === "PUT") log("info", "write refused", { ...fields, code: refusal.code });
  sendJson(response, refusal.status, refusal, {
    ...refusal.headers,
    ...(mustClose(request) && { connection: "close" }),
  });
}

async function route(context: Context, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = request.url ?? "/";
  const query = url.indexOf("?");
  const name = url.slice(1, query === -1 ? undefined : query);
  switch (request.method) {
    case "GET":
    case "HEAD":
      return serveObject(context.objects, name, request, response);
    case "OPTIONS":
      response.writeHead(204, preflightHeaders).end();
      return;
    case "PUT": {
      const stored = await storeObject(context, name, request);
      sendJson(response, stored.created ? 201 : 200, stored, { etag: `"${name}"`, location: `/${name}` });
      context.log("info", stored.created ? "object stored" : "object already stored", stored);
      return;
    }
    default:
      throw new StoreError(405, "method_not_allowed", `${request.method} is not GET, HEAD, PUT or OPTIONS`, {
        headers: { allow: "GET, HEAD, PUT, OPTIONS" },
      });
  }
}

export async function startStoreServer(config: StoreServerConfig): Promise<StoreServer> {
  const objects = new ObjectDirectory(config.dir);
  await objects.open();
  const context: Context = {
    objects,
    policy: config.policy,
    limits: { ...defaultSizeLimits, ...config.limits },
    log: config.log ?? jsonLogger(),
  };
  // No overall request timeout: a 64 GiB artifact takes as long as it takes; a stalled one hits the idle timeout.
  const server = createServer({ requestTimeout: 0 }, (request, response) => {
    for (const [name, value] of Object.entries(corsHeaders)) response.setHeader(name, value);
    route(context, request, response).catch((error: unknown) => fail(context, request, response, error));
  });
  server.setTimeout(idleTimeoutMs);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host ?? "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host ?? "127.0.0.1";
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
