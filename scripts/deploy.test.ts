/**
 * `npm run deploy` as a deployer meets it: killed half way, run again, run once more; start blocks from the
 * deployment's own receipts; `--dry-run` sending nothing; progress while it waits for blocks.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { deploymentBlocks, type Deployment } from "./lib/deployments.ts";
import { repoRoot, rpc, startLocalChain, type LocalChain } from "./lib/localChain.ts";

describe("npm run deploy", () => {
  let chain: LocalChain;
  let work: string;
  let journalDir: string;

  before(async () => {
    chain = await startLocalChain({ port: 18548 });
    work = await mkdtemp(path.join(tmpdir(), "openpoa-deploy-"));
    const genesis = await rpc<{ hash: string }>(chain.url, "eth_getBlockByNumber", ["0x0", false]);
    journalDir = path.join(repoRoot, "ignition", "deployments", `localhost-31337-${genesis.hash.slice(2, 10)}`);
  });
  after(async () => {
    await chain?.stop();
    if (work) await rm(work, { recursive: true, force: true });
    if (journalDir) await rm(journalDir, { recursive: true, force: true });
  });

  /**
   * Runs the deploy (with `extra` environment variables); with `killAfterConfirms`, SIGKILLs it once its journal
   * holds that many confirmed deployments.
   */
  function deploy(args: string[], killAfterConfirms?: number, extra: NodeJS.ProcessEnv = {}) {
    const child = spawn(process.execPath, [path.join(repoRoot, "scripts", "deploy.ts"), ...args], {
      cwd: repoRoot,
      env: { ...process.env, OPENPOA_RPC_URL: chain.url, OPENPOA_DEPLOYMENTS_DIR: work, ...extra },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const watcher =
      killAfterConfirms === undefined
        ? undefined
        : setInterval(async () => {
            const journal = path.join(journalDir, "journal.jsonl");
            if (!existsSync(journal)) return;
            if (deploymentBlocks(await readFile(journal, "utf8")).size >= killAfterConfirms) child.kill("SIGKILL");
          }, 20);
    return new Promise<{ code: number | null; output: string }>((resolve) =>
      child.on("exit", (code) => {
        clearInterval(watcher);
        resolve({ code, output });
      }),
    );
  }

  it("test_deploy_resumesAfterAKillAndWritesTheSameFileFromItsReceipts", async () => {
    const killed = await deploy(["--network", "localhost"], 2);
    assert.equal(killed.code, null, "killed half way");
    assert.ok(!existsSync(path.join(work, "localhost.json")), "nothing written by the killed run");

    const resumed = await deploy(["--network", "localhost"]);
    assert.equal(resumed.code, 0, resumed.output);
    const first = await readFile(path.join(work, "localhost.json"), "utf8");
    const again = await deploy(["--network", "localhost"]);
    assert.equal(again.code, 0, again.output);
    assert.equal(await readFile(path.join(work, "localhost.json"), "utf8"), first, "a rerun writes the same file");

    // Every start block is the block of the receipt that created the contract.
    const deployment = JSON.parse(first) as Deployment;
    assert.equal(Object.keys(deployment.contracts).length, 9);
    for (const [name, { address, startBlock }] of Object.entries(deployment.contracts)) {
      const block = await rpc<{ transactions: { hash: string }[] }>(chain.url, "eth_getBlockByNumber", [
        `0x${startBlock.toString(16)}`,
        true,
      ]);
      const created = await Promise.all(
        block.transactions.map((tx) =>
          rpc<{ contractAddress: string | null }>(chain.url, "eth_getTransactionReceipt", [tx.hash]),
        ),
      );
      assert.ok(
        created.some((receipt) => receipt.contractAddress?.toLowerCase() === address.toLowerCase()),
        `${name} was created in block ${startBlock}`,
      );
    }
  });

  it("test_deploy_journalsATransactionAStoppedRunSentButDidNotNote", async () => {
    // A run stopped after sending its last transaction and before journalling it: the journal as it was then.
    const journal = path.join(journalDir, "journal.jsonl");
    const lines = (await readFile(journal, "utf8")).split("\n").filter((line) => line.trim() !== "");
    const lastSend = lines.map((line) => (JSON.parse(line) as { type: string }).type).lastIndexOf("TRANSACTION_SEND");
    assert.ok(lastSend > 0, "the deploy journalled its transactions");
    await writeFile(journal, lines.slice(0, lastSend).join("\n") + "\n");
    const written = await readFile(path.join(work, "localhost.json"), "utf8");

    const resumed = await deploy(["--network", "localhost"]);
    assert.equal(resumed.code, 0, resumed.output);
    assert.match(resumed.output, /Resuming: journalling 0x[0-9a-f]{64} \(nonce \d+\)/);
    assert.equal(await readFile(path.join(work, "localhost.json"), "utf8"), written, "the same file");
  });

  /**
   * A fresh deploy from a snapshot of the chain; then the chain rewound to that snapshot and the journal cut after its
   * first line of `type`: what a run stopped right after journalling it, before anything it announced reached the
   * chain, leaves. Returns the deployment file the complete run wrote.
   */
  async function stoppedAfterFirst(type: string): Promise<string> {
    await rm(journalDir, { recursive: true, force: true });
    await rpc(chain.url, "hardhat_mine", ["0x5"]);
    const snapshot = await rpc<string>(chain.url, "evm_snapshot");
    const complete = await deploy(["--network", "localhost"]);
    assert.equal(complete.code, 0, complete.output);
    const journal = path.join(journalDir, "journal.jsonl");
    const lines = (await readFile(journal, "utf8")).split("\n");
    const first = lines.findIndex((line) => line.includes(`"type":"${type}"`));
    assert.ok(first > 0, `the deploy journalled a ${type}`);
    assert.equal(await rpc<boolean>(chain.url, "evm_revert", [snapshot]), true);
    await writeFile(journal, lines.slice(0, first + 1).join("\n"));
    return readFile(path.join(work, "localhost.json"), "utf8");
  }

  it("test_deploy_resumesARunStoppedBetweenStartingAContractAndSendingIt", async () => {
    const written = await stoppedAfterFirst("DEPLOYMENT_EXECUTION_STATE_INITIALIZE");
    const resumed = await deploy(["--network", "localhost"]);
    assert.equal(resumed.code, 0, resumed.output);
    assert.match(resumed.output, /Resuming: starting OpenPoA#\w+ again, started by a stopped run that sent nothing/);
    assert.equal(await readFile(path.join(work, "localhost.json"), "utf8"), written, "the same deployment");
  });

  it("test_deploy_resendsATransactionAStoppedRunPreparedButNeverSent", async () => {
    const written = await stoppedAfterFirst("TRANSACTION_PREPARE_SEND");
    const resumed = await deploy(["--network", "localhost"]);
    assert.equal(resumed.code, 0, resumed.output);
    assert.match(resumed.output, /Resuming: sending OpenPoA#\w+ again \(nonce \d+\), never sent by a stopped run/);
    assert.equal(await readFile(path.join(work, "localhost.json"), "utf8"), written, "the same deployment");
  });

  it("test_deploy_dryRunPrintsContractsAndRolesAndSendsNothing", async () => {
    const before = await rpc<string>(chain.url, "eth_blockNumber");
    const dry = await deploy(["--network", "localhost", "--dry-run"]);
    assert.equal(dry.code, 0, dry.output);
    assert.match(dry.output, /Dry run of the deploy to localhost \(chain 31337\)/);
    assert.match(dry.output, /InferencePayments +would be deployed/);
    assert.match(
      dry.output,
      /AttributionRewards attestor \(proposes reward roots\): 0x[0-9a-fA-F]{40} \(the deployer\)/,
    );
    assert.match(dry.output, /OpenTimelock admin kept by the deployer: no/);
    assert.equal(await rpc<string>(chain.url, "eth_blockNumber"), before, "nothing was sent");

    const unknown = await deploy(["--network", "nowhere"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.output, /--network: no network "nowhere" in hardhat.config.ts/);
  });

  it("test_deploy_readsTheParametersFileNamed", async () => {
    const file = path.join(work, "slow-governance.json");
    await writeFile(file, JSON.stringify({ votingPeriodSeconds: 30 * 24 * 3600 }));
    const refused = await deploy(["--network", "localhost", "--dry-run", "--parameters", file]);
    assert.equal(refused.code, 2);
    assert.match(refused.output, new RegExp(`${file}: Deploy parameter "unbondingPeriodSeconds" .* must exceed`));

    const missing = await deploy(["--network", "localhost", "--parameters", path.join(work, "none.json")]);
    assert.equal(missing.code, 2);
    assert.match(missing.output, /--parameters: no file .*none\.json/);
  });

  it("test_deploy_showsProgressWhileItWaitsForBlocks", async () => {
    // A fresh deploy on a chain that mines every 300 ms: Ignition then waits for 5 confirmations of each batch.
    // (The earlier deploys' transactions get their 5 confirmations first, or Ignition refuses to start.)
    await rm(journalDir, { recursive: true, force: true });
    await rpc(chain.url, "hardhat_mine", ["0x5"]);
    await rpc(chain.url, "evm_setAutomine", [false]);
    await rpc(chain.url, "evm_setIntervalMining", [300]);
    try {
      const slow = await deploy(["--network", "localhost"], undefined, { OPENPOA_PROGRESS: "1" });
      assert.equal(slow.code, 0, slow.output);
      assert.match(slow.output, /^waiting for the deploy, \d contracts confirmed \(2 s, block \d+\)$/m);
      // A local chain has no explorer to link to.
      assert.match(slow.output, /^ {2}OpenToken +0x[0-9a-fA-F]{40} {2}block \d+$/m);
    } finally {
      await rpc(chain.url, "evm_setIntervalMining", [0]);
      await rpc(chain.url, "evm_setAutomine", [true]);
    }
  });
});
