import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sha256, toHex } from "viem";
import {
  ArtifactManifestError,
  artifactManifestLocation,
  dayLabel,
  compactNumber,
  dayNumber,
  revenueChart,
  revenuePoints,
  targetModuleNames,
  tokenPoints,
  trainingEntryOf,
  type UsageDay,
} from "./adapters.ts";

const OPEN = 10n ** 18n;
const hash = "ab".repeat(32);

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

describe("artifactManifestLocation", () => {
  it("reads a content-store URI's manifest from the store, to be checked against its sha256", () =>
    assert.deepEqual(artifactManifestLocation(`openpoa-store://${hash.toUpperCase()}`, "http://store:8789/"), {
      url: `http://store:8789/${hash}`,
      sha256: `0x${hash}`,
    }));
  it("reads an http base's openpoa-artifact.json, and nothing a browser cannot", () => {
    assert.deepEqual(artifactManifestLocation("https://models.example/a/", "http://store"), {
      url: "https://models.example/a/openpoa-artifact.json",
    });
    assert.equal(artifactManifestLocation("ipfs://bafy/adapter", "http://store"), undefined);
    assert.equal(artifactManifestLocation("openpoa-store://abc", "http://store"), undefined);
  });
});

describe("trainingEntryOf", () => {
  const training = { name: "openpoa-training.json", size: 812, sha256: "cd".repeat(32) };
  const manifest = (extra: object) =>
    new TextEncoder().encode(
      JSON.stringify({ format: "openpoa-artifact-v1", kind: "lora", artifactHash: hash, files: [], ...extra }),
    );
  it("finds the training manifest the artifact manifest names, checked against the chain's sha256", () => {
    const bytes = manifest({ training });
    assert.deepEqual(trainingEntryOf(bytes, sha256(bytes)), training);
    assert.equal(trainingEntryOf(manifest({})), undefined);
  });
  it("refuses bytes that are not the registered manifest, or not a manifest", () => {
    assert.throws(() => trainingEntryOf(manifest({ training }), sha256(toHex("other"))), ArtifactManifestError);
    assert.throws(() => trainingEntryOf(new TextEncoder().encode("{}")), /not an openpoa-artifact-v1 manifest/);
    assert.throws(() => trainingEntryOf(new TextEncoder().encode("<html>")), /not JSON/);
  });
});
