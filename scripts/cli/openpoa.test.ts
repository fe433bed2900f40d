import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  createPublicClient,
  createWalletClient,
  http,
  keccak256,
  parseEther,
  toHex,
  zeroHash,
  type Address,
  type Hex,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  attributeCompletion,
  buildDatanetIndex,
  byteTokenizer,
  createDirectoryContentStore,
  datanetVersionTree,
  decodeDistributionFile,
  distributionTree,
  encodeDistributionFile,
  getContent,
  hashTokens,
  putAttributionRecord,
  putContent,
  sha256Hex,
} from "../../attribution/src/index.ts";
import {
  domainSeparator,
  encodeUsageBatch,
  receiptDigest,
  receiptDomain,
  usageBatchFileName,
  usageBatchFormat,
  usageLeaf,
  UsageTree,
  voucherDomain,
  voucherTypes,
  type BatchReceipt,
  type Receipt,
  type UsageBatch,
  type Voucher,
} from "../../inference/sdk/index.ts";
import { hashArtifactDir } from "../../inference/artifacts/index.ts";
import { generatedModel } from "../../inference/gateway/testSupport.ts";
import { abiOf, HARDHAT_ACCOUNT_0_KEY } from "../lib/contracts.ts";
import { commands } from "./commands.ts";
import { readDatanetVersion } from "../lib/datanetVersions.ts";
import { repoRoot, rpc, type LocalChain } from "../lib/localChain.ts";
import { keystoreEnvironment, setInKeystore } from "../lib/testKeystore.ts";
import { cliPath, jsonOutput, runCli, startDeployedChain, type DeployedChain } from "./testing.ts";

const ACCOUNT_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/** Hardhat's account 1 (0x7099…79C8): the operator's receipt key from test_nodeAndChannel_lifecycle on. */
const HARDHAT_ACCOUNT_1_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

/**
 * Every command against a chain of its own, deployed with `npm run deploy`, as a user would run them. The tests are
 * steps of one story and run in order: later ones use the datanet, adapter and operator that earlier ones made.
 */
describe("openpoa CLI", () => {
  let chain: LocalChain;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let deployed: DeployedChain | undefined;

  before(async () => {
    deployed = await startDeployedChain({
      port: 18546,
      environment: (dir) => ({
        // Hardhat's keystores of this test alone.
        ...keystoreEnvironment(process.env, path.join(dir, "hardhat-config")),
        OPENPOA_ARTIFACT_CACHE_DIR: path.join(dir, "artifact-cache"),
      }),
    });
    ({ chain, work, env } = deployed);
  });
  after(() => deployed?.stop());

  /** Runs the CLI; resolves with its exit code and output instead of throwing. */
  const openpoa = (...args: string[]) => runCli(env, args);
  /** The same with `extra` environment variables (another key, another RPC URL). */
  const openpoaWith = (extra: NodeJS.ProcessEnv, ...args: string[]) => runCli({ ...env, ...extra }, args);
  /** The deployment, and viem clients acting as Hardhat's account 0 on the test chain. */
  async function accountZero() {
    const deployment = JSON.parse(await readFile(path.join(work, "localhost.json"), "utf8")) as {
      contracts: Record<string, { address: Address; startBlock: number }>;
    };
    const chainConfig = {
      id: 31337,
      name: "local",
      nativeCurrency: { name: "ETH", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: [chain.url] } },
    };
    const publicClient = createPublicClient({ chain: chainConfig, transport: http(chain.url) });
    const account = privateKeyToAccount(HARDHAT_ACCOUNT_0_KEY);
    const wallet = createWalletClient({ chain: chainConfig, transport: http(chain.url), account });
    return { deployment, publicClient, wallet };
  }
  /** Account 0, payer and operator of its own channels, signs `voucher` and settles it. */
  async function settleVoucher(voucher: Voucher) {
    const { deployment, publicClient, wallet } = await accountZero();
    const payments = deployment.contracts.InferencePayments!.address;
    const signature = await wallet.signTypedData({
      domain: voucherDomain(31337, payments),
      types: voucherTypes,
      primaryType: "Voucher",
      message: voucher,
    });
    const hash = await wallet.writeContract({
      address: payments,
      abi: abiOf("InferencePayments"),
      functionName: "settle",
      args: [voucher, signature],
    });
    await publicClient.waitForTransactionReceipt({ hash });
  }
  /**
   * Runs the CLI with `extra` environment variables and `stdin` typed in; `whileRunning` gets its stderr as it comes.
   * Resolves with its exit code and output.
   */
  async function openpoaLive(
    extra: NodeJS.ProcessEnv,
    args: string[],
    { stdin, whileRunning }: { stdin?: string; whileRunning?: (stderr: () => string) => Promise<void> } = {},
  ) {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, env: { ...env, ...extra } });
    child.stdin.end(stdin);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? -1)));
    await whileRunning?.(() => stderr);
    return { code: await exited, stdout, stderr };
  }
  const json = async (...args: string[]) => jsonOutput(await openpoa(...args, "--json"));

  it("test_token_faucetBalanceDelegateTransfer", async () => {
    const newcomer = "0x000000000000000000000000000000000000c0DE";
    const given = await json("token", "faucet", newcomer, "--amount", "25");
    assert.deepEqual([given.amount, given.gas], ["25000000000000000000", "10000000000000000000"]);
    const fresh = await json("token", "balance", newcomer);
    assert.deepEqual([fresh.balance, fresh.votes, fresh.gas], ["25000000000000000000", "0", "10000000000000000000"]);
    assert.match((await openpoa("token", "balance", newcomer)).stdout, /delegates to nobody/);

    assert.equal((await json("token", "delegate")).delegatee, ACCOUNT_0);
    const before = await json("token", "balance");
    assert.equal(before.votes, before.balance, "self-delegated: every OPEN votes");
    await json("token", "transfer", newcomer, "5");
    const after = await json("token", "balance");
    assert.equal(BigInt(before.votes) - BigInt(after.votes), 5n * 10n ** 18n, "votes follow the transfer");
    assert.equal((await json("token", "balance", newcomer)).balance, "30000000000000000000");

    const broke = await openpoa("token", "transfer", newcomer, "abc");
    assert.equal(broke.code, 2);
    assert.match(broke.stderr, /amount must be an OPEN amount like 12.5, got "abc"/);
  });

  it("test_secrets_comeFromTheEnvironmentElseHardhatsKeystore", async (t) => {
    const configHome = path.join(work, "hardhat-config");
    const account1 = privateKeyToAccount(HARDHAT_ACCOUNT_1_KEY).address;
    // Gone afterwards: the later steps sign as account 0.
    t.after(() => rm(path.join(configHome, "hardhat-nodejs"), { recursive: true, force: true }));
    await setInKeystore({ configHome, key: "OPENPOA_PRIVATE_KEY", value: HARDHAT_ACCOUNT_1_KEY });
    assert.equal((await json("token", "balance")).account, account1);
    // The environment wins over the keystore.
    const other = `0x${"5a".repeat(32)}` as Hex;
    const fromEnvironment = await openpoaWith({ OPENPOA_PRIVATE_KEY: other }, "token", "balance", "--json");
    assert.equal(JSON.parse(fromEnvironment.stdout).account, privateKeyToAccount(other).address);

    // A network's RPC URL (as hardhat.config.ts names it) from the production keystore, its password typed in.
    await cp(path.join(work, "localhost.json"), path.join(work, "stagingNet.json"));
    await setInKeystore({ configHome, key: "STAGING_NET_RPC_URL", value: chain.url, password: "cli password" });
    const network = ["--network", "stagingNet", "--json"];
    const unlocked = await openpoaLive({ OPENPOA_RPC_URL: undefined }, ["token", "balance", ...network], {
      stdin: "cli password\n",
    });
    assert.equal(unlocked.code, 0, unlocked.stderr);
    assert.equal(JSON.parse(unlocked.stdout).account, account1);
    // Asked on stderr: stdout stays JSON.
    assert.match(unlocked.stderr, /^\[hardhat-keystore\] Enter the password: $/);
    const locked = await openpoaLive({ OPENPOA_RPC_URL: undefined }, ["token", "balance", ...network.slice(0, 2)], {
      stdin: "not it\n",
    });
    assert.equal(locked.code, 2);
    assert.match(
      locked.stderr,
      /openpoa: STAGING_NET_RPC_URL: Hardhat's keystore did not open: HHE50000: Invalid password or corrupted keystore file\.\n$/,
    );
  });

  it("test_send_showsProgressOnStderrWhileItWaitsButNeverWithJson", async () => {
    const newcomer = "0x000000000000000000000000000000000000c0DE";
    // Blocks only when the test mines one: the transfer waits for as long as the test likes.
    await rpc(chain.url, "evm_setAutomine", [false]);
    try {
      const shown = await openpoaLive({ OPENPOA_PROGRESS: "1" }, ["token", "transfer", newcomer, "1"], {
        async whileRunning(stderr) {
          for (let tries = 0; !/waiting for/.test(stderr()) && tries < 300; tries++) await sleep(100);
          await rpc(chain.url, "evm_mine");
        },
      });
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stderr, /^waiting for 0x[0-9a-f]{64} \(2 s, block \d+\)\n/);
      assert.match(shown.stdout, /^Sent 1 OPEN to 0x0{36}c0DE \(0x[0-9a-f]{64}\)\n$/, "a local chain: no explorer");

      const quiet = await openpoaLive({ OPENPOA_PROGRESS: "1" }, ["token", "transfer", newcomer, "1", "--json"], {
        async whileRunning() {
          type Pending = { transactions: unknown[] };
          const pending = () => rpc<Pending>(chain.url, "eth_getBlockByNumber", ["pending", false]);
          for (let tries = 0; (await pending()).transactions.length === 0 && tries < 300; tries++) await sleep(100);
          await sleep(3_000);
          await rpc(chain.url, "evm_mine");
        },
      });
      assert.equal(quiet.code, 0, quiet.stderr);
      assert.equal(quiet.stderr, "");
      assert.equal(JSON.parse(quiet.stdout).amount, "1000000000000000000");
    } finally {
      await rpc(chain.url, "evm_setAutomine", [true]);
    }
  });

  it("test_help_listsEveryOptionWithItsMeaningAndDefault", async () => {
    const help = await openpoa("token", "faucet", "--help");
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: openpoa token faucet <account> \[--amount OPEN\]/);
    assert.match(help.stdout, /--amount <value> +OPEN to send \(default 1000\)/);
    assert.match(help.stdout, /--network <value> +reads deployments\/<name>.json \(default localhost\)/);
    for (const [name, command] of Object.entries(commands)) {
      for (const [option, spec] of Object.entries(command.options ?? {})) {
        assert.ok(spec.description.length > 5, `${name} --${option} says what it is`);
      }
    }
  });

  it("test_datanet_createContributeCuratePublishList", async () => {
    const created = await json("datanet", "create", "--uri", "ipfs://poems", "--curated", "--min-stake", "10");
    assert.equal(created.datanetId, "1");

    const text = "Roses are red, violets are blue.";
    const file = path.join(work, "poem.txt");
    await writeFile(file, text);
    const contentDir = path.join(work, "content");
    const contributed = await json(
      "datanet",
      "contribute",
      "1",
      "--file",
      file,
      "--stake",
      "10",
      "--content",
      contentDir,
    );
    const contentHash = sha256Hex(new TextEncoder().encode(text));
    assert.deepEqual(
      {
        id: contributed.contributionId,
        hash: contributed.contentHash,
        size: contributed.sizeTokens,
        accepted: contributed.accepted,
      },
      { id: "1", hash: contentHash, size: String(text.length), accepted: false },
    );
    // The content is stored under its hash, for the attribution index.
    assert.deepEqual(await readdir(contentDir), [contentHash.slice(2)]);

    const accepted = await json("datanet", "curate", "1", "--accept");
    assert.equal(accepted.weight, String(text.length));

    const published = await json("datanet", "publish", "1");
    const expectedRoot = datanetVersionTree([
      { contributionId: 1n, contributor: ACCOUNT_0, contentHash, weight: BigInt(text.length) },
    ]).root;
    assert.deepEqual(published, { datanetId: "1", version: "1", root: expectedRoot, contributionCount: 1 });

    const [listed] = await json("datanet", "list");
    assert.equal(listed.metadataURI, "ipfs://poems");
    assert.equal(listed.versionCount, "1");
    assert.equal(listed.acceptedCount, "1");

    const human = await openpoa("datanet", "list");
    assert.match(human.stdout, /#1 ipfs:\/\/poems \(curated/);
  });

  it("test_datanet_duplicates_warnsCuratorsOfANearCopy", async () => {
    const contentDir = path.join(work, "content");
    const original = Array.from(
      { length: 12 },
      (_, i) => `Line ${i}: the lighthouse keeper logged every ship that passed the northern reef.`,
    ).join("\n");
    // A whole copy with one byte changed, submitted after the original.
    const copy = original.replace("northern", "Northern");
    for (const [name, text] of [
      ["original.txt", original],
      ["copy.txt", copy],
    ]) {
      await writeFile(path.join(work, name!), text!);
      await json(
        "datanet",
        "contribute",
        "1",
        "--file",
        path.join(work, name!),
        "--stake",
        "10",
        "--content",
        contentDir,
      );
    }
    const [found, ...rest] = await json("datanet", "duplicates", "1", "--content", contentDir);
    assert.deepEqual(rest, []);
    assert.deepEqual([found.contributionId, found.duplicateOf, found.status], ["3", "2", "pending"]);
    assert.ok(found.coverageBps >= 8_000, `${found.coverageBps} bps covered`);
    // The curator's view lists both as pending, after the accepted one.
    const shown = await json("datanet", "show", "1");
    assert.deepEqual(
      [
        shown.accepted.map((c: { contributionId: string }) => c.contributionId),
        shown.pending.map((c: { contributionId: string }) => c.contributionId),
      ],
      [["1"], ["2", "3"]],
    );
    assert.equal(shown.versions.length, 1);
    assert.match(
      (await openpoa("datanet", "show", "1")).stdout,
      /2 pending curation \(openpoa datanet curate <id> --accept \| --reject\)/,
    );
    const human = await openpoa("datanet", "duplicates", "1", "--content", contentDir);
    assert.match(
      human.stdout,
      /Contribution 3 \(pending\) repeats contribution 2: .*% of it is covered; it earns nothing of its own/,
    );
  });

  it("test_failures_areOneLineNamingTheCause", async () => {
    const oneLine = (stderr: string) => stderr.trim().split("\n").length === 1;

    const unreachable = await openpoaWith({ OPENPOA_RPC_URL: "http://127.0.0.1:9" }, "token", "balance");
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /^openpoa: cannot reach the RPC at http:\/\/127\.0\.0\.1:9\/: /);
    assert.ok(oneLine(unreachable.stderr), unreachable.stderr);

    const badKey = await openpoaWith({ OPENPOA_PRIVATE_KEY: "0x1234" }, "token", "balance");
    assert.equal(badKey.code, 2);
    assert.equal(
      badKey.stderr,
      "openpoa: OPENPOA_PRIVATE_KEY must be a private key (0x and 64 hex digits), not what it is set to\n",
    );

    // A key with no ETH: the cause, not a dump of the signed transaction.
    const penniless = { OPENPOA_PRIVATE_KEY: `0x${"5a".repeat(32)}` };
    const noGas = await openpoaWith(penniless, "token", "delegate");
    assert.equal(noGas.code, 1);
    assert.match(noGas.stderr, /^openpoa: 0x[0-9a-fA-F]{40} has not enough ETH to pay for gas\n$/);

    // A revert of the token inside another contract's call is decoded by name, with its arguments.
    await json("token", "faucet", privateKeyToAccount(penniless.OPENPOA_PRIVATE_KEY as Hex).address, "--amount", "1");
    await writeFile(path.join(work, "note.txt"), "a note");
    const broke = await openpoaWith(
      penniless,
      "datanet",
      "contribute",
      "1",
      "--file",
      path.join(work, "note.txt"),
      "--stake",
      "50",
      "--content",
      path.join(work, "content"),
    );
    assert.equal(broke.code, 1);
    assert.match(
      broke.stderr,
      /^openpoa: DatanetRegistry\.contribute reverted: ERC20InsufficientBalance\(sender: 0x[0-9a-fA-F]{40}, balance: 1000000000000000000, needed: 50000000000000000000\)\n$/,
    );
  });

  it("test_datanet_rejectsBadArgumentsAndDecodesReverts", async () => {
    const missing = await openpoa("datanet", "create");
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /Missing --uri/);

    const badStake = await openpoa("datanet", "contribute", "1", "--file", "x", "--stake", "ten");
    assert.equal(badStake.code, 2);
    assert.match(badStake.stderr, /--stake must be an OPEN amount/);

    const unknownOption = await openpoa("datanet", "list", "--colour");
    assert.equal(unknownOption.code, 2);
    assert.match(unknownOption.stderr, /Unknown option '--colour'/);

    const neither = await openpoa("datanet", "curate", "1");
    assert.equal(neither.code, 2);

    const reverted = await openpoa("datanet", "curate", "99", "--reject", "--json");
    assert.equal(reverted.code, 1);
    assert.deepEqual(JSON.parse(reverted.stderr).error, {
      kind: "reverted",
      message: "DatanetRegistry.reject reverted: ContributionNotFound(contributionId: 99)",
      errorName: "ContributionNotFound",
      errorArgs: ["99"],
    });

    const unknownCommand = await openpoa("datanet", "frobnicate");
    assert.equal(unknownCommand.code, 2);
  });

  it("test_modelAndAdapter_registerListDeprecate", async () => {
    const base = await json(
      "model",
      "register",
      "--name",
      "tiny",
      "--artifact-hash",
      `0x${"ab".repeat(32)}`,
      "--uri",
      "file://tiny",
    );
    assert.equal(base.baseModelId, "1");
    const adapterArgs = [
      "adapter",
      "register",
      "--base",
      "1",
      "--artifact-hash",
      `0x${"cd".repeat(32)}`,
      "--uri",
      "file://a1",
      "--rank",
      "16",
      "--targets",
      // PEFT's names and the short forms mix.
      "q_proj,v,down_proj",
      "--price",
      "0.01",
      "--owner-share",
      "7000",
      "--data-share",
      "3000",
    ];
    const badLineage = await openpoa(...adapterArgs, "--lineage", "1:1:9000");
    assert.equal(badLineage.code, 1);
    assert.match(badLineage.stderr, /LineageWeightsNotWhole\(totalWeightBps: 9000\)/);
    const badTargets = await openpoa(...adapterArgs, "--lineage", "1:1:10000", "--targets", "q,x");
    assert.equal(badTargets.code, 2);
    assert.match(badTargets.stderr, /unknown module "x"/);

    assert.equal((await json(...adapterArgs, "--lineage", "1:1:10000")).adapterId, "1");
    const [adapter] = await json("adapter", "list");
    assert.deepEqual(
      {
        owner: adapter.owner,
        rank: adapter.rank,
        targets: adapter.targetModules,
        price: adapter.pricePer1kTokens,
        lineage: adapter.lineage,
      },
      {
        owner: ACCOUNT_0,
        rank: 16,
        targets: 0b1000101,
        price: "10000000000000000",
        lineage: [{ datanetId: "1", version: "1", weightBps: 10000 }],
      },
    );
    await json("adapter", "deprecate", "1");
    assert.equal((await json("adapter", "list"))[0].deprecated, true);
    const again = await openpoa("adapter", "deprecate", "1");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /AdapterIsDeprecated\(adapterId: 1\)/);
  });

  it("test_modelAndAdapter_publishAndRegisterFromTheirFiles", async () => {
    const model = generatedModel(1);
    // The store the datanet contents are in: `adapter train` below reads both from it.
    const store = path.join(work, "content");
    const modelDir = path.join(work, "published-model");
    const adapterDir = path.join(work, "published-adapter");
    await cp(model.modelDir, modelDir, { recursive: true });
    await cp(path.join(model.artifactStore, model.adapterHashes[0]!), adapterDir, { recursive: true });

    const published = await json("model", "publish", modelDir, "--content", store);
    const { artifactHash: modelHash } = await hashArtifactDir(model.modelDir);
    assert.equal(published.artifactHash, `0x${modelHash}`);
    assert.match(published.uri, /^openpoa-store:\/\/[0-9a-f]{64}$/);
    // Every file and the manifest, each under its sha256.
    const stored = new Set(await readdir(store));
    for (const sha256 of [...published.files.map((f: { sha256: string }) => f.sha256), published.manifestSha256])
      assert.ok(stored.has(sha256), sha256);
    const wrongKind = await openpoa("adapter", "publish", modelDir, "--content", store);
    assert.equal(wrongKind.code, 2);
    assert.match(wrongKind.stderr, /holds a model, not a lora/);

    const { baseModelId } = await json("model", "register", "--from", modelDir, "--content", store);
    const base = await json("model", "list");
    assert.deepEqual(
      base.find((m: { baseModelId: string }) => m.baseModelId === baseModelId),
      {
        baseModelId,
        name: "openpoa/generated-tiny-seed0",
        artifactHash: `0x${modelHash}`,
        uri: published.uri,
        registrant: ACCOUNT_0,
        deprecated: false,
      },
    );

    const terms = ["--price", "0.01", "--owner-share", "7000", "--data-share", "3000", "--lineage", "1:1:10000"];
    const mixed = await openpoa("adapter", "register", "--from", adapterDir, "--rank", "4", ...terms);
    assert.equal(mixed.code, 2);
    assert.match(mixed.stderr, /--from reads --rank from the files/);
    // The base model comes from the adapter's base_model_name_or_path, rank and targets from its config.
    const { adapterId } = await json("adapter", "register", "--from", adapterDir, "--content", store, ...terms);
    const adapter = (await json("adapter", "list")).find((a: { adapterId: string }) => a.adapterId === adapterId);
    assert.deepEqual(
      [adapter.baseModelId, adapter.artifactHash, adapter.rank, adapter.targetModules, adapter.uri.slice(0, 16)],
      [baseModelId, `0x${model.adapterHashes[0]}`, 8, 0x7f, "openpoa-store://"],
    );
  });

  it("test_adapter_train_onADatanetVersionAndRegisterWithItsLineage", async () => {
    const content = path.join(work, "content");
    const args = ["adapter", "train", "--base", "2", "--content", content, "--out", path.join(work, "trained")];
    const badWeights = await openpoa(...args, "--datanet", "1:1:9000");
    assert.equal(badWeights.code, 2);
    assert.match(badWeights.stderr, /weights must add up to 10000 bps, got 9000/);

    // Datanet 1 version 1 (one poem, from the datanet test): its text comes from the store, checked against the
    // chain; the base model (registered by the publish test) by its on-chain URI.
    const trained = await json(
      ...args,
      ...["--datanet", "1:1", "--rank", "4", "--steps", "30", "--seed", "7", "--register", "--price", "0.01"],
      ...["--owner-share", "7000", "--data-share", "3000"],
    );
    assert.equal(
      trained.manifest.baseModel.artifactHash,
      (await hashArtifactDir(generatedModel(1).modelDir)).artifactHash,
    );
    assert.deepEqual(trained.manifest.datasets, [
      { name: "datanet 1 v1", documents: 1, heldOut: 0, datanetId: "1", version: "1", weightBps: 10000 },
    ]);
    assert.ok(trained.loss_last < trained.loss_first, `${trained.loss_first} -> ${trained.loss_last}`);
    const adapter = (await json("adapter", "list")).find(
      (a: { adapterId: string }) => a.adapterId === trained.adapterId,
    );
    assert.deepEqual(
      [adapter.baseModelId, adapter.artifactHash, adapter.rank, adapter.targetModules, adapter.lineage],
      ["2", `0x${trained.sha256}`, 4, 0x7f, [{ datanetId: "1", version: "1", weightBps: 10000 }]],
    );
  });

  it("test_nodeAndChannel_lifecycle", async () => {
    const registered = await json(
      "node",
      "register",
      "--endpoint",
      "http://127.0.0.1:9/v1",
      "--base-models",
      "1",
      "--stake",
      "10000",
    );
    assert.deepEqual(registered, { operator: ACCOUNT_0, stake: "10000000000000000000000", active: true });
    assert.equal((await json("node", "stake", "5")).amount, "5000000000000000000");
    const signingKey = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
    assert.deepEqual(
      await json(
        "node",
        "update",
        "--endpoint",
        "http://127.0.0.1:10/v1",
        "--base-models",
        "1",
        "--signing-key",
        signingKey,
      ),
      { endpoint: "http://127.0.0.1:10/v1", signingKey },
    );
    const noKey = await openpoa("node", "update", "--endpoint", "http://x", "--base-models", "1");
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /Missing --signing-key/);
    const unbonding = await json("node", "unbond", "5");
    assert.ok(Number(unbonding.releaseTime) > Date.now() / 1000 - 60);
    const early = await openpoa("node", "withdraw");
    assert.equal(early.code, 1);
    assert.match(early.stderr, /StakeStillUnbonding/);

    const opened = await json("channel", "open", "--operator", ACCOUNT_0, "--deposit", "5");
    assert.deepEqual(opened, { channelId: "1", deposit: "5000000000000000000" });
    assert.equal((await json("channel", "top-up", "1", "2")).deposit, "7000000000000000000");
    await json("channel", "close", "1");
    const tooEarly = await openpoa("channel", "withdraw", "1");
    assert.equal(tooEarly.code, 1);
    assert.match(tooEarly.stderr, /ChallengeWindowOpen\(channelId: 1, closesAt: \d+\)/);

    // Past the challenge window and the unbonding period.
    await rpc(chain.url, "evm_increaseTime", [15 * 24 * 60 * 60]);
    await rpc(chain.url, "evm_mine");
    assert.deepEqual(await json("channel", "withdraw", "1"), { channelId: "1", refund: "7000000000000000000" });
    assert.equal((await json("node", "withdraw")).amount, "5000000000000000000");

    const badOperator = await openpoa("channel", "open", "--operator", "0x1234", "--deposit", "1");
    assert.equal(badOperator.code, 2);
    assert.match(badOperator.stderr, /--operator must be an address/);
  });

  it("test_epochAndRewards_runVerifyShowClaim", async () => {
    const { deployment, publicClient, wallet } = await accountZero();
    const rewards = deployment.contracts.AttributionRewards!.address;
    const content = path.join(work, "content");

    // Account 0 pays itself as operator for adapter 1 (lineage: datanet 1 v1, whose only contribution is its own).
    const channelId = BigInt((await json("channel", "open", "--operator", ACCOUNT_0, "--deposit", "5")).channelId);
    async function settle(cumulative: bigint) {
      const voucher = {
        channelId,
        cumulativeAmount: cumulative,
        adapterIds: [1n],
        adapterAmounts: [cumulative],
        usageRoot: `0x${"11".repeat(32)}` as Hex,
        expiry: BigInt(Math.floor(Date.now() / 1000) + 30 * 24 * 3600),
      };
      await settleVoucher(voucher);
    }
    await settle(parseEther("1"));

    const early = await openpoa("rewards", "show", "--content", content);
    assert.equal(early.code, 0, early.stderr);
    assert.match(early.stdout, /no reward in a claimable epoch yet/);
    const wrongEpoch = await openpoa("epoch", "run", "2", "--content", content);
    assert.equal(wrongEpoch.code, 2);
    assert.match(wrongEpoch.stderr, /next epoch to run is 1/);

    // 1 OPEN: 5% protocol, 10% operator, then 30% of the rest (0.85) is the data share: 0.255 OPEN.
    const ran = await json("epoch", "run", "1", "--content", content);
    assert.deepEqual(
      {
        epochTotal: ran.epochTotal,
        cumulativeTotal: ran.cumulativeTotal,
        accounts: ran.accounts,
        proposed: ran.proposed,
        policyId: ran.policyId,
      },
      {
        epochTotal: "255000000000000000",
        cumulativeTotal: "255000000000000000",
        accounts: 1,
        proposed: true,
        policyId: "1",
      },
    );
    assert.deepEqual(await json("epoch", "verify", "1", "--content", content), {
      epoch: "1",
      ok: true,
      root: ran.root,
      leaves: 1,
      policyId: "1",
    });

    // Proposed, not yet claimable: when it will be, and what for.
    const waiting = await json("rewards", "show", ACCOUNT_0, "--content", content);
    assert.equal(waiting.pending.epoch, "1");
    assert.deepEqual(waiting.pending.earned, [
      {
        epoch: "1",
        contributionId: "1",
        datanetId: "1",
        version: "1",
        adapterId: "1",
        amount: "255000000000000000",
      },
    ]);
    assert.match(
      (await openpoa("rewards", "show", ACCOUNT_0, "--content", content)).stdout,
      /epoch 1 is pending: claimable from \d{4}-\d\d-\d\dT[\d:]+Z[^\n]*\n {2}epoch 1: 0.255 OPEN for contribution 1 \(datanet 1 v1, served by adapter 1\)/,
    );

    await rpc(chain.url, "evm_increaseTime", [24 * 60 * 60 + 1]);
    await rpc(chain.url, "evm_mine");
    const status = await json("rewards", "show", ACCOUNT_0, "--content", content);
    assert.equal(status.pending, undefined);
    assert.equal(status.earned[0].amount, "255000000000000000");
    assert.deepEqual(
      { epoch: status.epoch, index: status.index, claimable: status.claimable, claimed: status.claimed },
      { epoch: "1", index: "0", claimable: "255000000000000000", claimed: "0" },
    );
    assert.equal((await json("rewards", "claim", "--content", content)).amount, "255000000000000000");
    assert.equal((await json("rewards", "show", "--content", content)).claimable, "0");
    const again = await openpoa("rewards", "claim", "--content", content);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /nothing to claim/);

    // Epoch 2, proposed with a tampered leaf (1 wei short): the verifier flags it and exits 1.
    await settle(parseEther("2"));
    const dry = await json("epoch", "run", "2", "--content", content, "--dry-run");
    const store = createDirectoryContentStore({ dir: content });
    const honest = decodeDistributionFile(
      new TextDecoder().decode(await getContent(store, { contentHash: dry.fileHash })),
    );
    const tampered = {
      ...honest,
      leaves: honest.leaves.map((leaf) => ({ ...leaf, cumulativeAmount: leaf.cumulativeAmount - 1n })),
    };
    tampered.root = distributionTree(tampered.leaves).root as Hex;
    const tamperedHash = await putContent(store, {
      content: new TextEncoder().encode(encodeDistributionFile(tampered)),
    });
    const total = tampered.leaves.reduce((sum, leaf) => sum + leaf.cumulativeAmount, 0n);
    const proposeHash = await wallet.writeContract({
      address: rewards,
      abi: abiOf("AttributionRewards"),
      functionName: "proposeRoot",
      args: [2n, tampered.root, total, tamperedHash, "tampered", 1n],
    });
    await publicClient.waitForTransactionReceipt({ hash: proposeHash });
    const verified = await openpoa("epoch", "verify", "2", "--content", content);
    assert.equal(verified.code, 1);
    assert.match(verified.stderr, /Epoch 2 does not verify/);
    assert.match(verified.stderr, /leaf-amount/);
    assert.match(verified.stderr, /root-mismatch/);
  });

  it("test_epoch_receiptsComeFromTheBatchesPublishedUnderSettledUsageRoots", async () => {
    // Account 0 operates, with account 1 as its receipt key (test_nodeAndChannel_lifecycle), and pays on channel 3.
    const { deployment, publicClient } = await accountZero();
    const payments = deployment.contracts.InferencePayments!.address;
    const receiptKey = privateKeyToAccount(HARDHAT_ACCOUNT_1_KEY);
    const content = path.join(work, "content");
    const store = createDirectoryContentStore({ dir: content });
    const channelId = BigInt((await json("channel", "open", "--operator", ACCOUNT_0, "--deposit", "5")).channelId);
    const receiptSeparator = domainSeparator(receiptDomain(31337, payments));

    // The completion copies the datanet's only text; its record is made and published as a gateway would.
    const datanet = await readDatanetVersion(publicClient, {
      registry: deployment.contracts.DatanetRegistry!.address,
      fromBlock: 0n,
      datanetId: 1n,
      version: 1n,
    });
    const contents = [await getContent(store, { contentHash: datanet.contributions[0]!.contentHash })];
    const index = buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer });
    const completion = byteTokenizer.encode(new TextEncoder().encode("She said: Roses are red, violets are blue."));
    const { record } = attributeCompletion(
      { tokenizer: byteTokenizer, indexes: [index] },
      { adapterId: 1n, lineage: [{ datanetId: 1n, version: 1n, weightBps: 10_000 }], completion },
    );
    const attributionHash = await putAttributionRecord(store, { record });

    const tree = new UsageTree();
    const batchReceipts: BatchReceipt[] = [];
    async function receiptOf(adapterId: bigint, amount: bigint, hashes: { completion: Hex; attribution: Hex }) {
      const receipt: Receipt = {
        requestId: keccak256(toHex(`cli-receipt-${tree.count}`)),
        channelId,
        position: BigInt(tree.count),
        adapterId,
        promptTokens: 10n,
        completionTokens: 40n,
        amount,
        completionHash: hashes.completion,
        attributionHash: hashes.attribution,
        timestamp: 1n,
        rulesVersion: 1n,
      };
      const signature = await receiptKey.sign({ hash: receiptDigest(receiptSeparator, receipt) });
      tree.append(usageLeaf(receiptDigest(receiptSeparator, receipt), "accepted"));
      batchReceipts.push({ receipt, signature, status: "accepted" });
    }
    let settledCount = 0;
    let settledFrontier: Hex[] = [];
    /** Settles everything so far with a voucher over the tree, publishing `batch` (or not) as the settler would. */
    async function settleUsage(publish: (batch: UsageBatch) => UsageBatch | undefined) {
      const before = (await publicClient.readContract({
        address: payments,
        abi: abiOf("InferencePayments"),
        functionName: "getChannel",
        args: [channelId],
      })) as { usageRoot: Hex };
      const amounts = new Map<bigint, bigint>();
      for (const { receipt } of batchReceipts)
        amounts.set(receipt.adapterId, (amounts.get(receipt.adapterId) ?? 0n) + receipt.amount);
      const ids = [...amounts.keys()].sort((a, b) => (a < b ? -1 : 1));
      const voucher = {
        channelId,
        cumulativeAmount: [...amounts.values()].reduce((a, b) => a + b, 0n),
        adapterIds: ids,
        adapterAmounts: ids.map((id) => amounts.get(id)!),
        usageRoot: tree.root(),
        expiry: BigInt(Math.floor(Date.now() / 1000) + 30 * 24 * 3600),
      };
      const batch = publish({
        format: usageBatchFormat,
        chainId: 31337,
        payments,
        channelId,
        from: settledCount,
        frontier: settledFrontier,
        previousUsageRoot: before.usageRoot,
        usageRoot: voucher.usageRoot,
        receipts: batchReceipts.slice(settledCount),
      });
      if (batch)
        await store.write(usageBatchFileName(voucher.usageRoot), new TextEncoder().encode(encodeUsageBatch(batch)));
      await settleVoucher(voucher);
      settledCount = tree.count;
      settledFrontier = tree.frontierHex();
    }

    // Settlement 1, published honestly: a base-model receipt and an attributed one.
    await receiptOf(0n, parseEther("0.1"), { completion: hashTokens(completion), attribution: zeroHash });
    await receiptOf(1n, parseEther("0.3"), { completion: hashTokens(completion), attribution: attributionHash });
    await settleUsage((batch) => batch);
    // Settlement 2: the operator publishes nothing. Settlement 3: it publishes an inflated receipt.
    await receiptOf(1n, parseEther("0.2"), { completion: hashTokens(completion), attribution: attributionHash });
    await settleUsage(() => undefined);
    await receiptOf(1n, parseEther("0.4"), { completion: hashTokens(completion), attribution: attributionHash });
    await settleUsage((batch) => ({
      ...batch,
      receipts: batch.receipts.map((r) => ({ ...r, receipt: { ...r.receipt, amount: r.receipt.amount * 2n } })),
    }));

    const ran = await json("epoch", "run", "3", "--content", content, "--index-dir", path.join(work, "indexes"));
    const file = decodeDistributionFile(
      new TextDecoder().decode(await getContent(store, { contentHash: ran.fileHash })),
    );
    assert.deepEqual(
      file.receipts.map((r) => [r.channelId, r.position, r.record]),
      [[channelId, 1n, "used"]],
      "only the adapter receipt of the batch that checks; the base model's moves no data share",
    );
    assert.deepEqual(
      file.unverified.map((u) => [u.adapterId, u.amount, u.reason.replace(/0x[0-9a-f]{64}/g, "ROOT")]),
      [
        [1n, parseEther("0.2"), "no receipts are published under usage root ROOT"],
        [
          1n,
          parseEther("0.4"),
          `receipt 3 of channel ${channelId} is not signed by the operator's key; usage batch ROOT of channel ${channelId}: its receipts give root ROOT; usage batch ROOT of channel ${channelId}: adapter 1 was paid 400000000000000000 but its accepted receipts add up to 800000000000000000`,
        ],
      ],
    );
    const verified = await json(
      "epoch",
      "verify",
      "3",
      "--content",
      content,
      "--index-dir",
      path.join(work, "indexes"),
    );
    assert.equal(verified.ok, true);
  });
});
