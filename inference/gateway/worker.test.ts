/**
 * `npm run worker` with a bad setting: it stops at once, exit code 2, one line naming the variable. Its keys and
 * the network's RPC URL come from the environment, else from Hardhat's keystore.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, it } from "node:test";
import { fileURLToPath } from "node:url";
import { setInKeystore } from "../../scripts/lib/testKeystore.ts";

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

/** The worker started with `env` (unset where undefined) and `stdin` typed in; how it stopped. */
async function startWith(env: Record<string, string | undefined>, stdin?: string) {
  const base = {
    PATH: process.env.PATH!,
    // Hardhat's keystores of this test alone, none at first.
    XDG_CONFIG_HOME: deployments,
    OPENPOA_DEPLOYMENTS_DIR: deployments,
    OPENPOA_OPERATOR_KEY: `0x${"ab".repeat(32)}`,
    OPENPOA_MODEL_DIR: "/nonexistent",
  };
  const merged = Object.fromEntries(Object.entries({ ...base, ...env }).filter(([, value]) => value !== undefined));
  return new Promise<{ code: number; stderr: string }>((resolve) => {
    const child = execFile(process.execPath, [worker], { env: merged, timeout: 30_000 }, (error, _stdout, stderr) =>
      resolve({
        code: error ? (error.code as number) : 0,
        stderr: stderr.replace(/\(node:\d+\) ExperimentalWarning.*\n.*\n/g, ""),
      }),
    );
    child.stdin!.end(stdin);
  });
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
      { OPENPOA_NETWORK: "older", OPENPOA_RPC_URL: "http://127.0.0.1:8545" },
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

it("test_worker_readsItsSecretsFromHardhatsKeystoreWhenTheEnvironmentLacksThem", async () => {
  const key = `0x${"cd".repeat(32)}`;
  await setInKeystore({ configHome: deployments, key: "OPENPOA_OPERATOR_KEY", value: "0xnot-a-key" });
  await setInKeystore({ configHome: deployments, key: "OPENPOA_SIGNING_KEY", value: "0xnot-a-key-either" });
  // Read from the development keystore: a malformed value is named with where it came from, never shown.
  const fromKeystore = await startWith({ OPENPOA_OPERATOR_KEY: undefined });
  assert.equal(fromKeystore.code, 2);
  assert.equal(
    fromKeystore.stderr,
    "openpoa worker: OPENPOA_OPERATOR_KEY (from Hardhat's keystore) must be a private key (0x and 64 hex digits), " +
      "not what it is set to\n",
  );
  // The environment wins: the operator key is the environment's; the signing key is still the keystore's.
  const signing = await startWith({ OPENPOA_OPERATOR_KEY: key });
  assert.match(signing.stderr, /^openpoa worker: OPENPOA_SIGNING_KEY \(from Hardhat's keystore\) must be/);

  // Good keys in the development keystore, and the network's own RPC URL variable in the production keystore (its
  // password typed in): the worker gets past its configuration to the chain, which it asks at that URL.
  await setInKeystore({ configHome: deployments, key: "OPENPOA_OPERATOR_KEY", value: key });
  await setInKeystore({ configHome: deployments, key: "OPENPOA_SIGNING_KEY", value: key });
  const sepoliaLike = await readFile(path.join(deployments, "localhost.json"), "utf8");
  await writeFile(
    path.join(deployments, "someTestnet.json"),
    sepoliaLike.replace('"chainId":31337', '"chainId":11155111'),
  );
  await setInKeystore({
    configHome: deployments,
    key: "SOME_TESTNET_RPC_URL",
    value: "http://127.0.0.1:9/from-keystore",
    password: "worker pass",
  });
  const started = await startWith({ OPENPOA_OPERATOR_KEY: undefined, OPENPOA_NETWORK: "someTestnet" }, "worker pass\n");
  assert.equal(started.code, 1, started.stderr);
  assert.doesNotMatch(started.stderr, /OPENPOA_(OPERATOR|SIGNING)_KEY|SOME_TESTNET_RPC_URL/);
  assert.match(started.stderr, /URL: http:\/\/127\.0\.0\.1:9\/from-keystore/);
});
