/**
 * Browser steps of the Earnings page, run on the shared stack after an epoch exists (the flow: … → settle → epoch →
 * earnings → claim). `earningExplained` checks that the page shows what the epoch's distribution file (read by the
 * hash the chain holds) pays the contributor, and explains an earning with the attribution record and spans behind
 * it; `claimMovesClaimable` claims in the browser and checks the token balance and AttributionRewards with viem.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { getAddress, parseEventLogs, type Abi, type Address, type Hex, type PublicClient } from "viem";
import { decodeDistributionFile, type DistributionFile } from "../../../attribution/src/epoch.ts";
import { byteTokenizer } from "../../../attribution/src/tokenizer.ts";
import { abiOf } from "../../../inference/sdk/abis.ts";
import { fetchAttributionRecord, shareOf, spansCrediting, storeReader } from "../../app/src/lib/attribution.ts";

/** What the steps need of the harness (studio/test/stack.ts and browser.ts): the page, the stack, the helpers. */
export type EarningsStepContext = {
  page: Page;
  studioUrl: string;
  storeUrl: string;
  /** Reads chain state directly; its transport is the local chain (test-only RPC methods are allowed). */
  client: PublicClient;
  deployment: { contracts: Record<string, { address: string } | undefined> };
  /** The contributor whose earnings are shown and claimed: the development wallet's account `contributorAccount`. */
  contributor: Address;
  contributorAccount: number;
  /** Switches the development wallet (connected) to Hardhat account `index`. */
  selectDevAccount(page: Page, index: number): Promise<void>;
  /** axe-core on the page: no serious or critical violation. */
  checkAccessibility(page: Page, label: string): Promise<void>;
  screenshot?(page: Page, name: string): Promise<void>;
};

type EpochRoot = {
  root: Hex;
  total: bigint;
  claimableAt: bigint;
  policyId: number;
  revoked: boolean;
  contentHash: Hex;
};

const addressOf = (ctx: EarningsStepContext, name: string) => {
  const entry = ctx.deployment.contracts[name];
  assert.ok(entry, `${name} is deployed`);
  return entry.address as Address;
};

function readContract<T>(ctx: EarningsStepContext, name: string, functionName: string, args: unknown[] = []) {
  return ctx.client.readContract({
    address: addressOf(ctx, name),
    abi: abiOf(name as never),
    functionName,
    args,
  }) as Promise<T>;
}

/** The newest epoch's root, and its distribution file read from the store by the contentHash the chain holds. */
async function newestEpoch(
  ctx: EarningsStepContext,
): Promise<{ epoch: bigint; root: EpochRoot; file: DistributionFile }> {
  const epoch = await readContract<bigint>(ctx, "AttributionRewards", "lastEpoch");
  assert.ok(epoch > 0n, "an epoch was proposed before the earnings steps");
  const root = await readContract<EpochRoot>(ctx, "AttributionRewards", "getEpochRoot", [epoch]);
  const response = await fetch(`${ctx.storeUrl}/${root.contentHash.slice(2)}`);
  assert.equal(response.status, 200, "the epoch's distribution file is in the store");
  const bytes = new Uint8Array(await response.arrayBuffer());
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  assert.equal(`0x${Buffer.from(digest).toString("hex")}`, root.contentHash, "the file is the one the root names");
  const file = decodeDistributionFile(new TextDecoder().decode(bytes));
  assert.equal(file.root, root.root);
  return { epoch, root, file };
}

const chainTime = async (ctx: EarningsStepContext) => (await ctx.client.getBlock({ blockTag: "latest" })).timestamp;

/**
 * The earnings page of the contributor explains what it earned; a pending epoch shows its time, then passes it.
 * Resolves with how many spans of the explained request's completion the page quoted from the contribution (0 when
 * the completion quoted nothing, and the earning is the contribution's part of the pool). Takes the screenshot
 * `screenshotName` (default earnings-explained) when screenshots are asked for.
 */
export async function earningExplained(
  ctx: EarningsStepContext,
  { screenshotName = "earnings-explained" } = {},
): Promise<{ spansQuoted: number }> {
  const { page } = ctx;
  const { epoch, root, file } = await newestEpoch(ctx);
  const mine = file.allocations.filter((a) => getAddress(a.contributor) === getAddress(ctx.contributor));
  assert.ok(mine.length > 0, `epoch ${epoch} pays ${ctx.contributor}`);
  const leaf = file.leaves.find((l) => getAddress(l.account) === getAddress(ctx.contributor))!;

  await page.goto(`${ctx.studioUrl}/earnings/${ctx.contributor}`);
  await page.getByRole("heading", { level: 1, name: "Earnings" }).waitFor();
  // The total of the standing epochs is the contributor's leaf: what every verified file paid it, to the wei.
  await page.locator(`[data-earned="${leaf.cumulativeAmount}"]`).waitFor();

  if (root.claimableAt > (await chainTime(ctx))) {
    // Pending: listed with what it pays and when, in chain time; nothing can be claimed against it yet.
    const pending = page.locator(`[data-pending-epoch="${epoch}"]`);
    await pending.waitFor();
    const epochAmount = mine.reduce((sum, a) => sum + a.amount, 0n);
    await page.locator(`[data-pending-epoch="${epoch}"][data-earned-in-epoch="${epochAmount}"]`).waitFor();
    await ctx.checkAccessibility(page, "earnings, an epoch pending");
    await ctx.client.request({
      method: "evm_setNextBlockTimestamp",
      params: [`0x${root.claimableAt.toString(16)}`],
    } as never);
    await ctx.client.request({ method: "evm_mine", params: [] } as never);
    await page.reload();
  }
  await page.locator(`[data-claimable-now]`).waitFor();

  // Explain the first earning of the newest epoch: its requests, a used record (hash checked in the browser), and
  // what the record gives the contribution. A completion that quotes it shows the matched spans, quoted from the
  // contribution's own bytes; one that quotes nothing (a small random model's, say) says so, and the contribution's
  // earning is then its weight's part of the pool.
  const earning = mine[0]!;
  const row = page.locator(`[data-earning^="${epoch}-"]`).first();
  await row.getByRole("button", { name: /^Explain / }).click();
  const used = file.receipts.filter((r) => r.record === "used" && r.adapterId === earning.adapterId);
  let spansQuoted = 0;
  if (used.length === 0) {
    await page
      .getByText(/went pro rata by weight/)
      .first()
      .waitFor({ timeout: 30_000 });
  } else {
    const hash = used[0]!.attributionHash;
    const shown = page.locator(`[data-record="${hash}"]`);
    await shown.waitFor({ timeout: 30_000 });
    await shown.getByText("Record verified").waitFor();
    const record = await fetchAttributionRecord(storeReader(ctx.storeUrl), hash);
    const key = { datanetId: earning.datanetId, version: earning.version, contributionId: earning.contributionId };
    const share = shareOf(record, key);
    await shown.getByText(`${share.ppm.toLocaleString("en-US")} ppm`, { exact: true }).waitFor();
    const spans = spansCrediting(record, earning.contributionId).filter(
      (s) => s.datanetId === key.datanetId && s.version === key.version,
    );
    if (spans.length === 0) {
      assert.equal(share.ppm, 0, "no span credits the contribution, so the record gives it nothing by spans");
      await shown.getByText(`No span of this completion matched contribution ${earning.contributionId}.`).waitFor();
    } else {
      assert.equal(await shown.locator("[data-span]").count(), spans.length);
      const quote = shown.locator("[data-span] q").first();
      if (record.tokenizerId === byteTokenizer.id) {
        const quoted = await quote.textContent({ timeout: 30_000 });
        const contribution = await readContract<{ contentHash: Hex }>(ctx, "DatanetRegistry", "getContribution", [
          spans[0]!.heldBy,
        ]);
        const text = await (await fetch(`${ctx.storeUrl}/${contribution.contentHash.slice(2)}`)).text();
        assert.ok(
          quoted && text.includes(quoted),
          `the quoted span "${quoted}" is in contribution ${spans[0]!.heldBy}`,
        );
        spansQuoted = await shown.locator("[data-span] q").count();
      }
    }
  }
  await ctx.checkAccessibility(page, "earnings, an earning explained");
  await ctx.screenshot?.(page, screenshotName);
  return { spansQuoted };
}

/** The contributor claims in the browser: the balance and the contract move by exactly the claimable amount. */
export async function claimMovesClaimable(ctx: EarningsStepContext): Promise<void> {
  const { page } = ctx;
  const { epoch, file } = await newestEpoch(ctx);
  const leaf = file.leaves.find((l) => getAddress(l.account) === getAddress(ctx.contributor))!;
  await ctx.selectDevAccount(page, ctx.contributorAccount);
  await page.goto(`${ctx.studioUrl}/earnings/${ctx.contributor}`);
  await page.getByRole("heading", { level: 1, name: "Earnings" }).waitFor();

  const before = {
    balance: await readContract<bigint>(ctx, "OpenToken", "balanceOf", [ctx.contributor]),
    lastClaimedEpoch: await readContract<bigint>(ctx, "AttributionRewards", "lastClaimedEpoch", [leaf.index]),
    totalClaimed: await readContract<bigint>(ctx, "AttributionRewards", "totalClaimed"),
  };
  assert.ok(before.lastClaimedEpoch < epoch, "the contributor has not claimed the newest epoch yet");
  // What the chain owes: the leaf minus the leaf of the epoch last claimed against.
  const previous =
    before.lastClaimedEpoch === 0n
      ? 0n
      : (await epochLeaf(ctx, before.lastClaimedEpoch, ctx.contributor)).cumulativeAmount;
  const owed = leaf.cumulativeAmount - previous;
  await page.locator(`[data-claimable-now="${owed}"]`).waitFor();
  await page.locator(`[data-claim-check="ok"]`).waitFor({ timeout: 30_000 });
  await ctx.checkAccessibility(page, "earnings, ready to claim");

  const fromBlock = await ctx.client.getBlockNumber();
  await page.getByRole("button", { name: "Claim", exact: true }).click();
  const done = page.locator("[data-claimed]");
  await done.waitFor({ timeout: 60_000 });
  assert.equal(await done.getAttribute("data-claimed"), String(owed));

  const after = {
    balance: await readContract<bigint>(ctx, "OpenToken", "balanceOf", [ctx.contributor]),
    lastClaimedEpoch: await readContract<bigint>(ctx, "AttributionRewards", "lastClaimedEpoch", [leaf.index]),
    totalClaimed: await readContract<bigint>(ctx, "AttributionRewards", "totalClaimed"),
  };
  assert.equal(after.balance - before.balance, owed, "the balance moved by exactly the claimable amount");
  assert.equal(after.totalClaimed - before.totalClaimed, owed);
  assert.equal(after.lastClaimedEpoch, epoch);
  const logs = await ctx.client.getLogs({ address: addressOf(ctx, "AttributionRewards"), fromBlock: fromBlock + 1n });
  const [claimed] = parseEventLogs({ abi: abiOf("AttributionRewards") as Abi, logs, eventName: "Claimed" });
  assert.deepEqual(
    [(claimed?.args as { account?: Address }).account, (claimed?.args as { amount?: bigint }).amount],
    [getAddress(ctx.contributor), owed],
  );
  // The page, refetched after the transaction, shows nothing more to claim and the received amount grown.
  await page.locator(`[data-claimable-now="0"]`).waitFor({ timeout: 30_000 });
  await page.locator(`[data-received="${previous + owed}"]`).waitFor();
  await ctx.checkAccessibility(page, "earnings, claimed");
}

/** The contributor's leaf in epoch `epoch`'s file. */
async function epochLeaf(ctx: EarningsStepContext, epoch: bigint, account: Address) {
  const root = await readContract<EpochRoot>(ctx, "AttributionRewards", "getEpochRoot", [epoch]);
  const file = decodeDistributionFile(await (await fetch(`${ctx.storeUrl}/${root.contentHash.slice(2)}`)).text());
  const leaf = file.leaves.find((l) => getAddress(l.account) === getAddress(account));
  assert.ok(leaf, `epoch ${epoch} has a leaf for ${account}`);
  return leaf;
}
