/**
 * Browser steps of the Governance pages: the voter delegates to itself through the UI, proposes with the CLI (as
 * users do), reads the proposal decoded in the Studio, votes with a reason, queues and executes it through the UI as
 * the chain's clock passes each period; every step is checked on chain with viem, and the action's effect last.
 */
import assert from "node:assert/strict";
import { formatDuration } from "../../../scripts/lib/governedActions.ts";
import { formatWei } from "../../app/src/lib/format.ts";
import {
  contractIn,
  passTimeTo,
  refusedTx,
  runTx,
  txButton,
  until,
  useDevAccount,
  type GovOpsStepContext,
} from "./operators.ts";

/** IGovernor.ProposalState values the steps wait for. */
const ACTIVE = 1;
const SUCCEEDED = 4;
const QUEUED = 5;
const EXECUTED = 7;

async function governorRead<T>(context: GovOpsStepContext, functionName: string, args: readonly unknown[] = []) {
  return (await context.client.readContract({
    ...contractIn(context, "OpenGovernor"),
    functionName,
    args,
  })) as T;
}

/** Waits until the page says the proposal is in `state` (it reads the Governor as blocks come). */
async function stateShown(context: GovOpsStepContext, state: string) {
  const shown = context.page.getByTestId("proposal-state");
  await until(`the proposal to show ${state}`, async () => ((await shown.innerText()) === state ? true : undefined));
}

/**
 * Delegate, propose (CLI), read decoded, vote, queue, execute. The proposal moves InferencePayments' challenge period
 * by an hour: an effect the chain shows and no later step depends on.
 */
export async function governanceDelegateVoteQueueExecute(context: GovOpsStepContext) {
  const { page, client } = context;
  const voter = context.voter.address;
  const token = contractIn(context, "OpenToken");

  // Delegate to oneself through the UI: the balance becomes votes.
  await page.goto(`${context.studioUrl}/governance`);
  await useDevAccount(context, context.voter.account);
  await page.getByRole("heading", { name: "Your votes" }).waitFor();
  // The page shows the voter's own OPEN: the wallet is the voter's.
  const held = (await client.readContract({ ...token, functionName: "balanceOf", args: [voter] })) as bigint;
  await page
    .getByTestId("your-open")
    .locator(`[title="${formatWei(held)}"]`)
    .waitFor();
  await context.checkAccessibility(page, "governance");
  await page.getByLabel("Delegate to (empty: yourself)").fill("0x12");
  assert.match(await refusedTx(page, "Delegate"), /Enter an address/);
  await page.getByLabel("Delegate to (empty: yourself)").fill("");
  await runTx(page, "Delegate");
  const [balance, votes, delegate] = await Promise.all([
    client.readContract({ ...token, functionName: "balanceOf", args: [voter] }) as Promise<bigint>,
    client.readContract({ ...token, functionName: "getVotes", args: [voter] }) as Promise<bigint>,
    client.readContract({ ...token, functionName: "delegates", args: [voter] }) as Promise<string>,
  ]);
  assert.equal(delegate.toLowerCase(), voter.toLowerCase());
  assert.ok(votes >= balance, "the voter's own OPEN votes");

  // Propose with the CLI, as users do.
  const payments = contractIn(context, "InferencePayments");
  const period = (await client.readContract({ ...payments, functionName: "challengePeriod" })) as bigint;
  // One hour longer, or shorter where that would pass the 30-day maximum.
  const next = period + 3_600n <= 30n * 86_400n ? period + 3_600n : period - 3_600n;
  const action = `challenge-period ${formatDuration(next)}`;
  const proposed = (await context.cli(
    context.voter.account,
    "gov",
    "propose",
    ...action.split(" "),
    "--description",
    "Studio test: a longer challenge period\n\nProposed with the CLI, voted in the Studio.",
  )) as { proposalId: string | number };
  const proposalId = BigInt(proposed.proposalId);

  // The list shows it decoded in the CLI's words; its page shows the same, with its state by name.
  await page.goto(`${context.studioUrl}/governance`);
  const listed = page.locator(`li[data-proposal="${proposalId}"]`);
  await listed.waitFor({ timeout: 30_000 });
  assert.equal(await listed.locator("ol.actions code").first().innerText(), action);
  await listed.getByRole("link").click();
  await stateShown(context, "Pending");
  assert.equal(await page.getByTestId("proposal-actions").locator("code").first().innerText(), action);
  assert.ok(await txButton(page, "Vote").button.isDisabled(), "no vote before the snapshot");
  await context.checkAccessibility(page, "proposal");

  // Vote with a reason once voting opens.
  const voteStart = await governorRead<bigint>(context, "proposalSnapshot", [proposalId]);
  await passTimeTo(context, voteStart + 1n);
  await until("the vote to open", async () =>
    (await governorRead<number>(context, "state", [proposalId])) === ACTIVE ? true : undefined,
  );
  await stateShown(context, "Active");
  await page.getByRole("radio", { name: "for" }).check();
  await page.getByLabel("Reason (optional)").fill("Slower closes are safer for payers.");
  await runTx(page, "Vote");
  const weight = await governorRead<bigint>(context, "getVotes", [voter, voteStart]);
  const [, forVotes] = await governorRead<readonly [bigint, bigint, bigint]>(context, "proposalVotes", [proposalId]);
  assert.equal(forVotes, weight);
  assert.equal(await governorRead<boolean>(context, "hasVoted", [proposalId, voter]), true);

  // Queue once voting has closed, execute once the Timelock's delay has passed.
  const deadline = await governorRead<bigint>(context, "proposalDeadline", [proposalId]);
  await passTimeTo(context, deadline + 1n);
  assert.equal(await governorRead<number>(context, "state", [proposalId]), SUCCEEDED);
  await stateShown(context, "Succeeded");
  await runTx(page, "Queue");
  assert.equal(await governorRead<number>(context, "state", [proposalId]), QUEUED);
  await stateShown(context, "Queued");
  assert.ok(await txButton(page, "Execute").button.isDisabled(), "execution waits for the ETA");
  await page.getByTestId("proposal-eta").waitFor();

  const eta = await governorRead<bigint>(context, "proposalEta", [proposalId]);
  await passTimeTo(context, eta);
  const execute = txButton(page, "Execute").button;
  await until("the execution to be offered", async () => ((await execute.isEnabled()) ? true : undefined));
  await runTx(page, "Execute");
  assert.equal(await governorRead<number>(context, "state", [proposalId]), EXECUTED);
  assert.equal(await client.readContract({ ...payments, functionName: "challengePeriod" }), next);
  await stateShown(context, "Executed");
  await context.checkAccessibility(page, "proposal executed");
  await context.screenshot?.(page, "proposal");
}

/**
 * Propose from the Studio: the form refuses a proposal without a description and an argument the action cannot
 * read before any signature, then proposes; the Governor holds the proposal with the call the CLI would build.
 */
export async function governanceProposeFromTheStudio(context: GovOpsStepContext) {
  const { page, client } = context;
  await page.goto(`${context.studioUrl}/governance`);
  await useDevAccount(context, context.voter.account);
  await page.getByRole("heading", { name: "Propose" }).waitFor();
  await page.getByLabel("Action").selectOption("challenge-period");
  await page.getByLabel(/^period \(duration\)/).fill("3x");
  assert.match(await refusedTx(page, "Propose"), /Describe what the proposal does/);
  await page.getByLabel(/^Description/).fill("Studio test: a two-day challenge period");
  assert.match(await refusedTx(page, "Propose"), /must be a duration like 90s/);
  await page.getByLabel(/^period \(duration\)/).fill("2d");
  const message = await runTx(page, "Propose");
  assert.match(message, /^Proposed: proposal \d+…/);
  const created = await client.getContractEvents({
    ...contractIn(context, "OpenGovernor"),
    eventName: "ProposalCreated",
    fromBlock: 0n,
  });
  const last = created.at(-1)!.args as { proposalId: bigint; description: string; calldatas: readonly string[] };
  assert.equal(last.description, "Studio test: a two-day challenge period");
  assert.equal(await governorRead<number>(context, "state", [last.proposalId]), 0, "Pending");
  await page.getByRole("link", { name: /^proposal \d+…/ }).click();
  await stateShown(context, "Pending");
  assert.equal(await page.getByTestId("proposal-actions").locator("code").first().innerText(), "challenge-period 2d");
  await context.checkAccessibility(page, "proposal made in the Studio");
  await page.goto(`${context.studioUrl}/governance`);
  await page.locator(`li[data-proposal="${last.proposalId}"]`).waitFor();
  await context.screenshot?.(page, "governance-list");
}
