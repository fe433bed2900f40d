/**
 * The indexer's configuration: a bad setting stops it before indexing anything, naming the variable; DATABASE_URL,
 * a secret, comes from the environment, else from Hardhat's keystore.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, it } from "node:test";
import { repoRoot } from "../../scripts/lib/localChain.ts";
import { keystoreEnvironment, setInKeystore } from "../../scripts/lib/testKeystore.ts";
import { contractNames } from "../lib/abis.ts";
import { indexerRoot } from "./harness.ts";

let work: string;
before(async () => {
  work = await mkdtemp(path.join(tmpdir(), "openpoa-indexer-config-"));
  const contract = { address: `0x${"11".repeat(20)}`, startBlock: 0 };
  await writeFile(
    path.join(work, "localhost.json"),
    JSON.stringify({ chainId: 31337, contracts: Object.fromEntries(contractNames.map((name) => [name, contract])) }),
  );
});
after(() => rm(work, { recursive: true, force: true }));

/**
 * `ponder start` with `env` and `stdin` typed in, until it exits or prints `until`; its exit code (null when
 * stopped here) and output. Hardhat's keystores are this test's own.
 */
function startIndexer(
  env: Record<string, string>,
  { stdin, until }: { stdin?: string; until?: RegExp } = {},
): Promise<{ code: number | null; output: string }> {
  const child = spawn(
    path.join(repoRoot, "node_modules", ".bin", "ponder"),
    ["--root", indexerRoot, "start", "--schema", "config_test", "--port", "0"],
    {
      cwd: work,
      env: {
        ...keystoreEnvironment(process.env, work),
        PONDER_TELEMETRY_DISABLED: "true",
        OPENPOA_DEPLOYMENTS_DIR: work,
        OPENPOA_PGLITE_DIR: path.join(work, "pglite"),
        ...env,
      },
    },
  );
  // Typed, not piped and closed: Vite, which loads Ponder's config, exits the process at the end of stdin.
  if (stdin) child.stdin.write(stdin);
  else child.stdin.end();
  let output = "";
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const read = (chunk: Buffer) => {
      output += chunk;
      if (until?.test(output)) child.kill("SIGKILL");
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

it("test_indexer_stopsNamingABadSetting", async () => {
  const cases: [Record<string, string>, string][] = [
    [{ OPENPOA_POLLING_MS: "soon" }, 'OPENPOA_POLLING_MS must be a whole number ≥ 1, not "soon"'],
    [
      { OPENPOA_INDEXER_LOG_BLOCK_RANGE: "lots" },
      'OPENPOA_INDEXER_LOG_BLOCK_RANGE must be a whole number ≥ 1, not "lots"',
    ],
    [
      { OPENPOA_INDEXER_RPC_URLS: "127.0.0.1:8545" },
      "OPENPOA_INDEXER_RPC_URLS must be comma-separated http(s) or ws(s) URLs",
    ],
    // A secret is named, never shown.
    [
      { DATABASE_URL: "mysql://user:secret@db/openpoa" },
      "DATABASE_URL must be a PostgreSQL URL (postgresql://…), not what it is set to",
    ],
  ];
  for (const [env, message] of cases) {
    const { code, output } = await startIndexer(env);
    assert.ok(code !== 0 && code !== null, `the indexer refused ${JSON.stringify(env)}`);
    assert.ok(output.includes(`ConfigurationError: ${message}`), output);
    assert.ok(!output.includes("secret@db"), output);
  }
});

it("test_indexer_readsDatabaseUrlFromHardhatsKeystoreWhenTheEnvironmentLacksIt", async () => {
  // Ponder's first query of a PostgreSQL database (none listens on port 1); PGlite makes none.
  const asksPostgres = /Failed database query action=database_diagnostic/;
  await setInKeystore({ configHome: work, key: "DATABASE_URL", value: "mysql://user:secret@db/openpoa" });
  const malformed = await startIndexer({});
  assert.ok(
    malformed.output.includes(
      "ConfigurationError: DATABASE_URL (from Hardhat's keystore) must be a PostgreSQL URL (postgresql://…), " +
        "not what it is set to",
    ),
    malformed.output,
  );
  assert.ok(!malformed.output.includes("secret@db"), malformed.output);
  // The environment wins over the keystore.
  const fromEnvironment = await startIndexer(
    { DATABASE_URL: "postgresql://postgres@127.0.0.1:1/openpoa" },
    { until: asksPostgres },
  );
  assert.match(fromEnvironment.output, asksPostgres);

  // From the production keystore alone (the development one, read first, is gone), its password typed in.
  await rm(path.join(work, "hardhat-nodejs"), { recursive: true, force: true });
  await setInKeystore({
    configHome: work,
    key: "DATABASE_URL",
    value: "postgresql://postgres@127.0.0.1:1/openpoa",
    password: "indexer pass",
  });
  const fromKeystore = await startIndexer({}, { stdin: "indexer pass\n", until: asksPostgres });
  assert.match(fromKeystore.output, asksPostgres);
});
