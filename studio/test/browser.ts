/**
 * The browser side of the Studio's tests: Debian's Chromium driven by playwright-core (never a downloaded browser),
 * every console error and page error kept for the test to fail on, axe-core run on every page visited, screenshots
 * into docs/studio/ when OPENPOA_STUDIO_SCREENSHOTS=1 (`npm run studio:screenshots`).
 */
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { repoRoot } from "../../scripts/lib/localChain.ts";

/** The real binary: /usr/bin/chromium is Debian's shell wrapper around it. */
export const chromiumPath = process.env.OPENPOA_CHROMIUM ?? "/usr/lib/chromium/chromium";
export const screenshotsDir = path.join(repoRoot, "docs", "studio");
const axeScript = path.join(repoRoot, "node_modules", "axe-core", "axe.min.js");

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export type WatchedPage = { context: BrowserContext; page: Page; errors: string[] };

/** A fresh context (no cache, no storage) and page of `width` × `height`, its console errors and page errors kept. */
export async function openPage(browser: Browser, { width = 1280, height = 900 } = {}): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console: ${message.text()} (${message.location().url})`);
  });
  page.on("pageerror", (error) => errors.push(`page error: ${error.stack ?? error.message}`));
  return { context, page, errors };
}

/** axe-core on the page as it is: fails on any serious or critical violation, naming the rule and the elements. */
export async function checkAccessibility(page: Page, label: string): Promise<void> {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ path: axeScript });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: Document): Promise<{ violations: AxeViolation[] }> } }).axe;
    type AxeViolation = { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] };
    const { violations } = await axe.run(document);
    return violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target) }));
  });
  const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(serious, [], `${label}: accessibility violations ${JSON.stringify(serious, null, 2)}`);
}

/** Saves `docs/studio/<name>.png` (the full page) when screenshots are asked for. */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.OPENPOA_STUDIO_SCREENSHOTS !== "1") return;
  await mkdir(screenshotsDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotsDir, `${name}.png`), fullPage: true });
}

/** Goes to `url`, waits for its heading, checks accessibility, and takes the screenshot `name` when asked for. */
export async function visit(page: Page, url: string, heading: string | RegExp, name?: string): Promise<void> {
  await page.goto(url);
  await page.getByRole("heading", { level: 1, name: heading }).waitFor();
  await page.waitForLoadState("networkidle");
  await checkAccessibility(page, url);
  if (name) await screenshot(page, name);
}

/**
 * Opens the Studio's root and resolves once it is interactive: the navigation rendered, the landing page's heading
 * with the indexer's data (a datanet row), and a wallet connect button enabled. The benchmark times this
 * (studio/bench.ts).
 */
export async function loadInteractive(page: Page, studioUrl: string): Promise<void> {
  await page.goto(`${studioUrl}/`);
  await page.waitForFunction(
    () =>
      document.querySelector('nav[aria-label="Main"] a') !== null &&
      document.querySelector("h1")?.textContent === "Datanets" &&
      document.querySelector("tbody tr") !== null &&
      Array.from(document.querySelectorAll("header button")).some((b) => !(b as HTMLButtonElement).disabled),
  );
}

/** Connects the development wallet (Hardhat's test accounts over the Studio's /rpc) as account `index`. */
export async function connectDevWallet(page: Page, index: number): Promise<void> {
  await page.getByRole("button", { name: /Connect: Development wallet/ }).click();
  await selectDevAccount(page, index);
}

/** Switches the development wallet to Hardhat account `index` (the picker lists them as `#index 0x…`). */
export async function selectDevAccount(page: Page, index: number): Promise<void> {
  const picker = page.getByLabel("Account", { exact: true });
  await picker.waitFor();
  const value = await picker.locator("option", { hasText: new RegExp(`^#${index} `) }).getAttribute("value");
  await picker.selectOption(value!);
  await page.waitForFunction((address) => {
    const select = document.querySelector<HTMLSelectElement>(".dev-wallet select");
    return select?.value === address;
  }, value);
}
