import assert from "node:assert/strict";
import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { serve, type ServerType } from "@hono/node-server";
import { createPublicClient, http, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { storeWriteSessionMessage } from "../../attribution/src/index.ts";
import { artifactHashOfBytes, decodeManifest } from "../../inference/artifacts/index.ts";
import { silentLogger, type Logger } from "../../inference/gateway/log.ts";
import { generatedModel } from "../../inference/gateway/testSupport.ts";
import { jsonOutput, runCli, startDeployedChain, type DeployedChain } from "../../scripts/cli/testing.ts";
import { sendRevealing } from "../../scripts/lib/commitments.ts";
import { connectSuite, HARDHAT_ACCOUNT_0_KEY } from "../../scripts/lib/contracts.ts";
import { freePort } from "../../scripts/lib/services.ts";
import { keystoreEnvironment } from "../../scripts/lib/testKeystore.ts";
import { eventsIn, read } from "../../scripts/lib/transactions.ts";
import { chainWritePolicy } from "../../store/policy.ts";
import { startStoreServer, type StoreServer } from "../../store/server.ts";
import type { Deployment } from "../../scripts/lib/deployments.ts";
import { studioApp } from "./app.ts";
import { createJobRunner, type Job, type JobRunner, type JobRunnerOptions } from "./jobs.ts";

/** Hardhat's account 0: the deployer, holding OPEN, so the store admits its writes; here also the adapter author. */
const author = privateKeyToAccount(HARDHAT_ACCOUNT_0_KEY);

/** Documents of the test datanet: three, so that the held-out tenth is one of them. */
const poems = [
  "The lighthouse keeper logged every ship that passed the northern reef, and the gulls learned his hours.",
  "Rain on the harbour wall, rain on the nets, rain on the boats that will not sail today.",
  "At dawn the tide went out so far that the old wreck showed its ribs to the morning light.",
];

type SseEvent = { event: string; data: unknown };

/** Server-Sent Events from `url`, read as a browser's EventSource would, until `until` says stop. */
async function readEvents(url: string, until: (event: SseEvent, all: SseEvent[]) => boolean): Promise<SseEvent[]> {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal, headers: { accept: "text/event-stream" } });
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const field = (name: string) =>
          block
            .split("\n")
            .filter((line) => line.startsWith(`${name}:`))
            .map((line) => line.slice(name.length + 1).trimStart())
            .join("\n");
        if (!field("event")) continue;
        const event = { event: field("event"), data: JSON.parse(field("data")) as unknown };
        events.push(event);
        if (until(event, events)) return events;
      }
    }
  } finally {
    controller.abort();
  }
  return events;
}

describe("Model Factory jobs, through their HTTP routes, on a local chain with published datanets", () => {
  let deployed: DeployedChain | undefined;
  let store: StoreServer | undefined;
  let runner: JobRunner | undefined;
  let server: ServerType | undefined;
  let api: string;
  let jobsDir: string;
  let makeRunner: (options?: Partial<JobRunnerOptions>) => Promise<JobRunner>;
  const saved = { ...process.env };

  /** The Studio's backend with runner `r` on a free port. */
  async function listen(r: JobRunner) {
    const { work, chain } = deployed!;
    const deployment = JSON.parse(await readFile(path.join(work, "localhost.json"), "utf8")) as Deployment;
    const port = await freePort();
    const app = studioApp({
      network: "localhost",
      deployment,
      rpcUrl: chain.url,
      indexerUrl: "http://127.0.0.1:1",
      contentUrl: store!.url,
      distDir: path.join(work, "dist"),
      jobs: r,
      origins: [`http://127.0.0.1:${port}`],
    });
    await new Promise<void>((resolve) => {
      server = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }, () => {
        api = `http://127.0.0.1:${port}/api/jobs`;
        resolve();
      });
    });
  }
  const stopServer = () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));

  before(async () => {
    deployed = await startDeployedChain({
      port: 18_620 + (process.pid % 50),
      environment: (dir) => ({
        ...keystoreEnvironment(process.env, path.join(dir, "hardhat-config")),
        OPENPOA_ARTIFACT_CACHE_DIR: path.join(dir, "artifact-cache"),
      }),
    });
    const { work, env, chain } = deployed;
    const deployment = JSON.parse(await readFile(path.join(work, "localhost.json"), "utf8")) as {
      contracts: Record<string, { address: Address }>;
    };
    const address = (name: string) => deployment.contracts[name]!.address;
    store = await startStoreServer({
      dir: path.join(work, "store"),
      port: 0,
      log: silentLogger,
      policy: chainWritePolicy({
        client: createPublicClient({ transport: http(chain.url) }),
        contracts: {
          OpenToken: address("OpenToken"),
          ModelRegistry: address("ModelRegistry"),
          NodeRegistry: address("NodeRegistry"),
          AttributionRewards: address("AttributionRewards"),
        },
        minBalance: 10n ** 18n,
      }),
    });
    // A datanet of three contributions, published as version 1, and the tiny model registered: as a user does.
    const cli = async (...args: string[]) => jsonOutput(await runCli(env, [...args, "--json"]));
    assert.equal((await cli("datanet", "create", "--uri", "ipfs://harbour")).datanetId, "1");
    for (const [i, poem] of poems.entries()) {
      const file = path.join(work, `poem-${i}.txt`);
      await writeFile(file, poem);
      await cli("datanet", "contribute", "1", "--file", file, "--content", store.url);
    }
    await cli("datanet", "publish", "1");
    const modelDir = path.join(work, "tiny-model");
    await cp(generatedModel(1).modelDir, modelDir, { recursive: true });
    assert.equal((await cli("model", "register", "--from", modelDir, "--content", store.url)).baseModelId, "1");

    // The Studio reads the same deployment; a worker on this machine would share its artifact cache.
    Object.assign(process.env, {
      OPENPOA_DEPLOYMENTS_DIR: work,
      OPENPOA_RPC_URL: chain.url,
      OPENPOA_ARTIFACT_CACHE_DIR: path.join(work, "studio-cache"),
    });
    const suite = await connectSuite({ network: "localhost", readOnly: true, progress: false });
    // The app shell the backend serves beside the API (studio/dist when built).
    await mkdir(path.join(work, "dist"));
    await writeFile(path.join(work, "dist", "index.html"), "<!doctype html><title>shell</title>");
    jobsDir = path.join(work, "jobs");
    makeRunner = (options = {}) => createJobRunner({ dir: jobsDir, suite, content: store!.url, ...options });
    runner = await makeRunner();
    await listen(runner);
  });
  after(async () => {
    await stopServer();
    await runner?.close();
    await store?.close();
    await deployed?.stop();
    for (const name of ["OPENPOA_DEPLOYMENTS_DIR", "OPENPOA_RPC_URL", "OPENPOA_ARTIFACT_CACHE_DIR"])
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
  });

  const post = (url: string, body: unknown) =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const getJob = async (id: string) => (await (await fetch(`${api}/${id}`)).json()) as Job;
  const start = async (body: unknown) => {
    const response = await post(api, body);
    assert.equal(response.status, 201, await response.clone().text());
    return (await response.json()) as Job;
  };
  /** A short run: rank 4, 30 steps on the tiny model. */
  const short = { baseModelId: "1", datanets: [{ datanetId: "1", version: "1", weightBps: 10_000 }], rank: 4 };
  const waitFor = async (id: string, done: (job: Job) => boolean) => {
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(100)) {
      const job = await getJob(id);
      if (done(job)) return job;
    }
    throw new Error(`job ${id} did not get there: ${JSON.stringify(await getJob(id))}`);
  };

  it("test_post_refusesBadInputWith400sNamingTheField", async () => {
    const issueOf = async (body: unknown) => {
      const response = await post(api, body);
      assert.equal(response.status, 400);
      return ((await response.json()) as { error: { code: string; issues: { path: string }[] } }).error;
    };
    assert.equal(
      (await issueOf({ ...short, datanets: [{ ...short.datanets[0], weightBps: 9000 }] })).issues[0]!.path,
      "datanets",
    );
    assert.equal((await issueOf({ ...short, rank: "four" })).issues[0]!.path, "rank");
    assert.equal((await issueOf({ ...short, targets: ["q", "x"] })).issues[0]!.path, "targets.1");
    assert.equal((await issueOf({ ...short, lr: 0 })).issues[0]!.path, "lr");
    assert.equal((await issueOf({ datanets: short.datanets })).issues[0]!.path, "baseModelId");
    assert.equal((await issueOf(undefined)).code, "invalid_request");
    // What only the chain knows is checked before anything is queued.
    assert.equal((await issueOf({ ...short, baseModelId: "99" })).issues[0]!.path, "baseModelId");
    const unpublished = await issueOf({ ...short, datanets: [{ datanetId: "1", version: "2", weightBps: 10_000 }] });
    assert.equal(unpublished.issues[0]!.path, "datanets.0.version");
    assert.deepEqual((await (await fetch(api)).json()) as unknown, { jobs: [], next: null });

    const unknown = await fetch(`${api}/999`);
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, "not_found");
    assert.equal((await fetch(`${api}/999`, { method: "DELETE" })).status, 404);
    assert.equal((await fetch(`${api}?limit=0`)).status, 400);
  });

  it("test_routes_refuseOtherSitesPages_bodiesThatAreNotJson_andBodiesOver64KiB", async () => {
    const codeOf = async (response: Response, status: number) => {
      assert.equal(response.status, status);
      return ((await response.json()) as { error: { code: string } }).error.code;
    };
    const headers = { "content-type": "application/json", origin: "https://evil.example" };
    const foreign = await fetch(api, { method: "POST", headers, body: JSON.stringify(short) });
    assert.equal(await codeOf(foreign, 403), "cross_origin");
    assert.equal(await codeOf(await fetch(`${api}/1`, { method: "DELETE", headers }), 403), "cross_origin");
    // What a form or a text/plain fetch from another site sends without a preflight.
    const plain = await fetch(api, { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" });
    assert.equal(await codeOf(plain, 415), "unsupported_media_type");
    const huge = await post(api, { ...short, padding: "x".repeat(65 * 1024) });
    assert.equal(await codeOf(huge, 413), "too_large");
    assert.deepEqual((await (await fetch(api)).json()) as unknown, { jobs: [], next: null });
  });

  it("test_job_trainsWithLiveProgress_whileTheNextWaitsItsTurn_andCancels", async () => {
    const started = Date.now();
    const first = await start({ ...short, steps: 30, seed: 7 });
    assert.equal(first.request.lr, 5e-3, "defaults fill what the form leaves out");
    const second = await start({ ...short, steps: 5000 });
    const third = await start({ ...short, steps: 30 });
    // One device: the second and third wait.
    assert.equal((await getJob(second.id)).state, "queued");

    const events = await readEvents(
      `${api}/${first.id}/events`,
      (e) => e.event === "state" && ["succeeded", "failed"].includes((e.data as Job).state),
    );
    const trainingSeconds = (Date.now() - started) / 1000;
    assert.equal(events[0]!.event, "state", "a connection starts with the job's state");
    const progress = events.filter((e) => e.event === "progress").map((e) => e.data as { step: number; loss: number });
    assert.ok(progress.length >= 5, JSON.stringify(events.map((e) => e.event)));
    assert.deepEqual(
      progress.map((p) => p.step),
      [...progress.map((p) => p.step)].sort((a, b) => a - b),
    );
    const done = events.at(-1)!.data as Job;
    assert.equal(done.state, "succeeded", JSON.stringify(done.error));
    const { result } = done;
    assert.ok(result);
    assert.deepEqual(result.lineage, [{ datanetId: "1", version: "1", weightBps: 10_000 }]);
    assert.deepEqual([result.rank, result.targetModules], [4, 0x7f]);
    const { training } = result;
    assert.equal(training.losses.length, 30);
    assert.ok(training.losses.at(-1)! < training.losses[0]!, `${training.losses[0]} -> ${training.losses.at(-1)}`);
    assert.deepEqual(
      training.datasets.map((d) => [d.documents, d.heldOut]),
      [[3, 1]],
    );
    assert.ok(training.heldOutLoss.before !== null && training.heldOutLoss.after !== null);
    assert.equal(training.hyperparameters.seed, 7);
    // The adapter's two files, its training manifest, then the artifact manifest.
    assert.deepEqual(
      result.writes.map((w) => w.kind),
      ["artifact", "artifact", "artifact", "artifact"],
    );
    assert.equal(result.writes[2]!.name, result.trainingSha256);
    assert.equal(result.uri, `openpoa-store://${result.writes[3]!.name}`);
    console.log(`# a 30-step rank-4 job on the tiny model: ${trainingSeconds.toFixed(1)} s from POST to done`);

    // A reconnecting client gets the whole state first: the loss curve so far included.
    const again = await readEvents(`${api}/${first.id}/events`, () => true);
    assert.equal((again[0]!.data as Job).progress.length, progress.length);
    // A job that has ended changes no more: its stream ends after that state.
    const ended = await fetch(`${api}/${first.id}/events`, { signal: AbortSignal.timeout(10_000) });
    assert.equal((await ended.text()).match(/^event: /gm)?.length, 1);

    // Queued jobs cancel at once; the running one when its trainer has been stopped.
    const cancelledQueued = (await (await fetch(`${api}/${third.id}`, { method: "DELETE" })).json()) as Job;
    assert.equal(cancelledQueued.state, "cancelled");
    await waitFor(second.id, (j) => j.progress.length > 0);
    const cancelled = (await (await fetch(`${api}/${second.id}`, { method: "DELETE" })).json()) as Job;
    assert.equal(cancelled.state, "cancelled");
    const again2 = await fetch(`${api}/${second.id}`, { method: "DELETE" });
    assert.equal(again2.status, 409);

    const page = (await (await fetch(`${api}?limit=2`)).json()) as { jobs: Job[]; next: string };
    assert.deepEqual(
      page.jobs.map((j) => [j.id, j.state]),
      [
        [third.id, "cancelled"],
        [second.id, "cancelled"],
      ],
    );
    const rest = (await (await fetch(`${api}?limit=2&before=${page.next}`)).json()) as { jobs: Job[]; next: null };
    assert.deepEqual([rest.jobs.map((j) => j.id), rest.next], [[first.id], null]);
  });

  it("test_restart_failsTheRunningJobAsInterrupted_andRunsTheQueued", async () => {
    const long = await start({ ...short, steps: 5000 });
    const queued = await start({ ...short, steps: 5000, seed: 1 });
    await waitFor(long.id, (j) => j.progress.length > 0);
    // The server goes away mid-run.
    await stopServer();
    await runner!.close();
    runner = await makeRunner();
    await listen(runner);

    const interrupted = await getJob(long.id);
    assert.equal(interrupted.state, "failed");
    assert.equal(interrupted.error?.code, "interrupted");
    assert.ok(interrupted.progress.length > 0, "its progress so far is kept");
    await waitFor(queued.id, (j) => j.state === "running");
    assert.equal(((await (await fetch(`${api}/${queued.id}`, { method: "DELETE" })).json()) as Job).state, "cancelled");
    // Finished jobs came back as they were.
    assert.equal((await getJob("1")).state, "succeeded");
  });

  it("test_publish_withTheWalletsOneSignature_thenRegisterFromTheBrowser", async () => {
    const job = await getJob("1");
    const result = job.result!;
    const notFinished = await post(`${api}/2/publish`, { signer: author.address, time: 1, signature: "0x00" });
    assert.equal(notFinished.status, 409);

    // The wallet signs the job's store write session once (personal_sign), as the page asks it to.
    const time = Math.floor(Date.now() / 1000);
    const message = storeWriteSessionMessage({ writes: result.writes, time });
    const stranger = privateKeyToAccount(generatePrivateKey());
    const refused = await post(`${api}/1/publish`, {
      signer: stranger.address,
      time,
      signature: await stranger.signMessage({ message }),
    });
    assert.equal(refused.status, 400);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, "not_admitted");
    const forged = await post(`${api}/1/publish`, {
      signer: author.address,
      time,
      signature: await stranger.signMessage({ message }),
    });
    assert.equal(((await forged.json()) as { error: { code: string } }).error.code, "bad_signature");

    // Published once: of two calls at the same time one uploads, the other is refused, as is any later one.
    const session = { signer: author.address, time, signature: await author.signMessage({ message }) };
    const [response, twice] = await Promise.all([post(`${api}/1/publish`, session), post(`${api}/1/publish`, session)]);
    assert.equal(response.status, 200, await response.clone().text());
    assert.equal(twice.status, 409);
    assert.equal(((await twice.json()) as { error: { code: string } }).error.code, "already_published");
    const later = await post(`${api}/1/publish`, session);
    assert.equal(((await later.json()) as { error: { code: string } }).error.code, "already_published");
    const published = ((await response.json()) as Job).published!;
    assert.deepEqual([published.uri, published.artifactHash], [result.uri, result.artifactHash]);

    // What the store now holds is the artifact the job announced, and it names its training manifest.
    const bytesOf = async (name: string) => new Uint8Array(await (await fetch(`${store!.url}/${name}`)).arrayBuffer());
    const manifest = decodeManifest(await bytesOf(published.uri.slice("openpoa-store://".length)), "the store");
    const files = await Promise.all(
      manifest.files.map(async (f) => ({ name: f.name, bytes: await bytesOf(f.sha256) })),
    );
    assert.equal(`0x${artifactHashOfBytes("lora", files)}`, result.artifactHash);
    assert.equal(manifest.training?.sha256, result.trainingSha256);
    const training = JSON.parse(new TextDecoder().decode(await bytesOf(manifest.training!.sha256)));
    assert.deepEqual(training.losses, result.training.losses);

    // The browser registers the adapter with its wallet (commit, then reveal), with the lineage the job trained on.
    const wallet = await connectSuite({ network: "localhost", privateKey: HARDHAT_ACCOUNT_0_KEY, progress: false });
    const sent = await sendRevealing(wallet, {
      contract: "ModelRegistry",
      functionName: "registerAdapter",
      hash: result.artifactHash,
      args: [
        {
          baseModelId: BigInt(result.baseModel.baseModelId),
          artifactHash: result.artifactHash,
          uri: published.uri,
          rank: result.rank,
          targetModules: result.targetModules,
          pricePer1kTokens: 10n ** 16n,
          ownerShareBps: 7000,
          dataShareBps: 3000,
          lineage: result.lineage.map((l) => ({ ...l, datanetId: BigInt(l.datanetId), version: BigInt(l.version) })),
        },
      ],
    });
    const [{ adapterId }] = eventsIn<{ adapterId: bigint }>(wallet, {
      contract: "ModelRegistry",
      eventName: "AdapterRegistered",
      logs: sent.receipt.logs,
    });
    const linked = await post(`${api}/1/adapter`, { adapterId: String(adapterId) });
    assert.equal(((await linked.json()) as Job).adapterId, String(adapterId));
    const registered = await read<{ artifactHash: Hex }>(wallet, {
      contract: "ModelRegistry",
      functionName: "getAdapter",
      args: [adapterId],
    });
    assert.equal(registered.artifactHash, `0x${artifactHashOfBytes("lora", files)}`);
    const wrong = await post(`${api}/2/adapter`, { adapterId: String(adapterId) });
    assert.equal(wrong.status, 409);
  });

  it("test_queue_refusesBeyondItsCap_neverReusesAFoldersId_andFailsAJobWhoseStateCannotBeWritten", async () => {
    // A folder whose job.json was never written (or was lost) keeps its id: the next job comes after it.
    await mkdir(path.join(jobsDir, "50"));
    const logged: Parameters<Logger>[] = [];
    await stopServer();
    await runner!.close();
    runner = await makeRunner({ maxQueued: 1, log: (...entry) => logged.push(entry) });
    await listen(runner);
    const long = await start({ ...short, steps: 5000 });
    assert.equal(long.id, "51");
    await waitFor(long.id, (j) => j.state === "running");

    // A job whose first state cannot be written is never listed, and the request says it failed.
    await mkdir(path.join(jobsDir, "52", "job.json.partial"), { recursive: true });
    const unwritten = await post(api, short);
    assert.equal(unwritten.status, 500);
    assert.equal(((await unwritten.json()) as { error: { code: string } }).error.code, "internal");
    assert.equal((await fetch(`${api}/52`)).status, 404);

    const queued = await start({ ...short, steps: 5000 });
    assert.equal(queued.id, "53");
    const full = await post(api, short);
    assert.equal(full.status, 429);
    assert.equal(((await full.json()) as { error: { code: string } }).error.code, "queue_full");

    // The queued job's state cannot be rewritten when it starts: it fails with that error instead of running on.
    await mkdir(path.join(jobsDir, "53", "job.json.partial"));
    await fetch(`${api}/${long.id}`, { method: "DELETE" });
    const failed = await waitFor(queued.id, (j) => j.state === "failed");
    assert.match(failed.error!.message, /could not be written: .*job\.json\.partial/);
    assert.ok(logged.some(([level, , fields]) => level === "error" && (fields as { job?: string }).job === "53"));
  });
});
