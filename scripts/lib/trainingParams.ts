/**
 * A training run's hyperparameters, their defaults and what each does in one line: shared by `openpoa adapter
 * train`, the Studio's backend and its Model Factory page (pure, no node: imports, so the browser bundles it).
 */
import { TARGET_MODULES } from "../../inference/artifacts/targets.ts";

export type TrainingHyperparameters = {
  /** LoRA rank: the adapter's capacity (and size). */
  rank: number;
  /** The adapted projections, short names (q, k, v, o, gate, up, down) or PEFT's (q_proj, …). */
  targets: readonly string[];
  steps: number;
  /** Peak learning rate (short warm-up, then cosine decay to zero). */
  lr: number;
  /** Same seed, data and machine give the same adapter, byte for byte. */
  seed: number;
  /** Share of each datanet version's documents held out of training to evaluate on. */
  holdout: number;
  /** Tokens per packed training sequence; undefined: the model's context. */
  seqLen?: number;
};

/** What the engine reports about every twentieth of the run (train.py). */
export type TrainingProgress = { step: number; steps: number; loss: number; tokensPerSec: number; etaSeconds: number };

/** What a run is doing before its first step: fetching the base model, fetching the data, training. */
export type TrainingStage = "model" | "data" | "training";

/** openpoa-training.json, as the engine writes it beside the adapter's files. */
export type TrainingManifest = {
  format: "openpoa-training-v1";
  adapter: string;
  baseModel: { name: string; artifactHash: string | null };
  datasets: {
    name: string;
    documents: number;
    heldOut: number;
    datanetId: string;
    version: string;
    weightBps: number;
  }[];
  hyperparameters: {
    rank: number;
    loraAlpha: number;
    targets: string[];
    steps: number;
    lr: number;
    seed: number;
    seqLen: number;
    holdout: number;
  };
  tokens: number;
  losses: number[];
  heldOutLoss: { before: number | null; after: number | null };
  trainSeconds: number;
};

/** The engine's defaults (inference/engine/openpoa_engine/cli.py), and a tenth of the documents held out. */
export const trainingDefaults: TrainingHyperparameters = {
  rank: 64,
  targets: TARGET_MODULES,
  steps: 160,
  lr: 5e-3,
  seed: 0,
  holdout: 0.1,
};

/** One line on each hyperparameter, for forms and help texts. */
export const hyperparameterHelp: Record<Exclude<keyof TrainingHyperparameters, "seqLen">, string> = {
  rank: "The adapter's capacity: a higher rank learns more from the data and makes a larger adapter.",
  targets: "The attention and MLP projections the adapter changes; all seven adapt the most.",
  steps: "How many training steps (one packed sequence each); more steps fit the data more closely.",
  lr: "The peak learning rate (short warm-up, then cosine decay to zero); too high diverges, too low learns little.",
  seed: "The same seed, data and machine give the same adapter, byte for byte.",
  holdout: "The share of each datanet's documents kept out of training to measure the loss on, before and after.",
};

/** `total` split in `count` whole parts as evenly as can be, the remainder to the first: they add up to `total`. */
export function splitEvenly(total: number, count: number): number[] {
  const share = Math.floor(total / count);
  return Array.from({ length: count }, (_, i) => share + (i === 0 ? total - share * count : 0));
}

/** A run's duration or ETA as people read it: `42s`, `3m5s`. */
export const formatSeconds = (s: number) =>
  s >= 60 ? `${Math.floor(s / 60)}m${Math.round(s % 60)}s` : `${Math.round(s)}s`;
