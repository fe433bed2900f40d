/**
 * The Model Factory's jobs: adapters trained on the Studio backend from datanet versions (scripts/lib/training.ts),
 * one job at a time per device, a queue beyond that, each cancellable. The queue is a directory, one folder per job:
 *
 *   <dir>/<id>/job.json        the job's state, replaced atomically (written aside, fsynced, renamed) on every change
 *   <dir>/<id>/progress.jsonl  the trainer's progress reports, appended: the loss curve
 *   <dir>/<id>/adapter/<hash>/ the trained adapter, its training manifest and artifact manifest
 *
 * A restarted server reloads every job: one that was running is failed as interrupted (its trainer died with the
 * old server), queued ones run. Nothing is silently lost.
 *
 * Publishing never needs a key here: a finished job lists the store writes that publish its adapter (the files,
 * the training manifest, the artifact manifest); the user's wallet signs them as one store write session
 * (store/README.md) and the backend PUTs the files with that signature. The browser then registers the adapter
 * with its own wallet; the backend only checks the registration against the chain to link it to the job.
 */
import { appendFile, mkdir, readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { streamSSE } from "hono/streaming";
import { getAddress, type Hex } from "viem";
import { z } from "zod/v4";
import { ContentStoreRequestError } from "../../attribution/src/index.ts";
import { ArtifactError, targetMask } from "../../inference/artifacts/index.ts";
import { prepareArtifact, uploadArtifact } from "../../inference/artifacts/publish.ts";
import { jsonLogger, type Logger } from "../../inference/gateway/log.ts";
import { writeAtomically } from "../../scripts/lib/atomicWrite.ts";
import type { Suite } from "../../scripts/lib/contracts.ts";
import { readBaseModel, trainAdapter, TrainingInputError, type TrainingProgress } from "../../scripts/lib/training.ts";
import { ContractRevertedError, read } from "../../scripts/lib/transactions.ts";
import {
  jobRequestSchema,
  publishRequestSchema,
  uintString,
  type Job,
  type JobEvent,
  type JobRequest,
  terminalStates,
} from "./jobRequest.ts";

export * from "./jobRequest.ts";

/** A refusal the routes answer as it says: status, code, message, and the request field at fault if any. */
export class JobError extends Error {
  readonly status: 400 | 404 | 409 | 429 | 502;
  readonly code: string;
  readonly field?: string;
  constructor(status: JobError["status"], code: string, message: string, field?: string) {
    super(message);
    this.name = "JobError";
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** A job's state could not be written: the job fails with this (its state on disk would lag behind). */
class StateWriteError extends Error {
  constructor(cause: unknown) {
    super(`its state could not be written: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "StateWriteError";
  }
}

export type JobRunnerOptions = {
  /** The queue's directory, created if missing. One server per directory. */
  dir: string;
  /** The deployment read (a read-only suite is enough: nothing is sent). */
  suite: Suite;
  /** The content store (http(s) URL, or a directory) the data and base model come from and adapters go to. */
  content: string;
  /** One job runs at a time on each (default: the one CPU device the engine trains on). */
  devices?: string[];
  /** Most jobs waiting their turn; a job submitted beyond is refused (429 queue_full). Default 16. */
  maxQueued?: number;
  /** Where failures to write a job's files go (default: JSON lines on stderr). */
  log?: Logger;
};

export type JobRunner = {
  list(options?: { limit?: number; before?: string }): { jobs: Job[]; next: string | null };
  get(id: string): Job | undefined;
  submit(request: JobRequest): Promise<Job>;
  cancel(id: string): Promise<Job>;
  /** Calls `listener` with the job's state changes and progress until the returned function is called. */
  subscribe(id: string, listener: (event: JobEvent) => void): () => void;
  publish(id: string, session: z.output<typeof publishRequestSchema>): Promise<Job>;
  linkAdapter(id: string, adapterId: bigint): Promise<Job>;
  /** Stops the running trainers without recording anything (a restart finds them interrupted). */
  close(): Promise<void>;
};

/** How long DELETE waits for a running job to stop before answering with its state as it is. */
const cancelWaitMs = 5_000;

const STATE_FILE = "job.json";
const PROGRESS_FILE = "progress.jsonl";
const now = () => new Date().toISOString();
const byId = (a: Job, b: Job) => Number(a.id) - Number(b.id);

async function loadJob(dir: string): Promise<Job | undefined> {
  const text = await readFile(path.join(dir, STATE_FILE), "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  const job = JSON.parse(text) as Job;
  const lines = await readFile(path.join(dir, PROGRESS_FILE), "utf8").catch(() => "");
  // A line cut short by a crash is the only one that can fail to parse: the last.
  job.progress = lines
    .split("\n")
    .filter((line) => line.trim() !== "")
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as TrainingProgress];
      } catch {
        return [];
      }
    });
  return job;
}

export async function createJobRunner({
  dir,
  suite,
  content,
  devices = ["cpu"],
  maxQueued = 16,
  log = jsonLogger(),
}: JobRunnerOptions): Promise<JobRunner> {
  await mkdir(dir, { recursive: true });
  const jobs = new Map<string, Job>();
  const listeners = new Map<string, Set<(event: JobEvent) => void>>();
  const running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  const busy = new Set<string>();
  /** Each job's file writes, in order. */
  const writes = new Map<string, Promise<unknown>>();
  /** Jobs submitted whose first state write has not ended yet: they count against maxQueued. */
  let submitting = 0;
  /** Each publishing job: a second publish of it is refused while the first uploads. */
  const publishing = new Set<string>();
  let closing = false;

  const jobDir = (id: string) => path.join(dir, id);
  const adapterOut = (id: string) => path.join(jobDir(id), "adapter");
  /** Runs `write` after the job's earlier writes (a failed one does not stop the later ones); its failure is thrown. */
  const enqueueWrite = (id: string, write: () => Promise<unknown>): Promise<unknown> => {
    const next = (writes.get(id) ?? Promise.resolve()).then(write);
    writes.set(
      id,
      next.catch(() => {}),
    );
    return next;
  };
  const emit = (id: string, event: JobEvent) => {
    for (const listener of listeners.get(id) ?? []) listener(event);
  };
  /** Persists the job's state (progress excluded: it has its own file); a failure is thrown. */
  const persist = (job: Job) => {
    const { progress: _progress, ...state } = job;
    const text = JSON.stringify(state, null, 2);
    return enqueueWrite(job.id, () => writeAtomically(path.join(jobDir(job.id), STATE_FILE), text));
  };
  /**
   * Applies `change`, tells subscribers and persists the state. A failed write is logged and thrown, and a running
   * job stops on it (run fails the job with it): its state on disk would otherwise lag behind what it does.
   */
  const update = async (job: Job, change: Partial<Job>) => {
    Object.assign(job, change);
    emit(job.id, { type: "state", job });
    try {
      await persist(job);
    } catch (error) {
      log("error", "a job's state could not be written", { job: job.id, error: String(error) });
      running.get(job.id)?.controller.abort(new StateWriteError(error));
      throw error;
    }
  };
  const addProgress = (job: Job, progress: TrainingProgress) => {
    job.progress.push(progress);
    emit(job.id, { type: "progress", progress });
    // The loss curve is a report: a line that cannot be appended is logged, and the job goes on.
    enqueueWrite(job.id, () =>
      appendFile(path.join(jobDir(job.id), PROGRESS_FILE), JSON.stringify(progress) + "\n"),
    ).catch((error: unknown) =>
      log("error", "a job's progress could not be written", { job: job.id, error: String(error) }),
    );
  };

  // Ids are never reused, not even a folder's whose state was never written or was lost.
  let lastId = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !/^[0-9]+$/.test(entry.name)) continue;
    lastId = Math.max(lastId, Number(entry.name));
    const job = await loadJob(jobDir(entry.name));
    if (job) jobs.set(job.id, job);
  }
  for (const job of jobs.values()) {
    if (job.state !== "running") continue;
    // Whatever its trainer had begun to write is not an adapter.
    await rm(adapterOut(job.id), { recursive: true, force: true });
    await update(job, {
      state: "failed",
      stage: undefined,
      endedAt: now(),
      error: { code: "interrupted", message: "the Studio server stopped while the job was running" },
    });
  }

  async function run(job: Job, device: string) {
    const controller = new AbortController();
    let finished!: () => void;
    running.set(job.id, { controller, done: new Promise((resolve) => (finished = resolve)) });
    busy.add(device);
    try {
      await update(job, { state: "running", device, startedAt: now(), stage: "model" });
      const { request } = job;
      const baseModel = await readBaseModel(suite, BigInt(request.baseModelId));
      const lineage = request.datanets.map((d) => ({
        datanetId: BigInt(d.datanetId),
        version: BigInt(d.version),
        weightBps: d.weightBps,
      }));
      const trained = await trainAdapter(suite, {
        baseModel,
        lineage,
        hyperparameters: {
          rank: request.rank,
          targets: request.targets,
          steps: request.steps,
          lr: request.lr,
          seed: request.seed,
          holdout: request.holdout,
        },
        content,
        out: adapterOut(job.id),
        // A failed write stops the trainer (update), which fails the job: nothing more to do here.
        onStage: (stage) => void update(job, { stage }).catch(() => {}),
        onProgress: (progress) => addProgress(job, progress),
        signal: controller.signal,
      });
      const prepared = await prepareArtifact(trained.dir);
      await update(job, {
        state: "succeeded",
        stage: undefined,
        endedAt: now(),
        result: {
          artifactHash: `0x${prepared.artifactHash}`,
          uri: prepared.uri,
          baseModel: {
            baseModelId: request.baseModelId,
            name: baseModel.name,
            artifactHash: baseModel.artifactHash,
          },
          rank: request.rank,
          targetModules: targetMask(request.targets).mask,
          lineage: request.datanets,
          writes: prepared.uploads.map(({ name, size }) => ({ name, kind: "artifact", size })),
          trainingSha256: prepared.training!.sha256,
          training: trained.manifest,
        },
      });
    } catch (error) {
      // Closing: the job stays "running" on disk, and the next start records it as interrupted.
      if (closing) return;
      const reason: unknown = controller.signal.reason;
      if (controller.signal.aborted && !(reason instanceof StateWriteError)) {
        await rm(adapterOut(job.id), { recursive: true, force: true });
        await update(job, { state: "cancelled", stage: undefined, endedAt: now() });
      } else {
        const input = error instanceof TrainingInputError || error instanceof ContractRevertedError;
        const cause = reason instanceof StateWriteError ? reason : (error as Error);
        await update(job, {
          state: "failed",
          stage: undefined,
          endedAt: now(),
          error: { code: input ? "bad_input" : "failed", message: cause.message },
        });
      }
    } finally {
      busy.delete(device);
      running.delete(job.id);
      finished();
      if (!closing) pump();
    }
  }

  /** Starts the oldest queued jobs on the free devices. */
  function pump() {
    const queued = [...jobs.values()].filter((j) => j.state === "queued").sort(byId);
    for (const device of devices) {
      if (busy.has(device)) continue;
      const job = queued.shift();
      if (!job) return;
      busy.add(device);
      run(job, device).catch((error: unknown) =>
        log("error", "a job could not be run", { job: job.id, error: String(error) }),
      );
    }
  }

  /** Refuses, before queueing, a base model or datanet version the chain does not have. */
  async function checkOnChain(request: JobRequest) {
    try {
      await readBaseModel(suite, BigInt(request.baseModelId));
    } catch (error) {
      if (error instanceof ContractRevertedError || error instanceof TrainingInputError)
        throw new JobError(400, "invalid_request", error.message, "baseModelId");
      throw error;
    }
    for (const [i, { datanetId, version }] of request.datanets.entries()) {
      const published = await read<boolean>(suite, {
        contract: "DatanetRegistry",
        functionName: "isPublishedVersion",
        args: [BigInt(datanetId), BigInt(version)],
      });
      if (!published)
        throw new JobError(
          400,
          "invalid_request",
          `datanet ${datanetId} has no published version ${version}`,
          `datanets.${i}.version`,
        );
    }
  }

  /** Uploads a finished job's adapter with the wallet's signature over its store write session. */
  async function publishJob(job: Job, { signer, time, signature }: z.output<typeof publishRequestSchema>) {
    const { id, result } = job;
    if (job.state !== "succeeded" || !result)
      throw new JobError(409, "not_finished", `job ${id} is ${job.state}: only a finished job's adapter publishes`);
    const prepared = await prepareArtifact(path.join(adapterOut(id), result.artifactHash.slice(2)));
    if (prepared.uri !== result.uri)
      throw new JobError(409, "artifact_changed", `job ${id}'s adapter files changed since it was trained`);
    try {
      await uploadArtifact({
        uploads: prepared.uploads,
        store: content,
        signer: { writes: result.writes, time, signer, signature },
      });
    } catch (error) {
      if (error instanceof ContentStoreRequestError || error instanceof ArtifactError) {
        const status = error instanceof ContentStoreRequestError ? error.status : undefined;
        const code = (error as { code?: string }).code ?? "store_failed";
        // The store refused the signature or the signer (4xx): the request's fault; anything else the store's.
        throw new JobError(status !== undefined && status < 500 ? 400 : 502, code, error.message, "signature");
      }
      throw error;
    }
    await update(job, {
      published: {
        uri: result.uri,
        artifactHash: result.artifactHash,
        signer: getAddress(signer),
        publishedAt: now(),
      },
    });
    return job;
  }

  // Jobs queued before a restart run now.
  pump();

  const existing = (id: string) => {
    const job = jobs.get(id);
    if (!job) throw new JobError(404, "not_found", `there is no job ${id}`);
    return job;
  };

  return {
    list({ limit = 20, before } = {}) {
      const all = [...jobs.values()].sort(byId).reverse();
      const from = before === undefined ? 0 : all.findIndex((j) => Number(j.id) < Number(before));
      const page = from === -1 ? [] : all.slice(from, from + limit);
      const next = from !== -1 && from + limit < all.length ? page[page.length - 1]!.id : null;
      return { jobs: page, next };
    },
    get: (id) => jobs.get(id),
    async submit(request) {
      await checkOnChain(request);
      const queued = [...jobs.values()].filter((j) => j.state === "queued").length + submitting;
      if (queued >= maxQueued)
        throw new JobError(429, "queue_full", `${queued} jobs are waiting already: start this one when fewer do`);
      const id = String(++lastId);
      const job: Job = { id, state: "queued", request, createdAt: now(), progress: [] };
      submitting++;
      try {
        await mkdir(jobDir(id), { recursive: true });
        // Listed only once its state is on disk: a job is never one that a restart would not find.
        await persist(job);
      } finally {
        submitting--;
      }
      jobs.set(id, job);
      pump();
      return job;
    },
    async cancel(id) {
      const job = existing(id);
      if (terminalStates.has(job.state))
        throw new JobError(409, "not_cancellable", `job ${id} is already ${job.state}`);
      const active = running.get(id);
      if (active) {
        active.controller.abort(new Error("cancelled"));
        // The trainer stops at once; a base model still downloading stops when its download ends, which the job's
        // events then say: the request does not wait for that.
        await Promise.race([active.done, sleep(cancelWaitMs, undefined, { ref: false })]);
      } else {
        await update(job, { state: "cancelled", endedAt: now() });
      }
      return job;
    },
    subscribe(id, listener) {
      const set = listeners.get(id) ?? new Set();
      listeners.set(id, set);
      set.add(listener);
      return () => {
        set.delete(listener);
        if (set.size === 0) listeners.delete(id);
      };
    },
    async publish(id, session) {
      const job = existing(id);
      if (job.published || publishing.has(id))
        throw new JobError(409, "already_published", `job ${id}'s adapter is published already, or being published`);
      publishing.add(id);
      try {
        return await publishJob(job, session);
      } finally {
        publishing.delete(id);
      }
    },
    async linkAdapter(id, adapterId) {
      const job = existing(id);
      if (!job.published)
        throw new JobError(409, "not_published", `job ${id}'s adapter is not published yet`, "adapterId");
      const adapter = await read<{ artifactHash: Hex; uri: string }>(suite, {
        contract: "ModelRegistry",
        functionName: "getAdapter",
        args: [adapterId],
      }).catch((error: unknown) => {
        if (error instanceof ContractRevertedError)
          throw new JobError(400, "invalid_request", error.message, "adapterId");
        throw error;
      });
      if (adapter.artifactHash !== job.published.artifactHash || adapter.uri !== job.published.uri)
        throw new JobError(
          400,
          "invalid_request",
          `adapter ${adapterId} is not job ${id}'s (artifact ${adapter.artifactHash} at ${adapter.uri})`,
          "adapterId",
        );
      await update(job, { adapterId: String(adapterId) });
      return job;
    },
    async close() {
      closing = true;
      for (const { controller } of running.values()) controller.abort(new Error("the server is closing"));
      await Promise.all([...running.values()].map((r) => r.done));
      await Promise.all(writes.values());
    },
  };
}

/** A job as lists show it: without its progress reports and loss curve (GET /api/jobs/:id has them). */
function summaryOf(job: Job) {
  const { progress, result, ...rest } = job;
  const latest = progress[progress.length - 1];
  return {
    ...rest,
    ...(latest && { latestProgress: latest }),
    ...(result && { result: { ...result, training: { ...result.training, losses: undefined } } }),
  };
}

type Issue = { path: string; message: string };
const refusal = (code: string, message: string, issues?: Issue[]) => ({ error: { code, message, issues } });

function invalid(error: z.ZodError) {
  const issues = error.issues.map((issue) => ({
    path: issue.path.map(String).join("."),
    message: issue.message,
  }));
  const [first] = issues;
  return refusal("invalid_request", `${first?.path || "body"}: ${first?.message}`, issues);
}

async function jsonBody(request: Request): Promise<unknown> {
  return request.json().catch(() => undefined);
}

/** How often an idle event stream sends a comment, so that proxies keep it open. */
const heartbeatMs = 15_000;

/** Largest body a job route takes (a job request or a publish signature is well under 1 KiB). */
const maxBodyBytes = 64 * 1024;

/**
 * The routes to mount under /api/jobs:
 *   POST /              start a job (JobRequest) → 201 Job; 400 naming the field
 *   GET  /              ?limit (1-100, default 20) &before=<id> → { jobs: newest first, next: id to pass as before | null }
 *   GET  /:id           the Job, with its progress and result
 *   GET  /:id/events    Server-Sent Events: "state" (the whole Job, first on every connection) and "progress"
 *   DELETE /:id         cancel a queued or running job → the Job
 *   POST /:id/publish   { signer, time, signature } over the job's store write session → the Job, `published` set
 *   POST /:id/adapter   { adapterId } registered from the published artifact (checked on chain) → the Job
 * Refusals are JSON { error: { code, message, issues? } }.
 */
export function jobRoutes(runner: JobRunner, { log = jsonLogger() }: { log?: Logger } = {}): Hono {
  const app = new Hono();
  app.onError((error, c) => {
    if (error instanceof JobError) {
      const issues = error.field ? [{ path: error.field, message: error.message }] : undefined;
      return c.json(refusal(error.code, error.message, issues), error.status);
    }
    log("error", "a Model Factory request failed", { path: c.req.path, error: String(error) });
    return c.json(refusal("internal", "the Model Factory failed to handle the request"), 500);
  });
  const jobOf = (id: string) => {
    const job = runner.get(id);
    if (!job) throw new JobError(404, "not_found", `there is no job ${id}`);
    return job;
  };
  app.use(
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: (c) => c.json(refusal("too_large", `a request body is at most ${maxBodyBytes} bytes`), 413),
    }),
  );

  app.post("/", async (c) => {
    const parsed = jobRequestSchema.safeParse(await jsonBody(c.req.raw));
    if (!parsed.success) return c.json(invalid(parsed.error), 400);
    return c.json(await runner.submit(parsed.data), 201);
  });
  app.get("/", (c) => {
    const query = z
      .object({
        limit: z.coerce.number().int().min(1).max(100).default(20),
        before: z
          .string()
          .regex(/^[0-9]+$/)
          .optional(),
      })
      .safeParse(c.req.query());
    if (!query.success) return c.json(invalid(query.error), 400);
    const { jobs, next } = runner.list(query.data);
    return c.json({ jobs: jobs.map(summaryOf), next });
  });
  app.get("/:id", (c) => c.json(jobOf(c.req.param("id"))));
  app.delete("/:id", async (c) => c.json(await runner.cancel(jobOf(c.req.param("id")).id)));
  app.post("/:id/publish", async (c) => {
    const job = jobOf(c.req.param("id"));
    const parsed = publishRequestSchema.safeParse(await jsonBody(c.req.raw));
    if (!parsed.success) return c.json(invalid(parsed.error), 400);
    return c.json(await runner.publish(job.id, parsed.data));
  });
  app.post("/:id/adapter", async (c) => {
    const job = jobOf(c.req.param("id"));
    const parsed = z.object({ adapterId: uintString }).safeParse(await jsonBody(c.req.raw));
    if (!parsed.success) return c.json(invalid(parsed.error), 400);
    return c.json(await runner.linkAdapter(job.id, BigInt(parsed.data.adapterId)));
  });
  app.get("/:id/events", (c) => {
    const id = jobOf(c.req.param("id")).id;
    return streamSSE(c, async (stream) => {
      const pending: JobEvent[] = [];
      let wake: (() => void) | undefined;
      // Subscribed before the first state is sent, so that nothing between the two is missed.
      const unsubscribe = runner.subscribe(id, (event) => {
        pending.push(event);
        wake?.();
      });
      let open = true;
      stream.onAbort(() => {
        open = false;
        wake?.();
      });
      try {
        const first = runner.get(id)!;
        await stream.writeSSE({ event: "state", data: JSON.stringify(first) });
        // A job that has ended changes no more (but for publishing, which its page asks for): the stream ends.
        let ended = terminalStates.has(first.state);
        while (open && !ended) {
          const event = pending.shift();
          if (event) {
            const data = event.type === "state" ? event.job : event.progress;
            await stream.writeSSE({ event: event.type, data: JSON.stringify(data) });
            ended = event.type === "state" && terminalStates.has(event.job.state);
            continue;
          }
          const idle = await new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(true), heartbeatMs);
            wake = () => {
              clearTimeout(timer);
              resolve(false);
            };
          });
          wake = undefined;
          if (idle && open) await stream.write(": keep-alive\n\n");
        }
      } finally {
        unsubscribe();
      }
    });
  });
  return app;
}
