/**
 * Discovery and the Router end to end: a local chain with the suite, two operators each running a real worker
 * (inference/gateway/worker.ts, the generated tiny model), and an app configured with nothing but NodeRegistry's
 * address. It finds both, pays the cheaper one, loses it to a SIGKILL in the middle of two requests, goes on with
 * the other, and in the end every receipt it holds is paid exactly once.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, Server } from "node:http";
import {
  connect,
  createServer as createNetServer,
  type AddressInfo,
  type Server as NetServer,
  type Socket,
} from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parse, validate, type GraphQLSchema } from "graphql";
import OpenAI from "openai";
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
  Router,
  RouterError,
  type Operator,
  type OperatorOffer,
} from "./index.ts";
import { abiOf } from "./abis.ts";

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

/** Polls `done` until it holds; generous, since it waits for a loaded machine, it does not time it. */
async function waitUntil(what: string, done: () => Promise<boolean>, timeoutMs = 180_000) {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    if (await done()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting until ${what}`);
}

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

/** A local HTTP server for fakes. */
async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
/** Ends a server (HTTP or TCP) and every connection it holds open. */
function close(server: NetServer, sockets: Iterable<Socket> = []) {
  for (const socket of sockets) socket.destroy();
  if (server instanceof Server) server.closeAllConnections();
  return new Promise((resolve) => server.close(resolve));
}
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
  const servers = new Set<() => Promise<unknown>>();

  const nodes = () => tc.contracts.NodeRegistry;
  const send = (key: Hex, functionName: string, args: unknown[]) =>
    tc.send(key, nodes(), "NodeRegistry", functionName, args);
  const channelOf = (channelId: bigint) =>
    tc.read("InferencePayments", tc.contracts.InferencePayments, "getChannel", [channelId]) as Promise<{
      deposit: bigint;
      settled: bigint;
    }>;
  const routerFor = (options: Partial<ConstructorParameters<typeof Router>[0]> = {}) =>
    new Router({
      wallet: tc.walletOf(keys.alice),
      client: tc.client,
      payments: tc.contracts.InferencePayments,
      token: tc.contracts.OpenToken,
      deposit: { amount: 100n * OPEN },
      discovery: { registry: nodes(), baseModelId: 1n },
      // Long enough that an operator that stopped answering is never tried again within a test.
      downForMs: 3_600_000,
      ...options,
    });
  const openaiFor = (router: Router) =>
    new OpenAI({ baseURL: router.baseURL, apiKey: "unused", fetch: router.fetch, maxRetries: 0 });

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
        OPENPOA_ARTIFACT_CACHE_DIR: path.join(dir, `${name}-artifacts`),
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
    tc = await startTestChain(PORTS.chain, model);
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
    // Both settled before going on, so that `after` knows every worker that started.
    const started = await Promise.allSettled([
      startWorker("a", keys.bob, PORTS.workerA, PRICES.a),
      startWorker("b", keys.carol, PORTS.workerB, PRICES.b),
    ]);
    for (const result of started) if (result.status === "rejected") throw result.reason;
  });
  after(async () => {
    // Every step, whatever became of the others: one that fails must not leave the chain running.
    const stopped = await Promise.allSettled([
      ...[...workers.values()].map(kill),
      ...[...servers].map((stop) => stop()),
    ]);
    await tc?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    for (const result of stopped) if (result.status === "rejected") throw result.reason;
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
    servers.add(() => close(indexer.server));
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

  /** The channel the app paid A on in the failover test (the reuse test takes it up again). */
  let channelA: bigint;

  it("test_router_movesToAnotherOperatorWhenOneIsKilled", async () => {
    const router = routerFor();
    const openai = openaiFor(router);

    // No URL configured: the router finds both operators. What is not paid for opens no channel.
    assert.deepEqual(
      (await openai.models.list()).data.map((m) => m.id),
      ["0", "1", "2", "3"],
    );
    assert.equal(router.lanes.length, 0);
    // It pays the cheaper, A, through a channel it opens.
    await openai.completions.create({ model: "0", prompt: "first", max_tokens: 6 });
    const chat = await openai.chat.completions.create({
      model: "0",
      messages: [{ role: "user", content: "second" }],
      max_tokens: 6,
      stream: true,
    });
    for await (const chunk of chat) void chunk;
    await openai.responses.create({ model: "0", input: "third", max_output_tokens: 6 });
    assert.deepEqual(
      router.lanes.map((lane) => [lane.operator, lane.payer.receipts.length]),
      [[bob, 3]],
    );
    const laneA = router.lanes[0]!;
    channelA = laneA.channelId;

    // A's engine pauses: a stream starts (its headers and first events come before any token), then a plain
    // request waits in A's queue. Then A is killed in the middle of both.
    const workerA = workers.get("a")!;
    for (const engine of childPids(workerA.process.pid!)) process.kill(engine, "SIGSTOP");
    const reservedAtA = async () => {
      const usage = await fetch(`${urls.a}/v1/channels/${laneA.channelId}/usage`);
      return BigInt(((await usage.json()) as { inFlight: Record<string, string> }).inFlight["0"] ?? "0");
    };
    const stream = await openai.responses.create({
      model: "0",
      input: "a stream",
      max_output_tokens: 64,
      stream: true,
    });
    const events = stream[Symbol.asyncIterator]();
    assert.equal((await events.next()).value?.type, "response.created");
    const streamCover = await reservedAtA();
    const caught = openai.completions.create({ model: "0", prompt: "caught in the kill", max_tokens: 64 });
    await waitUntil("A holds the plain request", async () => (await reservedAtA()) > streamCover);
    await kill(workerA);

    // The plain request is answered by B; the stream that had started is not sent again.
    const answer = (await caught) as unknown as { choices: { text: string }[]; openpoa_receipt: { channelId: string } };
    const laneB = router.lanes.find((lane) => lane.operator === carol)!;
    assert.equal(answer.openpoa_receipt.channelId, laneB.channelId.toString());
    assert.ok(answer.choices[0]!.text.length > 0);
    await assert.rejects(
      async () => {
        for (let next = await events.next(); !next.done; next = await events.next());
      },
      (error: unknown) => error instanceof RouterError && error.failures[0]?.kind === "interrupted",
    );
    assert.equal(laneA.retired, true);

    // Requests go on, all on B.
    for (const prompt of ["after", "the kill"]) await openai.completions.create({ model: "0", prompt, max_tokens: 6 });
    const onB = await openai.chat.completions.create({
      model: "0",
      messages: [{ role: "user", content: "streamed by B" }],
      max_tokens: 6,
      stream: true,
    });
    for await (const chunk of onB) void chunk;
    assert.deepEqual(
      router.lanes.map((lane) => [lane.operator, lane.retired, lane.payer.receipts.length]),
      [
        [bob, true, 3],
        [carol, false, 4],
      ],
    );

    // Every receipt the app holds is in exactly one channel, its own; each Payer billed what its receipts say.
    const held = router.lanes.flatMap((lane) => lane.payer.receipts.map(({ receipt }) => ({ lane, receipt })));
    assert.equal(new Set(held.map(({ receipt }) => receipt.requestId)).size, held.length);
    for (const { lane, receipt } of held) assert.equal(receipt.channelId, lane.channelId);
    for (const { payer } of router.lanes) {
      assert.deepEqual(payer.disputes, []);
      assert.equal(
        payer.billedTotal,
        payer.receipts.reduce((sum, { receipt }) => sum + receipt.amount, 0n),
      );
    }
    assert.equal(
      router.billedTotal,
      held.reduce((sum, { receipt }) => sum + receipt.amount, 0n),
    );
    // A issued no receipt the app lacks: its log, as the kill left it, holds exactly the app's receipts from A.
    const log = new DatabaseSync(path.join(dir, "a.sqlite"), { readOnly: true });
    const logged = log
      .prepare("SELECT request_id FROM receipts WHERE channel_id = ?")
      .all(laneA.channelId.toString()) as { request_id: string }[];
    log.close();
    assert.deepEqual(
      logged.map((row) => row.request_id).sort(),
      laneA.payer.receipts.map(({ receipt }) => receipt.requestId).sort(),
    );

    // Checkpoint: A is down (its result says why); B gets every receipt's usage voucher and settles it.
    const [atA, atB] = await router.checkpoint();
    assert.ok(atA && "error" in atA && atA.error instanceof Error);
    assert.deepEqual(atB && "billed" in atB && atB.billed, { "0": laneB.payer.billedTotal.toString() });
    await waitUntil(
      "B settled its channel",
      async () => (await channelOf(laneB.channelId)).settled === laneB.payer.billedTotal,
    );
    assert.ok((await channelOf(laneA.channelId)).settled <= laneA.payer.billedTotal);

    // A back: the retired channel is checkpointed too and settles. Paid out in all: exactly the receipts.
    await startWorker("a", keys.bob, PORTS.workerA, PRICES.a);
    assert.ok((await router.checkpoint()).every((result) => "billed" in result));
    await waitUntil(
      "A settled its channel",
      async () => (await channelOf(laneA.channelId)).settled === laneA.payer.billedTotal,
    );
    const opened = await tc.client.getContractEvents({
      address: tc.contracts.InferencePayments,
      abi: abiOf("InferencePayments"),
      eventName: "ChannelOpened",
      args: { payer: address(keys.alice) },
      fromBlock: 0n,
    });
    const channels = opened.map((event) => (event.args as { channelId: bigint }).channelId);
    assert.deepEqual(channels, [laneA.channelId, laneB.channelId]);
    const paid = await Promise.all(channels.map(async (id) => (await channelOf(id)).settled));
    assert.equal(
      paid.reduce((sum, amount) => sum + amount, 0n),
      router.billedTotal,
    );
  });

  it("test_router_takesUpThePayersOpenChannelAndTopsItUp", async () => {
    // Another run of the app: A's channel is open, so it is taken up (resumed) rather than a new one opened. The
    // policy keeps 100 OPEN available: the first request tops the channel up by 1 OPEN, and that suffices.
    const router = routerFor({ deposit: { amount: OPEN, topUpBelow: 100n * OPEN } });
    const openai = openaiFor(router);
    const before = await channelOf(channelA);
    await openai.completions.create({ model: "0", prompt: "a new run", max_tokens: 6 });
    await openai.completions.create({ model: "0", prompt: "and more", max_tokens: 6 });
    const [lane] = router.lanes;
    assert.deepEqual([router.lanes.length, lane!.operator, lane!.channelId], [1, bob, channelA]);
    assert.equal(lane!.payer.receipts.length, 3 + 2);
    assert.equal((await channelOf(channelA)).deposit, before.deposit + OPEN);
  });

  it("test_router_passesOverAnOperatorThatAnswers503", async () => {
    // Mallory becomes active, the cheapest, and answers every completion with a 503.
    let refused = 0;
    const fake = await serve(async (request, response) => {
      await bodyOf(request);
      response.setHeader("content-type", "application/json");
      if (request.url === "/health") return response.end(JSON.stringify({ status: "ok" }));
      if (request.url === "/v1/models")
        return response.end(JSON.stringify({ data: [{ id: "0", openpoa: { pricePer1kTokens: "1" } }] }));
      refused++;
      response.statusCode = 503;
      response.end(JSON.stringify({ error: { code: "engine_unavailable", message: "no engine" } }));
    });
    servers.add(() => close(fake.server));
    await send(keys.mallory, "addStake", [10_000n * OPEN]);
    await send(keys.mallory, "update", [fake.url, [1n], mallory]);

    const router = routerFor();
    await openaiFor(router).completions.create({ model: "0", prompt: "anyone?", max_tokens: 4 });
    assert.equal(refused, 1);
    assert.deepEqual(
      router.lanes.map((lane) => [lane.operator, lane.payer.receipts.length]),
      [
        [mallory, 0],
        [bob, 3 + 2 + 1],
      ],
    );
    // Mallory unbonds below the minimum, so that the tests after this one see A and B alone.
    await send(keys.mallory, "requestUnbond", [10_000n * OPEN]);
  });

  it("test_router_disputesTheReceiptOfALostRequestItSentElsewhere", async () => {
    // A's endpoint moves behind a proxy that, when told, drops A's next answer and resets the app's connection:
    // A has logged (and signed) the receipt, the app never sees it.
    let dropNext = false;
    const sockets = new Set<Socket>();
    const proxy = createNetServer((client) => {
      const upstream = connect(PORTS.workerA, "127.0.0.1");
      client.pipe(upstream);
      upstream.on("data", (chunk) => {
        if (!dropNext) return client.write(chunk);
        dropNext = false;
        client.resetAndDestroy();
        upstream.destroy();
      });
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        // The reset is the point; the proxy's own sockets may see it as an error.
        socket.on("error", () => {});
      }
      upstream.on("end", () => client.end());
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    servers.add(() => close(proxy, sockets));
    const proxied = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    await send(keys.bob, "update", [proxied, [1n], bob]);

    const router = routerFor();
    const openai = openaiFor(router);
    await openai.completions.create({ model: "0", prompt: "through the proxy", max_tokens: 6 });
    dropNext = true;
    const answer = (await openai.completions.create({ model: "0", prompt: "lost at A", max_tokens: 6 })) as unknown as {
      openpoa_receipt: { channelId: string };
    };

    // Answered by B; A's channel is retired, one receipt short of A's log.
    const [laneA, laneB] = router.lanes;
    assert.deepEqual(
      [laneA!.operator, laneA!.retired, laneB!.operator, answer.openpoa_receipt.channelId],
      [bob, true, carol, laneB!.channelId.toString()],
    );
    const log = new DatabaseSync(path.join(dir, "a.sqlite"), { readOnly: true });
    const [orphan] = log
      .prepare("SELECT request_id, position FROM receipts WHERE channel_id = ? ORDER BY position DESC LIMIT 1")
      .all(channelA.toString()) as { request_id: string; position: number }[];
    log.close();
    assert.equal(laneA!.payer.receipts.length, orphan!.position);

    // The checkpoint takes A's receipt over disputed: the request is paid once, by B, and both channels settle.
    assert.ok((await router.checkpoint()).every((result) => "billed" in result));
    assert.deepEqual(
      laneA!.payer.disputes.map((d) => [d.requestId, d.reason]),
      [[orphan!.request_id, "its response never reached the payer"]],
    );
    for (const lane of [laneA!, laneB!])
      await waitUntil(
        `channel ${lane.channelId} settled`,
        async () => (await channelOf(lane.channelId)).settled === lane.payer.billedTotal,
      );
  });
});
