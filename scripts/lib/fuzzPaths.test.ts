import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import {
  checkHandlerPaths,
  parsePathLog,
  passedInvariantSuites,
  PATH_LOG,
  pathProblems,
  resetPathLog,
} from "./fuzzPaths.ts";

const invariant = { runs: 64n, calls: 2048n, reverts: 0n, metrics: {}, failedCorpusReplays: 0n };
const unit = { consumedGas: 1n };

/** A `test solidity` result as Hardhat returns it: suite results and a summary. */
function taskResult(suites: { name: string; kinds: object[]; status?: string }[]) {
  return {
    success: true,
    value: {
      summary: { failed: 0, passed: 3, skipped: 0, todo: 0, failureOutput: "" },
      suiteResults: suites.map(({ name, kinds, status }) => ({
        id: { name },
        testResults: kinds.map((kind) => ({ status: status ?? "Success", kind })),
      })),
    },
  };
}

function withLog(text: string, run: (root: string) => void) {
  const root = mkdtempSync(path.join(tmpdir(), "openpoa-paths-"));
  try {
    resetPathLog(root);
    writeFileSync(path.join(root, PATH_LOG), text);
    run(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test("test_parsePathLog_sumsRecordsWhateverTheNewlines", () => {
  // Parallel campaigns: a record's newline may land after another record.
  const suites = parsePathLog("@A|x=1,y=0;@A|x=2,y=0;\n\n@B|z:Err=3;\n@A|x=0,y=5;\n");
  assert.equal(suites.get("A")?.runs, 3);
  assert.deepEqual(
    [...suites.get("A")!.counts],
    [
      ["x", 3],
      ["y", 5],
    ],
  );
  assert.deepEqual([...suites.get("B")!.counts], [["z:Err", 3]]);
});

test("test_parsePathLog_refusesMalformedCounts", () => {
  assert.throws(() => parsePathLog("@A|x=;"), /Malformed handler path record/);
  assert.throws(() => parsePathLog("@A|=4;"), /Malformed handler path record/);
});

test("test_pathProblems_namesNeverTakenPathsAndSilentSuites", () => {
  const suites = parsePathLog("@A|x=1,y=0;@A|x=1,y=0;");
  assert.deepEqual(pathProblems(suites, ["A", "B"]), [
    'A: path "y" was never taken',
    "B: invariant suite reported no handler paths (see PathReport)",
  ]);
  assert.deepEqual(pathProblems(parsePathLog("@A|x=1,y=1;"), ["A"]), []);
});

test("test_passedInvariantSuites_onlySuitesWhoseCampaignsAllPassed", () => {
  const { value } = taskResult([
    { name: "Inv", kinds: [invariant, unit] },
    { name: "Unit", kinds: [unit] },
    { name: "Broken", kinds: [invariant], status: "Failure" },
  ]);
  assert.deepEqual(passedInvariantSuites(value.suiteResults), ["Inv"]);
});

test("test_checkHandlerPaths_deepFailsOnAPathNeverTaken", () => {
  withLog("@Inv|x=4,y=0;", (root) => {
    const result = taskResult([{ name: "Inv", kinds: [invariant] }]);
    const checked = checkHandlerPaths(result, { root, profile: "deep" }) as {
      success: boolean;
      error: { summary: { failed: number; failureOutput: string } };
    };
    assert.equal(checked.success, false);
    assert.equal(checked.error.summary.failed, 1);
    assert.match(checked.error.summary.failureOutput, /Inv: path "y" was never taken/);
  });
});

test("test_checkHandlerPaths_deepFailsOnASuiteWithoutReport", () => {
  withLog("", (root) => {
    const result = taskResult([{ name: "Inv", kinds: [invariant] }]);
    const checked = checkHandlerPaths(result, { root, profile: "deep" }) as { success: boolean };
    assert.equal(checked.success, false);
  });
});

test("test_checkHandlerPaths_defaultProfileOnlyReports", () => {
  withLog("@Inv|x=4,y=0;", (root) => {
    const result = taskResult([{ name: "Inv", kinds: [invariant] }]);
    assert.equal(checkHandlerPaths(result, { root, profile: "default" }), result);
  });
});

test("test_checkHandlerPaths_deepPassesWhenEveryPathWasTaken", () => {
  withLog("@Inv|x=4,y=1;", (root) => {
    const result = taskResult([{ name: "Inv", kinds: [invariant] }]);
    assert.equal(checkHandlerPaths(result, { root, profile: "deep" }), result);
  });
});

test("test_resetPathLog_emptiesThePreviousRun", () => {
  withLog("@Inv|x=4;", (root) => {
    resetPathLog(root);
    assert.equal(readFileSync(path.join(root, PATH_LOG), "utf8"), "");
  });
});
