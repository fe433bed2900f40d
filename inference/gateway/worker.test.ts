/** `npm run worker` with a bad setting: it stops at once, exit code 2, one line naming the variable. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const worker = path.join(path.dirname(fileURLToPath(import.meta.url)), "worker.ts");
let deployments: string;

before(async () => {
  deployments = await mkdtemp(path.join(tmpdir(), "openpoa-worker-config-"));
  const contract = { address: `0x${"11".repeat(20)}`, startBlock: 0 };
  const names = ["InferencePayments", "ModelRegistry", "NodeRegistry", "DatanetRegistry", "AttributionRewards"];
  const write = (network: string, contracts: string[]) =>
    writeFile(
      path.join(deployments, `${network}.json`),
      JSON.stringify({ chainId: 31337, contracts: Object.fromEntries(contracts.map((name) => [name, contract])) }),
    );
  await write("localhost", [...names, "ServingRules"]);
  // Deployed before ServingRules existed.
  await write("older", names);
});
after(() => rm(deployments, { recursive: true, force: true }));

async function startWith(env: Record<string, string>) {
  const base = {
    PATH: process.env.PATH!,
    OPENPOA_DEPLOYMENTS_DIR: deployments,
    OPENPOA_OPERATOR_KEY: `0x${"ab".repeat(32)}`,
    OPENPOA_MODEL_DIR: "/nonexistent",
  };
  try {
    await promisify(execFile)(process.execPath, [worker], { env: { ...base, ...env }, timeout: 30_000 });
    return { code: 0, stderr: "" };
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, stderr: failed.stderr.replace(/\(node:\d+\) ExperimentalWarning.*\n.*\n/g, "") };
  }
}

it("test_worker_stopsWithOneLineNamingABadSetting", async () => {
  const cases: [Record<string, string>, string][] = [
    [{ OPENPOA_PORT: "80a" }, 'OPENPOA_PORT must be a TCP port (0–65535), not "80a"'],
    [
      { OPENPOA_SETTLE_MIN_AMOUNT: "1e18" },
      'OPENPOA_SETTLE_MIN_AMOUNT must be an amount in wei (digits only), not "1e18"',
    ],
    [{ OPENPOA_MAX_IN_FLIGHT: "0" }, 'OPENPOA_MAX_IN_FLIGHT must be a whole number ≥ 1, not "0"'],
    [{ OPENPOA_RPC_URL: "127.0.0.1:8545" }, 'OPENPOA_RPC_URL must be an http(s) or ws(s) URL, not "127.0.0.1:8545"'],
    [
      { OPENPOA_OPERATOR_KEY: "0xsecret" },
      "OPENPOA_OPERATOR_KEY must be a private key (0x and 64 hex digits), not what it is set to",
    ],
    [{ OPENPOA_LOG_LEVEL: "loud" }, 'OPENPOA_LOG_LEVEL must be one of debug, info, warn, error, not "loud"'],
    [
      { OPENPOA_NETWORK: "older" },
      'The deployment of network "older" has no ServingRules: deploy again (npm run deploy -- --network older)',
    ],
    [
      { OPENPOA_NETWORK: "nowhere" },
      'No deployment for network "nowhere": run `npm run deploy -- --network nowhere` first',
    ],
  ];
  for (const [env, message] of cases) {
    const { code, stderr } = await startWith(env);
    assert.equal(code, 2, JSON.stringify(env));
    assert.equal(stderr, `openpoa worker: ${message}\n`);
  }
});
