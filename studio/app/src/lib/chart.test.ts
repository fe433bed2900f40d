import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CHART, plotted } from "./chart.ts";

const { WIDTH, HEIGHT, PAD } = CHART;

describe("plotted", () => {
  it("spans the plot area: the first x at the left, the last at the right, 0 at the bottom, the top at the top", () => {
    assert.deepEqual(
      plotted([
        { x: 10, y: 0 },
        { x: 15, y: 5 },
        { x: 20, y: 10 },
      ]),
      [
        [PAD, HEIGHT - PAD],
        [WIDTH / 2, HEIGHT / 2],
        [WIDTH - PAD, PAD],
      ],
    );
  });
  it("keeps a flat line and a single point inside the area", () => {
    for (const [x, y] of plotted([{ x: 1, y: 3 }]).concat(
      plotted([
        { x: 1, y: 0 },
        { x: 2, y: 0 },
      ]),
    )) {
      assert.ok(x >= PAD && x <= WIDTH - PAD && y >= PAD && y <= HEIGHT - PAD, `${x}, ${y}`);
    }
  });
  it("puts negative values below zero", () => {
    const [[, low], [, high]] = plotted([
      { x: 0, y: -5 },
      { x: 1, y: 5 },
    ]);
    assert.equal(low, HEIGHT - PAD);
    assert.equal(high, PAD);
  });
});
