import assert from "node:assert/strict";
import { test } from "node:test";
import { allocateLargestRemainder } from "./allocate.ts";
import { createRandom } from "./testing.ts";

test("largest remainder: exact total, proportional floor, documented tie-break", () => {
  assert.deepEqual(allocateLargestRemainder({ total: 10n, weights: [1n, 1n, 1n] }), [4n, 3n, 3n]);
  assert.deepEqual(allocateLargestRemainder({ total: 100n, weights: [1n, 2n, 3n] }), [17n, 33n, 50n]);
  assert.deepEqual(allocateLargestRemainder({ total: 5n, weights: [0n, 7n] }), [0n, 5n]);
  assert.deepEqual(allocateLargestRemainder({ total: 0n, weights: [0n, 0n] }), [0n, 0n]);
  assert.throws(() => allocateLargestRemainder({ total: 1n, weights: [0n] }));
});

test("largest remainder always sums to the total and stays within one unit of the exact share", () => {
  const random = createRandom(11);
  for (let round = 0; round < 2000; round++) {
    const weights = Array.from(
      { length: random.int(1, 30) },
      () => BigInt(random.int(0, 1_000_000)) * BigInt(random.int(0, 3)),
    );
    weights[0] = weights[0]! + 1n;
    const total = BigInt(random.int(0, 2_000_000)) * BigInt(random.int(1, 1_000_000_000));
    const shares = allocateLargestRemainder({ total, weights });
    const sum = weights.reduce((a, b) => a + b, 0n);
    assert.equal(
      shares.reduce((a, b) => a + b, 0n),
      total,
    );
    shares.forEach((share, i) => {
      const floor = (total * weights[i]!) / sum;
      assert.ok(share === floor || share === floor + 1n);
    });
  }
});
