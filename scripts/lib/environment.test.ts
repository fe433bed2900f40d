import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, it } from "node:test";
import { ConfigurationError } from "./contracts.ts";
import { fromEnvironment, optionalFromEnvironment } from "./environment.ts";
import { repoRoot } from "./localChain.ts";

const touched = new Set<string>();
const set = (name: string, value: string | undefined) => {
  touched.add(name);
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
};
afterEach(() => touched.forEach((name) => delete process.env[name]));

it("test_fromEnvironment_readsEachKindAndFallsBackOnlyWhenUnset", () => {
  set("T_PORT", "8080");
  assert.equal(fromEnvironment("T_PORT", "port"), 8080);
  set("T_WEI", "500000000000000000000");
  assert.equal(fromEnvironment("T_WEI", "wei"), 500_000_000_000_000_000_000n);
  assert.equal(fromEnvironment("T_UNSET", "positiveNumber", "32"), 32);
  set("T_URLS", "http://a:1, https://b:2");
  assert.deepEqual(fromEnvironment("T_URLS", "urlList"), ["http://a:1", "https://b:2"]);
  set("T_EMPTY", "");
  assert.equal(fromEnvironment("T_EMPTY", "url", "http://127.0.0.1:8545"), "http://127.0.0.1:8545");
  assert.equal(optionalFromEnvironment("T_EMPTY", "address"), undefined);
});

it("test_fromEnvironment_stopsWithOneLineNamingTheVariable", () => {
  const refuses = (
    name: string,
    value: string | undefined,
    kind: Parameters<typeof fromEnvironment>[1],
    why: RegExp,
  ) => {
    set(name, value);
    assert.throws(
      () => fromEnvironment(name, kind),
      (error: Error) => error instanceof ConfigurationError && why.test(error.message) && !error.message.includes("\n"),
    );
  };
  refuses("T_PORT", "80a", "port", /^T_PORT must be a TCP port \(0–65535\), not "80a"$/);
  refuses("T_PORT", "70000", "port", /^T_PORT must be a TCP port/);
  refuses("T_COUNT", "0", "positiveNumber", /^T_COUNT must be a whole number ≥ 1, not "0"$/);
  refuses("T_WEI", "1e18", "wei", /^T_WEI must be an amount in wei/);
  refuses("T_URL", "localhost:8545", "url", /^T_URL must be an http\(s\) or ws\(s\) URL/);
  refuses("T_ADDRESS", "0x1234", "address", /^T_ADDRESS must be an address/);
  refuses("T_URLS", "http://a:1, b:2", "urlList", /^T_URLS must be comma-separated http\(s\) or ws\(s\) URLs/);
  refuses("T_MISSING", undefined, "text", /^T_MISSING is required: a non-empty value$/);
  // A malformed key is named, never echoed.
  refuses(
    "T_KEY",
    "0xnotakey-but-secret",
    "privateKey",
    /^T_KEY must be a private key \(0x and 64 hex digits\), not what it is set to$/,
  );
});

it("test_envExample_listsEveryVariableTheCodeReads", () => {
  const listed = new Set(
    readFileSync(path.join(repoRoot, ".env.example"), "utf8")
      .split("\n")
      .flatMap((line) => /^([A-Z][A-Z0-9_]*)=/.exec(line)?.[1] ?? []),
  );
  // Set by the npm scripts themselves or by the shell, and the benchmarks' own knobs.
  const notSettings = /^(PATH|PONDER_TELEMETRY_DISABLED|BENCH_[A-Z_]+)$/;
  const sources = [
    "scripts",
    "inference/gateway",
    "inference/sdk",
    "indexer/src",
    "indexer/test",
    "attribution/src",
    "store",
  ]
    .flatMap((dir) =>
      readdirSync(path.join(repoRoot, dir), { recursive: true, encoding: "utf8" })
        // Tests pass their own values to the processes they start; their knobs live in harness files.
        .filter((file) => file.endsWith(".ts") && !file.endsWith(".test.ts"))
        .map((file) => path.join(repoRoot, dir, file)),
    )
    .concat(["hardhat.config.ts", "indexer/ponder.config.ts", "package.json"].map((f) => path.join(repoRoot, f)));
  const read = /process\.env\.([A-Z][A-Z0-9_]*)|(?:fromEnvironment|env|optional|configVariable)\("([A-Z][A-Z0-9_]*)"/g;
  // package.json's scripts read variables the shell way.
  const shell = /\$\{([A-Z][A-Z0-9_]*)[:}]/g;
  const missing = new Set<string>();
  for (const file of sources) {
    const text = readFileSync(file, "utf8");
    for (const match of text.matchAll(file.endsWith("package.json") ? shell : read)) {
      const name = match[1] ?? match[2]!;
      if (!notSettings.test(name) && !name.startsWith("T_") && !listed.has(name))
        missing.add(`${name} (${path.relative(repoRoot, file)})`);
    }
  }
  assert.deepEqual([...missing], []);
});
