import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { perplexity, withProgress } from "./factory.ts";

const report = (step: number, loss: number) => ({ step, steps: 30, loss, tokensPerSec: 100, etaSeconds: 1 });

describe("Model Factory helpers", () => {
  it("keeps progress in step order and ignores a reconnect's replay", () => {
    let progress = withProgress([], report(1, 3));
    progress = withProgress(progress, report(5, 2));
    progress = withProgress(progress, report(3, 2.5));
    progress = withProgress(progress, report(5, 2));
    assert.deepEqual(
      progress.map((p) => p.step),
      [1, 3, 5],
    );
  });

  it("reads a loss as perplexity", () => {
    assert.equal(perplexity(0), 1);
    assert.ok(Math.abs(perplexity(Math.log(12)) - 12) < 1e-9);
  });
});
