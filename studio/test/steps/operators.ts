/**
 * Browser steps of the Operators pages, run on the shared stack after the flow has settled a channel: the demo
 * operator's stake and settlements as the chain has them, then its stake managed through the UI (stake more, request
 * an unbond, withdraw once released), each checked on chain with viem.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { getAddress, type Abi, type Address, type Hex, type PublicClient } from "viem";
import { abiOf } from "../../../inference/sdk/abis.ts";
import { rpc } from "../../../scripts/lib/localChain.ts";
import { formatWei } from "../../app/src/lib/format.ts";

/**
 * What these steps need of the browser-test harness (studio/test/stack.ts): the page, the stack's URLs, a viem
 * client, the deployment's addresses, the named accounts (with keys, for the CLI), an accessibility check, and the
 * CLI's environment for this stack.
 */
export type StepContext = {
  page: Page;
  studioUrl: string;
  chainUrl: string;
  publicClient: PublicClient;
  contracts: Record<string, { address: string }>;
  /** `operator`: the demo's worker operator; `voter`: a holder of OPEN enough to propose and reach the quorum. */
  accounts: Record<"operator" | "voter", { address: Address; privateKey: Hex }>;
  /** OPENPOA_NETWORK, OPENPOA_RPC_URL, OPENPOA_DEPLOYMENTS_DIR of the stack (runCli adds the signing key). */
  cliEnv: NodeJS.ProcessEnv;
  /** axe-core on the page as it is; fails on serious or critical violations. */
  checkAccessibility(page: Page, label: string): Promise<void>;
};

const OPEN = 10n ** 18n;

/** `contract`'s address and ABI in the stack's deployment, for viem's reads. */
export const contractIn = (
  context: StepContext,
  name: Parameters<typeof abiOf>[0],
): { address: Address; abi: Abi } => ({
  address: getAddress(context.contracts[name]!.address),
  abi: abiOf(name),
});

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

/** Connects the development wallet (once) and picks `address` in its account picker. */
export async function useDevAccount(page: Page, address: Address) {
  const connect = page.getByRole("button", { name: /^Connect: Development wallet/ });
  const picker = page.getByLabel("Account");
  // A wallet connected before reconnects by itself after a page load: its button may vanish while being clicked.
  await until("the development wallet to connect", async () => {
    if (await picker.isVisible()) return true;
    if (await connect.isVisible()) await connect.click({ timeout: 1_000 }).catch(() => undefined);
    return undefined;
  });
  await picker.selectOption(getAddress(address));
}

/** The TxButton labelled `label`: its button and its status line. */
export function txButton(page: Page, label: string) {
  const button = page.getByRole("button", { name: label, exact: true });
  const box = page.locator(".tx", { has: button });
  return { button, status: box.getByRole("status") };
}

/** Clicks TxButton `label` and waits for it to end; returns its final message, failing on an error. */
export async function runTx(page: Page, label: string, timeoutMs = 60_000): Promise<string> {
  const { button, status } = txButton(page, label);
  // A message left by an earlier try is not this one's outcome.
  const before = await status.evaluate((element) => element.textContent ?? "");
  await button.click();
  const [kind, message] = await until(
    `${label} to finish`,
    async () => {
      // Read together: React may render between two reads.
      const [kind, text] = await status.evaluate((element) => [element.className, element.textContent ?? ""]);
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
  await button.click();
  return until(`${label}'s refusal`, async () =>
    (await status.getAttribute("class"))?.includes("error") ? status.innerText() : undefined,
  );
}

/** Moves the chain's clock forward and mines a block on it. */
export async function passTime(context: StepContext, seconds: bigint) {
  await rpc(context.chainUrl, "evm_increaseTime", [Number(seconds)]);
  await rpc(context.chainUrl, "evm_mine");
}

type OperatorState = { bonded: bigint; unbonding: bigint; unbondingReleaseTime: bigint; registered: boolean };

async function operatorOnChain(context: StepContext): Promise<OperatorState> {
  return (await context.publicClient.readContract({
    ...contractIn(context, "NodeRegistry"),
    functionName: "getOperator",
    args: [context.accounts.operator.address],
  })) as OperatorState;
}

/** The operators list and the demo operator's page: its bonded stake and its latest settlement, as on chain. */
export async function operatorPageShowsStakeAndSettlements(context: StepContext) {
  const { page, accounts } = context;
  const operator = accounts.operator.address;
  await page.goto(`${context.studioUrl}/operators`);
  const row = page.locator(`tr[data-operator="${operator.toLowerCase()}"]`);
  await row.waitFor();
  await context.checkAccessibility(page, "operators");
  await row.getByRole("link").click();
  await page.getByRole("heading", { name: "Settlements" }).waitFor();

  const { bonded } = await operatorOnChain(context);
  const shownBonded = page.getByTestId("operator-bonded").locator(".amount");
  await until("the bonded stake as on chain", async () =>
    (await shownBonded.getAttribute("title")) === formatWei(bonded) ? true : undefined,
  );

  const settled = await context.publicClient.getContractEvents({
    ...contractIn(context, "InferencePayments"),
    eventName: "ChannelSettled",
    fromBlock: 0n,
  });
  const own = settled.filter(
    (log) => getAddress((log.args as { operator: Address }).operator) === getAddress(operator),
  );
  assert.ok(own.length > 0, "the flow settled a channel of the demo operator");
  const latest = own.at(-1)!;
  const { channelId } = latest.args as { channelId: bigint };
  const settlementRow = page.locator(`tr[data-settlement$="-${channelId}"]`).first();
  await settlementRow.waitFor();
  assert.equal(await settlementRow.locator("td").nth(1).innerText(), String(channelId));
  await context.checkAccessibility(page, "operator");
}

/**
 * The operator bonds 1 OPEN more, requests an unbond of 1 OPEN (withdrawal disabled until its release time), then
 * withdraws it once the chain's clock has passed the release time; a malformed amount is refused before signing.
 */
export async function operatorManagesStake(context: StepContext) {
  const { page, accounts } = context;
  const operator = accounts.operator.address;
  await page.goto(`${context.studioUrl}/operators/${operator}`);
  await useDevAccount(page, operator);
  await page.getByRole("heading", { name: "Your stake" }).waitFor();

  const before = await operatorOnChain(context);
  const nonce = await context.publicClient.getTransactionCount({ address: operator });
  await page.getByLabel("Amount to bond (OPEN)").fill("1,5");
  assert.match(await refusedTx(page, "Stake"), /not an amount of OPEN/);
  assert.equal(await context.publicClient.getTransactionCount({ address: operator }), nonce, "nothing was sent");

  await page.getByLabel("Amount to bond (OPEN)").fill("1");
  await runTx(page, "Stake");
  const staked = await operatorOnChain(context);
  assert.equal(staked.bonded, before.bonded + OPEN);

  await page.getByLabel("Amount to unbond (OPEN)").fill("1");
  await runTx(page, "Request unbond");
  const unbonding = await operatorOnChain(context);
  assert.equal(unbonding.bonded, before.bonded);
  assert.equal(unbonding.unbonding, before.unbonding + OPEN);

  const withdraw = txButton(page, "Withdraw unbonded").button;
  assert.ok(await withdraw.isDisabled(), "withdrawal waits for the release time");
  assert.match(await page.getByTestId("withdraw-status").innerText(), /^Unbonding until .*\(in /);
  await context.checkAccessibility(page, "operator: your stake");

  const { timestamp } = await context.publicClient.getBlock();
  await passTime(context, unbonding.unbondingReleaseTime - timestamp + 1n);
  await until("the withdrawal to be offered", async () => ((await withdraw.isEnabled()) ? true : undefined));
  const balance = async () =>
    (await context.publicClient.readContract({
      ...contractIn(context, "OpenToken"),
      functionName: "balanceOf",
      args: [operator],
    })) as bigint;
  const held = await balance();
  await runTx(page, "Withdraw unbonded");
  assert.equal((await operatorOnChain(context)).unbonding, 0n);
  assert.equal(await balance(), held + unbonding.unbonding);
}
