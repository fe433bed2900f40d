/** The indexer with a bad setting: it stops before indexing anything, naming the variable. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { it } from "node:test";
import { promisify } from "node:util";
import { repoRoot } from "../../scripts/lib/localChain.ts";
import { contractNames } from "../lib/abis.ts";
import { indexerRoot } from "./harness.ts";

it("test_indexer_stopsNamingABadSetting", async () => {
  const work = await mkdtemp(path.join(tmpdir(), "openpoa-indexer-config-"));
  try {
    const contract = { address: `0x${"11".repeat(20)}`, startBlock: 0 };
    await writeFile(
      path.join(work, "localhost.json"),
      JSON.stringify({ chainId: 31337, contracts: Object.fromEntries(contractNames.map((name) => [name, contract])) }),
    );
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
    ];
    for (const [env, message] of cases) {
      const failed = await promisify(execFile)(
        path.join(repoRoot, "node_modules", ".bin", "ponder"),
        ["--root", indexerRoot, "start", "--schema", "config_test", "--port", "0"],
        {
          cwd: work,
          env: {
            ...process.env,
            PONDER_TELEMETRY_DISABLED: "true",
            OPENPOA_DEPLOYMENTS_DIR: work,
            OPENPOA_PGLITE_DIR: path.join(work, "pglite"),
            ...env,
          },
          timeout: 60_000,
        },
      ).then(
        () => undefined,
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
      assert.ok(failed && failed.code !== 0, `the indexer refused ${JSON.stringify(env)}`);
      assert.ok(
        `${failed.stdout}${failed.stderr}`.includes(`ConfigurationError: ${message}`),
        `${failed.stdout}${failed.stderr}`,
      );
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
