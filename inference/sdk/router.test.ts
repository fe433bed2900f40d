/**
 * Discovery end to end: a local chain with the suite, two operators each running a real worker
 * (inference/gateway/worker.ts, the generated tiny model), and an app configured with nothing but NodeRegistry's
 * address.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parse, validate, type GraphQLSchema } from "graphql";
import { getAddress, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { startService, type Service } from "../../scripts/lib/services.ts";
import {
  BASE_PRICE_PER_1K,
  generatedModel,
  keys,
  OPEN,
  startTestChain,
  type TestChain,
} from "../gateway/testSupport.ts";
import {
  DiscoveryError,
  discoverOperators,
  probeOperators,
  rankOperators,
  type Operator,
  type OperatorOffer,
} from "./index.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../..");
const base = 21_000 + (process.pid % 500) * 4;
const PORTS = { chain: base, workerA: base + 1, workerB: base + 2 };
const urls = { a: `http://127.0.0.1:${PORTS.workerA}`, b: `http://127.0.0.1:${PORTS.workerB}` };
/** Nothing listens there (the discard port). */
const closedUrl = "http://127.0.0.1:9";
/** Operator A (bob) charges less for the base model than B (carol), who has more stake. */
const PRICES = { a: BASE_PRICE_PER_1K - 10n ** 14n, b: BASE_PRICE_PER_1K };
const address = (key: Hex) => privateKeyToAccount(key).address;
const [bob, carol, mallory] = [address(keys.bob), address(keys.carol), address(keys.mallory)];

/** A process's children (Linux): a worker's engine. */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const running = (service: Service) => service.process.exitCode === null && service.process.signalCode === null;

/**
 * SIGKILLs a worker, then its engine: the worker, killed first, cannot restart it, and an engine stopped by a test
 * (SIGSTOP) would never see its input close.
 */
async function kill(service: Service) {
  if (!running(service)) return;
  const engines = childPids(service.process.pid!);
  const exited = new Promise((resolve) => service.process.once("exit", resolve));
  service.process.kill("SIGKILL");
  await exited;
  for (const pid of engines) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
}

/** A local HTTP server for fakes; `close` ends it and its connections. */
async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
const close = (server: Server) => {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(resolve));
};
const bodyOf = async (request: AsyncIterable<Buffer>) => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
};

/**
 * The real indexer's GraphQL schema, built from indexer/ponder.schema.ts by Ponder's own builder (its package
 * exports hide it: reached by file URL), so that a fake indexer refuses any query the real one would.
 */
async function indexerSchema(): Promise<GraphQLSchema> {
  const ponderGraphql = path.join(repoRoot, "node_modules/ponder/dist/esm/graphql/index.js");
  const { buildGraphQLSchema } = await import(pathToFileURL(ponderGraphql).href);
  const schema = await import(pathToFileURL(path.join(repoRoot, "indexer/ponder.schema.ts")).href);
  return buildGraphQLSchema({ schema });
}

describe("operator discovery and the Router, on a local chain with two real workers", () => {
  const model = generatedModel();
  let tc: TestChain;
  let dir: string;
  // Every process and server a test starts; `after` stops them whatever failed.
  const workers = new Map<string, Service>();
  const servers = new Set<Server>();

  const nodes = () => tc.contracts.NodeRegistry;
  const send = (key: Hex, functionName: string, args: unknown[]) =>
    tc.send(key, nodes(), "NodeRegistry", functionName, args);

  async function startWorker(name: "a" | "b", key: Hex, port: number, basePrice: bigint) {
    const url = `http://127.0.0.1:${port}`;
    const service = await startService({
      name: `worker ${name}`,
      command: process.execPath,
      args: [path.join(repoRoot, "inference/gateway/worker.ts")],
      cwd: repoRoot,
      env: {
        ...process.env,
        OPENPOA_DEPLOYMENTS_DIR: dir,
        OPENPOA_RPC_URL: tc.chain.url,
        OPENPOA_OPERATOR_KEY: key,
        OPENPOA_MODEL_DIR: model.modelDir,
        OPENPOA_ARTIFACT_STORE: model.artifactStore,
        OPENPOA_USAGE_LOG: path.join(dir, `${name}.sqlite`),
        OPENPOA_PORT: String(port),
        OPENPOA_BASE_PRICE: basePrice.toString(),
        // Settles every usage voucher it holds, soon.
        OPENPOA_SETTLE_MIN_AMOUNT: "1",
        OPENPOA_SETTLE_INTERVAL_MS: "200",
        OPENPOA_LOG_LEVEL: "warn",
      },
      ready: async () => (await fetch(`${url}/health`)).ok,
      timeoutMs: 180_000,
    });
    workers.set(name, service);
    return service;
  }

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "openpoa-router-"));
    tc = await startTestChain(PORTS.chain, model.adapterHashes);
    const contracts = Object.fromEntries(
      Object.entries(tc.contracts).map(([name, address]) => [name, { address, startBlock: 0 }]),
    );
    await writeFile(path.join(dir, "localhost.json"), JSON.stringify({ chainId: 31337, contracts }));
    // A: bob, registered by the test chain, moves to his worker's address (OperatorUpdated).
    await send(keys.bob, "update", [urls.a, [1n], bob]);
    // B: carol, with twice the stake.
    for (const key of [keys.carol, keys.mallory])
      await tc.send(key, tc.contracts.OpenToken, "OpenToken", "approve", [nodes(), 10n ** 30n]);
    await send(keys.carol, "register", [urls.b, [1n], carol, 20_000n * OPEN]);
    // Mallory: registered for the base model, but with less than the minimum stake, so not active.
    await send(keys.mallory, "register", [closedUrl, [1n], mallory, OPEN]);
    await Promise.all([
      startWorker("a", keys.bob, PORTS.workerA, PRICES.a),
      startWorker("b", keys.carol, PORTS.workerB, PRICES.b),
    ]);
  });
  after(async () => {
    await Promise.all([...workers.values()].map(kill));
    await Promise.all([...servers].map(close));
    await tc?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const expected: Operator[] = [
    { address: bob, endpoint: urls.a, signingKey: bob, bonded: 10_000n * OPEN },
    { address: carol, endpoint: urls.b, signingKey: carol, bonded: 20_000n * OPEN },
  ];
  const byAddress = (operators: Operator[]) => [...operators].sort((x, y) => x.address.localeCompare(y.address));

  it("test_discovery_findsTheActiveOperatorsOfABaseModelFromTheChain", async () => {
    const found = await discoverOperators(tc.client, { registry: nodes(), baseModelId: 1n, maxBlockRange: 7n });
    assert.deepEqual(byAddress(found), byAddress(expected));
    assert.deepEqual(await discoverOperators(tc.client, { registry: nodes(), baseModelId: 2n }), []);
  });

  it("test_discovery_confirmsWhatAStaleOrLyingIndexerSaysOnChain", async () => {
    const schema = await indexerSchema();
    const strangers = ["0x000000000000000000000000000000000000dEaD"];
    // Two pages: bob with another endpoint and key, an inactive and an unknown operator; then carol, bob again.
    const pages: Record<string, { items: object[]; next?: string }> = {
      first: {
        items: [
          { address: bob.toLowerCase(), endpoint: "http://evil.invalid", signingKey: mallory },
          { address: mallory.toLowerCase() },
          { address: strangers[0]! },
        ],
        next: "second",
      },
      second: { items: [{ address: carol.toLowerCase() }, { address: bob.toLowerCase() }] },
    };
    const asked: unknown[] = [];
    const indexer = await serve(async (request, response) => {
      const { query, variables } = JSON.parse(await bodyOf(request)) as {
        query: string;
        variables: { baseModelId: string; after?: string };
      };
      asked.push(variables);
      const errors = validate(schema, parse(query));
      const page = pages[variables.after ?? "first"]!;
      response.setHeader("content-type", "application/json");
      response.end(
        JSON.stringify(
          errors.length
            ? { errors: errors.map((e) => ({ message: e.message })) }
            : {
                data: {
                  operators: {
                    items: page.items,
                    pageInfo: { hasNextPage: page.next !== undefined, endCursor: page.next ?? null },
                  },
                },
              },
        ),
      );
    });
    servers.add(indexer.server);
    const found = await discoverOperators(tc.client, { registry: nodes(), baseModelId: 1n, indexerUrl: indexer.url });
    assert.deepEqual(byAddress(found), byAddress(expected));
    assert.deepEqual(asked, [{ baseModelId: "1" }, { baseModelId: "1", after: "second" }]);

    await assert.rejects(
      discoverOperators(tc.client, { registry: nodes(), baseModelId: 1n, indexerUrl: closedUrl }),
      (error: unknown) => error instanceof DiscoveryError && error.cause instanceof Error,
    );
  });

  it("test_probe_dropsTheUnhealthyAndRanksByPriceThenStake", async () => {
    const offers = await probeOperators([...expected, { ...expected[0]!, address: mallory, endpoint: closedUrl }]);
    assert.deepEqual(offers.map((o) => o.address).sort(), [bob, carol].sort());
    const priceOf = (who: Address, id: string) => offers.find((o) => o.address === who)!.prices.get(id);
    assert.deepEqual([priceOf(bob, "0"), priceOf(carol, "0")], [PRICES.a, PRICES.b]);
    // The base model: A is cheaper. An adapter (the same price everywhere): B has the stake.
    assert.deepEqual(
      rankOperators(offers, "0").map((o) => o.address),
      [bob, carol],
    );
    assert.deepEqual(
      rankOperators(offers, "1").map((o) => o.address),
      [carol, bob],
    );
    assert.deepEqual(rankOperators(offers, "99"), []);
    // Equal price and stake: by address, whatever the order given.
    const twin = (address: Address): OperatorOffer => ({ ...offers[0]!, address });
    const twins = [twin(getAddress(carol)), twin(getAddress(bob))];
    assert.deepEqual(
      rankOperators(twins, "0").map((o) => o.address),
      [carol, bob].sort((x, y) => x.localeCompare(y)),
    );
  });
});
