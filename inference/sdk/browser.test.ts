/**
 * What a web app imports of the SDK (the Studio's playground: discovery, channels, the Payer) reaches no Node module:
 * bundled for browsers as Vite does it (condition "browser", so abis.ts is abis.browser.ts), every import of a Node
 * built-in from the repository's own code is a failure. Packages are their authors' business (viem's ox has a
 * worker-threads path it never takes in a browser).
 */
import assert from "node:assert/strict";
import { builtinModules } from "node:module";
import path from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "vite";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../..");
const builtins = new Set(builtinModules);
/** The modules the Studio imports from the SDK (reverts.ts for its error messages), and the content store client its playground reads records with. */
const browserEntries = [
  "inference/sdk/payer.ts",
  "inference/sdk/discovery.ts",
  "inference/sdk/channel.ts",
  "inference/sdk/eip712.ts",
  "inference/sdk/pricing.ts",
  "inference/sdk/reverts.ts",
  "attribution/src/httpStore.ts",
];

it("test_sdkBrowserModules_reachNoNodeModule", { timeout: 120_000 }, async () => {
  const reached: string[] = [];
  const watch: Plugin = {
    name: "openpoa-node-imports",
    enforce: "pre",
    resolveId(source, importer) {
      const builtin = source.startsWith("node:") || builtins.has(source.split("/")[0]!);
      if (builtin && importer && !importer.includes(`${path.sep}node_modules${path.sep}`))
        reached.push(`${path.relative(repoRoot, importer)} imports ${source}`);
      return null;
    },
  };
  const globals: string[] = [];
  const noNodeGlobals: Plugin = {
    name: "openpoa-node-globals",
    transform(code, id) {
      if (id.includes(`${path.sep}node_modules${path.sep}`) || !id.startsWith(repoRoot)) return null;
      for (const name of ["Buffer", "process"])
        if (new RegExp(`\\b${name}\\.`).test(code)) globals.push(`${path.relative(repoRoot, id)} uses ${name}`);
      return null;
    },
  };
  await build({
    configFile: false,
    logLevel: "silent",
    root: repoRoot,
    plugins: [watch, noNodeGlobals],
    build: {
      write: false,
      lib: { entry: browserEntries.map((file) => path.join(repoRoot, file)), formats: ["es"] },
      rollupOptions: { onwarn: () => {} },
    },
  });
  assert.deepEqual(reached, []);
  assert.deepEqual(globals, []);
});
