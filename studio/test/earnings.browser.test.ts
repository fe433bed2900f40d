/**
 * The Earnings page in Chromium on the real local stack (studio/test/stack.ts), running the earnings steps
 * (steps/earnings.ts). Until the flow test's own steps reach an epoch (train → register → chat → settle → epoch), the
 * epochs here are made as the attestor makes them, with the attribution library's aggregateEpoch over the chain's
 * datanet version and records of completions that quote the contributions (published by the operator, the
 * file by the attestor, both through the store's signed writes); the settlement amounts are given rather than read
 * from settled channels. Two epochs: the page claims through the older one first (one epoch), then everything (the
 * claim proves the leaf last claimed against).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import type { Address, Hex } from "viem";
import {
  aggregateEpoch,
  attributeCompletion,
  byteTokenizer,
  decodeDistributionFile,
  getContent,
  putAttributionRecord,
  putContent,
  splitDataShare,
  type AttributionRecord,
  type DistributionFile,
  type LineageEntry,
} from "../../attribution/src/index.ts";
import { buildDatanetIndex } from "../../attribution/src/datanetIndex.ts";
import { defaultAttributionPolicy } from "../../attribution/src/policy.ts";
import { abiOf, connectSuite } from "../../scripts/lib/contracts.ts";
import { readDatanetVersion, registryLocation } from "../../scripts/lib/datanetVersions.ts";
import { hardhatKey } from "../../scripts/lib/localStack.ts";
import { openContentStore, storeWriter } from "../../scripts/lib/rewards.ts";
import { send } from "../../scripts/lib/transactions.ts";
import {
  checkAccessibility,
  connectDevWallet,
  launchBrowser,
  openPage,
  screenshot,
  selectDevAccount,
  type WatchedPage,
} from "./browser.ts";
import { OPEN, roles, startStudioStack, type StudioStack } from "./stack.ts";
import { claimMovesClaimable, earningExplained, type EarningsStepContext } from "./steps/earnings.ts";

const texts = [
  "The lighthouse keeper counted the gulls every morning and wrote their number in a small blue book.\n",
  "Bread rises slowly in a cold kitchen, so the baker leaves the dough by the warm stove overnight.\n",
];
const lineage: LineageEntry[] = [{ datanetId: 1n, version: 1n, weightBps: 10_000 }];

describe("Earnings in Chromium, on a real local stack", () => {
  let stack: StudioStack;
  let browser: Browser;
  let tab: WatchedPage;
  let ctx: EarningsStepContext;

  /** Epoch `epoch`: `amount` of adapter 1's data share, one request (weight 5 OPEN) whose record is `record`. */
  async function proposeEpoch(
    epoch: bigint,
    amount: bigint,
    record: { record: AttributionRecord; hash: Hex },
    previous: DistributionFile | undefined,
  ) {
    const attestor = await connectSuite({
      network: "localhost",
      privateKey: hardhatKey(roles.deployer),
      progress: false,
    });
    const datanet = await readDatanetVersion(attestor.publicClient, {
      ...registryLocation(attestor),
      datanetId: 1n,
      version: 1n,
    });
    const { file, json } = aggregateEpoch({
      epoch,
      blocks: { fromBlock: 1n, toBlock: await attestor.publicClient.getBlockNumber() },
      policy: defaultAttributionPolicy,
      settlements: [{ adapterId: 1n, lineage: splitDataShare({ amount, lineage }) }],
      receipts: [
        {
          channelId: 1n,
          position: epoch,
          adapterId: 1n,
          amount: 5n * OPEN,
          completionHash: record.record.completionHash,
          attributionHash: record.hash,
        },
      ],
      unverified: [],
      records: [record.record],
      rejectedRecords: new Map(),
      duplicates: [],
      datanets: [datanet],
      previous: previous?.leaves ?? [],
    });
    const store = openContentStore(stack.storeUrl, storeWriter(attestor, "distribution"));
    const contentHash = await putContent(store, { content: new TextEncoder().encode(json) });
    const total = file.leaves.reduce((sum, leaf) => sum + leaf.cumulativeAmount, 0n);
    await send(attestor, {
      contract: "AttributionRewards",
      functionName: "proposeRoot",
      args: [
        epoch,
        file.root,
        total,
        contentHash,
        `openpoa://content/${contentHash.slice(2)}`,
        defaultAttributionPolicy.id,
      ],
    });
    return file;
  }

  before(async () => {
    stack = await startStudioStack();
    const work = await mkdtemp(path.join(tmpdir(), "studio-earnings-"));
    try {
      // An open datanet with one text from each contributor, published; an adapter trained on it (by its hash).
      await stack.cli(
        roles.contributor,
        "datanet",
        "create",
        "--uri",
        "openpoa://studio-test/earnings",
        "--license",
        "MIT",
        "--min-stake",
        "0",
      );
      for (const [i, account] of [roles.contributor, roles.contributor2].entries()) {
        const file = path.join(work, `text-${i}.txt`);
        await writeFile(file, texts[i]!);
        await stack.cli(
          account,
          "datanet",
          "contribute",
          "1",
          "--file",
          file,
          "--stake",
          "0",
          "--content",
          stack.storeUrl,
        );
      }
      await stack.cli(roles.contributor, "datanet", "publish", "1");
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    await stack.cli(
      roles.author,
      "adapter",
      "register",
      "--base",
      "1",
      "--artifact-hash",
      `0x${"a1".repeat(32)}`,
      "--uri",
      "openpoa://studio-test/adapter-1",
      "--rank",
      "8",
      "--targets",
      "q_proj,v_proj",
      "--price",
      "0.01",
      "--owner-share",
      "7000",
      "--data-share",
      "3000",
      "--lineage",
      "1:1:10000",
    );
    const deployer = await connectSuite({
      network: "localhost",
      privateKey: hardhatKey(roles.deployer),
      progress: false,
    });
    const rewards = deployer.address("AttributionRewards");
    await send(deployer, { contract: "OpenToken", functionName: "approve", args: [rewards, 100n * OPEN] });
    await send(deployer, { contract: "AttributionRewards", functionName: "fund", args: [100n * OPEN] });

    // The operator attributes two completions, each quoting one contribution, and publishes the records.
    const datanet = await readDatanetVersion(deployer.publicClient, {
      ...registryLocation(deployer),
      datanetId: 1n,
      version: 1n,
    });
    const reader = openContentStore(stack.storeUrl);
    const contents = await Promise.all(
      datanet.contributions.map((c) => getContent(reader, { contentHash: c.contentHash })),
    );
    const index = buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer });
    const attribute = (text: string) =>
      attributeCompletion(
        { tokenizer: byteTokenizer, indexes: [index] },
        {
          adapterId: 1n,
          lineage,
          completion: byteTokenizer.encode(new TextEncoder().encode(text)),
          policy: defaultAttributionPolicy,
        },
      );
    const quoting = [
      attribute(`Sure: ${texts[0]!.slice(4, 60)}, so to speak.`),
      attribute(`Well, ${texts[1]!.slice(0, 50)}; ${texts[0]!.slice(20, 70)}!`),
    ];
    const operator = await connectSuite({
      network: "localhost",
      privateKey: hardhatKey(roles.operator),
      progress: false,
    });
    const records = openContentStore(stack.storeUrl, storeWriter(operator, "record"));
    for (const { record } of quoting) await putAttributionRecord(records, { record });

    const one = await proposeEpoch(1n, 30n * OPEN, quoting[0]!, undefined);
    const two = await proposeEpoch(2n, 20n * OPEN, quoting[1]!, one);
    assert.ok(two.allocations.some((a) => a.contributor === stack.addressOf(roles.contributor)));
    await stack.indexed();

    browser = await launchBrowser();
    tab = await openPage(browser);
    await tab.page.goto(`${stack.studioUrl}/earnings`);
    await connectDevWallet(tab.page, roles.contributor);
    ctx = {
      page: tab.page,
      studioUrl: stack.studioUrl,
      storeUrl: stack.storeUrl,
      client: stack.client,
      deployment: stack.deployment,
      contributor: stack.addressOf(roles.contributor),
      contributorAccount: roles.contributor,
      selectDevAccount,
      checkAccessibility,
      screenshot,
    };
  });
  afterEach(() => {
    const errors = tab ? tab.errors.splice(0) : [];
    assert.deepEqual(errors, [], "the browser logged errors");
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it("explains an earning: the epoch pending until its chain time, then the record and the quoted spans", async () => {
    await earningExplained(ctx);
  });

  it("claims through an older epoch only: exactly that epoch's amount, the newer one still claimable", async () => {
    const page = ctx.page;
    const rewards = {
      address: stack.deployment.contracts.AttributionRewards!.address as Address,
      abi: abiOf("AttributionRewards"),
    };
    const token = { address: stack.deployment.contracts.OpenToken!.address as Address, abi: abiOf("OpenToken") };
    const balance = () =>
      stack.client.readContract({ ...token, functionName: "balanceOf", args: [ctx.contributor] }) as Promise<bigint>;
    const root = (await stack.client.readContract({ ...rewards, functionName: "getEpochRoot", args: [1n] })) as {
      contentHash: Hex;
    };
    const one = decodeDistributionFile(
      new TextDecoder().decode(await getContent(openContentStore(stack.storeUrl), root)),
    );
    const leaf = one.leaves.find((l) => l.account === ctx.contributor)!;

    await page.goto(`${stack.studioUrl}/earnings/${ctx.contributor}`);
    const before = await balance();
    await page.getByLabel("Claim through epoch").fill("1");
    await page.locator(`[data-claimable="${leaf.cumulativeAmount}"]`).waitFor();
    await page.locator('[data-claim-check="ok"]').waitFor();
    await page.getByRole("button", { name: "Claim", exact: true }).click();
    await page.locator(`[data-claimed="${leaf.cumulativeAmount}"]`).waitFor({ timeout: 60_000 });
    assert.equal((await balance()) - before, leaf.cumulativeAmount);
    assert.equal(
      await stack.client.readContract({ ...rewards, functionName: "lastClaimedEpoch", args: [leaf.index] }),
      1n,
    );
    // Epoch 2 stays claimable: the form is back on it.
    await page.locator('[data-claim-check="ok"]').waitFor();
    await checkAccessibility(page, "earnings, claimed through epoch 1");
  });

  it("claims the rest: the claim moves exactly the claimable amount, proving the leaf last claimed against", async () => {
    await claimMovesClaimable(ctx);
    await screenshot(ctx.page, "earnings-claimed");
  });

  it("a contribution's page lists its earnings; the page works at 375 px", async () => {
    const page = ctx.page;
    await page.goto(`${stack.studioUrl}/contributions/1`);
    await page.getByRole("heading", { level: 1, name: "Contribution 1" }).waitFor();
    await page.locator("[data-earning]").first().waitFor();
    await checkAccessibility(page, "contribution 1");
    await screenshot(page, "contribution");

    const narrow = await openPage(browser, { width: 375, height: 812 });
    try {
      await narrow.page.goto(`${stack.studioUrl}/earnings/${ctx.contributor}`);
      await narrow.page.locator("[data-claimable-now]").waitFor();
      const width = await narrow.page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 375, `the page is ${width} px wide at 375 px`);
      await checkAccessibility(narrow.page, "earnings at 375 px");
      assert.deepEqual(narrow.errors, []);
    } finally {
      await narrow.context.close();
    }
  });
});
