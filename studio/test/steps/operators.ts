/**
 * Browser steps of the Operators pages, run on the shared stack once the operator has a settlement (the flow: … →
 * settle → …): the operator's stake and settlements as the chain has them, then its stake managed through the UI
 * (stake more, request an unbond, withdraw once released), each checked on chain with viem.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { getAddress, type Abi, type Address, type PublicClient } from "viem";
import { abiOf, type ContractName } from "../../../inference/sdk/abis.ts";
import { formatWei } from "../../app/src/lib/format.ts";

/** What the Operators and Governance steps need of the harness (studio/test/stack.ts and browser.ts). */
export type GovOpsStepContext = {
  page: Page;
  studioUrl: string;
  /** Reads chain state directly; its transport is the local chain (test-only RPC methods are allowed). */
  client: PublicClient;
  deployment: { contracts: Record<string, { address: string } | undefined> };
  /** The operator (the worker's, with a settlement) and a holder of OPEN enough to propose and reach the quorum. */
  operator: { account: number; address: Address };
  voter: { account: number; address: Address };
  /** `openpoa <args> --json` signed by Hardhat account `account`; its JSON output. */
  cli(account: number, ...args: string[]): Promise<unknown>;
  /** Switches the development wallet (connected) to Hardhat account `index`. */
  selectDevAccount(page: Page, index: number): Promise<void>;
  /** axe-core on the page: no serious or critical violation. */
  checkAccessibility(page: Page, label: string): Promise<void>;
  screenshot?(page: Page, name: string): Promise<void>;
};

const OPEN = 10n ** 18n;

/** `name`'s address in the stack's deployment and its ABI, for viem's reads. */
export function contractIn(context: GovOpsStepContext, name: ContractName): { address: Address; abi: Abi } {
  const entry = context.deployment.contracts[name];
  assert.ok(entry, `${name} is deployed`);
  return { address: getAddress(entry.address), abi: abiOf(name) };
}

/** Polls `check` until it returns something other than undefined, or fails naming `what`. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Connects the development wallet unless it is, and switches it to Hardhat account `index`. */
export async function useDevAccount(context: GovOpsStepContext, index: number) {
  const { page } = context;
  const connect = page.getByRole("button", { name: /^Connect: Development wallet/ });
  const picker = page.getByLabel("Account", { exact: true });
  // A wallet connected before reconnects by itself after a page load: connect only once that has had its chance,
  // as a connection still resolving would set its account back after the switch below.
  await page.waitForLoadState("networkidle");
  if (!(await picker.isVisible())) await connect.click();
  await picker.waitFor();
  await context.selectDevAccount(page, index);
  const chosen = await picker.inputValue();
  let held = 0;
  await until("the account switch to hold", async () => {
    held = (await picker.inputValue()) === chosen ? held + 1 : 0;
    return held >= 4 ? true : undefined;
  });
}

/** The TxButton labelled `label`: its button and its status line. */
export function txButton(page: Page, label: string) {
  const button = page.getByRole("button", { name: label, exact: true });
  return { button, status: page.locator(".tx", { has: button }).getByRole("status") };
}

/** The status line's class and text, read together (React may render between two reads). */
const statusOf = (status: ReturnType<typeof txButton>["status"]) =>
  status.evaluate((element) => [element.className, element.textContent ?? ""] as const);

/** Clicks TxButton `label` and waits for it to end; returns its final message, failing on an error. */
export async function runTx(page: Page, label: string, timeoutMs = 60_000): Promise<string> {
  const { button, status } = txButton(page, label);
  // A message left by an earlier try is not this one's outcome.
  const [, before] = await statusOf(status);
  await button.click();
  const [kind, message] = await until(
    `${label} to finish`,
    async () => {
      const [kind, text] = await statusOf(status);
      return kind.includes("done") || (kind.includes("error") && text !== before) ? [kind, text] : undefined;
    },
    timeoutMs,
  );
  assert.ok(kind.includes("done"), `${label} failed: ${message}`);
  return message;
}

/** Clicks TxButton `label` expecting it to refuse before any signature; returns the message shown. */
export async function refusedTx(page: Page, label: string): Promise<string> {
  const { button, status } = txButton(page, label);
  const [, before] = await statusOf(status);
  await button.click();
  return until(`${label}'s refusal`, async () => {
    const [kind, text] = await statusOf(status);
    return kind.includes("error") && text !== before ? text : undefined;
  });
}

/** Moves the chain's clock to `timestamp` (at least one second on) and mines a block there. */
export async function passTimeTo(context: GovOpsStepContext, timestamp: bigint) {
  const { timestamp: now } = await context.client.getBlock({ blockTag: "latest" });
  const seconds = timestamp > now ? timestamp - now : 1n;
  await context.client.request({ method: "evm_increaseTime", params: [Number(seconds)] } as never);
  await context.client.request({ method: "evm_mine", params: [] } as never);
}

type OperatorState = { bonded: bigint; unbonding: bigint; unbondingReleaseTime: bigint; registered: boolean };

async function operatorOnChain(context: GovOpsStepContext): Promise<OperatorState> {
  return (await context.client.readContract({
    ...contractIn(context, "NodeRegistry"),
    functionName: "getOperator",
    args: [context.operator.address],
  })) as OperatorState;
}

/** The operators list and the operator's page: its bonded stake and its latest settlement, as on chain. */
export async function operatorPageShowsStakeAndSettlements(context: GovOpsStepContext) {
  const { page } = context;
  const operator = context.operator.address;
  await page.goto(`${context.studioUrl}/operators`);
  const row = page.locator(`tr[data-operator="${operator.toLowerCase()}"]`);
  await row.waitFor();
  await context.checkAccessibility(page, "operators");
  await context.screenshot?.(page, "operators-list");
  await row.getByRole("link").click();
  await page.getByRole("heading", { name: "Settlements" }).waitFor();

  const { bonded } = await operatorOnChain(context);
  const shownBonded = page.getByTestId("operator-bonded").locator(".amount");
  await until("the bonded stake as on chain", async () =>
    (await shownBonded.getAttribute("title")) === formatWei(bonded) ? true : undefined,
  );

  const settled = await context.client.getContractEvents({
    ...contractIn(context, "InferencePayments"),
    eventName: "ChannelSettled",
    fromBlock: 0n,
  });
  const own = settled.filter((log) => getAddress((log.args as { operator: Address }).operator) === operator);
  assert.ok(own.length > 0, "the operator has settled a channel");
  const { channelId } = own.at(-1)!.args as { channelId: bigint };
  const settlement = page.locator(`tr[data-settlement$="-${channelId}"]`).first();
  await settlement.waitFor();
  assert.equal(await settlement.locator("td").nth(1).innerText(), String(channelId));
  await context.checkAccessibility(page, "operator");
}

/**
 * The operator bonds 1 OPEN more, requests an unbond of 1 OPEN (withdrawal disabled until its release time), then
 * withdraws it once the chain's clock has passed the release time; a malformed amount is refused before signing.
 */
export async function operatorManagesStake(context: GovOpsStepContext) {
  const { page } = context;
  const operator = context.operator.address;
  await page.goto(`${context.studioUrl}/operators/${operator}`);
  await useDevAccount(context, context.operator.account);
  await page.getByRole("heading", { name: "Your stake" }).waitFor();

  const before = await operatorOnChain(context);
  const nonce = await context.client.getTransactionCount({ address: operator });
  await page.getByLabel("Amount to bond (OPEN)").fill("1,5");
  assert.match(await refusedTx(page, "Stake"), /not an amount of OPEN/);
  assert.equal(await context.client.getTransactionCount({ address: operator }), nonce, "nothing was sent");

  await page.getByLabel("Amount to bond (OPEN)").fill("1");
  await runTx(page, "Stake");
  assert.equal((await operatorOnChain(context)).bonded, before.bonded + OPEN);

  await page.getByLabel("Amount to unbond (OPEN)").fill("1");
  await runTx(page, "Request unbond");
  const unbonding = await operatorOnChain(context);
  assert.equal(unbonding.bonded, before.bonded);
  assert.equal(unbonding.unbonding, before.unbonding + OPEN);

  const withdraw = txButton(page, "Withdraw unbonded").button;
  assert.ok(await withdraw.isDisabled(), "withdrawal waits for the release time");
  assert.match(await page.getByTestId("withdraw-status").innerText(), /^Unbonding until .*\(in /);
  await context.checkAccessibility(page, "operator: your stake");
  await context.screenshot?.(page, "operator-stake");

  await passTimeTo(context, unbonding.unbondingReleaseTime);
  await until("the withdrawal to be offered", async () => ((await withdraw.isEnabled()) ? true : undefined));
  const balance = async () =>
    (await context.client.readContract({
      ...contractIn(context, "OpenToken"),
      functionName: "balanceOf",
      args: [operator],
    })) as bigint;
  const held = await balance();
  await runTx(page, "Withdraw unbonded");
  assert.equal((await operatorOnChain(context)).unbonding, 0n);
  assert.equal(await balance(), held + unbonding.unbonding);
}
