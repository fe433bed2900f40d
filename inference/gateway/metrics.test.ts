import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Metrics } from "./metrics.ts";
import { parsePrometheus } from "./testSupport.ts";

describe("gateway metrics (prom-client)", () => {
  it("renders a valid exposition whose summary quantiles carry the adapter label, as _sum and _count do", async () => {
    let restarts = 0;
    const metrics = new Metrics({ engineRestarts: () => restarts });
    for (const [adapter, seconds] of [
      ["1", 0.2],
      ["1", 0.4],
      ["2", 1.5],
    ] as const)
      metrics.adapterLoadSeconds.observe({ adapter }, seconds);
    metrics.observeOverhead(0.002);
    metrics.requests.inc({ adapter: "1", status: "200" });
    metrics.revenueWei.inc({ adapter: "1" }, Number(10n ** 15n));
    restarts = 2;

    const { text, contentType } = await metrics.render();
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    const { types, samples } = parsePrometheus(text);
    assert.equal(types.get("openpoa_adapter_load_seconds"), "summary");
    assert.equal(types.get("openpoa_requests_total"), "counter");

    const load = samples.filter((s) => s.name.startsWith("openpoa_adapter_load_seconds"));
    assert.ok(load.length > 0);
    for (const sample of load) assert.ok(sample.labels.adapter, `no adapter label: ${JSON.stringify(sample)}`);
    const quantile = (adapter: string, q: string) =>
      load.find(
        (s) => s.name === "openpoa_adapter_load_seconds" && s.labels.adapter === adapter && s.labels.quantile === q,
      )?.value;
    assert.equal(quantile("2", "0.5"), 1.5);
    assert.equal(quantile("2", "0.99"), 1.5);
    assert.ok(quantile("1", "0.5")! >= 0.2 && quantile("1", "0.99")! <= 0.4);
    const count = (adapter: string) =>
      load.find((s) => s.name === "openpoa_adapter_load_seconds_count" && s.labels.adapter === adapter)?.value;
    assert.deepEqual([count("1"), count("2")], [2, 1]);

    const value = (name: string) => samples.find((s) => s.name === name)?.value;
    assert.equal(value("openpoa_engine_restarts_total"), 2);
    assert.equal(value("openpoa_payment_overhead_seconds_count"), 1);
    assert.equal(value("openpoa_revenue_wei_total"), 1e15);
    assert.deepEqual(metrics.recentOverhead(), [0.002]);
  });

  it("keeps each gateway's metrics apart", async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.requests.inc({ adapter: "1", status: "200" });
    const { samples } = parsePrometheus((await b.render()).text);
    assert.equal(samples.filter((s) => s.name === "openpoa_requests_total").length, 0);
    assert.equal(samples.find((s) => s.name === "openpoa_engine_restarts_total")?.value, 0);
  });

  it("the parser refuses what is not the exposition format", () => {
    assert.throws(() => parsePrometheus("openpoa_x 1\n"), /undeclared/);
    assert.throws(() => parsePrometheus('# TYPE x counter\nx{a="1} 1\n'), /labels|sample/);
    assert.throws(() => parsePrometheus("# TYPE x counter\nx one\n"), /bad value/);
  });
});
