/**
 * `npm run studio:screenshots`: refreshes docs/studio/*.png (committed, shown in the README) by running the Studio's
 * browser flow (flow.browser.test.ts) with OPENPOA_STUDIO_SCREENSHOTS=1, so the pictures are of the pages it just
 * checked.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "../../scripts/lib/localChain.ts";

const here = path.join(repoRoot, "studio", "test");
const tests = readdirSync(here)
  .filter((name) => name.endsWith(".browser.test.ts"))
  .map((name) => path.join(here, name));
const { status } = spawnSync(
  process.execPath,
  ["--test", "--test-force-exit", "--test-timeout=1200000", "--test-concurrency=1", ...tests],
  { cwd: repoRoot, stdio: "inherit", env: { ...process.env, OPENPOA_STUDIO_SCREENSHOTS: "1" } },
);
process.exit(status ?? 1);
