import { Counter, Registry, Summary } from "prom-client";

/** Summaries report the median and p99 over a sliding window of ten minutes (five buckets of two). */
const window = { percentiles: [0.5, 0.99], maxAgeSeconds: 600, ageBuckets: 5 };
/** The bench reads the gateway's own overhead per request from here, oldest first. */
const OVERHEAD_SAMPLES = 10_000;

/**
 * The gateway's Prometheus metrics, through prom-client, in a registry of their own (so two gateways in one
 * process, as in the tests, do not share counters). Per-adapter series carry the `adapter` label, the summaries'
 * quantile lines included.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly registers = [this.registry];

  readonly requests = new Counter({
    name: "openpoa_requests_total",
    help: "Requests answered, by adapter and status",
    labelNames: ["adapter", "status"] as const,
    registers: this.registers,
  });
  readonly promptTokens = new Counter({
    name: "openpoa_prompt_tokens_total",
    help: "Prompt tokens billed",
    labelNames: ["adapter"] as const,
    registers: this.registers,
  });
  readonly completionTokens = new Counter({
    name: "openpoa_completion_tokens_total",
    help: "Completion tokens billed",
    labelNames: ["adapter"] as const,
    registers: this.registers,
  });
  readonly revenueWei = new Counter({
    name: "openpoa_revenue_wei_total",
    help: "Amount billed in receipts, OPEN wei (a float, as every Prometheus value)",
    labelNames: ["adapter"] as const,
    registers: this.registers,
  });
  readonly adapterCacheHits = new Counter({
    name: "openpoa_adapter_cache_hits_total",
    help: "Requests whose adapter was verified and loaded already",
    labelNames: ["adapter"] as const,
    registers: this.registers,
  });
  readonly adapterCacheMisses = new Counter({
    name: "openpoa_adapter_cache_misses_total",
    help: "Requests that had to verify and load their adapter",
    labelNames: ["adapter"] as const,
    registers: this.registers,
  });
  readonly adapterLoadSeconds = new Summary({
    name: "openpoa_adapter_load_seconds",
    help: "Time to verify an adapter's artifact and load it into the engine",
    labelNames: ["adapter"] as const,
    registers: this.registers,
    ...window,
  });
  readonly paymentOverheadSeconds = new Summary({
    name: "openpoa_payment_overhead_seconds",
    help: "Gateway time per request: voucher check, receipt signing, usage log",
    registers: this.registers,
    ...window,
  });
  readonly attributionFailures = new Counter({
    name: "openpoa_attribution_failures_total",
    help: "Responses served with a zero attribution hash because attribution failed",
    labelNames: ["adapter"] as const,
    registers: this.registers,
  });
  readonly settlements = new Counter({
    name: "openpoa_settlements_total",
    help: "Settlement transactions, by outcome",
    labelNames: ["outcome"] as const,
    registers: this.registers,
  });

  private overheadSamples: number[] = [];

  /** `engineRestarts` is read at every scrape. */
  constructor(options: { engineRestarts?: () => number } = {}) {
    const { engineRestarts } = options;
    new Counter({
      name: "openpoa_engine_restarts_total",
      help: "Engine processes restarted after a crash",
      registers: this.registers,
      collect() {
        this.reset();
        const restarts = engineRestarts?.() ?? 0;
        if (restarts > 0) this.inc(restarts);
      },
    });
  }

  /** The gateway's own time for one paid request, in seconds. */
  observeOverhead(seconds: number) {
    this.paymentOverheadSeconds.observe(seconds);
    if (this.overheadSamples.length >= OVERHEAD_SAMPLES) this.overheadSamples.shift();
    this.overheadSamples.push(seconds);
  }

  /** The last observations of the payment overhead (seconds), oldest first. */
  recentOverhead(): number[] {
    return [...this.overheadSamples];
  }

  /** The text exposition, and its content type. */
  async render(): Promise<{ text: string; contentType: string }> {
    return { text: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
