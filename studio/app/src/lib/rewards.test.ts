import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import type { Address, Hex } from "viem";
import { distributionTree } from "../../../../attribution/src/epoch.ts";
import { testAccount } from "../../../../attribution/src/testing.ts";
import {
  checkClaim,
  ClaimCheckError,
  epochStanding,
  formatWait,
  verifyDistributionProof,
  type ClaimChainState,
  type RewardsAnswer,
} from "./rewards.ts";

const alice = testAccount(1);
const bob = testAccount(2);
const carol = testAccount(3);

/** Two epochs of cumulative leaves, as distribution files carry them: alice earns in both, bob only in the first. */
const epochOne = [
  { index: 0n, account: alice, cumulativeAmount: 100n },
  { index: 1n, account: bob, cumulativeAmount: 40n },
];
const epochTwo = [
  { index: 0n, account: alice, cumulativeAmount: 250n },
  { index: 1n, account: bob, cumulativeAmount: 40n },
  { index: 2n, account: carol, cumulativeAmount: 7n },
];
const treeOne = distributionTree(epochOne);
const treeTwo = distributionTree(epochTwo);
const rootOf = (tree: typeof treeOne) => tree.root as Hex;

/** The indexer's answer for `account` against epoch 2 (previous: its leaf in epoch 1, when it claimed there). */
function answerOf(account: Address, { claimedOne }: { claimedOne: boolean }): RewardsAnswer {
  const i = epochTwo.findIndex((leaf) => leaf.account === account);
  const j = epochOne.findIndex((leaf) => leaf.account === account);
  return {
    account,
    claimed: claimedOne ? String(epochOne[j]!.cumulativeAmount) : "0",
    lastClaimedEpoch: claimedOne ? "1" : "0",
    pendingRoots: [],
    epoch: "2",
    root: rootOf(treeTwo),
    contentHash: `0x${"11".repeat(32)}`,
    uri: "openpoa://content/11",
    index: String(epochTwo[i]!.index),
    cumulativeAmount: String(epochTwo[i]!.cumulativeAmount),
    claimable: "0",
    proof: treeTwo.getProof(i) as Hex[],
    previous: claimedOne
      ? { epoch: "1", cumulativeAmount: String(epochOne[j]!.cumulativeAmount), proof: treeOne.getProof(j) as Hex[] }
      : null,
  };
}

const chainOf = (overrides: Partial<ClaimChainState> = {}): ClaimChainState => ({
  root: { root: rootOf(treeTwo), claimableAt: 1_000n, revoked: false },
  previousRoot: { root: rootOf(treeOne), claimableAt: 500n, revoked: false },
  lastClaimedEpoch: 0n,
  now: 1_000n,
  ...overrides,
});

describe("verifyDistributionProof", () => {
  it("agrees with @openzeppelin/merkle-tree on every leaf, and refuses any changed field", () => {
    for (const tree of [treeOne, treeTwo]) {
      for (const [i, [index, account, cumulativeAmount]] of tree.entries()) {
        const proof = tree.getProof(i) as Hex[];
        const leaf = { root: tree.root as Hex, index, account: account as Address, cumulativeAmount, proof };
        assert.equal(verifyDistributionProof(leaf), true);
        assert.equal(
          StandardMerkleTree.verify(
            tree.root,
            ["uint256", "address", "uint256"],
            [index, account, cumulativeAmount],
            proof,
          ),
          true,
        );
        assert.equal(verifyDistributionProof({ ...leaf, cumulativeAmount: cumulativeAmount + 1n }), false);
        assert.equal(verifyDistributionProof({ ...leaf, index: index + 1n }), false);
        assert.equal(verifyDistributionProof({ ...leaf, account: testAccount(9) }), false);
        assert.equal(verifyDistributionProof({ ...leaf, root: rootOf(tree === treeOne ? treeTwo : treeOne) }), false);
      }
    }
  });
});

describe("checkClaim", () => {
  it("a first claim pays the whole leaf, with no previous proof", () => {
    const claim = checkClaim(answerOf(alice, { claimedOne: false }), chainOf());
    assert.equal(claim.epoch, 2n);
    assert.equal(claim.amount, 250n);
    assert.equal(claim.previousEpoch, 0n);
    assert.deepEqual(
      { ...claim.argument, proof: undefined },
      { index: 0n, account: alice, cumulativeAmount: 250n, proof: undefined, previousAmount: 0n, previousProof: [] },
    );
  });

  it("a later claim pays the difference and proves the leaf last claimed against", () => {
    const claim = checkClaim(answerOf(alice, { claimedOne: true }), chainOf({ lastClaimedEpoch: 1n }));
    assert.equal(claim.amount, 150n);
    assert.equal(claim.argument.previousAmount, 100n);
    assert.equal(claim.previousEpoch, 1n);
    assert.deepEqual(claim.argument.previousProof, treeOne.getProof(0));
  });

  it("refuses what does not hold against the chain, naming it", () => {
    const fresh = answerOf(alice, { claimedOne: false });
    const later = answerOf(alice, { claimedOne: true });
    const refusals: [RewardsAnswer, ClaimChainState, RegExp][] = [
      [{ ...fresh, epoch: null, root: null }, chainOf(), /No epoch can be claimed/],
      [{ ...fresh, index: null, proof: null }, chainOf(), /has no leaf for/],
      [fresh, chainOf({ root: { ...chainOf().root, revoked: true } }), /revoked/],
      [fresh, chainOf({ root: { ...chainOf().root, root: rootOf(treeOne) } }), /is not the chain's/],
      [fresh, chainOf({ now: 999n }), /claimable from chain time 1000, not yet/],
      [{ ...fresh, cumulativeAmount: "251" }, chainOf(), /does not verify against epoch 2's on-chain root/],
      [fresh, chainOf({ lastClaimedEpoch: 2n }), /already claimed through epoch 2/],
      // The chain saw a claim against epoch 1 the indexer has not indexed yet.
      [fresh, chainOf({ lastClaimedEpoch: 1n }), /indexer has not caught up/],
      [
        { ...later, previous: { ...later.previous!, cumulativeAmount: "99" } },
        chainOf({ lastClaimedEpoch: 1n }),
        /in epoch 1 does not verify/,
      ],
      [answerOf(bob, { claimedOne: true }), chainOf({ lastClaimedEpoch: 1n }), /Nothing to claim through epoch 2/],
    ];
    for (const [answer, chain, message] of refusals) {
      assert.throws(
        () => checkClaim(answer, chain),
        (error: unknown) => {
          assert.ok(error instanceof ClaimCheckError);
          assert.match(error.message, message);
          return true;
        },
      );
    }
  });
});

describe("epochStanding and formatWait", () => {
  it("claimed through the last claim, claimable up to the newest claimable root, pending until its time", () => {
    const state = {
      lastClaimedEpoch: 2n,
      pendingRoots: [{ epoch: "5", claimableAt: "86400" }],
      newestClaimable: 4n,
    };
    assert.deepEqual(epochStanding(1n, state), { kind: "claimed" });
    assert.deepEqual(epochStanding(2n, state), { kind: "claimed" });
    assert.deepEqual(epochStanding(3n, state), { kind: "claimable" });
    assert.deepEqual(epochStanding(4n, state), { kind: "claimable" });
    assert.deepEqual(epochStanding(5n, state), { kind: "pending", claimableAt: 86_400n });
    assert.deepEqual(epochStanding(6n, state), { kind: "unknown" });
  });

  it("says how long a wait is", () => {
    assert.equal(formatWait(-5n), "now");
    assert.equal(formatWait(0n), "now");
    assert.equal(formatWait(45n), "in 45 s");
    assert.equal(formatWait(600n), "in 10 min");
    assert.equal(formatWait(3_600n * 3n + 1_200n), "in 3 h 20 min");
    assert.equal(formatWait(86_400n), "in 1 d");
    assert.equal(formatWait(86_400n + 7_200n), "in 1 d 2 h");
  });
});
