/**
 * Prints one table of every benchmark result in bench/results/*.json, with the targets the issues set.
 * `npm run bench` runs the benchmarks first; `node scripts/benchTable.ts` only prints.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { repoRoot } from "./lib/localChain.ts";

type Row = { area: string; measure: string; value: string; target: string; met: string };
type Check = { measure: string; key: string; target?: string; holds?: (value: number, results: Results) => boolean };
type Results = Record<string, number | unknown>;

const checks: Record<string, Check[]> = {
  gas: [
    { measure: "OPEN transfer to a fresh address (gas)", key: "erc20Transfer" },
    {
      measure: "settle, amortized per request (gas)",
      key: "amortizedPerRequest",
      target: "≤ 1% of transfer",
      holds: (value, r) => value <= 0.01 * (r.erc20Transfer as number),
    },
    {
      measure: "settle at the cap: 64 adapters x 16 lineage entries (gas)",
      key: "settleMaxAdapters.gas",
      target: "fits a 30M block",
      holds: (v) => v <= 30_000_000,
    },
    { measure: "claim, fresh account (gas)", key: "claim", target: "≤ 80,000", holds: (v) => v <= 80_000 },
    { measure: "claim, fresh account, shared word (gas)", key: "claimWordShared" },
    { measure: "least possible claim, fresh word (gas)", key: "claimFloor" },
    { measure: "least possible claim, shared word (gas)", key: "claimFloorWordShared" },
    { measure: "claim, repeat (gas)", key: "claimRepeat" },
    {
      measure: "claimBatch of 10, per account (gas)",
      key: "claimBatch10PerAccount",
      target: "≤ 55,000",
      holds: (v) => v <= 55_000,
    },
  ],
  engine: [
    { measure: "base decode (tokens/s)", key: "baseTokensPerSec" },
    { measure: "distinct adapters decode (tokens/s)", key: "multiAdapterTokensPerSec" },
    { measure: "multi-adapter / base ratio", key: "ratio", target: "≥ 0.8 (CPU)", holds: (v) => v >= 0.8 },
    { measure: "adapter cold load (ms)", key: "adapterColdLoadMs" },
    { measure: "real model (SmolLM2-135M), batch 1 decode (tokens/s)", key: "realModel.batch1TokensPerSec" },
    {
      measure: "real model, batch 16 with 16 distinct adapters (tokens/s)",
      key: "realModel.batch16DistinctTokensPerSec",
    },
    { measure: "llama.cpp, same GGUF, 16 sequences, base only (tokens/s)", key: "llamaCppPeer.tokensPerSec" },
    {
      measure: "ours (16 distinct adapters) / llama.cpp (base only)",
      key: "llamaCppPeer.ratio",
      target: "≥ 1.0",
      holds: (v) => v >= 1,
    },
    { measure: "adapter train on the real model (tokens/s)", key: "train.tokensPerSec" },
    {
      measure: "sequences admitted in a fixed KV budget: paged / contiguous",
      key: "kv.pagedOverContiguous",
      target: "≥ 3",
      holds: (v) => v >= 3,
    },
    {
      measure: "peak RSS over no adapters, 1,000 adapters, --host-mb 64 (MB)",
      key: "memory.peakExtraRssMb",
      target: "≤ 64 + one adapter per loader",
      holds: (v, r) => v <= (r.memory as { targetMb: number }).targetMb,
    },
    {
      measure: "rank-8 q,v adapters per GB of device budget (Llama-3-8B shapes)",
      key: "memory.adaptersPerGbRank8QV",
      target: "≥ 100",
      holds: (v) => v >= 100,
    },
    {
      measure: "1,000 adapters cycled cold / one per shape",
      key: "cycling.coldRatio",
      target: "≥ 0.80",
      holds: (v) => v >= 0.8,
    },
    {
      measure: "1,000 adapters cycled warm / one per shape",
      key: "cycling.warmRatio",
      target: "≥ 0.90",
      holds: (v) => v >= 0.9,
    },
    { measure: "p99 queue wait of rare adapters, Zipf over 1,000 (steps)", key: "fairness.p99WaitSteps" },
  ],
  attribution: [
    { measure: "index size (tokens)", key: "indexTokens" },
    { measure: "attribution p50 per 256-token completion (ms)", key: "p50Ms", target: "≤ 5", holds: (v) => v <= 5 },
    { measure: "attribution p99 (ms)", key: "p99Ms" },
    { measure: "index build (tokens/s)", key: "indexBuildTokensPerSec" },
    {
      measure: "spam's share of a paraphrase's evidence",
      key: "gaming.spamShareOfParaphrase",
      target: "≤ 0.02",
      holds: (v) => v <= 0.02,
    },
    { measure: "near copy's share", key: "gaming.nearCopyShare", target: "0", holds: (v) => v === 0 },
    {
      measure: "genuine source's share, no attacker",
      key: "gaming.genuineShareNoAttacker",
      target: "≥ 0.85",
      holds: (v) => v >= 0.85,
    },
  ],
  indexer: [
    { measure: "events indexed", key: "events" },
    { measure: "backfill (events/s)", key: "backfillEventsPerSec", target: "≥ 2,000", holds: (v) => v >= 2_000 },
    { measure: "GraphQL p50 (ms)", key: "graphqlP50Ms" },
    { measure: "GraphQL p99 (ms)", key: "graphqlP99Ms", target: "≤ 50", holds: (v) => v <= 50 },
  ],
  gateway: [
    { measure: "gateway overhead p50 (ms)", key: "overheadP50Ms", target: "≤ 2", holds: (v) => v <= 2 },
    { measure: "gateway overhead p99 (ms)", key: "overheadP99Ms" },
    { measure: "requests/s", key: "requestsPerSec" },
  ],
  store: [
    { measure: "GET 1 KB p50, 64 clients (ms)", key: "smallGetP50Ms" },
    { measure: "GET 1 KB p50, plain static server (ms)", key: "staticSmallGetP50Ms" },
    {
      measure: "GET 1 KB p50 / static",
      key: "smallGetP50Ratio",
      target: "≤ 2",
      holds: (v) => v <= 2,
    },
    { measure: "GET 100 MB, 64 clients (MB/s)", key: "largeGetMBps" },
    { measure: "GET 100 MB, plain static server (MB/s)", key: "staticLargeGetMBps" },
    { measure: "GET 100 MB / static", key: "largeGetRatio", target: "≥ 0.8", holds: (v) => v >= 0.8 },
    { measure: "PUT 1 KB p50, signed, 64 clients (ms)", key: "smallPutP50Ms" },
    { measure: "PUT 100 MB, 64 clients (MB/s)", key: "largePutMBps" },
  ],
  studio: [
    {
      measure: "production JavaScript, gzipped (KB)",
      key: "bundleGzipKb",
      target: "≤ 350",
      holds: (v) => v <= 350,
    },
    {
      measure: "first load to interactive, best of 3 cold (ms)",
      key: "firstLoadMs",
      target: "≤ 1,000",
      holds: (v) => v <= 1_000,
    },
    { measure: "first load, bytes transferred", key: "firstLoadBytes" },
  ],
};

const format = (value: number) => (Number.isInteger(value) ? value.toLocaleString("en-US") : value.toFixed(3));

const rows: Row[] = [];
for (const [area, areaChecks] of Object.entries(checks)) {
  const file = path.join(repoRoot, "bench", "results", `${area}.json`);
  if (!existsSync(file)) {
    rows.push({ area, measure: "(no results: run npm run bench:" + area + ")", value: "", target: "", met: "" });
    continue;
  }
  const results = JSON.parse(await readFile(file, "utf8")) as Results;
  for (const { measure, key, target, holds } of areaChecks) {
    // "a.b" reads a field of an object result.
    const value = key.split(".").reduce<unknown>((at, part) => (at as Results | undefined)?.[part], results);
    if (typeof value !== "number") continue;
    rows.push({
      area,
      measure,
      value: format(value),
      target: target ?? "",
      met: holds ? (holds(value, results) ? "yes" : "NO") : "",
    });
  }
}
console.table(rows);
