import assert from "node:assert/strict";
import { it } from "node:test";
import { answerTextOf, streamDeltaOf, templateTextsOf } from "./requests.ts";

it("test_templateTextsOf_namesTheRoleMarkersAndTheSystemPrompt", () => {
  assert.deepEqual(
    templateTextsOf("chat", {
      messages: [
        { role: "system", content: "You are terse." },
        { role: "user", content: [{ type: "text", text: "Hi" }] },
      ],
    }),
    ["<|system|>", "<|user|>", "<|assistant|>", "You are terse."],
  );
  assert.deepEqual(templateTextsOf("responses", { input: "Hi", instructions: "Be kind." }), [
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "Be kind.",
  ]);
  assert.deepEqual(templateTextsOf("text", { prompt: "Once upon" }), []);
});

it("test_answerText_readsEachApiAsTheGatewayWritesIt", () => {
  assert.equal(answerTextOf("chat", { choices: [{ message: { content: "a" } }] }), "a");
  assert.equal(answerTextOf("text", { choices: [{ text: "b" }] }), "b");
  assert.equal(answerTextOf("responses", { output: [{ content: [{ type: "output_text", text: "c" }] }] }), "c");
  assert.equal(answerTextOf("chat", { choices: [] }), undefined);
  assert.equal(streamDeltaOf("chat", { choices: [{ delta: { content: "d" } }] }), "d");
  assert.equal(streamDeltaOf("text", { choices: [{ text: "e" }] }), "e");
  assert.equal(streamDeltaOf("responses", { type: "response.output_text.delta", delta: "f" }), "f");
  assert.equal(streamDeltaOf("responses", { type: "response.output_text.done", text: "whole" }), "");
});
