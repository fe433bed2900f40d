/**
 * What the Model Factory's job API takes and answers (studio/server/jobs.ts serves it, the Model Factory page calls
 * it). Pure (zod and types only), so the page validates a form with the very schema the backend applies.
 */
import { isAddress, type Address, type Hex } from "viem";
import { z } from "zod/v4";
import type { StoreSessionWrite } from "../../attribution/src/storeAuth.ts";
import { PEFT_TARGETS, TARGET_MODULES } from "../../inference/artifacts/targets.ts";
import type { TrainingManifest, TrainingProgress, TrainingStage } from "../../scripts/lib/trainingParams.ts";
import { trainingDefaults } from "../../scripts/lib/trainingParams.ts";

export type JobState = "queued" | "running" | "succeeded" | "failed" | "cancelled";
/** States a job never leaves. */
export const terminalStates: ReadonlySet<JobState> = new Set<JobState>(["succeeded", "failed", "cancelled"]);

/** An id or version: a decimal string (or a safe integer) below 2^64, as a string. */
export const uintString = z
  .union([z.string().regex(/^[0-9]{1,20}$/, "a non-negative integer"), z.int().nonnegative()])
  .transform(String)
  .refine((s) => BigInt(s) < 2n ** 64n, "at most 2^64 - 1");

/** POST /api/jobs: what to train. Every field but the base model and the datanet versions has a default. */
export const jobRequestSchema = z.object({
  baseModelId: uintString,
  datanets: z
    .array(
      z.object({
        datanetId: uintString,
        version: uintString.refine((v) => v !== "0", "versions start at 1"),
        weightBps: z.int().min(1).max(10_000),
      }),
    )
    .min(1, "name at least one published datanet version")
    .max(16)
    .refine(
      (ds) => new Set(ds.map((d) => `${d.datanetId}:${d.version}`)).size === ds.length,
      "a datanet version is named twice",
    )
    .refine(
      (ds) => ds.reduce((sum, d) => sum + d.weightBps, 0) === 10_000,
      "the lineage weights must add up to 10000 bps",
    ),
  rank: z.int().min(1).max(256).default(trainingDefaults.rank),
  targets: z
    .array(z.enum([...TARGET_MODULES, ...PEFT_TARGETS]))
    .min(1)
    .refine((ts) => new Set(ts).size === ts.length, "a module is named twice")
    .default([...trainingDefaults.targets] as (typeof TARGET_MODULES)[number][]),
  steps: z.int().min(1).max(100_000).default(trainingDefaults.steps),
  lr: z.number().positive().max(1).default(trainingDefaults.lr),
  seed: z
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(trainingDefaults.seed),
  holdout: z.number().min(0).max(0.5).default(trainingDefaults.holdout),
});
export type JobRequest = z.output<typeof jobRequestSchema>;

/** POST /api/jobs/:id/publish: the wallet's personal_sign over the job's store write session. */
export const publishRequestSchema = z.object({
  signer: z.string().refine((s) => isAddress(s, { strict: false }), "an address"),
  time: z.int().positive(),
  signature: z.string().regex(/^0x[0-9a-fA-F]+$/, "a 0x hex signature"),
});

/** What a finished job produced, and what publishing and registering it take. */
export type JobResult = {
  /** The adapter's artifact hash (0x), what ModelRegistry records. */
  artifactHash: Hex;
  /** Where the adapter will be once published: openpoa-store://<artifact manifest sha256>. */
  uri: string;
  baseModel: { baseModelId: string; name: string; artifactHash: Hex };
  rank: number;
  /** ModelRegistry's bit mask of the adapted modules. */
  targetModules: number;
  lineage: { datanetId: string; version: string; weightBps: number }[];
  /** The store writes that publish the adapter, in order (the artifact manifest last): sign them as one session. */
  writes: StoreSessionWrite[];
  /** The training manifest's sha256: a store object of its own, named by the artifact manifest. */
  trainingSha256: string;
  training: TrainingManifest;
};

export type Job = {
  id: string;
  state: JobState;
  /** While running, before the first step: fetching the base model or the data, or training. */
  stage?: TrainingStage;
  device?: string;
  request: JobRequest;
  createdAt: string;
  startedAt?: string;
  endedAt?: string;
  /** The trainer's reports so far (about one per twentieth of the run): step, loss, tokens/s, ETA. */
  progress: TrainingProgress[];
  error?: { code: "interrupted" | "failed" | "bad_input"; message: string };
  result?: JobResult;
  published?: { uri: string; artifactHash: Hex; signer: Address; publishedAt: string };
  /** The adapter registered from this job's artifact, once the browser has told and the chain agrees. */
  adapterId?: string;
};

export type JobEvent = { type: "state"; job: Job } | { type: "progress"; progress: TrainingProgress };
