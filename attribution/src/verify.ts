/**
 * Verifier core: recompute an epoch's distribution from the public inputs and
 * report every way the published one departs from it. Pure; the caller
 * fetches the inputs (chain, content store, record store; the attribution
 * policy the on-chain root names) and the published file and root.
 */
import type { Address, Hex } from "viem";
import { canonicalJson, type CanonicalValue } from "./canonicalJson.ts";
import {
  aggregateEpoch,
  distributionTree,
  receiptName,
  type DistributionFile,
  type EpochDistribution,
  type EpochInputs,
} from "./epoch.ts";

export type VerificationIssueKind =
  /** The file names another attribution policy than the one it is verified with (the one its root names). */
  | "policy-mismatch"
  /** A root (on-chain, file, recomputed or previous) differs from what the inputs give. */
  | "root-mismatch"
  /** A leaf's amounts differ from the recomputed ones. */
  | "leaf-amount"
  /** A leaf pays an account that earned nothing and had no previous balance. */
  | "unknown-account"
  /** An account that should be paid has no leaf. */
  | "missing-leaf"
  /**
   * A leaf's stable index differs from the one the inputs give: a previous account's index changed, a new account
   * was not appended in ascending address order after the previous indices, or two leaves share an index.
   */
  | "index-mismatch"
  /** The stated or implied epoch total differs from what was funded. */
  | "wrong-total"
  /** A receipt's record was used but is not published, or was published but not used. */
  | "missing-record"
  /** Settlement, receipt or allocation evidence differs from the recomputation. */
  | "evidence-mismatch";

export type VerificationIssue = {
  kind: VerificationIssueKind;
  reason: string;
  account?: Address;
  /** The receipt concerned, as "receipt <position> of channel <channelId>". */
  receipt?: string;
  expected?: string;
  actual?: string;
};

export type VerificationResult = {
  ok: boolean;
  issues: VerificationIssue[];
  /** The distribution the inputs produce. */
  expected: EpochDistribution;
};

export function verifyEpoch(
  inputs: EpochInputs,
  { distribution, root }: { distribution: DistributionFile; /** Root posted on-chain, if known. */ root?: Hex },
): VerificationResult {
  const expected = aggregateEpoch(inputs);
  const issues: VerificationIssue[] = [
    ...checkPolicy(expected.file, distribution),
    ...checkRoots(expected.file, distribution, root),
    ...checkLeaves(expected.file, distribution, inputs),
    ...checkTotal(expected.file, distribution, inputs),
    ...checkReceipts(expected.file, distribution),
    ...checkEvidence(expected.file, distribution),
  ];
  return { ok: issues.length === 0, issues, expected };
}

function checkPolicy(expected: DistributionFile, claimed: DistributionFile): VerificationIssue[] {
  if (claimed.policyId === expected.policyId) return [];
  return [
    {
      kind: "policy-mismatch",
      expected: String(expected.policyId),
      actual: String(claimed.policyId),
      reason: `the file was computed with attribution policy ${claimed.policyId}, the epoch's is policy ${expected.policyId}`,
    },
  ];
}

function checkRoots(
  expected: DistributionFile,
  claimed: DistributionFile,
  onChainRoot: Hex | undefined,
): VerificationIssue[] {
  const issues: VerificationIssue[] = [];
  const mismatch = (reason: string, want: string | null, got: string | null): void => {
    if (want?.toLowerCase() !== got?.toLowerCase()) {
      issues.push({ kind: "root-mismatch", reason, expected: String(want), actual: String(got) });
    }
  };
  const committed = claimed.leaves.length === 0 ? null : (distributionTree(claimed.leaves).root as Hex);
  mismatch("the file's root is not the root of the file's leaves", committed, claimed.root);
  if (onChainRoot !== undefined) mismatch("the on-chain root is not the root of the file", claimed.root, onChainRoot);
  mismatch("the root recomputed from the public inputs differs", expected.root, claimed.root);
  mismatch("the previous root differs from the previous balances given", expected.previousRoot, claimed.previousRoot);
  return issues;
}

function checkLeaves(expected: DistributionFile, claimed: DistributionFile, inputs: EpochInputs): VerificationIssue[] {
  const issues: VerificationIssue[] = [];
  const want = new Map(expected.leaves.map((leaf) => [leaf.account.toLowerCase(), leaf]));
  const previous = new Map(inputs.previous.map((b) => [b.account.toLowerCase(), b.index]));
  const seen = new Set<string>();
  const indices = new Set<bigint>();
  for (const leaf of claimed.leaves) {
    const key = leaf.account.toLowerCase();
    if (seen.has(key)) {
      issues.push({ kind: "evidence-mismatch", account: leaf.account, reason: "account has more than one leaf" });
      continue;
    }
    seen.add(key);
    if (indices.has(leaf.index)) {
      issues.push({
        kind: "index-mismatch",
        account: leaf.account,
        actual: String(leaf.index),
        reason: `index ${leaf.index} is used by more than one leaf`,
      });
    }
    indices.add(leaf.index);
    const expectedLeaf = want.get(key);
    if (expectedLeaf === undefined) {
      issues.push({
        kind: "unknown-account",
        account: leaf.account,
        actual: String(leaf.cumulativeAmount),
        reason: previous.has(key)
          ? "account is not owed anything"
          : "account earned nothing this epoch and had no previous balance",
      });
      continue;
    }
    if (leaf.index !== expectedLeaf.index) {
      const previousIndex = previous.get(key);
      issues.push({
        kind: "index-mismatch",
        account: leaf.account,
        expected: String(expectedLeaf.index),
        actual: String(leaf.index),
        reason:
          previousIndex === undefined
            ? `new account not appended in order: new accounts take the indices from ${previous.size} in ascending address order, which gives ${expectedLeaf.index}, not ${leaf.index}`
            : `index changed: the account had index ${previousIndex} in the previous distribution, not ${leaf.index}`,
      });
    }
    if (
      leaf.cumulativeAmount !== expectedLeaf.cumulativeAmount ||
      leaf.previousAmount !== expectedLeaf.previousAmount ||
      leaf.epochAmount !== expectedLeaf.epochAmount
    ) {
      issues.push({
        kind: "leaf-amount",
        account: leaf.account,
        expected: String(expectedLeaf.cumulativeAmount),
        actual: String(leaf.cumulativeAmount),
        reason: `leaf claims cumulative ${leaf.cumulativeAmount} (previous ${leaf.previousAmount} + epoch ${leaf.epochAmount}); inputs give ${expectedLeaf.cumulativeAmount} (previous ${expectedLeaf.previousAmount} + epoch ${expectedLeaf.epochAmount})`,
      });
    }
  }
  for (const leaf of expected.leaves) {
    if (!seen.has(leaf.account.toLowerCase())) {
      issues.push({
        kind: "missing-leaf",
        account: leaf.account,
        expected: String(leaf.cumulativeAmount),
        reason: "account is owed but has no leaf",
      });
    }
  }
  return issues;
}

function checkTotal(expected: DistributionFile, claimed: DistributionFile, inputs: EpochInputs): VerificationIssue[] {
  const issues: VerificationIssue[] = [];
  if (claimed.total !== expected.total) {
    issues.push({
      kind: "wrong-total",
      expected: String(expected.total),
      actual: String(claimed.total),
      reason: "stated epoch total differs from the funded settlements",
    });
  }
  // What the leaves actually pay out this epoch, measured against the real previous balances.
  const previous = new Map(inputs.previous.map((b) => [b.account.toLowerCase(), b.cumulativeAmount]));
  const paid = claimed.leaves.reduce(
    (sum, leaf) => sum + leaf.cumulativeAmount - (previous.get(leaf.account.toLowerCase()) ?? 0n),
    0n,
  );
  if (paid !== expected.total) {
    issues.push({
      kind: "wrong-total",
      expected: String(expected.total),
      actual: String(paid),
      reason: "leaves pay out a different amount than was funded this epoch",
    });
  }
  return issues;
}

function checkReceipts(expected: DistributionFile, claimed: DistributionFile): VerificationIssue[] {
  const issues: VerificationIssue[] = [];
  const claimedByName = new Map(claimed.receipts.map((r) => [receiptName(r), r]));
  for (const receipt of expected.receipts) {
    const name = receiptName(receipt);
    const got = claimedByName.get(name);
    const base = { receipt: name, expected: receipt.record };
    if (got === undefined) {
      issues.push({
        kind: "missing-record",
        ...base,
        reason: `${name}, paid by a settlement of the epoch, is not accounted for`,
      });
    } else if (got.record === "used" && receipt.record !== "used") {
      issues.push({
        kind: "missing-record",
        ...base,
        actual: got.record,
        reason: `${name}: record ${got.attributionHash} was applied but ${receipt.record === "absent" ? "is not published" : `does not fit: ${receipt.reason}`}`,
      });
    } else if (got.record !== "used" && receipt.record === "used") {
      issues.push({
        kind: "missing-record",
        ...base,
        actual: got.record,
        reason: `${name}: published record ${receipt.attributionHash} was not applied`,
      });
    } else if (
      canonicalJson(got as unknown as CanonicalValue) !== canonicalJson(receipt as unknown as CanonicalValue)
    ) {
      issues.push({
        kind: "evidence-mismatch",
        receipt: name,
        reason: `${name}: its evidence differs from the published receipt (amount ${got.amount} vs ${receipt.amount}, record ${got.attributionHash} vs ${receipt.attributionHash})`,
      });
    }
    claimedByName.delete(name);
  }
  for (const name of claimedByName.keys()) {
    issues.push({
      kind: "evidence-mismatch",
      receipt: name,
      reason: `${name} is not among the receipts the epoch's settlements paid for`,
    });
  }
  return issues;
}

function checkEvidence(expected: DistributionFile, claimed: DistributionFile): VerificationIssue[] {
  const issues: VerificationIssue[] = [];
  const same = (a: unknown, b: unknown): boolean =>
    canonicalJson(a as CanonicalValue) === canonicalJson(b as CanonicalValue);
  if (!same(expected.blocks, claimed.blocks)) {
    issues.push({ kind: "evidence-mismatch", reason: "the settlements' block range differs from the inputs'" });
  }
  if (!same(expected.settlements, claimed.settlements)) {
    issues.push({ kind: "evidence-mismatch", reason: "settlement amounts differ from the funded settlements" });
  }
  if (!same(expected.unverified, claimed.unverified)) {
    issues.push({
      kind: "evidence-mismatch",
      reason: `the settlements whose receipts could not be established differ: expected ${expected.unverified.length} (${expected.unverified.map((u) => `channel ${u.channelId} adapter ${u.adapterId}: ${u.reason}`).join("; ") || "none"}), the file lists ${claimed.unverified.length}`,
    });
  }
  const key = (a: DistributionFile["allocations"][number]): string =>
    `${a.adapterId}/${a.datanetId}/${a.version}/${a.contributionId}`;
  const want = new Map(expected.allocations.map((a) => [key(a), a]));
  const got = new Map(claimed.allocations.map((a) => [key(a), a]));
  for (const k of new Set([...want.keys(), ...got.keys()])) {
    const [w, g] = [want.get(k), got.get(k)];
    if (w === undefined || g === undefined || !same(w, g)) {
      issues.push({
        kind: "evidence-mismatch",
        expected: w === undefined ? "none" : String(w.amount),
        actual: g === undefined ? "none" : String(g.amount),
        reason: `allocation adapter/datanet/version/contribution ${k} differs`,
      });
    }
  }
  return issues;
}
