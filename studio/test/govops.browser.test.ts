/**
 * The Operators and Governance pages in Chromium on the real local stack (studio/test/stack.ts), running their steps
 * (steps/operators.ts, steps/governance.ts). Until the flow test's own steps reach a settlement (… → chat → settle),
 * the operator's settlement here is a voucher the app signs and the operator settles on chain, as the worker's settler
 * does. The governance steps advance the chain's clock (voting delay, voting period, timelock delay): they run last.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { createWalletClient, http, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { voucherDomain, voucherTypes } from "../../inference/sdk/eip712.ts";
import { abiOf } from "../../inference/sdk/abis.ts";
import { hardhatKey } from "../../scripts/lib/localStack.ts";
import {
  checkAccessibility,
  launchBrowser,
  openPage,
  screenshot,
  selectDevAccount,
  visit,
  type WatchedPage,
} from "./browser.ts";
import { OPEN, roles, startStudioStack, type StudioStack } from "./stack.ts";
import { governanceDelegateVoteQueueExecute, governanceProposeFromTheStudio } from "./steps/governance.ts";
import {
  operatorManagesStake,
  operatorPageShowsStakeAndSettlements,
  type GovOpsStepContext,
} from "./steps/operators.ts";

describe("Operators and Governance in Chromium, on a real local stack", () => {
  let stack: StudioStack;
  let browser: Browser;
  let tab: WatchedPage;
  let ctx: GovOpsStepContext;

  /** The app pays the operator `amount` on a channel of its own: the app signs the voucher, the operator settles. */
  async function settleOnce(amount: bigint) {
    const { channelId } = (await stack.cli(
      roles.app,
      "channel",
      "open",
      "--operator",
      stack.addressOf(roles.operator),
      "--deposit",
      "10",
    )) as { channelId: string };
    const payments = stack.deployment.contracts.InferencePayments!.address as Hex;
    const { timestamp } = await stack.client.getBlock({ blockTag: "latest" });
    const voucher = {
      channelId: BigInt(channelId),
      cumulativeAmount: amount,
      // Adapter 0: the base model itself.
      adapterIds: [0n],
      adapterAmounts: [amount],
      usageRoot: `0x${"00".repeat(32)}` as Hex,
      expiry: timestamp + 30n * 86_400n,
    };
    const wallet = (role: number) =>
      createWalletClient({ account: privateKeyToAccount(hardhatKey(role)), transport: http(stack.chainUrl) });
    const signature = await wallet(roles.app).signTypedData({
      domain: voucherDomain(stack.deployment.chainId, payments),
      types: voucherTypes,
      primaryType: "Voucher",
      message: voucher,
    });
    const hash = await wallet(roles.operator).writeContract({
      chain: null,
      address: payments,
      abi: abiOf("InferencePayments"),
      functionName: "settle",
      args: [voucher, signature],
    });
    assert.equal((await stack.client.waitForTransactionReceipt({ hash })).status, "success");
  }

  before(async () => {
    stack = await startStudioStack();
    await settleOnce(2n * OPEN);
    await stack.indexed();
    browser = await launchBrowser();
    tab = await openPage(browser);
    ctx = {
      page: tab.page,
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

  it("shows the operator's stake and settlement as the chain has them", () =>
    operatorPageShowsStakeAndSettlements(ctx));
  it("stakes, unbonds and withdraws once released, through the UI", () => operatorManagesStake(ctx));
  it("delegates, reads a CLI proposal decoded, votes, queues and executes it, through the UI", () =>
    governanceDelegateVoteQueueExecute(ctx));
  it("proposes from the Studio with the CLI's actions and checks", () => governanceProposeFromTheStudio(ctx));
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
        [`/operators/${ctx.operator.address}`, /^Operator/, "operator-375px"],
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
