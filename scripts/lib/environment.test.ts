import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, it } from "node:test";
import { ConfigurationError } from "./contracts.ts";
import { fromEnvironment, optionalFromEnvironment } from "./environment.ts";
import { repoRoot } from "./localChain.ts";
import { keystoreEnvironment, setInKeystore } from "./testKeystore.ts";

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
  set("T_ORIGIN", "https://studio.example.org/");
  assert.equal(fromEnvironment("T_ORIGIN", "origin"), "https://studio.example.org");
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
  refuses("T_ORIGIN", "https://studio.example.org/app", "origin", /^T_ORIGIN must be an origin \(http\(s\):\/\/host/);
  refuses("T_ORIGIN", "ws://studio.example.org", "origin", /^T_ORIGIN must be an origin/);
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
  const read =
    /process\.env\.([A-Z][A-Z0-9_]*)|(?:[fF]romEnvironment|env|optional|secret|optionalSecret|configVariable)\("([A-Z][A-Z0-9_]*)"/g;
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

/**
 * optionalSecretFromEnvironment for each `NAME:kind` in a fresh process (as a component reads them at start), with
 * `stdin` as what is typed: each value, or the error's message.
 */
async function readSecrets(
  env: NodeJS.ProcessEnv,
  specs: string[],
  stdin?: string,
): Promise<(string | { error: string } | null)[]> {
  const script = `
    const { optionalSecretFromEnvironment } = await import(process.argv[1]);
    const read = [];
    for (const spec of process.argv.slice(2)) {
      const [name, kind] = spec.split(":");
      read.push(await optionalSecretFromEnvironment(name, kind).then((v) => v ?? null, (e) => ({ error: e.message })));
    }
    console.log(JSON.stringify(read));`;
  const reader = path.join(repoRoot, "scripts/lib/environment.ts");
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ["--input-type=module", "-e", script, reader, ...specs],
      { env, timeout: 60_000 },
      (error, stdout, stderr) => (error ? reject(new Error(stderr || error.message)) : resolve(JSON.parse(stdout))),
    );
    child.stdin!.end(stdin);
  });
}

it("test_secretFromEnvironment_readsHardhatsKeystoresAndTheEnvironmentWins", async () => {
  const home = await mkdtemp(path.join(tmpdir(), "openpoa-keystore-"));
  try {
    const key = (byte: string) => `0x${byte.repeat(32)}`;
    await setInKeystore({ configHome: home, key: "T_DEV_KEY", value: key("11") });
    await setInKeystore({ configHome: home, key: "T_BAD_KEY", value: "0xsecret-but-malformed" });
    await setInKeystore({ configHome: home, key: "T_PROD_KEY", value: key("22"), password: "a long password" });
    await setInKeystore({
      configHome: home,
      key: "T_PROD_URL",
      value: "https://rpc.example/k",
      password: "a long password",
    });
    const env = keystoreEnvironment(process.env, home);

    // The development keystore needs no password; a set environment variable wins, as in Hardhat; an empty one is
    // unset, as everywhere in this project.
    assert.deepEqual(await readSecrets(env, ["T_DEV_KEY:privateKey"]), [key("11")]);
    assert.deepEqual(await readSecrets({ ...env, T_DEV_KEY: key("33") }, ["T_DEV_KEY:privateKey"]), [key("33")]);
    assert.deepEqual(await readSecrets({ ...env, T_DEV_KEY: "" }, ["T_DEV_KEY:privateKey"]), [key("11")]);
    // The production keystore asks for its password once, on stderr, for every value it holds.
    assert.deepEqual(await readSecrets(env, ["T_PROD_KEY:privateKey", "T_PROD_URL:url"], "a long password\n"), [
      key("22"),
      "https://rpc.example/k",
    ]);
    // A name no keystore holds asks nothing (stdin is closed here) and is simply unset.
    assert.deepEqual(await readSecrets(env, ["T_NOWHERE:privateKey"]), [null]);
    // Every failure is one line naming the variable, never the value.
    assert.deepEqual(await readSecrets(env, ["T_BAD_KEY:privateKey", "T_PROD_KEY:privateKey"], "not the password\n"), [
      {
        error:
          "T_BAD_KEY (from Hardhat's keystore) must be a private key (0x and 64 hex digits), not what it is set to",
      },
      { error: "T_PROD_KEY: Hardhat's keystore did not open: HHE50000: Invalid password or corrupted keystore file." },
    ]);
    assert.deepEqual(await readSecrets(env, ["T_PROD_KEY:privateKey"]), [
      { error: "T_PROD_KEY: Hardhat's keystore did not open: no password given (standard input closed)" },
    ]);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});
