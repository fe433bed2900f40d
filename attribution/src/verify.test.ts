import assert from "node:assert/strict";
import { test } from "node:test";
import { aggregateEpoch, distributionTree, type DistributionFile } from "./epoch.ts";
import { accounts, makeEpochFixture } from "./epochFixture.ts";
import { verifyEpoch, type VerificationIssueKind } from "./verify.ts";
import { asVersion2, testAccount } from "./testing.ts";

const kinds = (issues: { kind: VerificationIssueKind }[]) => [...new Set(issues.map((i) => i.kind))].sort();

/** A self-consistent forgery: edited leaves with the file root recomputed over them. */
function withLeaves(file: DistributionFile, leaves: DistributionFile["leaves"]): DistributionFile {
  return { ...file, leaves, root: distributionTree(leaves).root as `0x${string}` };
}

test("an honest epoch verifies with no issues", () => {
  const inputs = makeEpochFixture();
  const { file } = aggregateEpoch(inputs);
  const result = verifyEpoch(inputs, { distribution: file, root: file.root });
  assert.deepEqual(result.issues, []);
  assert.equal(result.ok, true);
});

test("a file naming another attribution policy is flagged; verification recomputes with the policy given", () => {
  const inputs = makeEpochFixture();
  const { file } = aggregateEpoch(inputs);
  const renamed = verifyEpoch(inputs, { distribution: { ...file, policyId: 2n }, root: file.root });
  assert.deepEqual(kinds(renamed.issues), ["policy-mismatch"]);
  assert.deepEqual(renamed.issues[0], {
    kind: "policy-mismatch",
    expected: "1",
    actual: "2",
    reason: "the file was computed with attribution policy 2, the epoch's is policy 1",
  });

  // The root names policy 2, but the file was computed with policy 1 and applied records made under it.
  const { issues } = verifyEpoch({ ...inputs, policy: asVersion2({ rarityExponent: 1 }) }, { distribution: file });
  assert.ok(issues.some((i) => i.kind === "policy-mismatch" && i.expected === "2" && i.actual === "1"));
  const applied = issues.filter((i) => i.kind === "missing-record").map((i) => i.receipt);
  assert.deepEqual(applied, ["receipt 1 of channel 1", "receipt 2 of channel 1"]);
  assert.match(
    issues.find((i) => i.kind === "missing-record")!.reason,
    /was applied but does not fit: record does not follow the epoch's attribution policy 2: policy\.id is 1/,
  );
});

test("a tampered leaf amount is flagged on that leaf, with the total and the root", () => {
  const inputs = makeEpochFixture();
  const { file } = aggregateEpoch(inputs);
  const target = file.leaves.find((l) => l.account === accounts.b)!;
  const tampered = withLeaves(
    file,
    file.leaves.map((l) =>
      l === target ? { ...l, cumulativeAmount: l.cumulativeAmount + 5n, epochAmount: l.epochAmount + 5n } : l,
    ),
  );
  const { issues, ok } = verifyEpoch(inputs, { distribution: tampered, root: tampered.root });
  assert.equal(ok, false);
  const leafIssues = issues.filter((i) => i.kind === "leaf-amount");
  assert.deepEqual(
    leafIssues.map((i) => [i.account, i.expected, i.actual]),
    [[accounts.b, String(target.cumulativeAmount), String(target.cumulativeAmount + 5n)]],
  );
  assert.deepEqual(kinds(issues), ["leaf-amount", "root-mismatch", "wrong-total"]);
});

test("moving wei between leaves keeps the total but flags both leaves", () => {
  const inputs = makeEpochFixture();
  const { file } = aggregateEpoch(inputs);
  const moved = withLeaves(
    file,
    file.leaves.map((l) =>
      l.account === accounts.a
        ? { ...l, cumulativeAmount: l.cumulativeAmount - 7n }
        : l.account === accounts.c
          ? { ...l, cumulativeAmount: l.cumulativeAmount + 7n }
          : l,
    ),
  );
  const { issues } = verifyEpoch(inputs, { distribution: moved });
  assert.deepEqual(
    issues
      .filter((i) => i.kind === "leaf-amount")
      .map((i) => i.account)
      .sort(),
    [accounts.a, accounts.c].sort(),
  );
  assert.deepEqual(kinds(issues), ["leaf-amount", "root-mismatch"]);
});

test("a wrong stated total is flagged", () => {
  const inputs = makeEpochFixture();
  const { file } = aggregateEpoch(inputs);
  const { issues } = verifyEpoch(inputs, { distribution: { ...file, total: file.total + 1n } });
  assert.deepEqual(
    issues.map((i) => [i.kind, i.expected, i.actual]),
    [["wrong-total", String(file.total), String(file.total + 1n)]],
  );
});

test("a record used by the aggregator but never published is a missing record", () => {
  const inputs = makeEpochFixture();
  const { file } = aggregateEpoch(inputs);
  // The verifier only sees the published records: receipt 1's (planted-overlap) record is withheld.
  const published = { ...inputs, records: inputs.records.slice(1) };
  const { issues } = verifyEpoch(published, { distribution: file });
  const missing = issues.filter((i) => i.kind === "missing-record");
  assert.deepEqual(
    missing.map((i) => [i.receipt, i.expected, i.actual]),
    [["receipt 1 of channel 1", "absent", "used"]],
  );
  // Without the record the money follows pro rata, so the published leaves no longer follow either.
  assert.ok(issues.some((i) => i.kind === "root-mismatch"));
  assert.ok(issues.some((i) => i.kind === "leaf-amount"));
});

test("a published record the aggregator ignored is a missing record too", () => {
  const inputs = makeEpochFixture();
  const { file } = aggregateEpoch({ ...inputs, records: [inputs.records[1]!] });
  const { issues } = verifyEpoch(inputs, { distribution: file });
  assert.deepEqual(
    issues.filter((i) => i.kind === "missing-record").map((i) => [i.receipt, i.actual]),
    [["receipt 1 of channel 1", "absent"]],
  );
  // A record that only carries pool shares moves no money, so withholding it changes evidence, not leaves.
  const poolOnly = aggregateEpoch({ ...inputs, records: [inputs.records[0]!] }).file;
  assert.deepEqual(kinds(verifyEpoch(inputs, { distribution: poolOnly }).issues), ["missing-record"]);
});

test("a leaf for an unknown account, a dropped leaf and a wrong on-chain root are flagged", () => {
  const inputs = makeEpochFixture();
  const { file } = aggregateEpoch(inputs);
  const stranger = testAccount(999);
  const extra = withLeaves(file, [
    ...file.leaves,
    { index: BigInt(file.leaves.length), account: stranger, cumulativeAmount: 1n, previousAmount: 0n, epochAmount: 1n },
  ]);
  const extraIssues = verifyEpoch(inputs, { distribution: extra }).issues;
  assert.deepEqual(
    extraIssues.filter((i) => i.kind === "unknown-account").map((i) => i.account),
    [stranger],
  );

  const dropped = withLeaves(
    file,
    file.leaves.filter((l) => l.account !== accounts.e),
  );
  const droppedIssues = verifyEpoch(inputs, { distribution: dropped }).issues;
  assert.deepEqual(
    droppedIssues.filter((i) => i.kind === "missing-leaf").map((i) => i.account),
    [accounts.e],
  );

  const onChain = verifyEpoch(inputs, { distribution: file, root: `0x${"00".repeat(32)}` }).issues;
  assert.deepEqual(
    onChain.map((i) => i.kind),
    ["root-mismatch"],
  );
});

test("a file whose root does not commit to its leaves is flagged", () => {
  const inputs = makeEpochFixture();
  const { file } = aggregateEpoch(inputs);
  const leaves = file.leaves.map((l, k) => (k === 0 ? { ...l, cumulativeAmount: l.cumulativeAmount + 1n } : l));
  const { issues } = verifyEpoch(inputs, { distribution: { ...file, leaves }, root: file.root });
  assert.ok(issues.some((i) => i.kind === "root-mismatch" && i.reason.includes("file's leaves")));
  assert.ok(issues.some((i) => i.kind === "leaf-amount"));
});

test("tampered allocation evidence is flagged", () => {
  const inputs = makeEpochFixture();
  const { file } = aggregateEpoch(inputs);
  const allocations = file.allocations.map((a, k) => (k === 0 ? { ...a, amount: a.amount + 1n } : a));
  const { issues } = verifyEpoch(inputs, { distribution: { ...file, allocations } });
  assert.deepEqual(kinds(issues), ["evidence-mismatch"]);
});

test("an attestor's file that drops, adds, inflates or replays receipts is flagged, naming each receipt", () => {
  const inputs = makeEpochFixture();
  // The attestor aggregates its own choice of receipts; the verifier derives them from the settlements' batches.
  const reasonsFor = (receipts: typeof inputs.receipts) => {
    const { file } = aggregateEpoch({ ...inputs, receipts });
    return verifyEpoch(inputs, { distribution: file, root: file.root }).issues.map((i) => i.reason);
  };
  const dropped = reasonsFor(inputs.receipts.slice(1));
  assert.ok(dropped.includes("receipt 1 of channel 1, paid by a settlement of the epoch, is not accounted for"));
  assert.ok(dropped.some((r) => /recomputed from the public inputs differs/.test(r)));

  const chosen = { ...inputs.receipts[0]!, channelId: 7n, position: 0n };
  assert.ok(
    reasonsFor([...inputs.receipts, chosen]).includes(
      "receipt 0 of channel 7 is not among the receipts the epoch's settlements paid for",
    ),
  );
  // A receipt an earlier epoch paid for, counted again: not under any of this epoch's settlements.
  const replayed = { ...inputs.receipts[1]!, position: 0n };
  assert.ok(
    reasonsFor([replayed, ...inputs.receipts]).includes(
      "receipt 0 of channel 1 is not among the receipts the epoch's settlements paid for",
    ),
  );
  const inflated = inputs.receipts.map((r, k) => (k === 0 ? { ...r, amount: r.amount * 1_000n } : r));
  assert.ok(
    reasonsFor(inflated).some((r) => /^receipt 1 of channel 1: its evidence differs .*amount 3000 vs 3/.test(r)),
  );
});

test("a settlement counted as verified whose receipts could not be established is flagged", () => {
  const inputs = makeEpochFixture();
  const unverified = [
    { channelId: 2n, usageRoot: `0x${"ee".repeat(32)}` as const, adapterId: 9n, amount: 40n, reason: "no receipts" },
  ];
  const { file } = aggregateEpoch(inputs);
  const { issues } = verifyEpoch({ ...inputs, unverified }, { distribution: file, root: file.root });
  assert.ok(
    issues.some((i) => /receipts could not be established differ: expected 1 .*adapter 9: no receipts/.test(i.reason)),
  );
});

test("a changed index of a previous account is flagged, with the reason", () => {
  const inputs = makeEpochFixture();
  const { file } = aggregateEpoch(inputs);
  // a (index 0) and e (index 1) swap indices: same amounts, but e would claim against a's on-chain record.
  const swapped = withLeaves(
    file,
    file.leaves.map((l) => (l.index === 0n ? { ...l, index: 1n } : l.index === 1n ? { ...l, index: 0n } : l)),
  );
  const { issues } = verifyEpoch(inputs, { distribution: swapped, root: swapped.root });
  const indexIssues = issues.filter((i) => i.kind === "index-mismatch");
  assert.deepEqual(
    indexIssues.map((i) => [i.account, i.expected, i.actual]),
    [
      [accounts.a, "0", "1"],
      [accounts.e, "1", "0"],
    ],
  );
  assert.match(indexIssues[0]!.reason, /index changed: the account had index 0 in the previous distribution/);
  assert.deepEqual(kinds(issues), ["index-mismatch", "root-mismatch"]);
});

test("new accounts not appended in ascending address order, or sharing an index, are flagged", () => {
  const inputs = makeEpochFixture();
  const { file } = aggregateEpoch(inputs);
  // The three new accounts (indices 2, 3, 4) in reverse order.
  const reversed = withLeaves(
    file,
    file.leaves.map((l) => (l.index >= 2n ? { ...l, index: 6n - l.index } : l)),
  );
  const issues = verifyEpoch(inputs, { distribution: reversed }).issues.filter((i) => i.kind === "index-mismatch");
  assert.deepEqual(
    issues.map((i) => [i.expected, i.actual]),
    [
      ["2", "4"],
      ["4", "2"],
    ],
  );
  assert.match(issues[0]!.reason, /new account not appended in order: .* from 2 in ascending address order/);
  // Two leaves on one index.
  const shared = withLeaves(
    file,
    file.leaves.map((l) => (l.index === 4n ? { ...l, index: 3n } : l)),
  );
  const sharedIssues = verifyEpoch(inputs, { distribution: shared }).issues.filter((i) => i.kind === "index-mismatch");
  assert.ok(sharedIssues.some((i) => i.reason === "index 3 is used by more than one leaf"));
  assert.ok(sharedIssues.some((i) => i.expected === "4" && i.actual === "3"));
});
