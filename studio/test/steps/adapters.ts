/**
 * Browser steps of the adapter pages, on a shared stack (studio/test/stack.ts): an adapter's page
 * (list, lineage, usage), then the playground as an app pays: a channel opened with the development wallet (approve
 * and open), a chat whose receipts the page shows verified, and the usage voucher that lets the operator settle.
 * Each step checks the chain with viem after the UI acted, and runs axe-core on what it visited.
 *
 * Run by the flow test (flow.browser.test.ts) after the Model Factory's steps registered an adapter:
 * `openAdapterPage` → `openPlaygroundChannel` → `chatInPlayground` (once or more) → `settlePlaygroundChannel`, and
 * optionally `reusePlaygroundChannel` → `chatInPlayground` → `settlePlaygroundChannel` (the page reloaded).
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { isAddressEqual, parseUnits, type Address } from "viem";
import { abiOf } from "../../../inference/sdk/abis.ts";
import { checkAccessibility, connectDevWallet, screenshot, selectDevAccount, visit } from "../browser.ts";
import { roles, type StudioStack } from "../stack.ts";

/** What each step works on: the flow's page (development wallet) and the shared stack. */
export type StepContext = { page: Page; stack: StudioStack };

/** The development wallet as Hardhat account `index`, connecting it first if it is not. */
async function useAccount({ page }: StepContext, index: number): Promise<void> {
  if ((await page.getByLabel("Account", { exact: true }).count()) === 0) await connectDevWallet(page, index);
  else await selectDevAccount(page, index);
}

type ChainChannel = { payer: Address; operator: Address; deposit: bigint; settled: bigint; closesAt: bigint };
type LineageEntry = { datanetId: bigint; version: bigint; weightBps: number };

const contract = (ctx: StepContext, name: "InferencePayments" | "ModelRegistry") => ({
  address: ctx.stack.deployment.contracts[name]!.address as Address,
  abi: abiOf(name),
});
const channelOf = (ctx: StepContext, channelId: bigint) =>
  ctx.stack.client.readContract({
    ...contract(ctx, "InferencePayments"),
    functionName: "getChannel",
    args: [channelId],
  }) as Promise<ChainChannel>;

/** The adapter in the list, then its page: the lineage it shows is the registry's, each entry linking its datanet. */
export async function openAdapterPage(ctx: StepContext, adapterId: bigint): Promise<void> {
  const { page } = ctx;
  await visit(page, `${ctx.stack.studioUrl}/adapters`, "Adapters", "adapter-list");
  await page.getByRole("link", { name: `Adapter ${adapterId}`, exact: true }).click();
  await page.getByRole("heading", { level: 1, name: `Adapter ${adapterId}` }).waitFor();
  const lineage = (await ctx.stack.client.readContract({
    ...contract(ctx, "ModelRegistry"),
    functionName: "getLineage",
    args: [adapterId],
  })) as LineageEntry[];
  assert.ok(lineage.length > 0, `adapter ${adapterId} has no lineage on chain`);
  for (const entry of lineage) {
    const link = page
      .getByRole("region", { name: `Lineage of adapter ${adapterId}` })
      .getByRole("link", { name: `Datanet ${entry.datanetId} version ${entry.version}` });
    await link.waitFor();
    assert.equal(await link.getAttribute("href"), `/datanets/${entry.datanetId}`);
  }
  await page.getByRole("heading", { name: "Playground" }).waitFor();
  await page.getByLabel("Operator").waitFor({ timeout: 30_000 });
  await page.waitForLoadState("networkidle");
  await checkAccessibility(page, `adapter ${adapterId}`);
}

/**
 * As the app account, opens a channel to the stack's operator from the playground: a deposit of 0 is refused
 * before anything is signed, then `deposit` OPEN is approved and deposited (two wallet confirmations). Returns the
 * channel id, checked on chain: the app's, to the operator, holding the deposit, nothing settled.
 */
export async function openPlaygroundChannel(ctx: StepContext, deposit = "5"): Promise<bigint> {
  const { page } = ctx;
  await useAccount(ctx, roles.app);
  const app = ctx.stack.addressOf(roles.app);
  const operator = ctx.stack.addressOf(roles.operator);
  const amount = page.getByLabel("Deposit (OPEN)");
  await amount.waitFor({ timeout: 30_000 });
  const nonce = await ctx.stack.client.getTransactionCount({ address: app });
  await amount.fill("0");
  await page.getByRole("button", { name: "Open channel" }).click();
  await page.getByText("The deposit must be more than 0 OPEN.").waitFor();
  assert.equal(await ctx.stack.client.getTransactionCount({ address: app }), nonce, "a refused deposit sent nothing");

  await amount.fill(deposit);
  await page.getByRole("button", { name: "Open channel" }).click();
  const shown = await page.locator("[data-channel]").getAttribute("data-channel", { timeout: 60_000 });
  const channelId = BigInt(shown!);
  const channel = await channelOf(ctx, channelId);
  assert.ok(isAddressEqual(channel.payer, app), `channel ${channelId} is ${channel.payer}'s, not the app's`);
  assert.ok(isAddressEqual(channel.operator, operator));
  assert.equal(channel.deposit, parseUnits(deposit, 18));
  assert.equal(channel.settled, 0n);
  await checkAccessibility(page, "playground, channel open");
  return channelId;
}

/** Sends `message` in the playground; returns the answer, once its receipt is shown verified. */
export async function chatInPlayground(ctx: StepContext, message: string): Promise<string> {
  const { page } = ctx;
  const verified = page.locator('tr[data-verified="true"]');
  const before = await verified.count();
  await page.getByLabel("Message").fill(message);
  await page.getByRole("button", { name: "Send", exact: true }).click();
  await verified.nth(before).waitFor({ timeout: 120_000 });
  assert.equal(await page.locator('tr[data-verified="false"]').count(), 0, "the Payer disputed a receipt");
  const answer = await page.locator('ol[aria-label="Conversation"] > li').last().locator("p").nth(1).textContent();
  assert.ok(answer && answer.replace(/^Adapter \d+:\s*/, "").trim().length > 0, "an answer was streamed");
  await checkAccessibility(page, "playground, after a chat");
  return answer!;
}

/**
 * Sends the usage voucher from the playground, then waits for the operator's worker to settle: the channel's
 * settled amount on chain must become exactly the sum of the receipts the page shows verified.
 */
export async function settlePlaygroundChannel(ctx: StepContext, channelId: bigint): Promise<bigint> {
  const { page } = ctx;
  const amounts = await page
    .locator('tr[data-verified="true"]')
    .evaluateAll((rows) => rows.map((row) => row.getAttribute("data-receipt-amount")!));
  const total = amounts.reduce((sum, amount) => sum + BigInt(amount), 0n);
  assert.ok(total > 0n, "the page shows receipts to settle");
  await page.getByRole("button", { name: "Send usage voucher" }).click();
  await page.getByText(/The operator holds your usage voucher/).waitFor({ timeout: 30_000 });
  const deadline = Date.now() + 60_000;
  let channel = await channelOf(ctx, channelId);
  while (channel.settled !== total && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    channel = await channelOf(ctx, channelId);
  }
  assert.equal(
    channel.settled,
    total,
    `channel ${channelId} settled ${channel.settled}, the receipts shown add to ${total}`,
  );
  // The page shows the settlement too (it reads the channel every 2 s).
  await page.locator(`[data-settled="${total}"]`).waitFor({ timeout: 10_000 });
  await checkAccessibility(page, "playground, settled");
  await screenshot(page, "adapter-playground");
  return total;
}

/**
 * The adapter page again (a reload: the page has forgotten everything): its usage shows the settlement in its
 * chart, and the playground takes the open channel over from the operator's account of it (checked by the wallet's
 * own signature), listing the receipts paid before as verified.
 */
export async function reusePlaygroundChannel(ctx: StepContext, adapterId: bigint, channelId: bigint): Promise<void> {
  const { page } = ctx;
  await visit(page, `${ctx.stack.studioUrl}/adapters/${adapterId}`, `Adapter ${adapterId}`);
  await page.getByRole("img", { name: /^Revenue per day/ }).waitFor({ timeout: 30_000 });
  const before = (await channelOf(ctx, channelId)).settled;
  await page.getByRole("button", { name: `Use channel #${channelId}` }).click({ timeout: 30_000 });
  await page.locator(`[data-channel="${channelId}"]`).waitFor({ timeout: 30_000 });
  const amounts = await page
    .locator('tr[data-verified="true"]')
    .evaluateAll((rows) => rows.map((row) => BigInt(row.getAttribute("data-receipt-amount")!)));
  assert.equal(
    amounts.reduce((sum, amount) => sum + amount, 0n),
    before,
    "the receipts taken over are what was settled",
  );
  await checkAccessibility(page, "playground, channel taken over");
}
