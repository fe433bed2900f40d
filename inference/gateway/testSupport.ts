/**
 * Test and benchmark support: a local chain with the suite deployed and set up for serving (datanets, a base
 * model, adapters pointing at generated artifacts, an active operator), and a generated model with adapters.
 * Deploys straight from the build output with viem, governance held by the deployer, so no Ignition journal is
 * written and runs on different ports do not interfere.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  keccak256,
  maxUint256,
  toHex,
  type Abi,
  type Address,
  type Hex,
} from "viem";
import { mnemonicToAccount, privateKeyToAccount } from "viem/accounts";
import { DEFAULT_PARAMETERS } from "../../ignition/modules/OpenPoA.ts";
import { startLocalChain, type LocalChain } from "../../scripts/lib/localChain.ts";
import { commitmentOf, newSalt } from "../../scripts/lib/commitments.ts";
import { hashArtifactDir } from "../artifacts/index.ts";
import { receiptSchemaVersion } from "../sdk/eip712.ts";
import { engineMain, ENGINE_PROTOCOL_VERSION, enginePython } from "./engine.ts";
import { silentLogger } from "./log.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../..");
export const cacheDir = process.env.OPENPOA_GATEWAY_CACHE ?? path.join(tmpdir(), "openpoa-gateway-cache");
export const OPEN = 10n ** 18n;
export const PRICE_PER_1K = 10n ** 15n;
export const BASE_PRICE_PER_1K = 5n * 10n ** 14n;

/** Serving rules of the test chain: receipts need no attribution hash, so gateways without a content store serve. */
export const testServingRules = {
  maxOutputTokens: 4096,
  receiptSchemaVersion,
  minEngineProtocolVersion: ENGINE_PROTOCOL_VERSION,
  requireAttributionHash: false,
};

/** Hardhat's default accounts 0..4, from its well-known test mnemonic. */
const keyAt = (addressIndex: number) =>
  toHex(
    mnemonicToAccount("test test test test test test test test test test test junk", { addressIndex }).getHdKey()
      .privateKey!,
  );
export const keys = { deployer: keyAt(0), alice: keyAt(1), bob: keyAt(2), carol: keyAt(3), mallory: keyAt(4) };

function artifact(name: string): { abi: Abi; bytecode: Hex } {
  const file = path.join(repoRoot, "artifacts", "contracts", `${name}.sol`, `${name}.json`);
  if (!existsSync(file))
    execFileSync(path.join(repoRoot, "node_modules/.bin/hardhat"), ["build", "--no-tests"], {
      cwd: repoRoot,
      stdio: "inherit",
    });
  return JSON.parse(readFileSync(file, "utf8"));
}

/**
 * The tiny generated model and `count` adapters, generated once into the system temp folder (outside the
 * repository, so linters never see them); generated aside and renamed, so concurrent runs never see half a model.
 */
export function generatedModel(count = 3) {
  const python = enginePython();
  const main = engineMain;
  const root = path.join(cacheDir, `tiny-${count}`);
  if (!existsSync(root)) {
    const scratch = `${root}.${process.pid}`;
    execFileSync(python, [
      main,
      "generate-model",
      "--out",
      path.join(scratch, "tiny"),
      "--preset",
      "tiny",
      "--seed",
      "0",
    ]);
    execFileSync(python, [
      main,
      "generate-adapters",
      "--model",
      path.join(scratch, "tiny"),
      "--out",
      path.join(scratch, "adapters"),
      "--count",
      String(count),
      "--rank",
      "8",
    ]);
    try {
      renameSync(scratch, root);
    } catch {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  const modelDir = path.join(root, "tiny");
  const artifactStore = path.join(root, "adapters");
  const manifest = JSON.parse(readFileSync(path.join(artifactStore, "manifest.json"), "utf8")) as {
    adapters: { sha256: string }[];
  };
  return { modelDir, artifactStore, adapterHashes: manifest.adapters.map((a) => a.sha256) };
}

/** Where the generated adapter `sha256` is, as a URI to register. */
export const adapterUri = (model: { artifactStore: string }, sha256: string) =>
  pathToFileURL(path.join(model.artifactStore, sha256)).href;

/** An adapter on base model 1 owned by the sender: lineage over datanets 1..3 v1, data share 30 %. */
export const adapterParams = (sha256: string, uri: string) => ({
  baseModelId: 1n,
  artifactHash: `0x${sha256}`,
  uri,
  rank: 8,
  targetModules: 0x7f,
  pricePer1kTokens: PRICE_PER_1K,
  ownerShareBps: 7_000,
  dataShareBps: 3_000,
  lineage: [1n, 2n, 3n].map((datanetId, j) => ({ datanetId, version: 1n, weightBps: [3_333, 3_333, 3_334][j] })),
});

export type TestChain = Awaited<ReturnType<typeof startTestChain>>;

/** What every test gateway shares: bob operates on the test chain, serves the generated model, logs to `dir`. */
export const testGatewayConfig = ({ chain, contracts }: Pick<TestChain, "chain" | "contracts">, dir: string) => ({
  rpcUrl: chain.url,
  contracts,
  operatorKey: keys.bob,
  // The base model and the adapters come from their on-chain URIs (file:// here) through the artifact cache.
  artifacts: { cacheDir: path.join(dir, "artifacts"), maxBytes: 2 ** 30 },
  usageLogFile: path.join(dir, "usage.sqlite"),
  port: 0,
  basePricePer1kTokens: BASE_PRICE_PER_1K,
  log: silentLogger,
});

/**
 * Chain + suite + setup: three datanets with a published version; base model 1 (the generated model, registered
 * with its artifact hash and file:// URI); one adapter per artifact hash (owner carol, lineage over the three
 * datanets, data share 30 %, file:// URI); bob an active operator signing with his own key; alice and mallory
 * holding OPEN.
 */
export async function startTestChain(
  port: number,
  model: { modelDir: string; artifactStore: string; adapterHashes: string[] },
  artifactHashes = model.adapterHashes,
) {
  const chain: LocalChain = await startLocalChain({ port });
  const viemChain = defineChain({
    id: 31337,
    name: "hardhat",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [chain.url] } },
  });
  const client = createPublicClient({ chain: viemChain, transport: http(chain.url), pollingInterval: 50 });
  const walletOf = (key: Hex) =>
    createWalletClient({ account: privateKeyToAccount(key), chain: viemChain, transport: http(chain.url) });
  const deployer = walletOf(keys.deployer);
  const governance = deployer.account.address;

  const deploy = async (name: string, args: unknown[]) => {
    const { abi, bytecode } = artifact(name);
    const hash = await deployer.deployContract({ abi, bytecode, args });
    const receipt = await client.waitForTransactionReceipt({ hash });
    return receipt.contractAddress!;
  };
  const DAY = 86_400n;
  const token = await deploy("OpenToken", [governance]);
  const datanets = await deploy("DatanetRegistry", [token, governance, 7n * DAY]);
  const models = await deploy("ModelRegistry", [datanets, governance, 1_000n]);
  const nodes = await deploy("NodeRegistry", [
    token,
    governance,
    governance,
    governance,
    10_000n * OPEN,
    14n * DAY,
    14n * DAY,
  ]);
  const rewards = await deploy("AttributionRewards", [
    token,
    governance,
    governance,
    governance,
    DAY,
    DEFAULT_PARAMETERS.initialAttributionPolicy,
  ]);
  const servingRules = await deploy("ServingRules", [governance, testServingRules]);
  const payments = await deploy("InferencePayments", [
    token,
    models,
    nodes,
    rewards,
    governance,
    governance,
    500,
    1_000,
    DAY,
  ]);

  const send = async (key: Hex, address: Address, name: string, functionName: string, args: unknown[]) => {
    const hash = await walletOf(key).writeContract({ address, abi: artifact(name).abi, functionName, args });
    const receipt = await client.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`${functionName} reverted`);
    return receipt;
  };
  /** `functionName(...args, salt)` after committing to `hash` in an earlier block (ICommitments). */
  const sendRevealing = async (
    key: Hex,
    address: Address,
    name: string,
    functionName: string,
    hash: Hex,
    args: unknown[],
  ) => {
    const salt = newSalt();
    await send(key, address, name, "commit", [commitmentOf(privateKeyToAccount(key).address, hash, salt)]);
    return send(key, address, name, functionName, [...args, salt]);
  };
  for (const who of [keys.alice, keys.bob, keys.carol, keys.mallory]) {
    await send(keys.deployer, token, "OpenToken", "transfer", [privateKeyToAccount(who).address, 1_000_000n * OPEN]);
  }
  for (const n of [1, 2, 3]) {
    await send(keys.carol, datanets, "DatanetRegistry", "createDatanet", [
      {
        metadataURI: `ipfs://datanet-${n}`,
        license: "MIT",
        curated: false,
        minStake: 0n,
        treasury: "0x0000000000000000000000000000000000000000",
        curators: [],
      },
    ]);
    const contentHash = keccak256(toHex(`text-${n}`));
    await sendRevealing(keys.carol, datanets, "DatanetRegistry", "contribute", contentHash, [
      BigInt(n),
      contentHash,
      `ipfs://text-${n}`,
      100n,
      0n,
    ]);
    await send(keys.carol, datanets, "DatanetRegistry", "publishVersion", [BigInt(n), keccak256(toHex(`root-${n}`))]);
  }
  const baseHash: Hex = `0x${(await hashArtifactDir(model.modelDir, "model")).artifactHash}`;
  await sendRevealing(keys.carol, models, "ModelRegistry", "registerBaseModel", baseHash, [
    "tiny-llama",
    baseHash,
    pathToFileURL(model.modelDir).href,
  ]);
  for (const sha of artifactHashes) {
    const params = adapterParams(sha, adapterUri(model, sha));
    await sendRevealing(keys.carol, models, "ModelRegistry", "registerAdapter", params.artifactHash, [params]);
  }
  const bob = privateKeyToAccount(keys.bob).address;
  await send(keys.bob, token, "OpenToken", "approve", [nodes, maxUint256]);
  await send(keys.bob, nodes, "NodeRegistry", "register", ["http://127.0.0.1", [1n], bob, 10_000n * OPEN]);

  const contracts = {
    OpenToken: token,
    DatanetRegistry: datanets,
    ModelRegistry: models,
    NodeRegistry: nodes,
    AttributionRewards: rewards,
    InferencePayments: payments,
    ServingRules: servingRules,
  };
  const read = (name: string, address: Address, functionName: string, args: unknown[] = []) =>
    client.readContract({ address, abi: artifact(name).abi, functionName, args });
  return {
    chain,
    client,
    walletOf,
    contracts,
    send,
    sendRevealing,
    read,
    governance,
    operator: bob,
    stop: () => chain.stop(),
  };
}

export type PrometheusSample = { name: string; labels: Record<string, string>; value: number };

/**
 * Parses the Prometheus text exposition format (0.0.4) strictly: HELP and TYPE lines, every sample named by a
 * declared family (a summary's `_sum` and `_count` included), well-formed labels and values. Throws on anything
 * else.
 */
export function parsePrometheus(text: string) {
  const types = new Map<string, string>();
  const samples: PrometheusSample[] = [];
  const name = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const comment = new RegExp(`^# (HELP|TYPE) (${name}) (.*)$`).exec(line);
    if (comment) {
      const [, kind, family, rest] = comment;
      if (kind === "TYPE") {
        if (!["counter", "gauge", "summary", "histogram", "untyped"].includes(rest!))
          throw new Error(`bad type: ${line}`);
        if (types.has(family!)) throw new Error(`type declared twice: ${line}`);
        types.set(family!, rest!);
      }
      continue;
    }
    if (line.startsWith("#")) throw new Error(`bad comment: ${line}`);
    const sample = new RegExp(`^(${name})(?:\\{(.*)\\})? (\\S+)(?: -?[0-9]+)?$`).exec(line);
    if (!sample) throw new Error(`not a sample: ${line}`);
    const [, metric, labelText = "", valueText] = sample;
    const labels: Record<string, string> = {};
    const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
    for (let match; label.lastIndex < labelText.length;) {
      if (!(match = label.exec(labelText))) throw new Error(`bad labels: ${line}`);
      labels[match[1]!] = match[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    const value = Number(valueText === "+Inf" ? Infinity : valueText === "-Inf" ? -Infinity : valueText);
    if (Number.isNaN(value) && valueText !== "NaN") throw new Error(`bad value: ${line}`);
    const family = metric!.replace(/_(sum|count|bucket)$/, "");
    if (!types.has(metric!) && !(types.has(family) && types.get(family) !== "counter"))
      throw new Error(`sample of an undeclared family: ${line}`);
    samples.push({ name: metric!, labels, value });
  }
  return { types, samples };
}
