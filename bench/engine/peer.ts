/**
 * The llama.cpp peer for `npm run bench:engine`: the same GGUF file (SmolLM2-135M-Instruct, Q4_1) served by
 * llama.cpp through node-llama-cpp, 16 sequences decoding at once on the CPU, base model only (llama.cpp cannot batch
 * different LoRA adapters). Prints {"tokensPerSec", ...} as one JSON line. Run by bench/engine/run.ts, which installs
 * node-llama-cpp (pinned) outside node_modules, since only this benchmark needs it.
 */
const [modulePath, ggufPath, sequencesArg, tokensArg] = process.argv.slice(2);
const { getLlama } = await import(modulePath!);

const sequences = Number(sequencesArg ?? 16);
const maxTokens = Number(tokensArg ?? 64);
const llama = await getLlama({ gpu: false, build: "never" });
const model = await llama.loadModel({ modelPath: ggufPath! });
const context = await model.createContext({ sequences, contextSize: 256 * sequences, threads: 2 });

const all = Array.from({ length: sequences }, () => context.getSequence());

/** One sequence's decode after its prompt (from an empty history), tokens counted as they come. */
async function decode(index: number, counted: { tokens: number }) {
  const sequence = all[index]!;
  await sequence.clearHistory();
  const prompt = model.tokenize(`Benchmark prompt number ${String(index).padStart(2, "0")}: `);
  let produced = 0;
  for await (const token of sequence.evaluate(prompt, { temperature: 0 })) {
    void token;
    counted.tokens++;
    if (++produced >= maxTokens) break;
  }
}

// One warm-up round (first allocations, thread start-up), then the timed one.
await Promise.all(Array.from({ length: sequences }, (_, i) => decode(i, { tokens: 0 })));
const counted = { tokens: 0 };
const started = performance.now();
await Promise.all(Array.from({ length: sequences }, (_, i) => decode(i, counted)));
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({ sequences, tokens: counted.tokens, seconds, tokensPerSec: counted.tokens / seconds }));
await context.dispose();
await model.dispose();
await llama.dispose();
