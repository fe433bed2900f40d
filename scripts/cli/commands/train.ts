/**
 * `openpoa adapter train`: from datanet versions to a LoRA adapter, and with `--register` to a registered one whose
 * lineage is what it was trained on. The contributions come from the content store, each checked against its
 * on-chain hash and all against the version's on-chain root; the base model comes by its on-chain URI, checked
 * against its artifact hash; the engine trains (inference/engine/openpoa_engine/train.py) and writes the PEFT
 * directory with its training manifest.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import type { Hex } from "viem";
import { assertDatanetVersionRoot, getContent } from "../../../attribution/src/index.ts";
import { artifactCacheSettings, openArtifactCache } from "../../../inference/artifacts/index.ts";
import { engineMain, enginePython } from "../../../inference/gateway/engine.ts";
import { silentLogger } from "../../../inference/gateway/log.ts";
import { readDatanetVersion, registryLocation } from "../../lib/datanetVersions.ts";
import type { Suite } from "../../lib/contracts.ts";
import { contentLocation, openContentStore } from "../../lib/rewards.ts";
import { read } from "../../lib/transactions.ts";
import { parseBounded, parseId, requireValue, UsageError } from "../args.ts";
import { contentOption, str, UINT64, type Command, type Values } from "../shared.ts";
import { modelCommands } from "./model.ts";

type DatanetVersionArg = { datanetId: bigint; version: bigint; weightBps: number };
/** What the engine prints per progress step (train.py). */
type Progress = { step: number; steps: number; loss: number; tokensPerSec: number; etaSeconds: number };
type TrainSummary = {
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

/** `--datanet id:version[:weightBps]`, repeated; unweighted ones share what the weighted leave, evenly. */
export function parseDatanetVersions(values: string[]): DatanetVersionArg[] {
  if (values.length === 0) throw new UsageError("Name at least one --datanet <id>:<version>[:<weight bps>]");
  const parsed = values.map((value) => {
    const parts = value.split(":");
    if (parts.length < 2 || parts.length > 3)
      throw new UsageError(`--datanet takes <id>:<version>[:<weight bps>], got "${value}"`);
    return {
      datanetId: parseId(parts[0], "--datanet id"),
      version: parseBounded(parts[1], "--datanet version", UINT64),
      weightBps: parts[2] === undefined ? undefined : Number(parseBounded(parts[2], "--datanet weight", 10_000n)),
    };
  });
  const keys = new Set(parsed.map((d) => `${d.datanetId}:${d.version}`));
  if (keys.size !== parsed.length) throw new UsageError("--datanet names a version twice");
  const given = parsed.reduce((sum, d) => sum + (d.weightBps ?? 0), 0);
  const open = parsed.filter((d) => d.weightBps === undefined);
  if (given > 10_000 || (open.length === 0 && given !== 10_000))
    throw new UsageError(`--datanet weights must add up to 10000 bps, got ${given}`);
  // The remainder of an uneven split goes to the first, so the weights always add up to exactly 10,000.
  const share = open.length ? Math.floor((10_000 - given) / open.length) : 0;
  const remainder = open.length ? 10_000 - given - share * open.length : 0;
  return parsed.map((d) => ({
    ...d,
    weightBps: d.weightBps ?? share + (d === open[0] ? remainder : 0),
  }));
}

/** Writes each version's contributions (hash-checked, root-checked) as files; the engine's --spec names them. */
async function writeDatasets(suite: Suite, datanets: DatanetVersionArg[], values: Values, dir: string) {
  const store = openContentStore(str(values, "content"));
  const datasets = [];
  for (const { datanetId, version, weightBps } of datanets) {
    const datanet = await readDatanetVersion(suite.publicClient, { ...registryLocation(suite), datanetId, version });
    // The contributions the events name must be those the version's root commits to.
    assertDatanetVersionRoot(datanet);
    if (datanet.contributions.length === 0)
      throw new UsageError(`datanet ${datanetId} version ${version} has no contributions to train on`);
    const files = [];
    for (const { contributionId, contentHash } of datanet.contributions) {
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

const formatSeconds = (s: number) => (s >= 60 ? `${Math.floor(s / 60)}m${Math.round(s % 60)}s` : `${Math.round(s)}s`);

/** Runs the engine's trainer, relaying its progress to stderr; its JSON summary. */
function runTrainer(args: string[]): Promise<TrainSummary> {
  return new Promise((resolve, reject) => {
    const child = spawn(enginePython(), [engineMain, "train-adapter", ...args, "--json"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    const errors: string[] = [];
    child.stdout!.on("data", (chunk) => (stdout += chunk));
    createInterface({ input: child.stderr! }).on("line", (line) => {
      if (!line.startsWith("{")) return void errors.push(line);
      const p = JSON.parse(line) as Progress;
      process.stderr.write(
        `  step ${p.step}/${p.steps}  loss ${p.loss.toFixed(4)}  ${Math.round(p.tokensPerSec)} tokens/s  ETA ${formatSeconds(p.etaSeconds)}\n`,
      );
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0
        ? resolve(JSON.parse(stdout) as TrainSummary)
        : reject(new Error(`training failed (exit ${code}): ${errors.slice(-5).join("\n")}`)),
    );
  });
}

const TRAIN_OPTIONS = ["rank", "targets", "steps", "lr", "seed", "holdout", "seq-len"] as const;

export const trainCommands: Record<string, Command> = {
  "adapter train": {
    summary:
      "Train a LoRA adapter on datanet versions (their contributions checked against the chain); --register publishes and registers it with that lineage",
    usage:
      "adapter train --base <id> --datanet <id>:<version>[:<bps>] [--datanet …] [--rank 64] [--targets q,k,v,o,gate,up,down] [--steps 160] [--lr 5e-3] [--seed 0] [--holdout 0.1] [--seq-len N] [--out DIR] [--register --price OPEN-per-1k --owner-share bps --data-share bps] [--content <dir|url>]",
    options: {
      base: { type: "string", description: "id of the registered base model to train on" },
      datanet: {
        type: "string",
        multiple: true,
        description:
          "a datanet version to train on, id:version[:weight bps]; repeat for several (weights add to 10000)",
      },
      rank: { type: "string", description: "LoRA rank (default 64)" },
      targets: { type: "string", description: "adapted modules (default all seven: q,k,v,o,gate,up,down)" },
      steps: { type: "string", description: "training steps (default 160)" },
      lr: { type: "string", description: "peak learning rate (default 5e-3)" },
      seed: { type: "string", description: "the seed: same seed, data and machine give the same adapter (default 0)" },
      holdout: {
        type: "string",
        description: "share of each datanet's documents held out to measure on (default 0.1)",
      },
      "seq-len": { type: "string", description: "tokens per packed training sequence (default: the model's context)" },
      out: { type: "string", description: "where the adapter directory is written (default openpoa-adapters)" },
      register: { type: "boolean", description: "publish the adapter and register it with its training lineage" },
      price: { type: "string", description: "with --register: OPEN per 1,000 tokens" },
      "owner-share": { type: "string", description: "with --register: the owner's part in bps" },
      "data-share": { type: "string", description: "with --register: the datanets' part in bps" },
      content: contentOption,
    },
    async run(suite, _positionals, values) {
      const baseModelId = parseId(str(values, "base"), "--base");
      const datanets = parseDatanetVersions((values.datanet as string[] | undefined) ?? []);
      const base = await read<{ artifactHash: Hex; uri: string; name: string }>(suite, {
        contract: "ModelRegistry",
        functionName: "getBaseModel",
        args: [baseModelId],
      });
      const out = path.resolve(str(values, "out") ?? "openpoa-adapters");
      const work = await mkdtemp(path.join(tmpdir(), "openpoa-train-"));
      let summary: TrainSummary;
      // The worker's settings: the base model lands in the same cache a worker on this machine would use.
      const cache = await openArtifactCache(
        artifactCacheSettings(contentLocation(str(values, "content"))),
        silentLogger,
      );
      const model = await cache.hold({ artifactHash: base.artifactHash.slice(2), uri: base.uri, kind: "model" });
      try {
        const spec = await writeDatasets(suite, datanets, values, work);
        await mkdir(out, { recursive: true });
        const flags = TRAIN_OPTIONS.flatMap((name) => (str(values, name) ? [`--${name}`, str(values, name)!] : []));
        if (!str(values, "holdout")) flags.push("--holdout", "0.1");
        process.stderr.write(`Training on ${datanets.length} datanet version(s) over ${base.name}\n`);
        summary = await runTrainer([
          "--model",
          model.dir,
          "--spec",
          spec,
          "--out",
          out,
          "--base-artifact-hash",
          base.artifactHash.slice(2),
          ...flags,
        ]);
      } finally {
        model.release();
        await rm(work, { recursive: true, force: true });
      }
      const dir = path.join(out, summary.sha256);
      const held = summary.heldOutLoss;
      const lines = [
        `Trained ${dir}`,
        `  ${summary.documents} documents (${summary.heldOutDocuments} held out), ${summary.tokens} tokens, ${summary.train_seconds} s, ${Math.round(summary.tokensPerSec)} tokens/s`,
        `  loss ${summary.loss_first.toFixed(4)} → ${summary.loss_last.toFixed(4)}` +
          (held.before === null ? "" : `; held out ${held.before.toFixed(4)} → ${held.after!.toFixed(4)}`),
      ];
      let adapterId: bigint | undefined;
      if (values.register) {
        const registered = await modelCommands["adapter register"]!.run(suite, [], {
          from: dir,
          base: String(baseModelId),
          lineage: datanets.map((d) => `${d.datanetId}:${d.version}:${d.weightBps}`).join(","),
          price: requireValue(str(values, "price"), "--price"),
          "owner-share": requireValue(str(values, "owner-share"), "--owner-share"),
          "data-share": requireValue(str(values, "data-share"), "--data-share"),
          content: str(values, "content"),
        });
        adapterId = (registered.data as { adapterId: bigint }).adapterId;
        lines.push(registered.text);
      }
      const manifest = JSON.parse(await readFile(path.join(dir, "openpoa-training.json"), "utf8")) as unknown;
      return { text: lines.join("\n"), data: { ...summary, dir, adapterId, manifest } };
    },
  },
};
