/**
 * `npm run bench:store`: the content store against a plain static file server (node:http + fs.createReadStream,
 * below) serving the same directory, in the same run, with 64 concurrent clients in a worker thread: GET of a 1 KB
 * object (p50/p99 ms) and of a 100 MB object (MB/s) on both; PUT of 1 KB objects (p50 ms) and 100 MB objects
 * (MB/s) on ours, each signed and admitted by the real chain policy (the suite on a local Hardhat node).
 * MB is 10^6 bytes. Writes bench/results/store.json.
 */
import { createHash, randomBytes, randomFillSync } from "node:crypto";
import { createReadStream, mkdtempSync, rmSync, stat, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os, { tmpdir } from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { privateKeyToAccount } from "viem/accounts";
import { signedWriteHeaders } from "../attribution/src/index.ts";
import { silentLogger } from "../inference/gateway/log.ts";
import { keys } from "../inference/gateway/testSupport.ts";
import { repoRoot } from "../scripts/lib/localChain.ts";
import type { Job, Put, Result } from "./benchClients.ts";
import { startStoreServer } from "./server.ts";
import { startStoreTestChain, testChainPolicy } from "./testSupport.ts";

const CLIENTS = 64;
const SMALL_BYTES = 1_000;
const LARGE_BYTES = 100_000_000;
const SMALL_GETS_PER_CLIENT = 200;
const SMALL_PUTS_PER_CLIENT = 10;
/** Measured rounds per server, alternating between the two, so drift in the machine's load hits both alike. */
const ROUNDS = 2;

const percentile = (values: number[], q: number) => {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const round = (x: number) => Math.round(x * 1000) / 1000;
const megabytesPerSecond = ({ bytes, elapsedMs }: { bytes: number; elapsedMs: number }) =>
  round(bytes / 1e6 / (elapsedMs / 1000));

/** The baseline: serving the same files with nothing but node:http and fs.createReadStream. */
async function startStaticServer(dir: string) {
  const server = createServer((request, response) => {
    const file = path.join(dir, path.basename(request.url ?? "/"));
    stat(file, (error, stats) => {
      if (error) return void response.writeHead(404).end();
      response.writeHead(200, { "content-type": "application/octet-stream", "content-length": stats.size });
      createReadStream(file).pipe(response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function startClients() {
  const worker = new Worker(new URL("./benchClients.ts", import.meta.url));
  const run = (job: Job) =>
    new Promise<Result>((resolve, reject) => {
      worker.once("message", ({ result, error }: { result?: Result; error?: string }) =>
        error ? reject(new Error(error)) : resolve(result!),
      );
      worker.postMessage(job);
    });
  return { run, stop: () => worker.terminate() };
}

const allCreated = (result: Result, what: string) => {
  const refused = result.statuses.filter((status) => status !== 201);
  if (refused.length > 0) throw new Error(`${what}: ${refused.length} PUTs answered ${refused.slice(0, 5).join(", ")}`);
  return result;
};

/** Signed PUTs of `bodies` (each a list of parts) to `baseUrl`, by alice, who holds OPEN. */
async function signedPuts(baseUrl: string, bodies: { name: string; parts: Uint8Array[]; size: number }[]) {
  const alice = privateKeyToAccount(keys.alice);
  return Promise.all(
    bodies.map(async ({ name, parts, size }): Promise<Put> => ({
      url: `${baseUrl}/${name}`,
      headers: {
        "content-length": size,
        ...(await signedWriteHeaders(alice, { name, kind: "artifact", size })),
      },
      body: parts,
    })),
  );
}

/**
 * `count` distinct large objects sharing one random body but for their last 8 bytes: views on one shared buffer,
 * so 64 of them cost 100 MB of memory, and one hash of the shared part.
 */
function largeBodies(count: number) {
  const shared = new Uint8Array(new SharedArrayBuffer(LARGE_BYTES - 8));
  randomFillSync(shared);
  const sharedHash = createHash("sha256").update(shared);
  return Array.from({ length: count }, () => {
    const tail = randomBytes(8);
    return { name: sharedHash.copy().update(tail).digest("hex"), parts: [shared, tail], size: LARGE_BYTES };
  });
}

function smallBodies(count: number) {
  return Array.from({ length: count }, () => {
    const bytes = randomBytes(SMALL_BYTES);
    return { name: createHash("sha256").update(bytes).digest("hex"), parts: [bytes], size: SMALL_BYTES };
  });
}

const chain = await startStoreTestChain(17_600 + (process.pid % 300));
const dir = mkdtempSync(path.join(tmpdir(), "openpoa-store-bench-"));
const store = await startStoreServer({ dir, port: 0, policy: testChainPolicy(chain), log: silentLogger });
const plain = await startStaticServer(dir);
const clients = startClients();
const loadBefore = os.loadavg()[0]!;
try {
  const [small] = smallBodies(1);
  const [large] = largeBodies(1);
  for (const put of await signedPuts(store.url, [small!, large!]))
    allCreated(await clients.run({ job: "putThroughput", puts: [put] }), "setup");

  const smallGets = { store: [] as number[], plain: [] as number[] };
  const largeGets = { store: { bytes: 0, elapsedMs: 0 }, plain: { bytes: 0, elapsedMs: 0 } };
  const servers = { store: store.url, plain: plain.url };
  for (let r = 0; r <= ROUNDS; r++) {
    for (const which of ["plain", "store"] as const) {
      const smallRun = await clients.run({
        job: "getLatencies",
        url: `${servers[which]}/${small!.name}`,
        clients: CLIENTS,
        perClient: SMALL_GETS_PER_CLIENT,
      });
      const largeRun = await clients.run({
        job: "getThroughput",
        url: `${servers[which]}/${large!.name}`,
        clients: CLIENTS,
      });
      if (largeRun.bytes !== CLIENTS * LARGE_BYTES) throw new Error(`${which} served ${largeRun.bytes} bytes`);
      // Round 0 warms caches and connections.
      if (r === 0) continue;
      smallGets[which].push(...smallRun.ms);
      largeGets[which].bytes += largeRun.bytes;
      largeGets[which].elapsedMs += largeRun.elapsedMs;
    }
  }

  const smallPuts = await signedPuts(store.url, smallBodies(CLIENTS * SMALL_PUTS_PER_CLIENT));
  const smallPut = allCreated(
    await clients.run({
      job: "putLatencies",
      puts: Array.from({ length: CLIENTS }, (_, i) =>
        smallPuts.slice(i * SMALL_PUTS_PER_CLIENT, (i + 1) * SMALL_PUTS_PER_CLIENT),
      ),
    }),
    "small PUTs",
  );
  const largePut = allCreated(
    await clients.run({ job: "putThroughput", puts: await signedPuts(store.url, largeBodies(CLIENTS)) }),
    "large PUTs",
  );

  const results = {
    smallGetP50Ms: round(percentile(smallGets.store, 0.5)),
    smallGetP99Ms: round(percentile(smallGets.store, 0.99)),
    staticSmallGetP50Ms: round(percentile(smallGets.plain, 0.5)),
    staticSmallGetP99Ms: round(percentile(smallGets.plain, 0.99)),
    smallGetP50Ratio: round(percentile(smallGets.store, 0.5) / percentile(smallGets.plain, 0.5)),
    largeGetMBps: megabytesPerSecond(largeGets.store),
    staticLargeGetMBps: megabytesPerSecond(largeGets.plain),
    largeGetRatio: round(megabytesPerSecond(largeGets.store) / megabytesPerSecond(largeGets.plain)),
    smallPutP50Ms: round(percentile(smallPut.ms, 0.5)),
    smallPutP99Ms: round(percentile(smallPut.ms, 0.99)),
    largePutMBps: megabytesPerSecond(largePut),
    clients: CLIENTS,
    smallBytes: SMALL_BYTES,
    largeBytes: LARGE_BYTES,
    smallGetsPerServer: smallGets.store.length,
    largeGetsPerServer: ROUNDS * CLIENTS,
    smallPuts: smallPut.ms.length,
    largePuts: CLIENTS,
    policy: "chain: roles read from the suite on a local Hardhat node, cached 30 s per address",
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      loadAverage1m: [round(loadBefore), round(os.loadavg()[0]!)],
    },
    notes:
      "MB = 10^6 bytes. Clients run in a worker thread of the same process, over keep-alive connections; the " +
      "directory is in the system temp folder; PUTs are fsynced (file and directory). The static server is " +
      "node:http + stat + fs.createReadStream with its defaults.",
  };
  writeFileSync(path.join(repoRoot, "bench", "results", "store.json"), JSON.stringify(results, null, 2) + "\n");
  console.log(results);
} finally {
  await clients.stop();
  await Promise.all([store.close(), plain.close()]);
  await chain.stop();
  rmSync(dir, { recursive: true, force: true });
}
