/**
 * Reachability of the Solidity invariant handlers' paths. Each handler counts the paths its actions take
 * (test/solidity/utils/Paths.sol); after every invariant run the suite appends `@<suite>|<path>=<count>,...;` to
 * the path log. The `test solidity` task (overridden in hardhat.config.ts) empties the log before the tests and
 * passes their result through `checkHandlerPaths` after them, which sums the log per suite: in the `deep` profile a
 * path that no run took, or an invariant suite that reported no paths, fails the run; in any other profile (the
 * quick `default` one: runs too short to reach every rare path) they are only reported.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/** Relative to the project root; PathReport (test/solidity/utils/Paths.sol) writes the same path. */
export const PATH_LOG = "cache/solidity-handler-paths.log";
export const DEEP_PROFILE = "deep";

export type SuitePaths = {
  /** Records read: one per invariant run, over all the suite's invariant functions (each runs its own campaign). */
  runs: number;
  /** Per path, the number of times it was taken, summed over all runs; declaration order. */
  counts: Map<string, number>;
};

const RECORD = /@([A-Za-z0-9_]+)\|([^@;]*);/g;

/**
 * Sums the records of a path log per suite. Parallel campaigns append to one file and the newline is written apart
 * from the record, so records are found by their delimiters, not by lines.
 */
export function parsePathLog(text: string): Map<string, SuitePaths> {
  const suites = new Map<string, SuitePaths>();
  for (const [, suite, body] of text.matchAll(RECORD)) {
    let entry = suites.get(suite);
    if (entry === undefined) {
      entry = { runs: 0, counts: new Map() };
      suites.set(suite, entry);
    }
    entry.runs += 1;
    for (const pair of body.split(",")) {
      if (pair === "") continue;
      const match = /^(.+)=(\d+)$/.exec(pair);
      if (match === null) throw new Error(`Malformed handler path record: ${pair}`);
      const [, name, count] = match;
      entry.counts.set(name, (entry.counts.get(name) ?? 0) + Number(count));
    }
  }
  return suites;
}

/** The problems that fail a deep run: `Suite: path` for each path never taken, and suites that reported nothing. */
export function pathProblems(suites: Map<string, SuitePaths>, invariantSuites: string[]): string[] {
  const problems: string[] = [];
  for (const [suite, { counts }] of suites) {
    for (const [name, count] of counts) if (count === 0) problems.push(`${suite}: path "${name}" was never taken`);
  }
  for (const suite of invariantSuites) {
    if (!suites.has(suite)) problems.push(`${suite}: invariant suite reported no handler paths (see PathReport)`);
  }
  return problems;
}

/** One block per suite: the runs and each path's total, aligned. */
export function formatPathTable(suites: Map<string, SuitePaths>): string {
  const lines: string[] = [];
  for (const [suite, { runs, counts }] of [...suites].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`  ${suite} (${runs} runs)`);
    const width = Math.max(0, ...[...counts.keys()].map((name) => name.length));
    for (const [name, count] of counts) {
      lines.push(`    ${name.padEnd(width)}  ${String(count).padStart(9)}${count === 0 ? "  <- never taken" : ""}`);
    }
  }
  return lines.join("\n");
}

type SuiteResultLike = {
  id: { name: string };
  testResults: { status: string; kind: object }[];
};
type TestRunResultLike = {
  summary: { failed: number; passed: number; failureOutput?: string };
  suiteResults?: SuiteResultLike[];
};
type TaskResultLike = { success: true; value: TestRunResultLike } | { success: false; error: TestRunResultLike };

/** Invariant suites whose campaigns all passed: those must have reported their paths. */
export function passedInvariantSuites(suiteResults: SuiteResultLike[]): string[] {
  return suiteResults
    .filter((suite) => {
      const invariants = suite.testResults.filter(({ kind }) => "calls" in kind);
      return invariants.length !== 0 && invariants.every(({ status }) => status === "Success");
    })
    .map((suite) => suite.id.name);
}

/** Empties the path log (creating its directory), so that only this run's records are summed. */
export function resetPathLog(root: string): void {
  const file = path.join(root, PATH_LOG);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, "");
}

/**
 * After `test solidity`: reports the handler paths of this run and, in the deep profile, turns a path never taken
 * into a failed test run (one failure per problem). Returns the task result to pass on.
 */
export function checkHandlerPaths(result: unknown, options: { root: string; profile: string }): unknown {
  const run = result as TaskResultLike;
  const testRun = run.success ? run.value : run.error;
  if (testRun?.summary === undefined) throw new Error("test solidity returned no test summary: Hardhat changed?");
  let text = "";
  try {
    text = readFileSync(path.join(options.root, PATH_LOG), "utf8");
  } catch {
    // No invariant suite ran.
  }
  const suites = parsePathLog(text);
  const deep = options.profile === DEEP_PROFILE;
  const problems = pathProblems(suites, passedInvariantSuites(testRun.suiteResults ?? []));
  if (suites.size !== 0) {
    let paths = 0;
    let taken = 0;
    for (const { counts } of suites.values()) {
      paths += counts.size;
      for (const count of counts.values()) if (count !== 0) taken += 1;
    }
    console.log(
      `Handler paths (profile "${options.profile}"): ${taken} of ${paths} taken in ${suites.size} invariant suite(s).`,
    );
    if (deep) console.log(`Times each path was taken, summed over all runs:\n${formatPathTable(suites)}\n`);
  }
  if (problems.length === 0) return result;
  console.log(
    (deep ? "" : "Not enforced outside the deep profile:\n") +
      problems.map((problem) => `  ${problem}`).join("\n") +
      "\n",
  );
  if (!deep) return result;
  const summary = {
    ...testRun.summary,
    failed: testRun.summary.failed + problems.length,
    failureOutput: (testRun.summary.failureOutput ?? "") + problems.map((problem) => `\n  ${problem}`).join(""),
  };
  return { success: false, error: { ...testRun, summary } };
}
