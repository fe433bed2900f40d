/**
 * The Studio's whole flow in a real browser (Debian's Chromium) on ONE real local stack (studio/test/stack.ts), in
 * the order of issue #20: contribute → curate → publish (Datanets) → train an adapter in the Model Factory (a short run
 * on the tiny generated model) → publish and register it (wallet) → chat in the playground on the adapter's page (a
 * channel opened in the browser, receipts verified) → the operator settles → the attestor runs epoch 1 with the CLI →
 * the earning explained → claim, then the Operators and Governance pages. Each step checks what the UI did against
 * chain state read here with viem; the page modules' steps are in steps/*.ts. Fails on any console or page error and
 * on any serious accessibility violation (axe-core) of a page visited; checks pages at 375 px wide. The tests run in
 * order and build on each other: one failing stops the meaning of the rest.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import type { Hex } from "viem";
import { datanetVersionTree } from "../../attribution/src/datanet.ts";
import { abiOf, connectSuite } from "../../scripts/lib/contracts.ts";
import { readAcceptedContributions, registryLocation } from "../../scripts/lib/datanetVersions.ts";
import { hardhatKey } from "../../scripts/lib/localStack.ts";
import { send } from "../../scripts/lib/transactions.ts";
import {
  checkAccessibility,
  connectDevWallet,
  launchBrowser,
  loadInteractive,
  openPage,
  screenshot,
  selectDevAccount,
  visit,
  type WatchedPage,
} from "./browser.ts";
import { proposeQuotingEpoch } from "./quotingEpoch.ts";
import { OPEN, roles, startStudioStack, type StudioStack } from "./stack.ts";
import {
  chatInPlayground,
  openAdapterPage,
  openPlaygroundChannel,
  reusePlaygroundChannel,
  settlePlaygroundChannel,
} from "./steps/adapters.ts";
import { claimMovesClaimable, earningExplained, type EarningsStepContext } from "./steps/earnings.ts";
import { governanceDelegateVoteQueueExecute, governanceProposeFromTheStudio } from "./steps/governance.ts";
import {
  operatorManagesStake,
  operatorPageShowsStakeAndSettlements,
  passTimeTo,
  runTx,
  type GovOpsStepContext,
} from "./steps/operators.ts";

const CURATED = 1n;
/** Datanets beyond the first two, so that the list has a second page (20 a page). */
const EXTRA_DATANETS = 20;
const sha256 = (text: string): Hex => `0x${createHash("sha256").update(text).digest("hex")}`;
const texts = {
  // Words rare enough to weigh in attribution (a span of common words only earns nothing): epoch 2 quotes it.
  accepted: "Autumn leaves drift over the quiet millpond, amber and crimson beneath the heron's evening flight.\n",
  rejected: "Buy cheap watches now!!! Click here for the best deals on the internet.\n",
};
const Status = { Pending: 1, Accepted: 2, Rejected: 3 } as const;

type Contribution = {
  contributor: string;
  status: number;
  weight: bigint;
  stake: bigint;
  unlocksAt: bigint;
  contentHash: Hex;
};

describe("OpenPoA Studio, the whole flow in Chromium on one real local stack", () => {
  let stack: StudioStack;
  let browser: Browser;
  let tab: WatchedPage;
  const timings: Record<string, number> = {};
  /** Where the attestor's CLI builds and caches datanet indexes. */
  let indexDir: string;
  /** The adapter the Model Factory trained and registered, and the playground's channel to the operator. */
  let adapterId: bigint;
  let channelId: bigint;
  const registry = () => stack.deployment.contracts.DatanetRegistry!.address as Hex;
  const readRegistry = <T>(functionName: string, args: unknown[]) =>
    stack.client.readContract({ address: registry(), abi: abiOf("DatanetRegistry"), functionName, args }) as Promise<T>;
  const contributionOf = (id: bigint) => readRegistry<Contribution>("getContribution", [id]);
  const contributionCount = () => readRegistry<bigint>("contributionCount", []);
  const page = (): Page => tab.page;

  before(async () => {
    const at = Date.now();
    stack = await startStudioStack();
    timings.stackStartMs = Date.now() - at;
    await stack.cli(
      roles.curator,
      "datanet",
      "create",
      "--uri",
      "openpoa://studio-test/seasons",
      "--license",
      "CC-BY-4.0",
      "--curated",
      "--min-stake",
      "10",
    );
    const author = await connectSuite({ network: "localhost", privateKey: hardhatKey(roles.author), progress: false });
    const create = (uri: string) =>
      send(author, {
        contract: "DatanetRegistry",
        functionName: "createDatanet",
        args: [
          {
            metadataURI: uri,
            license: "MIT",
            curated: false,
            minStake: 0n,
            treasury: author.account!.address,
            curators: [],
          },
        ],
      });
    await create("openpoa://studio-test/kitchen");
    for (let i = 0; i < EXTRA_DATANETS; i++) await create(`openpoa://studio-test/extra-${i + 3}`);
    await stack.indexed();
    indexDir = await mkdtemp(path.join(tmpdir(), "openpoa-studio-flow-indexes-"));
    browser = await launchBrowser();
    tab = await openPage(browser);
  });
  afterEach(() => {
    const errors = tab ? tab.errors.splice(0) : [];
    assert.deepEqual(errors, [], "the browser logged errors");
  });
  after(async () => {
    console.log(`# timings: ${JSON.stringify(timings)}`);
    await browser?.close();
    await stack?.stop();
    if (indexDir) await rm(indexDir, { recursive: true, force: true });
  });

  it("opens on the datanets list, interactive, from a cold load", async () => {
    // How fast is the benchmark's to say (npm run bench:studio); this checks what a newcomer first gets.
    await loadInteractive(page(), stack.studioUrl);
    assert.equal(new URL(page().url()).pathname, "/datanets");
    await page().waitForLoadState("networkidle");
    await checkAccessibility(page(), "/datanets");
    await screenshot(page(), "datanets");
  });

  it("lists datanets a page at a time and finds one by id or by URI", async () => {
    // Chromium here has no wallet extension: the injected connector says so instead of failing silently.
    await page().getByRole("button", { name: "Connect browser wallet" }).click();
    await page()
      .getByRole("alert")
      .getByText(/No browser wallet found/)
      .waitFor();
    const rows = page().locator("tbody tr");
    await rows.nth(19).waitFor();
    assert.equal(await rows.count(), 20);
    await page().getByText("Page 1 of 2 (22 in all)").waitFor();
    await page().getByRole("button", { name: "Next" }).click();
    await page().getByText("Page 2 of 2").waitFor();
    await page().getByRole("link", { name: "Datanet 22" }).waitFor();
    assert.equal(await rows.count(), 2);
    await page().getByRole("button", { name: "Previous" }).click();
    await page().getByRole("link", { name: "Datanet 1", exact: true }).waitFor();

    const search = page().getByLabel("Search by id or URI");
    await search.fill("2");
    await page().getByText("Page 1 of 1 (1 in all)").waitFor();
    assert.deepEqual(await rows.locator("a").allTextContents(), ["Datanet 2"]);
    await search.fill("kitchen");
    await page().getByText("Page 1 of 1 (1 in all)").waitFor();
    assert.deepEqual(await rows.locator("td.mono").allTextContents(), ["openpoa://studio-test/kitchen"]);
    await search.fill("");
  });

  it("contribute → curate → publish, each step checked against the chain", async () => {
    const p = page();
    await connectDevWallet(p, roles.contributor);
    await visit(p, `${stack.studioUrl}/datanets/${CURATED}`, "Datanet 1");
    const contributor = stack.addressOf(roles.contributor);
    const file = p.getByLabel("Text file");
    const stake = p.getByLabel("Stake (OPEN)");
    const contribute = p.getByRole("button", { name: "Contribute" });
    const upload = (name: string, text: string) =>
      file.setInputFiles({ name, mimeType: "text/plain", buffer: Buffer.from(text) });

    // The form validates before anything is signed: nothing is sent.
    const nonce = await stack.client.getTransactionCount({ address: contributor });
    await upload("leaves.txt", texts.accepted);
    await stake.fill("5");
    await contribute.click();
    await p.getByText("The stake must be at least 10 OPEN.").waitFor();
    assert.equal(await stack.client.getTransactionCount({ address: contributor }), nonce);
    assert.equal(await contributionCount(), 0n);

    const submit = async (name: string, text: string) => {
      await upload(name, text);
      await stake.fill("10");
      await contribute.click();
      const done = await p
        .getByText(/Contribution \d+ submitted: it waits for a curator\./)
        .textContent({ timeout: 60_000 });
      return BigInt(/Contribution (\d+)/.exec(done!)![1]!);
    };
    const acceptedId = await submit("leaves.txt", texts.accepted);
    const onChain = await contributionOf(acceptedId);
    assert.equal(onChain.contributor, contributor);
    assert.equal(onChain.status, Status.Pending);
    assert.equal(onChain.contentHash, sha256(texts.accepted));
    assert.equal(onChain.stake, 10n * OPEN);
    // The text is in the store under its hash, as uploaded with the wallet's signature.
    const stored = await fetch(`${stack.storeUrl}/${sha256(texts.accepted).slice(2)}`);
    assert.equal(await stored.text(), texts.accepted);
    const rejectedId = await submit("spam.txt", texts.rejected);
    assert.equal((await contributionOf(rejectedId)).status, Status.Pending);

    // The same text again: the reveal's simulation reverts, shown by name with its arguments; nothing registered.
    await upload("again.txt", texts.accepted);
    await contribute.click();
    await p
      .getByText(
        `Reverted: DuplicateContribution(datanetId: 1, contentHash: ${sha256(texts.accepted)}, existingContributionId: ${acceptedId})`,
      )
      .waitFor({ timeout: 60_000 });
    assert.equal(await contributionCount(), rejectedId);
    await checkAccessibility(p, "datanet 1, contributor");

    // The curator (the datanet's owner) accepts one with a weight and rejects the other.
    await selectDevAccount(p, roles.curator);
    await p.getByRole("heading", { name: "Curator queue" }).waitFor();
    await p.getByLabel(`Weight of ${acceptedId}`).fill("77");
    await p.getByRole("button", { name: `Accept ${acceptedId}` }).click();
    await p.locator(`[data-pending="${acceptedId}"]`).waitFor({ state: "detached", timeout: 60_000 });
    const accepted = await contributionOf(acceptedId);
    assert.equal(accepted.status, Status.Accepted);
    assert.equal(accepted.weight, 77n);
    await p.getByRole("button", { name: `Reject ${rejectedId}` }).click();
    await p.locator(`[data-pending="${rejectedId}"]`).waitFor({ state: "detached", timeout: 60_000 });
    assert.equal((await contributionOf(rejectedId)).status, Status.Rejected);
    await p.getByText("Nothing waits for curation.").waitFor();
    await p.locator(`[data-contribution="${acceptedId}"]`).getByText("accepted").waitFor();
    await checkAccessibility(p, "datanet 1, curator");

    // The owner publishes version 1; its root is the one anyone rebuilds from the chain's events.
    await p.getByRole("button", { name: "Publish version 1" }).click();
    const shown = (await p.locator("[data-root]").getAttribute("data-root", { timeout: 60_000 })) as Hex;
    const version = await readRegistry<{ root: Hex; contributionCount: bigint }>("getVersion", [CURATED, 1n]);
    assert.equal(version.root, shown);
    assert.equal(version.contributionCount, 1n);
    const suite = await connectSuite({ network: "localhost", readOnly: true, progress: false });
    const rebuilt = await readAcceptedContributions(suite.publicClient, {
      ...registryLocation(suite),
      datanetId: CURATED,
    });
    assert.equal(datanetVersionTree(rebuilt).root, shown);
    await p.getByRole("cell", { name: shown }).waitFor();
    await checkAccessibility(p, "datanet 1, published");
    await screenshot(p, "datanet");

    // A second version with nothing new accepted is refused before any signature.
    const blockBefore = await stack.client.getBlockNumber({ cacheTime: 0 });
    await p.getByRole("button", { name: "Publish version 2" }).click();
    await p.getByText("Nothing was accepted since version 1.").waitFor();
    assert.equal(await stack.client.getBlockNumber({ cacheTime: 0 }), blockBefore);
  });

  it("creates a datanet from the Studio: a wrong address refused before any signature, then on chain as typed", async () => {
    const p = page();
    const author = stack.addressOf(roles.author);
    const curator = stack.addressOf(roles.curator);
    await selectDevAccount(p, roles.author);
    await visit(p, `${stack.studioUrl}/datanets`, "Datanets");
    await p.getByText("Create a datanet").click();
    await p.getByLabel("Metadata URI").fill("openpoa://studio-test/poems");
    await p.getByLabel("Licence of the contributions").fill("CC-BY-4.0");
    await p.getByLabel("Minimum stake (OPEN)").fill("2.5");
    const curators = p.getByLabel(/^Curators besides you/);
    await curators.fill(`${curator}, not-an-address`);
    const nonce = await stack.client.getTransactionCount({ address: author });
    await p.getByRole("button", { name: "Create the datanet" }).click();
    await p.getByText("The curator “not-an-address” is not an address.").waitFor();
    assert.equal(await stack.client.getTransactionCount({ address: author }), nonce);
    await checkAccessibility(p, "datanets, create");

    await curators.fill(curator.toLowerCase());
    const id = BigInt(/Datanet (\d+)/.exec(await runTx(p, "Create the datanet"))![1]!);
    assert.equal(id, await readRegistry<bigint>("datanetCount", []));
    const created = await readRegistry<{
      owner: Hex;
      treasury: Hex;
      curated: boolean;
      minStake: bigint;
      metadataURI: string;
      license: string;
    }>("getDatanet", [id]);
    assert.deepEqual(
      [created.owner, created.treasury, created.curated, created.minStake, created.metadataURI, created.license],
      [author, author, true, 25n * (OPEN / 10n), "openpoa://studio-test/poems", "CC-BY-4.0"],
    );
    assert.equal(await readRegistry<boolean>("isCurator", [id, curator]), true);
    await p
      .getByRole("link", { name: `Datanet ${id}`, exact: true })
      .last()
      .click();
    await p.getByRole("heading", { level: 1, name: `Datanet ${id}` }).waitFor();
  });

  it("every page passes axe, and a datanet is usable at 375 px wide", async () => {
    // The other pages as the navigation opens them (their own browser tests take their screenshots, with data).
    for (const link of ["Earnings", "Model Factory", "Adapters", "Operators", "Governance"]) {
      await page().getByRole("link", { name: link, exact: true }).click();
      await page().getByRole("heading", { level: 1, name: link }).waitFor();
      await page().waitForLoadState("networkidle");
      await checkAccessibility(page(), link);
    }

    const narrow = await openPage(browser, { width: 375, height: 812 });
    try {
      await visit(narrow.page, `${stack.studioUrl}/datanets/${CURATED}`, "Datanet 1");
      await connectDevWallet(narrow.page, roles.contributor);
      const { width, overflowing } = await narrow.page.evaluate(() => ({
        width: document.documentElement.scrollWidth,
        // What sticks out, to say what to fix: the innermost elements reaching past the viewport's right edge.
        overflowing: Array.from(document.querySelectorAll("body *"))
          .filter((e) => e.getBoundingClientRect().right > 376 && e.children.length === 0 && !e.closest(".table-wrap"))
          .slice(0, 5)
          .map((e) => `${e.tagName.toLowerCase()}.${e.className} (${Math.round(e.getBoundingClientRect().right)} px)`),
      }));
      assert.ok(width <= 375, `the page is ${width} px wide at 375 px: ${overflowing.join(", ")}`);
      for (const control of [
        narrow.page.getByRole("link", { name: "Governance" }),
        narrow.page.getByLabel("Text file"),
        narrow.page.getByLabel("Stake (OPEN)"),
        narrow.page.getByRole("button", { name: "Contribute" }),
      ]) {
        await control.scrollIntoViewIfNeeded();
        const box = await control.boundingBox();
        assert.ok(box && box.x >= 0 && box.x + box.width <= 375, `${control} is cut off: ${JSON.stringify(box)}`);
      }
      await checkAccessibility(narrow.page, "datanet 1 at 375 px");
      await screenshot(narrow.page, "datanet-375px");
      assert.deepEqual(narrow.errors, []);
    } finally {
      await narrow.context.close();
    }
  });

  it("trains an adapter in the Model Factory, publishes it with one signature and registers it with its lineage", async () => {
    const factory = await openPage(browser, { width: 375, height: 812 });
    const p = factory.page;
    try {
      await visit(p, `${stack.studioUrl}/factory`, "Model Factory");
      await connectDevWallet(p, roles.author);
      await p.getByLabel(`Datanet ${CURATED} version 1`).check();
      await p.getByLabel("LoRA rank").fill("4");
      // Enough steps that the page shows the job running for a moment (the tiny model trains 30 in 0.1 s).
      await p.getByLabel("Steps").fill("300");
      const started = Date.now();
      await p.getByRole("button", { name: "Start training" }).click();
      // The job's progress (step, loss, speed, the loss curve), streamed as it trains; the picture is of it running
      // unless the machine trained faster than the page could be photographed.
      await p.getByText(/^Step \d+ of 300/).waitFor({ timeout: 120_000 });
      // The jobs list shows the new job at once (not at its next poll).
      await p
        .getByRole("button", { name: /^Job \d+$/ })
        .first()
        .waitFor({ timeout: 4_000 });
      await screenshot(p, "model-factory-training");
      await p.getByText("Held-out loss").waitFor({ timeout: 120_000 });
      timings.factoryJobMs = Date.now() - started;
      // The job is in the address: a reload resumes it from the backend.
      const jobId = new URL(p.url()).searchParams.get("job");
      await p.reload();
      await p.getByText("Held-out loss").waitFor();
      await checkAccessibility(p, "model factory, trained");

      await p.getByRole("button", { name: "Sign and publish" }).click();
      await p.getByText("The adapter and its training manifest are in the content store").waitFor({ timeout: 60_000 });
      await p.getByRole("button", { name: "Register the adapter" }).click();
      const link = p.getByRole("link", { name: /^adapter \d+$/ }).first();
      await link.waitFor({ timeout: 120_000 });
      await checkAccessibility(p, "model factory, registered");
      await screenshot(p, "model-factory-job");

      const job = (await (await fetch(`${stack.studioUrl}/api/jobs/${jobId}`)).json()) as {
        result: { artifactHash: Hex };
        published: { uri: string };
        adapterId: string;
      };
      adapterId = BigInt(job.adapterId);
      assert.equal(await link.textContent(), `adapter ${adapterId}`);
      const models = { address: stack.deployment.contracts.ModelRegistry!.address as Hex, abi: abiOf("ModelRegistry") };
      const read = <T>(functionName: string) =>
        stack.client.readContract({ ...models, functionName, args: [adapterId] }) as Promise<T>;
      const adapter = await read<{ artifactHash: Hex; uri: string; rank: number }>("getAdapter");
      assert.deepEqual(
        [adapter.artifactHash, adapter.uri, adapter.rank],
        [job.result.artifactHash, job.published.uri, 4],
      );
      assert.equal(await read<Hex>("ownerOf"), stack.addressOf(roles.author));
      const lineage = await read<{ datanetId: bigint; version: bigint; weightBps: number }[]>("getLineage");
      assert.deepEqual(
        lineage.map((l) => [l.datanetId, l.version, l.weightBps]),
        [[CURATED, 1n, 10_000]],
      );
      assert.deepEqual(factory.errors, []);
    } finally {
      await factory.context.close();
    }
  });

  it("chats with the trained adapter in the playground; the operator settles exactly the receipts shown", async () => {
    const ctx = { page: page(), stack };
    await openAdapterPage(ctx, adapterId);
    // Its page shows how it was trained, from the manifest the Model Factory published beside it.
    await page().getByRole("link", { name: "Training manifest" }).waitFor({ timeout: 30_000 });
    await page().getByRole("img", { name: "Training loss per step" }).waitFor();
    channelId = await openPlaygroundChannel(ctx, "5");
    await chatInPlayground(ctx, "Autumn leaves fall");
    // The screenshot shows the page with its verified receipts and the settlement (adapter-playground).
    await settlePlaygroundChannel(ctx, channelId);
  });

  it("takes the channel over after a reload and pays on from it; the adapter page works at 375 px", async () => {
    const ctx = { page: page(), stack };
    await reusePlaygroundChannel(ctx, adapterId, channelId);
    await chatInPlayground(ctx, "And the river?");
    await settlePlaygroundChannel(ctx, channelId);

    const narrow = await openPage(browser, { width: 375, height: 812 });
    try {
      const width = () => narrow.page.evaluate(() => document.documentElement.scrollWidth);
      await visit(narrow.page, `${stack.studioUrl}/adapters`, "Adapters");
      assert.ok((await width()) <= 375, `the list is ${await width()} px wide at 375 px`);
      await visit(narrow.page, `${stack.studioUrl}/adapters/${adapterId}`, `Adapter ${adapterId}`);
      await connectDevWallet(narrow.page, roles.app);
      await narrow.page.getByRole("button", { name: `Use channel #${channelId}` }).click({ timeout: 30_000 });
      await narrow.page.locator('tr[data-verified="true"]').first().waitFor({ timeout: 30_000 });
      assert.ok((await width()) <= 375, `the playground is ${await width()} px wide at 375 px`);
      await checkAccessibility(narrow.page, "adapter at 375 px");
      assert.deepEqual(narrow.errors, []);
    } finally {
      await narrow.context.close();
    }
  });

  it("the attestor runs epoch 1 with the CLI: its root on chain, its file in the store, the indexer verifies it", async () => {
    const rewards = {
      address: stack.deployment.contracts.AttributionRewards!.address as Hex,
      abi: abiOf("AttributionRewards"),
    };
    const funded = (await stack.client.readContract({ ...rewards, functionName: "totalFunded" })) as bigint;
    assert.ok(funded > 0n, "the settlement funded the reward pool with the adapter's data share");
    const run = (await stack.cli(
      roles.deployer,
      "epoch",
      "run",
      "1",
      "--content",
      stack.storeUrl,
      "--index-dir",
      indexDir,
    )) as {
      root: Hex;
      fileHash: Hex;
      cumulativeTotal: string | bigint;
    };
    const root = (await stack.client.readContract({ ...rewards, functionName: "getEpochRoot", args: [1n] })) as {
      root: Hex;
      total: bigint;
      contentHash: Hex;
      claimableAt: bigint;
    };
    assert.equal(await stack.client.readContract({ ...rewards, functionName: "lastEpoch" }), 1n);
    assert.deepEqual([root.root, root.contentHash, root.total], [run.root, run.fileHash, BigInt(run.cumulativeTotal)]);
    assert.ok(root.total > 0n && root.total <= funded, `epoch 1 distributes ${root.total} of ${funded} funded`);
    // Anyone can recompute it from public data: the CLI's verify agrees.
    await stack.cli(roles.contributor, "epoch", "verify", "1", "--content", stack.storeUrl, "--index-dir", indexDir);
    await stack.indexed();
  });

  const earnings = (): EarningsStepContext => ({
    page: page(),
    studioUrl: stack.studioUrl,
    storeUrl: stack.storeUrl,
    client: stack.client,
    deployment: stack.deployment,
    contributor: stack.addressOf(roles.contributor),
    contributorAccount: roles.contributor,
    selectDevAccount,
    checkAccessibility,
    screenshot,
  });

  it("explains the contributor's earning: pending until its chain time, then the record behind it", async () => {
    // The page shows epoch 1 pending; the step then moves the chain's clock to its claimableAt and mines a block.
    // The tiny random model's answers quote nothing: the earning is the contribution's part of the pool, and the
    // page says no span matched (the step checks whichever the record holds).
    await earningExplained(earnings(), { screenshotName: "earnings-pool-share" });
  });

  it("claims in the browser: the balance moves by exactly the claimable amount", async () => {
    await claimMovesClaimable(earnings());
  });

  it("explains an earning whose completion quoted the contribution: its spans quoted from its bytes", async () => {
    // Hand-made (studio/test/quotingEpoch.ts): the tiny model cannot write a completion that quotes a contribution.
    const epoch = await proposeQuotingEpoch(stack, {
      adapterId,
      channelId,
      completion: `Sure: ${texts.accepted.slice(0, 60)}, so to speak.`,
      amount: OPEN,
    });
    assert.equal(epoch, 2n);
    await stack.indexed();
    const { spansQuoted } = await earningExplained(earnings());
    assert.ok(spansQuoted > 0, "the page quotes the spans of the completion that matched the contribution");
  });

  it("claims again: only what epoch 2 added, proving the leaf last claimed against", async () => {
    await claimMovesClaimable(earnings());
    await screenshot(page(), "earnings-claimed");
  });

  it("a contribution's page lists its earnings and releases its stake once unlocked; the earnings page works at 375 px", async () => {
    const contributor = stack.addressOf(roles.contributor);
    await visit(page(), `${stack.studioUrl}/contributions/1`, "Contribution 1");
    await page().locator("[data-earning]").first().waitFor();
    await checkAccessibility(page(), "contribution 1");
    await screenshot(page(), "contribution");

    // The accepted contribution's stake: locked in chain time, then released by anyone (here the app's account),
    // always to the contributor.
    const stakeLine = page().getByTestId("contribution-stake");
    const accepted = await contributionOf(1n);
    assert.equal(accepted.stake, 10n * OPEN);
    await stakeLine.getByText("Accepted: the stake is locked for a while").waitFor();
    assert.ok(await page().getByRole("button", { name: "Release the stake" }).isDisabled(), "locked: disabled");
    await page()
      .getByText(/^Locked until /)
      .waitFor();
    await selectDevAccount(page(), roles.app);
    await passTimeTo(govops(), accepted.unlocksAt);
    await stakeLine.getByText("Accepted and unlocked").waitFor({ timeout: 30_000 });
    const token = { address: stack.deployment.contracts.OpenToken!.address as Hex, abi: abiOf("OpenToken") };
    const balance = () =>
      stack.client.readContract({ ...token, functionName: "balanceOf", args: [contributor] }) as Promise<bigint>;
    const before = await balance();
    // Once released there is nothing left to do: the button gives way to the stake's new state.
    await page().getByRole("button", { name: "Release the stake" }).click();
    await stakeLine.getByText("its stake was released to the contributor").waitFor({ timeout: 60_000 });
    assert.equal((await contributionOf(1n)).stake, 0n);
    assert.equal(await balance(), before + 10n * OPEN, "the stake went to the contributor");
    // The rejected one's went to the treasury: nothing to do.
    await visit(page(), `${stack.studioUrl}/contributions/2`, "Contribution 2");
    await page()
      .getByTestId("contribution-stake")
      .getByText("Rejected: its stake went to the datanet's treasury.")
      .waitFor();
    assert.equal(
      await page()
        .getByRole("button", { name: /Release the stake|Withdraw the contribution/ })
        .count(),
      0,
    );

    const narrow = await openPage(browser, { width: 375, height: 812 });
    try {
      await narrow.page.goto(`${stack.studioUrl}/earnings/${contributor}`);
      await narrow.page.locator("[data-claimable-now]").waitFor();
      const width = await narrow.page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 375, `the page is ${width} px wide at 375 px`);
      await checkAccessibility(narrow.page, "earnings at 375 px");
      assert.deepEqual(narrow.errors, []);
    } finally {
      await narrow.context.close();
    }
  });

  const govops = (): GovOpsStepContext => ({
    page: page(),
    studioUrl: stack.studioUrl,
    client: stack.client,
    deployment: stack.deployment,
    operator: { account: roles.operator, address: stack.addressOf(roles.operator) },
    // The deployer holds what is left of the genesis supply: enough to propose and to reach the quorum alone.
    voter: { account: roles.deployer, address: stack.addressOf(roles.deployer) },
    cli: stack.cli,
    selectDevAccount,
    checkAccessibility,
    screenshot,
  });

  it("Operators: the operator's stake and the playground's settlement, as the chain has them", () =>
    operatorPageShowsStakeAndSettlements(govops()));
  it("Operators: stakes, unbonds and withdraws once released, through the UI", () => operatorManagesStake(govops()));
  // The governance steps move the chain's clock (voting delay, voting period, timelock delay): they run last.
  it("Governance: delegates, reads a CLI proposal decoded, votes, queues and executes it", () =>
    governanceDelegateVoteQueueExecute(govops()));
  it("Governance: proposes from the Studio with the CLI's actions and checks", () =>
    governanceProposeFromTheStudio(govops()));
  it("an operator's page and a proposal's are usable at 375 px wide", async () => {
    const created = await stack.client.getContractEvents({
      address: stack.deployment.contracts.OpenGovernor!.address as Hex,
      abi: abiOf("OpenGovernor"),
      eventName: "ProposalCreated",
      fromBlock: 0n,
    });
    const { proposalId } = created.at(-1)!.args as { proposalId: bigint };
    const narrow = await openPage(browser, { width: 375, height: 812 });
    try {
      for (const [url, heading, name] of [
        [`/operators/${stack.addressOf(roles.operator)}`, /^Operator/, "operator-375px"],
        [`/governance/${proposalId}`, /^Studio test/, "proposal-375px"],
      ] as const) {
        await visit(narrow.page, `${stack.studioUrl}${url}`, heading, name);
        const width = await narrow.page.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(width <= 375, `${url} is ${width} px wide at 375 px`);
      }
      assert.deepEqual(narrow.errors, []);
    } finally {
      await narrow.context.close();
    }
  });
});
