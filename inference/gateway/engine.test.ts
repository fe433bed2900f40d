/**
 * The engine client's chat path: a chat goes to the engine as `messages` when the engine's model has its own
 * tokenizer and chat template, as the prompt text otherwise; and, where scripts/setup.sh installed it, the real
 * pretrained model answering a chat through the engine process.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, it } from "node:test";
import { fileURLToPath } from "node:url";
import { chatPrompt, countPromptTokens } from "../sdk/pricing.ts";
import { Engine, enginePython } from "./engine.ts";
import { silentLogger } from "./log.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const realModel = process.env.OPENPOA_REAL_MODEL ?? path.join(repoRoot, ".cache/models/smollm2-135m-instruct");
// CI (OPENPOA_REQUIRE_REAL_MODEL=1) ran scripts/setup.sh: there the real model must be present, not skipped.
const skipReal =
  existsSync(path.join(realModel, "model.safetensors")) || process.env.OPENPOA_REQUIRE_REAL_MODEL === "1"
    ? false
    : `no converted model at ${realModel}: run scripts/setup.sh`;
const messages = [{ role: "user", content: "What is the capital of France?" }];
let dir: string;
let fakeEngine: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "openpoa-engine-client-"));
  // Stands in for the interpreter: ignores the engine's arguments, says hello as told by its environment and
  // answers each generate with the fields it was given.
  fakeEngine = path.join(dir, "fake-engine");
  await writeFile(
    fakeEngine,
    `#!${process.execPath}
const hello = { type: "hello", id: null, protocol: "openpoa-engine/1", model: { name: "fake" },
  tokenizer: process.env.FAKE_TOKENIZER, chat_template: process.env.FAKE_TEMPLATE === "1",
  limits: { max_seq_len: 1024, max_batch_size: 4 } };
console.log(JSON.stringify(hello));
require("node:readline").createInterface({ input: process.stdin }).on("line", (line) => {
  const { id, type, ...fields } = JSON.parse(line);
  if (type !== "generate") return;
  const usage = { prompt_tokens: 1, completion_tokens: 1 };
  console.log(JSON.stringify({ type: "done", id, finish_reason: "stop", text: JSON.stringify(fields), delta: "", usage }));
});
`,
  );
  await chmod(fakeEngine, 0o755);
});
after(() => rm(dir, { recursive: true, force: true }));

async function sentBy(tokenizer: string, template: boolean, withMessages: boolean) {
  process.env.FAKE_TOKENIZER = tokenizer;
  process.env.FAKE_TEMPLATE = template ? "1" : "0";
  const engine = new Engine({ model: dir, adapters: dir, python: fakeEngine, log: silentLogger });
  try {
    await engine.start();
    const prompt = chatPrompt(messages);
    const done = await engine.generate(
      { prompt, messages: withMessages ? messages : undefined, adapter: null, max_tokens: 4 },
      () => {},
    );
    return JSON.parse(done.text) as { prompt?: string; messages?: unknown };
  } finally {
    await engine.stop();
  }
}

it("test_engine_sendsMessagesOnlyToAModelWithItsOwnChatTemplate", async () => {
  const own = await sentBy("hf", true, true);
  assert.deepEqual(own.messages, messages);
  assert.equal(own.prompt, undefined);
  for (const [tokenizer, template, withMessages] of [
    ["byte", false, true], // the generated models: the byte path, chatPrompt's text
    ["hf", false, true], // a tokenizer.json without a chat template
    ["hf", true, false], // a text completion
  ] as const) {
    const sent = await sentBy(tokenizer, template, withMessages);
    assert.equal(sent.prompt, chatPrompt(messages), `${tokenizer} ${template} ${withMessages}`);
    assert.equal(sent.messages, undefined);
  }
});

it("test_engine_realModelAnswersAChatInItsOwnTemplateAndTokens", { skip: skipReal }, async () => {
  const adapters = path.join(dir, "adapters");
  await mkdir(adapters);
  const engine = new Engine({
    model: realModel,
    adapters,
    python: enginePython(),
    extraArgs: ["--max-batch-size", "2"],
    log: silentLogger,
  });
  try {
    const hello = await engine.start();
    assert.equal(hello.tokenizer, "hf");
    assert.equal(hello.chat_template, true);
    let streamed = "";
    const prompt = chatPrompt(messages);
    const done = await engine.generate(
      { prompt, messages, adapter: null, max_tokens: 32, temperature: 0 },
      (text) => (streamed += text),
    );
    assert.match(done.text, /Paris/);
    assert.equal(done.finish_reason, "stop");
    assert.equal(streamed + done.delta, done.text);
    // The model's own tokens: ChatML with its default system prompt, 37 tokens; the cover's byte estimate of
    // chatPrompt's text is larger here, so the bill (the engine's count) stays within the reservation.
    assert.equal(done.usage.prompt_tokens, 37);
    assert.ok(countPromptTokens(prompt) >= done.usage.prompt_tokens);
  } finally {
    await engine.stop();
  }
});
