/**
 * `openpoa adapter train`: from datanet versions to a LoRA adapter, and with `--register` to a registered one whose
 * lineage is what it was trained on. The contributions come from the content store, each checked against its
 * on-chain hash and all against the version's on-chain root; the base model comes by its on-chain URI, checked
 * against its artifact hash; the engine trains (inference/engine/openpoa_engine/train.py) and writes the PEFT
 * directory with its training manifest.
 */
import path from "node:path";
import { contentLocation } from "../../lib/rewards.ts";
import {
  readBaseModel,
  trainAdapter,
  trainingDefaults,
  TrainingInputError,
  type LineageEntry,
  type TrainingHyperparameters,
  type TrainingProgress,
} from "../../lib/training.ts";
import { formatSeconds, splitEvenly } from "../../lib/trainingParams.ts";
import { parseBounded, parseId, requireValue, UsageError } from "../args.ts";
import { contentOption, str, UINT64, type Command, type Values } from "../shared.ts";
import { modelCommands } from "./model.ts";

/** `--datanet id:version[:weightBps]`, repeated; unweighted ones share what the weighted leave, evenly. */
export function parseDatanetVersions(values: string[]): LineageEntry[] {
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
  const shares = splitEvenly(10_000 - given, open.length);
  return parsed.map((d) => ({ ...d, weightBps: d.weightBps ?? shares[open.indexOf(d)]! }));
}

const showProgress = (p: TrainingProgress) =>
  process.stderr.write(
    `  step ${p.step}/${p.steps}  loss ${p.loss.toFixed(4)}  ${Math.round(p.tokensPerSec)} tokens/s  ETA ${formatSeconds(p.etaSeconds)}\n`,
  );

/** A number flag, or the default when it is not given. */
function numberOption(values: Values, name: string, fallback: number | undefined, integer = true) {
  const text = str(values, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < 0)
    throw new UsageError(`--${name} must be a non-negative ${integer ? "integer" : "number"}, got "${text}"`);
  return value;
}

function parseHyperparameters(values: Values): TrainingHyperparameters {
  const d = trainingDefaults;
  return {
    rank: numberOption(values, "rank", d.rank)!,
    targets: str(values, "targets")?.split(",") ?? d.targets,
    steps: numberOption(values, "steps", d.steps)!,
    lr: numberOption(values, "lr", d.lr, false)!,
    seed: numberOption(values, "seed", d.seed)!,
    holdout: numberOption(values, "holdout", d.holdout, false)!,
    seqLen: numberOption(values, "seq-len", undefined),
  };
}

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
      const hyperparameters = parseHyperparameters(values);
      const out = path.resolve(str(values, "out") ?? "openpoa-adapters");
      const { dir, summary, manifest } = await (async () => {
        const baseModel = await readBaseModel(suite, baseModelId);
        process.stderr.write(`Training on ${datanets.length} datanet version(s) over ${baseModel.name}\n`);
        const content = contentLocation(str(values, "content"));
        return trainAdapter(suite, {
          baseModel,
          lineage: datanets,
          hyperparameters,
          content,
          out,
          onProgress: showProgress,
        });
      })().catch((error: unknown) => {
        throw error instanceof TrainingInputError ? new UsageError(error.message) : error;
      });
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
      return { text: lines.join("\n"), data: { ...summary, dir, adapterId, manifest } };
    },
  },
};
