/** Prometheus text exposition, per-adapter labels; counters only grow, summaries keep a bounded sample. */
export class Metrics {
  private counters = new Map<string, Map<string, bigint | number>>();
  private sampled = new Map<string, number[]>();
  private static readonly help: Record<string, string> = {
    openpoa_requests_total: "Requests answered, by adapter and status",
    openpoa_prompt_tokens_total: "Prompt tokens billed",
    openpoa_completion_tokens_total: "Completion tokens billed",
    openpoa_revenue_wei_total: "Amount billed in receipts, OPEN wei",
    openpoa_adapter_cache_hits_total: "Requests whose adapter was verified and loaded already",
    openpoa_adapter_cache_misses_total: "Requests that had to verify and load their adapter",
    openpoa_adapter_load_seconds: "Time to verify an adapter's artifact and load it into the engine",
    openpoa_payment_overhead_seconds: "Gateway time per request: voucher check, receipt signing, usage log",
    openpoa_settlements_total: "Settlement transactions, by outcome",
  };

  inc(name: string, labels: Record<string, string | bigint>, by: bigint | number = 1) {
    const key = Object.entries(labels)
      .map(([k, v]) => `${k}="${v}"`)
      .join(",");
    let series = this.counters.get(name);
    if (!series) this.counters.set(name, (series = new Map()));
    const current = series.get(key) ?? (typeof by === "bigint" ? 0n : 0);
    series.set(key, typeof by === "bigint" ? (current as bigint) + by : (current as number) + by);
  }

  observe(name: string, seconds: number, labels: Record<string, string | bigint> = {}) {
    this.inc(`${name}_sum`, labels, seconds);
    this.inc(`${name}_count`, labels, 1);
    let sample = this.sampled.get(name);
    if (!sample) this.sampled.set(name, (sample = []));
    // A ring of the last 10,000 observations is enough for p50/p99 and bounded in memory.
    if (sample.length >= 10_000) sample.shift();
    sample.push(seconds);
  }

  /** The recent observations of a summary, oldest first. */
  samples(name: string): number[] {
    return [...(this.sampled.get(name) ?? [])];
  }

  quantile(name: string, q: number): number | undefined {
    const sorted = this.samples(name).sort((a, b) => a - b);
    return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : undefined;
  }

  render(): string {
    const lines: string[] = [];
    const described = new Set<string>();
    for (const [name, series] of this.counters) {
      const base = name.replace(/_(sum|count)$/, "");
      if (!described.has(base)) {
        described.add(base);
        const type = base === name ? "counter" : "summary";
        lines.push(`# HELP ${base} ${Metrics.help[base] ?? base}`, `# TYPE ${base} ${type}`);
        if (type === "summary") {
          for (const q of [0.5, 0.99]) {
            const value = this.quantile(base, q);
            if (value !== undefined) lines.push(`${base}{quantile="${q}"} ${value}`);
          }
        }
      }
      for (const [labels, value] of series) lines.push(`${name}${labels ? `{${labels}}` : ""} ${value}`);
    }
    return lines.join("\n") + "\n";
  }
}
