import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  dayLabel,
  compactNumber,
  dayNumber,
  revenueChart,
  revenuePoints,
  targetModuleNames,
  tokenPoints,
  type UsageDay,
} from "./adapters.ts";

const OPEN = 10n ** 18n;

describe("usage per day as chart points", () => {
  const days: UsageDay[] = [
    { day: "2026-11-29", settlements: 2, revenue: (3n * OPEN).toString(), estimatedTokens: "3000" },
    { day: "2026-11-27", settlements: 1, revenue: (OPEN / 2n).toString(), estimatedTokens: null },
  ];
  it("puts the indexer's newest-first days in time order, revenue in OPEN", () =>
    assert.deepEqual(revenuePoints(days), [
      { x: dayNumber("2026-11-27"), y: 0.5 },
      { x: dayNumber("2026-11-29"), y: 3 },
    ]));
  it("leaves out days without a token estimate", () =>
    assert.deepEqual(tokenPoints(days), [{ x: dayNumber("2026-11-29"), y: 3000 }]));
  it("charts revenue in the largest unit the best day reaches, labelled compactly", () => {
    assert.deepEqual(revenueChart(days), {
      points: [
        { x: dayNumber("2026-11-27"), y: 0.5 },
        { x: dayNumber("2026-11-29"), y: 3 },
      ],
      unit: "OPEN",
    });
    const small = revenueChart([
      { day: "2026-11-29", settlements: 1, revenue: "3400000000000000", estimatedTokens: null },
    ]);
    assert.deepEqual(small, { points: [{ x: dayNumber("2026-11-29"), y: 3.4 }], unit: "thousandths of OPEN" });
    assert.equal(revenueChart([]).unit, "OPEN");
    assert.deepEqual([compactNumber(3.4), compactNumber(12_345), compactNumber(1_250_000)], ["3.4", "12.3K", "1.3M"]);
  });
  it("labels a day number back as its day", () => {
    assert.equal(dayLabel(dayNumber("2026-02-28") + 1), "2026-03-01");
    assert.throws(() => dayNumber("29/11/2026"), RangeError);
  });
});

describe("targetModuleNames", () => {
  it("names the mask's modules in registry bit order", () => {
    assert.equal(targetModuleNames(0b1001), "q, o");
    assert.equal(targetModuleNames(0), "");
  });
});
