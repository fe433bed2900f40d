/**
 * `npm run bench:studio`: what a newcomer's browser gets from the Studio on the local stack (studio/test/stack.ts:
 * chain, store, indexer, worker, the Studio's server; one datanet listed). Writes bench/results/studio.json:
 * - bundleGzipKb: the production JavaScript (every chunk in studio/dist/assets, lazy pages included), gzip level 9,
 *   as `npm run studio:build` prints it (budget 350 KB);
 * - firstLoadMs: the best of 3 cold loads (a fresh browser context each: no cache, no storage) of the Studio's root,
 *   from navigation to interactive (studio/test/browser.ts loadInteractive: the navigation rendered, the landing
 *   page's list with the indexer's data, a wallet button enabled), by the page's own clock (issue #20: within 1 s);
 * - firstLoadBytes: what that load transferred (response headers and bodies; the server does not compress).
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import type { Page } from "playwright-core";
import { repoRoot } from "../scripts/lib/localChain.ts";
import { launchBrowser, loadInteractive, openPage } from "./test/browser.ts";
import { roles, startStudioStack } from "./test/stack.ts";

const LOADS = 3;
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/** The gzipped size of every JavaScript file of the built app, in KB (the stack's Studio built it when stale). */
async function bundleGzipKb(): Promise<number> {
  const assets = path.join(repoRoot, "studio", "dist", "assets");
  let bytes = 0;
  for (const name of (await readdir(assets)).filter((n) => n.endsWith(".js")))
    bytes += gzipSync(await readFile(path.join(assets, name)), { level: 9 }).byteLength;
  return round(bytes / 1024);
}

/** One cold load: milliseconds to interactive by the page's clock, and the bytes its responses carried. */
async function coldLoad(page: Page, studioUrl: string): Promise<{ ms: number; bytes: number }> {
  const sizes: Promise<number>[] = [];
  page.on("requestfinished", (request) =>
    sizes.push(request.sizes().then((s) => s.responseHeadersSize + s.responseBodySize)),
  );
  await loadInteractive(page, studioUrl);
  const ms = await page.evaluate(() => performance.now());
  await page.waitForLoadState("networkidle");
  return { ms: Math.round(ms), bytes: (await Promise.all(sizes)).reduce((sum, n) => sum + n, 0) };
}

const loadBefore = os.loadavg()[0]!;
const stack = await startStudioStack();
try {
  await stack.cli(roles.curator, "datanet", "create", "--uri", "openpoa://bench/first", "--license", "MIT");
  await stack.indexed();
  const browser = await launchBrowser();
  const loads: { ms: number; bytes: number }[] = [];
  try {
    for (let i = 0; i < LOADS; i++) {
      const cold = await openPage(browser);
      try {
        loads.push(await coldLoad(cold.page, stack.studioUrl));
        if (cold.errors.length) throw new Error(`the page logged errors: ${cold.errors.join("; ")}`);
      } finally {
        await cold.context.close();
      }
    }
  } finally {
    await browser.close();
  }
  const best = loads.reduce((a, b) => (b.ms < a.ms ? b : a));
  const results = {
    bundleGzipKb: await bundleGzipKb(),
    firstLoadMs: best.ms,
    firstLoadBytes: best.bytes,
    firstLoadsMs: loads.map((l) => l.ms),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      loadAverage1m: [round(loadBefore, 2), round(os.loadavg()[0]!, 2)],
    },
    notes:
      "Chromium (Debian) driven by playwright-core, 1280x900, on 127.0.0.1; each load in a fresh context. " +
      "Interactive: the navigation, the datanet list with the indexer's data and an enabled wallet button rendered.",
  };
  await writeFile(path.join(repoRoot, "bench", "results", "studio.json"), JSON.stringify(results, null, 2) + "\n");
  console.log(results);
} finally {
  await stack.stop();
}
