/**
 * From datanet versions to a LoRA adapter, for `openpoa adapter train` and the Studio's Model Factory: the
 * contributions come from the content store, each checked against its on-chain hash and all against the version's
 * on-chain root; the base model comes by its on-chain URI, checked against its artifact hash; the engine trains
 * (inference/engine/openpoa_engine/train.py), reporting progress, and writes the PEFT directory with its training
 * manifest (datanet versions and lineage weights, hyperparameters, seed, loss curve, held-out loss before and after).
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import type { Hex } from "viem";
import { assertDatanetVersionRoot, contentStoreAt, getContent } from "../../attribution/src/index.ts";
import { artifactCacheSettings, openArtifactCache, TRAINING_MANIFEST_FILE } from "../../inference/artifacts/index.ts";
import { engineMain, enginePython } from "../../inference/gateway/engine.ts";
import { silentLogger } from "../../inference/gateway/log.ts";
import type { Suite } from "./contracts.ts";
import { readDatanetVersion, registryLocation } from "./datanetVersions.ts";
import {
  trainingDefaults,
  type TrainingHyperparameters,
  type TrainingManifest,
  type TrainingProgress,
  type TrainingStage,
} from "./trainingParams.ts";
import { read } from "./transactions.ts";

export {
  hyperparameterHelp,
  trainingDefaults,
  type TrainingHyperparameters,
  type TrainingManifest,
  type TrainingProgress,
  type TrainingStage,
} from "./trainingParams.ts";

/** A datanet version trained on, and its weight in the adapter's lineage (the weights add up to 10,000 bps). */
export type LineageEntry = { datanetId: bigint; version: bigint; weightBps: number };

/** The engine's JSON summary of a run (train.py train_adapter). */
export type TrainingSummary = {
  sha256: string;
  documents: number;
  heldOutDocuments: number;
  tokens: number;
  tokensPerSec: number;
  loss_first: number;
  loss_last: number;
  heldOutLoss: { before: number | null; after: number | null };
  train_seconds: number;
};

export type BaseModel = { baseModelId: bigint; name: string; artifactHash: Hex; uri: string };

export type TrainedAdapter = {
  /** The adapter's directory, OUT/<sha256 of its weights>: the PEFT files and openpoa-training.json. */
  dir: string;
  baseModel: BaseModel;
  lineage: LineageEntry[];
  summary: TrainingSummary;
  manifest: TrainingManifest;
};

/** The training data cannot be had: a version without contributions, an unknown or deprecated base model. */
export class TrainingInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TrainingInputError";
  }
}

/** The engine's trainer failed; `output` is the end of what it printed. */
export class TrainerFailedError extends Error {
  readonly exitCode: number | null;
  constructor(exitCode: number | null, signal: NodeJS.Signals | null, output: string) {
    super(`training failed (${signal ? `killed by ${signal}` : `exit ${exitCode}`}): ${output}`);
    this.name = "TrainerFailedError";
    this.exitCode = exitCode;
  }
}

/** A registered base model (ModelRegistry reverts for an unknown id); a deprecated one is a TrainingInputError. */
export async function readBaseModel(suite: Suite, baseModelId: bigint): Promise<BaseModel> {
  const model = await read<{ artifactHash: Hex; uri: string; name: string; deprecated: boolean }>(suite, {
    contract: "ModelRegistry",
    functionName: "getBaseModel",
    args: [baseModelId],
  });
  if (model.deprecated) throw new TrainingInputError(`base model ${baseModelId} is deprecated`);
  return { baseModelId, name: model.name, artifactHash: model.artifactHash, uri: model.uri };
}

/**
 * Writes each version's contributions (hash-checked, root-checked) as files in `dir`, and the engine's --spec that
 * names them; returns the spec's path.
 */
export async function writeTrainingData(
  suite: Suite,
  { content, lineage, dir, signal }: { content: string; lineage: LineageEntry[]; dir: string; signal?: AbortSignal },
): Promise<string> {
  const store = contentStoreAt(content);
  const datasets = [];
  for (const { datanetId, version, weightBps } of lineage) {
    const datanet = await readDatanetVersion(suite.publicClient, { ...registryLocation(suite), datanetId, version });
    // The contributions the events name must be those the version's root commits to.
    assertDatanetVersionRoot(datanet);
    if (datanet.contributions.length === 0)
      throw new TrainingInputError(`datanet ${datanetId} version ${version} has no contributions to train on`);
    const files = [];
    for (const { contributionId, contentHash } of datanet.contributions) {
      signal?.throwIfAborted();
      const file = path.join(dir, `${datanetId}-${version}-${contributionId}.txt`);
      await writeFile(file, await getContent(store, { contentHash }));
      files.push(file);
    }
    datasets.push({
      name: `datanet ${datanetId} v${version}`,
      files,
      meta: { datanetId: String(datanetId), version: String(version), weightBps },
    });
  }
  const spec = path.join(dir, "spec.json");
  await writeFile(spec, JSON.stringify({ datasets }));
  return spec;
}

/** The trainer's flags for `hyperparameters`. */
function trainerFlags(h: TrainingHyperparameters): string[] {
  const flags = ["--rank", String(h.rank), "--targets", h.targets.join(","), "--steps", String(h.steps)];
  flags.push("--lr", String(h.lr), "--seed", String(h.seed), "--holdout", String(h.holdout));
  if (h.seqLen !== undefined) flags.push("--seq-len", String(h.seqLen));
  return flags;
}

/** `text` as JSON, or undefined when it is not JSON. */
function parseJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/**
 * Runs the engine's trainer with `args`, calling `onProgress` with each progress line; resolves with its JSON
 * summary. An abort kills the trainer and rejects with the signal's reason.
 */
export function runTrainer({
  args,
  onProgress,
  signal,
}: {
  args: string[];
  onProgress?: (progress: TrainingProgress) => void;
  signal?: AbortSignal;
}): Promise<TrainingSummary> {
  signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    const child = spawn(enginePython(), [engineMain, "train-adapter", ...args, "--json"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const abort = () => child.kill("SIGTERM");
    signal?.addEventListener("abort", abort, { once: true });
    let stdout = "";
    const errors: string[] = [];
    child.stdout!.on("data", (chunk) => (stdout += chunk));
    // Output that is not what train.py prints is an error line, never an exception: these handlers run outside the
    // promise, where a throw would take the whole process (the Studio's server, say) down.
    createInterface({ input: child.stderr! }).on("line", (line) => {
      const progress = line.startsWith("{") ? parseJson<TrainingProgress>(line) : undefined;
      if (progress) onProgress?.(progress);
      else errors.push(line);
    });
    child.on("error", reject);
    child.on("close", (code, killedBy) => {
      signal?.removeEventListener("abort", abort);
      const summary = code === 0 ? parseJson<TrainingSummary>(stdout) : undefined;
      if (signal?.aborted) reject(signal.reason);
      else if (summary) resolve(summary);
      else if (code === 0)
        reject(new TrainerFailedError(code, killedBy, `unreadable summary: ${stdout.slice(0, 200)}`));
      else reject(new TrainerFailedError(code, killedBy, errors.slice(-5).join("\n")));
    });
  });
}

/**
 * Trains an adapter for the registered base model `baseModel` (readBaseModel) on `lineage`'s datanet versions, read from the
 * chain and fetched from `content` (a content store's URL or directory), into `out`/<sha256>. The base model lands
 * in the artifact cache a worker on this machine would use (OPENPOA_ARTIFACT_CACHE_DIR). An abort stops the run
 * wherever it is (the trainer is killed) and rejects with the signal's reason; nothing is left in `out`'s adapter.
 */
export async function trainAdapter(
  suite: Suite,
  {
    baseModel,
    lineage,
    hyperparameters = trainingDefaults,
    content,
    out,
    onStage,
    onProgress,
    signal,
  }: {
    baseModel: BaseModel;
    lineage: LineageEntry[];
    hyperparameters?: TrainingHyperparameters;
    content: string;
    out: string;
    onStage?: (stage: TrainingStage) => void;
    onProgress?: (progress: TrainingProgress) => void;
    signal?: AbortSignal;
  },
): Promise<TrainedAdapter> {
  onStage?.("model");
  const cache = await openArtifactCache(artifactCacheSettings(content), silentLogger);
  const model = await cache.hold({ artifactHash: baseModel.artifactHash.slice(2), uri: baseModel.uri, kind: "model" });
  let work: string | undefined;
  let summary: TrainingSummary;
  try {
    work = await mkdtemp(path.join(tmpdir(), "openpoa-train-"));
    signal?.throwIfAborted();
    onStage?.("data");
    const spec = await writeTrainingData(suite, { content, lineage, dir: work, signal });
    await mkdir(out, { recursive: true });
    onStage?.("training");
    summary = await runTrainer({
      args: [
        ...["--model", model.dir, "--spec", spec, "--out", out],
        ...["--base-artifact-hash", baseModel.artifactHash.slice(2)],
        ...trainerFlags(hyperparameters),
      ],
      onProgress,
      signal,
    });
  } finally {
    model.release();
    if (work) await rm(work, { recursive: true, force: true });
  }
  const dir = path.join(out, summary.sha256);
  const manifest = JSON.parse(await readFile(path.join(dir, TRAINING_MANIFEST_FILE), "utf8")) as TrainingManifest;
  return { dir, baseModel, lineage, summary, manifest };
}
