import assert from "node:assert/strict";
import { test } from "node:test";
import { splitDataShare } from "./settlement.ts";

test("split by weightBps with integer division, remainder to the last lineage entry", () => {
  const lineage = [
    { datanetId: 3n, version: 1n, weightBps: 3_333 },
    { datanetId: 1n, version: 2n, weightBps: 3_333 },
    { datanetId: 2n, version: 1n, weightBps: 3_334 },
  ];
  assert.deepEqual(
    splitDataShare({ amount: 100n, lineage }).map((e) => e.amount),
    [33n, 33n, 34n],
  );
  // 7 · 3333 / 10000 = 2 (floor) for the first two; the last takes 7 − 4 = 3.
  assert.deepEqual(
    splitDataShare({ amount: 7n, lineage }).map((e) => e.amount),
    [2n, 2n, 3n],
  );
  const reversed = [lineage[2]!, lineage[1]!, lineage[0]!];
  assert.deepEqual(
    splitDataShare({ amount: 7n, lineage: reversed }).map((e) => e.amount),
    [2n, 2n, 3n],
  );
  assert.deepEqual(
    splitDataShare({ amount: 10n ** 18n + 1n, lineage }).map((e) => e.amount),
    [333_300_000_000_000_000n, 333_300_000_000_000_000n, 333_400_000_000_000_001n],
  );
});
