import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatSeconds, splitEvenly } from "./trainingParams.ts";

describe("training parameters", () => {
  it("splits a total evenly, the remainder to the first", () => {
    assert.deepEqual(splitEvenly(10_000, 3), [3334, 3333, 3333]);
    assert.deepEqual(splitEvenly(10_000, 1), [10_000]);
    assert.deepEqual(splitEvenly(0, 0), []);
  });

  it("formats durations", () => {
    assert.equal(formatSeconds(42.4), "42s");
    assert.equal(formatSeconds(185), "3m5s");
  });
});
