/**
 * The adapter pages in Chromium on a real local stack (studio/test/stack.ts): a datanet version and an adapter on it
 * registered with the CLI, then the steps of steps/adapters.ts: the adapter's page, a channel opened in the
 * playground with the development wallet, chats whose receipts are shown verified, the operator's settlement equal to
 * them, and the channel taken over after a reload; and the page at 375 px. Fails on any console or page error and on
 * any serious accessibility violation.
 */
import assert from "node:assert/strict";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { generatedModel } from "../../inference/gateway/testSupport.ts";
import { checkAccessibility, connectDevWallet, launchBrowser, openPage, visit, type WatchedPage } from "./browser.ts";
import { roles, startStudioStack, type StudioStack } from "./stack.ts";
import {
  chatInPlayground,
  openAdapterPage,
  openPlaygroundChannel,
  reusePlaygroundChannel,
  settlePlaygroundChannel,
  type StepContext,
} from "./steps/adapters.ts";

const ADAPTER = 1n;

describe("the adapter pages and the playground in Chromium, on a real local stack", () => {
  let stack: StudioStack;
  let browser: Browser;
  let tab: WatchedPage;
  let work: string;
  let channelId: bigint;
  const ctx = (): StepContext => ({ page: tab.page, stack });

  before(async () => {
    stack = await startStudioStack();
    work = await mkdtemp(path.join(tmpdir(), "openpoa-studio-adapters-"));
    const text = path.join(work, "leaves.txt");
    await writeFile(text, "Autumn leaves fall slowly over the quiet river, gold and red in the low evening light.\n");
    await stack.cli(roles.curator, "datanet", "create", "--uri", "openpoa://studio-test/leaves", "--license", "MIT");
    await stack.cli(roles.contributor, "datanet", "contribute", "1", "--file", text, "--content", stack.storeUrl);
    await stack.cli(roles.curator, "datanet", "publish", "1");
    // A copy: publishing writes the manifest into the directory, and the generated adapters are shared by tests.
    const model = generatedModel();
    const adapterDir = path.join(work, "adapter");
    await cp(path.join(model.artifactStore, model.adapterHashes[0]!), adapterDir, { recursive: true });
    await stack.cli(
      roles.author,
      "adapter",
      "register",
      "--from",
      adapterDir,
      "--content",
      stack.storeUrl,
      "--base",
      "1",
      "--price",
      "0.01",
      "--owner-share",
      "7000",
      "--data-share",
      "3000",
      "--lineage",
      "1:1:10000",
    );
    await stack.indexed();
    browser = await launchBrowser();
    tab = await openPage(browser);
  });
  afterEach(() => {
    const errors = tab ? tab.errors.splice(0) : [];
    assert.deepEqual(errors, [], "the browser logged errors");
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("shows the adapter, its lineage and an operator serving it", () => openAdapterPage(ctx(), ADAPTER));

  it("opens a channel, chats with verified receipts, and the operator settles exactly them", async () => {
    channelId = await openPlaygroundChannel(ctx(), "5");
    await chatInPlayground(ctx(), "Tell me about autumn leaves.");
    await chatInPlayground(ctx(), "And the river?");
    await settlePlaygroundChannel(ctx(), channelId);
  });

  it("takes the channel over after a reload and pays on from it", async () => {
    await reusePlaygroundChannel(ctx(), ADAPTER, channelId);
    await chatInPlayground(ctx(), "Once more.");
    await settlePlaygroundChannel(ctx(), channelId);
  });

  it("is usable at 375 px wide, list and playground", async () => {
    const narrow = await openPage(browser, { width: 375, height: 812 });
    try {
      const width = () => narrow.page.evaluate(() => document.documentElement.scrollWidth);
      await visit(narrow.page, `${stack.studioUrl}/adapters`, "Adapters");
      assert.ok((await width()) <= 375, `the list is ${await width()} px wide at 375 px`);
      await visit(narrow.page, `${stack.studioUrl}/adapters/${ADAPTER}`, `Adapter ${ADAPTER}`);
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
});
