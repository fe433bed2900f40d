import { expect } from "chai";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { connectSuite, DAY, hashOf, OPEN, testParameters } from "./helpers/fixtures.ts";
import { governanceSigner } from "./helpers/settlement.ts";
import type { IAttributionRewards } from "../types/ethers-contracts/index.ts";

const { ethers, networkHelpers, deploySuite } = await connectSuite();

const FUNDED = 1_000n * OPEN + 3n;
const CLAIM_DELAY = BigInt(testParameters.claimDelaySeconds);
const MAX_UINT128 = 2n ** 128n - 1n;
const INITIAL_POLICY = testParameters.initialAttributionPolicy;

type Policy = {
  algorithm: string;
  version: number;
  params: Record<keyof typeof INITIAL_POLICY.params, number | string>;
  specHash: string;
  specUri: string;
};

/** A version-2 policy of its own (named by `name`), with `changes` applied to its params. */
function policyOf(name: string, changes: Partial<Policy["params"]> = {}): Policy {
  return {
    ...INITIAL_POLICY,
    version: 2,
    params: { ...INITIAL_POLICY.params, rarityExponent: 1, ...changes },
    specHash: hashOf(name),
    specUri: `openpoa://content/${hashOf(name).slice(2)}`,
  };
}

/** A policy as the contract returns it (ethers decodes integers as bigints). */
function decoded(policy: Policy) {
  const big = (value: number | string) => (typeof value === "number" ? BigInt(value) : value);
  return {
    ...policy,
    version: BigInt(policy.version),
    params: Object.fromEntries(Object.entries(policy.params).map(([key, value]) => [key, big(value)])),
  };
}

const scheduleOf = async (rewards: {
  attributionPolicySchedule(): Promise<IAttributionRewards.PolicyPeriodStructOutput[]>;
}) => (await rewards.attributionPolicySchedule()).map(({ policyId, fromEpoch }) => [policyId, fromEpoch]);

type Leaf = [bigint, string, bigint];
type Tree = StandardMerkleTree<Leaf>;

/**
 * The cumulative-distribution tree exactly as IAttributionRewards documents it: leaves (index, account,
 * cumulativeAmount). An account's index is `firstIndex` plus its position in `entries`, so epochs listing the same
 * accounts in the same order keep their indices stable, as the attestor must.
 */
function distribution(entries: [string, bigint][], firstIndex = 0n) {
  return StandardMerkleTree.of(
    entries.map(([account, amount], i): Leaf => [firstIndex + BigInt(i), account, amount]),
    ["uint256", "address", "uint256"],
  );
}

function leafOf(tree: Tree, account: string) {
  for (const [i, [index, leafAccount, amount]] of tree.entries()) {
    if (leafAccount === account) return { index: BigInt(index), amount: BigInt(amount), proof: tree.getProof(i) };
  }
  throw new Error(`no leaf for ${account}`);
}

/** The Claim of `account`'s leaf in `tree`; `previous` is the tree of the epoch its index last claimed against. */
function claimOf(tree: Tree, account: string, previous?: Tree) {
  const { index, amount, proof } = leafOf(tree, account);
  const before = previous === undefined ? undefined : leafOf(previous, account);
  return {
    index,
    account,
    cumulativeAmount: amount,
    proof,
    previousAmount: before?.amount ?? 0n,
    previousProof: before?.proof ?? [],
  };
}

/** The pool funded with FUNDED by alice; the deployer is attestor and guardian. */
async function fundedPool() {
  const suite = await deploySuite();
  const { rewards, token, alice } = suite;
  await token.connect(alice).approve(await rewards.getAddress(), ethers.MaxUint256);
  await rewards.connect(alice).fund(FUNDED);
  const governance = await governanceSigner(ethers, networkHelpers, suite);
  return { ...suite, governance };
}

type Fixture = Awaited<ReturnType<typeof fundedPool>>;

async function propose(f: Fixture, epoch: bigint, tree: Tree, total: bigint) {
  await f.rewards
    .connect(f.deployer)
    .proposeRoot(epoch, tree.root, total, hashOf(`dist-${epoch}`), `ipfs://dist-${epoch}`, 1n);
  return (await f.rewards.getEpochRoot(epoch)).claimableAt;
}

describe("AttributionRewards", () => {
  describe("fund", () => {
    it("test_fund_pullsTokensAndEmits", async () => {
      const { rewards, token, alice, carol } = await networkHelpers.loadFixture(fundedPool);
      expect(await rewards.totalFunded()).to.equal(FUNDED);
      expect(await token.balanceOf(await rewards.getAddress())).to.equal(FUNDED);
      await token.connect(carol).approve(await rewards.getAddress(), 5n);
      await expect(rewards.connect(carol).fund(5n))
        .to.emit(rewards, "Funded")
        .withArgs(carol.address, 5n, FUNDED + 5n);
      expect(await rewards.totalFunded()).to.equal(FUNDED + 5n);
      expect(await token.balanceOf(await rewards.getAddress())).to.equal(FUNDED + 5n);
      await expect(rewards.connect(alice).fund(0n)).to.be.revertedWithCustomError(rewards, "ZeroAmount");
    });

    it("test_fund_revertsOnOverflow", async () => {
      const { rewards, alice } = await networkHelpers.loadFixture(fundedPool);
      const amount = MAX_UINT128 - FUNDED + 1n;
      await expect(rewards.connect(alice).fund(amount))
        .to.be.revertedWithCustomError(rewards, "FundingOverflow")
        .withArgs(amount, FUNDED);
    });
  });

  describe("proposeRoot", () => {
    it("test_proposeRoot_storesAndEmits", async () => {
      const f = await networkHelpers.loadFixture(fundedPool);
      const { rewards, alice } = f;
      const tree = distribution([[alice.address, 10n]]);
      const tx = rewards.proposeRoot(1n, tree.root, 10n, hashOf("dist-1"), "ipfs://dist-1", 1n);
      await tx;
      const t = BigInt(await networkHelpers.time.latest());
      await expect(tx)
        .to.emit(rewards, "RootProposed")
        .withArgs(1n, tree.root, 10n, hashOf("dist-1"), "ipfs://dist-1", t + CLAIM_DELAY, 1n);
      const root = await rewards.getEpochRoot(1n);
      expect(root.root).to.equal(tree.root);
      expect(root.total).to.equal(10n);
      expect(root.claimableAt).to.equal(t + CLAIM_DELAY);
      expect(root.policyId).to.equal(1n);
      expect(root.revoked).to.equal(false);
      expect(root.contentHash).to.equal(hashOf("dist-1"));
      expect(await rewards.lastEpoch()).to.equal(1n);
      await expect(rewards.getEpochRoot(2n)).to.be.revertedWithCustomError(rewards, "EpochNotFound").withArgs(2n);
    });

    it("test_proposeRoot_revertsIfNotAttestor", async () => {
      const { rewards, alice, governance } = await networkHelpers.loadFixture(fundedPool);
      for (const caller of [alice, governance]) {
        await expect(rewards.connect(caller).proposeRoot(1n, hashOf("r"), 0n, hashOf("c"), "u", 1n))
          .to.be.revertedWithCustomError(rewards, "NotAttestor")
          .withArgs(caller.address);
      }
    });

    it("test_proposeRoot_revertsOnEmptyRoot", async () => {
      const { rewards } = await networkHelpers.loadFixture(fundedPool);
      await expect(rewards.proposeRoot(1n, ethers.ZeroHash, 0n, hashOf("c"), "u", 1n)).to.be.revertedWithCustomError(
        rewards,
        "EmptyRoot",
      );
    });

    it("test_proposeRoot_revertsIfEpochOutOfOrder", async () => {
      const { rewards } = await networkHelpers.loadFixture(fundedPool);
      await expect(rewards.proposeRoot(0n, hashOf("r"), 0n, hashOf("c"), "u", 1n))
        .to.be.revertedWithCustomError(rewards, "EpochOutOfOrder")
        .withArgs(0n, 1n);
      await expect(rewards.proposeRoot(2n, hashOf("r"), 0n, hashOf("c"), "u", 1n))
        .to.be.revertedWithCustomError(rewards, "EpochOutOfOrder")
        .withArgs(2n, 1n);
      await rewards.proposeRoot(1n, hashOf("r1"), 1n, hashOf("c"), "u", 1n);
      await expect(rewards.proposeRoot(1n, hashOf("r1b"), 1n, hashOf("c"), "u", 1n))
        .to.be.revertedWithCustomError(rewards, "EpochOutOfOrder")
        .withArgs(1n, 2n);
      await expect(rewards.proposeRoot(3n, hashOf("r3"), 1n, hashOf("c"), "u", 1n))
        .to.be.revertedWithCustomError(rewards, "EpochOutOfOrder")
        .withArgs(3n, 2n);
      await rewards.proposeRoot(2n, hashOf("r2"), 1n, hashOf("c"), "u", 1n);
      expect(await rewards.lastEpoch()).to.equal(2n);
    });

    it("test_proposeRoot_revertsIfTotalDecreased", async () => {
      const { rewards } = await networkHelpers.loadFixture(fundedPool);
      await rewards.proposeRoot(1n, hashOf("r1"), 500n, hashOf("c"), "u", 1n);
      await expect(rewards.proposeRoot(2n, hashOf("r2"), 499n, hashOf("c"), "u", 1n))
        .to.be.revertedWithCustomError(rewards, "TotalDecreased")
        .withArgs(499n, 500n);
      // Equal is fine.
      await rewards.proposeRoot(2n, hashOf("r2"), 500n, hashOf("c"), "u", 1n);
    });

    it("test_proposeRoot_revertsIfTotalExceedsFunded", async () => {
      const { rewards, alice } = await networkHelpers.loadFixture(fundedPool);
      await expect(rewards.proposeRoot(1n, hashOf("r1"), FUNDED + 1n, hashOf("c"), "u", 1n))
        .to.be.revertedWithCustomError(rewards, "TotalExceedsFunded")
        .withArgs(FUNDED + 1n, FUNDED);
      await rewards.proposeRoot(1n, hashOf("r1"), FUNDED, hashOf("c"), "u", 1n);
      // More funding makes room for a larger total.
      await rewards.connect(alice).fund(2n);
      await expect(rewards.proposeRoot(2n, hashOf("r2"), FUNDED + 3n, hashOf("c"), "u", 1n))
        .to.be.revertedWithCustomError(rewards, "TotalExceedsFunded")
        .withArgs(FUNDED + 3n, FUNDED + 2n);
      await rewards.proposeRoot(2n, hashOf("r2"), FUNDED + 2n, hashOf("c"), "u", 1n);
    });
  });

  describe("revokeRoot", () => {
    it("test_revokeRoot_byGuardianThenRepropose", async () => {
      const f = await networkHelpers.loadFixture(fundedPool);
      const { rewards, deployer, alice } = f;
      await propose(f, 1n, distribution([[alice.address, 10n]]), 10n);
      await expect(rewards.connect(deployer).revokeRoot(1n))
        .to.emit(rewards, "RootRevoked")
        .withArgs(1n, 1n, deployer.address);
      expect((await rewards.getEpochRoot(1n)).revoked).to.equal(true);
      expect(await rewards.lastEpoch()).to.equal(0n);
      // The corrected distribution takes the same epoch number.
      const fixed = distribution([[alice.address, 20n]]);
      const claimableAt = await propose(f, 1n, fixed, 20n);
      const root = await rewards.getEpochRoot(1n);
      expect(root.root).to.equal(fixed.root);
      expect(root.revoked).to.equal(false);
      await networkHelpers.time.increaseTo(claimableAt);
      await expect(rewards.claim(1n, claimOf(fixed, alice.address)))
        .to.emit(rewards, "Claimed")
        .withArgs(1n, alice.address, 0n, 20n, 20n);
    });

    it("test_revokeRoot_byGovernance", async () => {
      const f = await networkHelpers.loadFixture(fundedPool);
      await propose(f, 1n, distribution([[f.alice.address, 10n]]), 10n);
      await expect(f.rewards.connect(f.governance).revokeRoot(1n))
        .to.emit(f.rewards, "RootRevoked")
        .withArgs(1n, 1n, f.governance.address);
    });

    it("test_revokeRoot_revertsIfNotGovernanceOrGuardian", async () => {
      const f = await networkHelpers.loadFixture(fundedPool);
      await propose(f, 1n, distribution([[f.alice.address, 10n]]), 10n);
      await expect(f.rewards.connect(f.alice).revokeRoot(1n))
        .to.be.revertedWithCustomError(f.rewards, "NotGovernanceOrGuardian")
        .withArgs(f.alice.address);
      // A replaced guardian loses the power.
      await f.rewards.connect(f.governance).setGuardian(f.curator.address);
      await expect(f.rewards.connect(f.deployer).revokeRoot(1n))
        .to.be.revertedWithCustomError(f.rewards, "NotGovernanceOrGuardian")
        .withArgs(f.deployer.address);
      await f.rewards.connect(f.curator).revokeRoot(1n);
    });

    it("test_revokeRoot_revertsIfEpochNotFound", async () => {
      const { rewards } = await networkHelpers.loadFixture(fundedPool);
      await expect(rewards.revokeRoot(1n)).to.be.revertedWithCustomError(rewards, "EpochNotFound").withArgs(1n);
    });

    it("test_revokeRoot_revertsIfNotPending", async () => {
      const f = await networkHelpers.loadFixture(fundedPool);
      const claimableAt = await propose(f, 1n, distribution([[f.alice.address, 10n]]), 10n);
      await networkHelpers.time.setNextBlockTimestamp(claimableAt);
      await expect(f.rewards.revokeRoot(1n)).to.be.revertedWithCustomError(f.rewards, "RootNotPending").withArgs(1n);
      // Already revoked is not pending either.
      // One second before its claim time a root is still pending.
      const claimableAt2 = await propose(f, 2n, distribution([[f.alice.address, 11n]]), 11n);
      await networkHelpers.time.setNextBlockTimestamp(claimableAt2 - 1n);
      await f.rewards.revokeRoot(2n);
      await expect(f.rewards.revokeRoot(2n)).to.be.revertedWithCustomError(f.rewards, "RootNotPending").withArgs(2n);
    });

    it("test_revokeRoot_revokesAnyPendingEpochAndEveryLaterOne", async () => {
      const f = await networkHelpers.loadFixture(fundedPool);
      const trees = [1n, 2n, 3n].map((e) => distribution([[f.alice.address, 10n * e]]));
      for (const [i, tree] of trees.entries()) await propose(f, BigInt(i + 1), tree, 10n * BigInt(i + 1));
      // Epoch 2 is not the newest: revoking it takes 3 along (3 builds on 2).
      await expect(f.rewards.revokeRoot(2n)).to.emit(f.rewards, "RootRevoked").withArgs(2n, 3n, f.deployer.address);
      expect(await f.rewards.lastEpoch()).to.equal(1n);
      expect((await f.rewards.getEpochRoot(1n)).revoked).to.equal(false);
      expect((await f.rewards.getEpochRoot(2n)).revoked).to.equal(true);
      expect((await f.rewards.getEpochRoot(3n)).revoked).to.equal(true);
      await expect(f.rewards.revokeRoot(3n)).to.be.revertedWithCustomError(f.rewards, "RootNotPending").withArgs(3n);
      await networkHelpers.time.increase(2n * BigInt(testParameters.claimDelaySeconds));
      for (const epoch of [2n, 3n]) {
        await expect(f.rewards.claim(epoch, claimOf(trees[Number(epoch) - 1]!, f.alice.address)))
          .to.be.revertedWithCustomError(f.rewards, "RootIsRevoked")
          .withArgs(epoch);
      }
      await expect(f.rewards.proposeRoot(3n, hashOf("r"), 0n, hashOf("c"), "u", 1n))
        .to.be.revertedWithCustomError(f.rewards, "EpochOutOfOrder")
        .withArgs(3n, 2n);
    });

    it("test_revokeRoot_winsTheRaceWithAnAttestorProposingEveryBlock", async () => {
      const f = await networkHelpers.loadFixture(fundedPool);
      const { rewards, governance, carol, deployer, alice } = f;
      // A rogue attestor (carol) proposes a root paying her everything, then a new epoch every block, hoping to
      // shield the old ones from the guardian (the deployer), which revokes in the same blocks.
      await rewards.connect(governance).setAttestor(carol.address);
      const rogue = distribution([[carol.address, FUNDED]]);
      const proposeNext = async () => {
        const epoch = (await rewards.lastEpoch()) + 1n;
        await rewards.connect(carol).proposeRoot(epoch, rogue.root, FUNDED, hashOf(`rogue-${epoch}`), "u", 1n);
        return epoch;
      };
      await proposeNext();
      await ethers.provider.send("evm_setAutomine", [false]);
      try {
        for (let block = 0; block < 6; block++) {
          // One block: the attestor proposes the next epoch first, then the guardian revokes epoch 1, pending under
          // it (before the fix this reverted NotLatestEpoch, so epoch 1 paid out after its delay).
          const shielding = (await rewards.lastEpoch()) + 1n;
          const pendingBefore = shielding > 1n;
          await carol.sendTransaction({
            ...(await rewards.proposeRoot.populateTransaction(
              shielding,
              rogue.root,
              FUNDED,
              hashOf(`r${block}`),
              "u",
              1n,
            )),
            gasLimit: 500_000n,
          });
          if (pendingBefore) {
            await deployer.sendTransaction({
              ...(await rewards.revokeRoot.populateTransaction(1n)),
              gasLimit: 500_000n,
            });
          }
          await networkHelpers.mine(1);
          if (pendingBefore) expect(await rewards.lastEpoch()).to.equal(0n);
        }
      } finally {
        await ethers.provider.send("evm_setAutomine", [true]);
      }
      const last = await proposeNext();
      await rewards.revokeRoot(1n);
      expect(await rewards.lastEpoch()).to.equal(0n);
      for (let e = 1n; e <= last; e++) expect((await rewards.getEpochRoot(e)).revoked).to.equal(true);
      // Long after every delay, nothing the rogue attestor proposed pays anything.
      await networkHelpers.time.increase(30 * DAY);
      for (let e = 1n; e <= last; e++) {
        await expect(rewards.claim(e, claimOf(rogue, carol.address)))
          .to.be.revertedWithCustomError(rewards, "RootIsRevoked")
          .withArgs(e);
      }
      expect(await rewards.totalClaimed()).to.equal(0n);
      // Governance restores an honest attestor, whose epoch 1 pays as proposed.
      await rewards.connect(governance).setAttestor(deployer.address);
      const honest = distribution([[alice.address, 7n]]);
      await networkHelpers.time.increaseTo(await propose(f, 1n, honest, 7n));
      await rewards.claim(1n, claimOf(honest, alice.address));
      expect(await rewards.totalClaimed()).to.equal(7n);
    });

    it("test_setClaimDelay_loweredNeverMakesALaterEpochClaimableFirst", async () => {
      const f = await networkHelpers.loadFixture(fundedPool);
      const { rewards, governance, alice } = f;
      await rewards.connect(governance).setClaimDelay(10 * DAY);
      const first = await propose(f, 1n, distribution([[alice.address, 10n]]), 10n);
      await rewards.connect(governance).setClaimDelay(60);
      const second = await propose(f, 2n, distribution([[alice.address, 20n]]), 20n);
      // Epoch 2 waits for epoch 1: while 1 can still be revoked, so can 2.
      expect(second).to.equal(first);
      await networkHelpers.time.setNextBlockTimestamp(first - 1n);
      await expect(rewards.revokeRoot(1n)).to.emit(rewards, "RootRevoked").withArgs(1n, 2n, f.deployer.address);
      // A later epoch under the low delay becomes claimable 60 s after its proposal, once nothing pends before it.
      const again = await propose(f, 1n, distribution([[alice.address, 10n]]), 10n);
      expect(again).to.equal(BigInt(await networkHelpers.time.latest()) + 60n);
    });
  });

  describe("claim", () => {
    async function twoEpochs() {
      const f = await networkHelpers.loadFixture(fundedPool);
      const { alice, bob, carol } = f;
      // Indices: alice 0, bob 1, carol 2 in both epochs.
      const first = distribution([
        [alice.address, 100n],
        [bob.address, 201n],
        [carol.address, 7n],
      ]);
      const second = distribution([
        [alice.address, 250n],
        [bob.address, 201n],
        [carol.address, 1_000n],
      ]);
      const at1 = await propose(f, 1n, first, 308n);
      const at2 = await propose(f, 2n, second, 1_451n);
      return { ...f, first, second, at1, at2 };
    }

    it("test_claim_revertsBeforeDelay", async () => {
      const f = await twoEpochs();
      await networkHelpers.time.setNextBlockTimestamp(f.at1 - 1n);
      await expect(f.rewards.claim(1n, claimOf(f.first, f.alice.address)))
        .to.be.revertedWithCustomError(f.rewards, "RootNotClaimable")
        .withArgs(1n, f.at1);
    });

    it("test_claim_paysAfterDelay", async () => {
      const f = await twoEpochs();
      const { rewards, token, alice } = f;
      await networkHelpers.time.setNextBlockTimestamp(f.at1);
      const before = await token.balanceOf(alice.address);
      expect(await rewards.lastClaimedEpoch(0n)).to.equal(0n);
      await expect(rewards.connect(alice).claim(1n, claimOf(f.first, alice.address)))
        .to.emit(rewards, "Claimed")
        .withArgs(1n, alice.address, 0n, 100n, 100n);
      expect(await token.balanceOf(alice.address)).to.equal(before + 100n);
      expect(await rewards.lastClaimedEpoch(0n)).to.equal(1n);
      expect(await rewards.lastClaimedEpoch(1n)).to.equal(0n);
      expect(await rewards.totalClaimed()).to.equal(100n);
      expect(await token.balanceOf(await rewards.getAddress())).to.equal(FUNDED - 100n);
    });

    it("test_claim_cumulativeAcrossEpochsPaysDifference", async () => {
      const f = await twoEpochs();
      const { rewards, token, alice } = f;
      await networkHelpers.time.increaseTo(f.at2);
      await rewards.claim(1n, claimOf(f.first, alice.address));
      const before = await token.balanceOf(alice.address);
      // The repeat claim proves alice's epoch-1 leaf (100) and is paid the difference.
      await expect(rewards.claim(2n, claimOf(f.second, alice.address, f.first)))
        .to.emit(rewards, "Claimed")
        .withArgs(2n, alice.address, 0n, 150n, 250n);
      expect(await token.balanceOf(alice.address)).to.equal(before + 150n);
      expect(await rewards.lastClaimedEpoch(0n)).to.equal(2n);
      expect(await rewards.totalClaimed()).to.equal(250n);
    });

    it("test_claim_olderEpochAfterNewerReverts", async () => {
      const f = await twoEpochs();
      const { rewards, alice } = f;
      await networkHelpers.time.increaseTo(f.at2);
      await rewards.claim(2n, claimOf(f.second, alice.address));
      // Going back to the older epoch pays nothing: the index already claimed against epoch 2.
      await expect(rewards.claim(1n, claimOf(f.first, alice.address)))
        .to.be.revertedWithCustomError(rewards, "AlreadyClaimed")
        .withArgs(0n, 1n, 2n);
      await expect(rewards.claim(1n, claimOf(f.first, alice.address, f.second)))
        .to.be.revertedWithCustomError(rewards, "AlreadyClaimed")
        .withArgs(0n, 1n, 2n);
      expect(await rewards.lastClaimedEpoch(0n)).to.equal(2n);
      expect(await rewards.totalClaimed()).to.equal(250n);
    });

    it("test_claim_revertsOnWrongPreviousProof", async () => {
      const f = await twoEpochs();
      const { rewards, alice, bob } = f;
      await networkHelpers.time.increaseTo(f.at2);
      await rewards.claim(1n, claimOf(f.first, alice.address));
      const good = claimOf(f.second, alice.address, f.first);
      // A smaller previous amount (which would pay more), no previous proof, the proof of the epoch-2 leaf, another
      // index's previous leaf: all fail against root 1.
      await expect(rewards.claim(2n, { ...good, previousAmount: 99n }))
        .to.be.revertedWithCustomError(rewards, "InvalidPreviousProof")
        .withArgs(1n, 0n, alice.address, 99n);
      await expect(rewards.claim(2n, { ...good, previousAmount: 0n, previousProof: [] }))
        .to.be.revertedWithCustomError(rewards, "InvalidPreviousProof")
        .withArgs(1n, 0n, alice.address, 0n);
      await expect(rewards.claim(2n, { ...good, previousAmount: 250n, previousProof: good.proof }))
        .to.be.revertedWithCustomError(rewards, "InvalidPreviousProof")
        .withArgs(1n, 0n, alice.address, 250n);
      const bobs = leafOf(f.first, bob.address);
      await expect(rewards.claim(2n, { ...good, previousAmount: bobs.amount, previousProof: bobs.proof }))
        .to.be.revertedWithCustomError(rewards, "InvalidPreviousProof")
        .withArgs(1n, 0n, alice.address, bobs.amount);
      expect(await rewards.lastClaimedEpoch(0n)).to.equal(1n);
      await rewards.claim(2n, good);
    });

    it("test_claim_firstClaimIgnoresPreviousFields", async () => {
      const f = await twoEpochs();
      await networkHelpers.time.increaseTo(f.at2);
      // Nothing claimed yet: the previous amount is 0 whatever the caller says.
      const c = { ...claimOf(f.second, f.carol.address), previousAmount: 999n, previousProof: [hashOf("x")] };
      await expect(f.rewards.claim(2n, c))
        .to.emit(f.rewards, "Claimed")
        .withArgs(2n, f.carol.address, 2n, 1_000n, 1_000n);
    });

    it("test_claim_skippingAnEpochPaysTheWholeCumulativeAmount", async () => {
      const f = await twoEpochs();
      await networkHelpers.time.increaseTo(f.at2);
      await expect(f.rewards.claim(2n, claimOf(f.second, f.carol.address)))
        .to.emit(f.rewards, "Claimed")
        .withArgs(2n, f.carol.address, 2n, 1_000n, 1_000n);
    });

    it("test_claim_onBehalfPaysTheAccount", async () => {
      const f = await twoEpochs();
      const { rewards, token, bob, stranger } = f;
      await networkHelpers.time.increaseTo(f.at1);
      const bobBefore = await token.balanceOf(bob.address);
      const strangerBefore = await token.balanceOf(stranger.address);
      await expect(rewards.connect(stranger).claim(1n, claimOf(f.first, bob.address)))
        .to.emit(rewards, "Claimed")
        .withArgs(1n, bob.address, 1n, 201n, 201n);
      expect(await token.balanceOf(bob.address)).to.equal(bobBefore + 201n);
      expect(await token.balanceOf(stranger.address)).to.equal(strangerBefore);
    });

    it("test_claim_revertsOnInvalidProof", async () => {
      const f = await twoEpochs();
      const { rewards, alice, bob } = f;
      await networkHelpers.time.increaseTo(f.at2);
      const c = claimOf(f.first, alice.address);
      // A larger amount, another account, another index, another epoch's root: all fail the proof.
      await expect(rewards.claim(1n, { ...c, cumulativeAmount: 101n }))
        .to.be.revertedWithCustomError(rewards, "InvalidProof")
        .withArgs(1n, 0n, alice.address, 101n);
      await expect(rewards.claim(1n, { ...c, account: bob.address }))
        .to.be.revertedWithCustomError(rewards, "InvalidProof")
        .withArgs(1n, 0n, bob.address, 100n);
      await expect(rewards.claim(1n, { ...c, index: 1n }))
        .to.be.revertedWithCustomError(rewards, "InvalidProof")
        .withArgs(1n, 1n, alice.address, 100n);
      await expect(rewards.claim(2n, c))
        .to.be.revertedWithCustomError(rewards, "InvalidProof")
        .withArgs(2n, 0n, alice.address, 100n);
      await expect(rewards.claim(1n, { ...c, proof: [] }))
        .to.be.revertedWithCustomError(rewards, "InvalidProof")
        .withArgs(1n, 0n, alice.address, 100n);
    });

    it("test_claim_revertsIfNothingToClaim", async () => {
      const f = await twoEpochs();
      await networkHelpers.time.increaseTo(f.at2);
      await f.rewards.claim(1n, claimOf(f.first, f.bob.address));
      // The same epoch again.
      await expect(f.rewards.claim(1n, claimOf(f.first, f.bob.address)))
        .to.be.revertedWithCustomError(f.rewards, "AlreadyClaimed")
        .withArgs(1n, 1n, 1n);
      // Bob's amount did not grow between the epochs: epoch 2 pays nothing.
      await expect(f.rewards.claim(2n, claimOf(f.second, f.bob.address, f.first)))
        .to.be.revertedWithCustomError(f.rewards, "NothingToClaim")
        .withArgs(1n, 2n, 1n, 201n, 201n);
      expect(await f.rewards.lastClaimedEpoch(1n)).to.equal(1n);
    });

    it("test_claim_packedIndicesClaimIndependently", async () => {
      const f = await networkHelpers.loadFixture(fundedPool);
      const { rewards, token } = f;
      // Indices 8..16: the eight lanes of word 1 and the first lane of word 2.
      const accounts = Array.from({ length: 9 }, (_, i) =>
        ethers.getAddress(ethers.dataSlice(hashOf(`lane-${i}`), 12)),
      );
      const first = distribution(
        accounts.map((a, i) => [a, 10n + BigInt(i)]),
        8n,
      );
      const second = distribution(
        accounts.map((a, i) => [a, 100n + BigInt(i)]),
        8n,
      );
      await propose(f, 1n, first, 1_000n);
      const at2 = await propose(f, 2n, second, 1_000n);
      await networkHelpers.time.increaseTo(at2);
      const expected = accounts.map(() => 0n);
      const check = async () => {
        for (let i = 0; i < 9; i++) expect(await rewards.lastClaimedEpoch(8n + BigInt(i))).to.equal(expected[i]);
        expect(await rewards.lastClaimedEpoch(7n)).to.equal(0n);
        expect(await rewards.lastClaimedEpoch(17n)).to.equal(0n);
      };
      // Odd lanes claim epoch 1, in a scrambled order; then everyone claims epoch 2.
      for (const i of [5, 1, 7, 3]) {
        await rewards.claim(1n, claimOf(first, accounts[i]));
        expected[i] = 1n;
        await check();
      }
      for (const i of [8, 0, 6, 1, 4, 2, 7, 3, 5]) {
        await rewards.claim(2n, claimOf(second, accounts[i], expected[i] === 1n ? first : undefined));
        expected[i] = 2n;
        await check();
      }
      for (let i = 0; i < 9; i++) expect(await token.balanceOf(accounts[i])).to.equal(100n + BigInt(i));
      expect(await rewards.totalClaimed()).to.equal(936n);
    });

    it("test_claim_revertsOnRevokedOrUnknownEpoch", async () => {
      const f = await networkHelpers.loadFixture(fundedPool);
      const tree = distribution([[f.alice.address, 10n]]);
      await propose(f, 1n, tree, 10n);
      await f.rewards.revokeRoot(1n);
      await networkHelpers.time.increase(CLAIM_DELAY + 1n);
      const c = claimOf(tree, f.alice.address);
      await expect(f.rewards.claim(1n, c)).to.be.revertedWithCustomError(f.rewards, "RootIsRevoked").withArgs(1n);
      await expect(f.rewards.claim(2n, c)).to.be.revertedWithCustomError(f.rewards, "EpochNotFound").withArgs(2n);
      await expect(f.rewards.claimBatch(1n, [c]))
        .to.be.revertedWithCustomError(f.rewards, "RootIsRevoked")
        .withArgs(1n);
    });

    it("test_claimBatch_paysEveryAccount", async () => {
      const f = await twoEpochs();
      const { rewards, token, alice, bob, carol, stranger } = f;
      await networkHelpers.time.increaseTo(f.at2);
      await rewards.claim(1n, claimOf(f.first, alice.address));
      const accounts = [alice.address, bob.address, carol.address];
      const before = await Promise.all(accounts.map((a) => token.balanceOf(a)));
      // Alice repeats (with her epoch-1 proof), bob and carol claim for the first time.
      const tx = rewards
        .connect(stranger)
        .claimBatch(2n, [
          claimOf(f.second, alice.address, f.first),
          claimOf(f.second, bob.address),
          claimOf(f.second, carol.address),
        ]);
      await expect(tx).to.emit(rewards, "Claimed").withArgs(2n, alice.address, 0n, 150n, 250n);
      await expect(tx).to.emit(rewards, "Claimed").withArgs(2n, bob.address, 1n, 201n, 201n);
      await expect(tx).to.emit(rewards, "Claimed").withArgs(2n, carol.address, 2n, 1_000n, 1_000n);
      const after = await Promise.all(accounts.map((a) => token.balanceOf(a)));
      expect(after.map((b, i) => b - before[i])).to.deep.equal([150n, 201n, 1_000n]);
      for (const index of [0n, 1n, 2n]) expect(await rewards.lastClaimedEpoch(index)).to.equal(2n);
      expect(await rewards.totalClaimed()).to.equal(1_451n);
      expect(await token.balanceOf(await rewards.getAddress())).to.equal(FUNDED - 1_451n);
    });

    it("test_claimBatch_revertsOnDuplicateOrAnyBadEntry", async () => {
      const f = await twoEpochs();
      const { rewards, alice, bob } = f;
      await networkHelpers.time.increaseTo(f.at1);
      const a = claimOf(f.first, alice.address);
      const b = claimOf(f.first, bob.address);
      // The same index twice: the second entry finds it already claimed, and the whole batch reverts.
      await expect(rewards.claimBatch(1n, [a, b, a]))
        .to.be.revertedWithCustomError(rewards, "AlreadyClaimed")
        .withArgs(0n, 1n, 1n);
      // One bad proof reverts the batch.
      await expect(rewards.claimBatch(1n, [a, { ...b, cumulativeAmount: 202n }]))
        .to.be.revertedWithCustomError(rewards, "InvalidProof")
        .withArgs(1n, 1n, bob.address, 202n);
      expect(await rewards.lastClaimedEpoch(0n)).to.equal(0n);
      expect(await rewards.lastClaimedEpoch(1n)).to.equal(0n);
      expect(await rewards.totalClaimed()).to.equal(0n);
      // An empty batch pays nothing.
      await rewards.claimBatch(1n, []);
      expect(await rewards.totalClaimed()).to.equal(0n);
    });

    it("test_claim_neverPaysMoreThanFunded", async () => {
      const f = await networkHelpers.loadFixture(fundedPool);
      const { rewards, token, alice, bob, carol } = f;
      // An erroneous root: its leaves sum to 1.6x FUNDED while it declares FUNDED, which passes proposeRoot.
      const big = (FUNDED * 4n) / 5n;
      const tree = distribution([
        [alice.address, big],
        [bob.address, big],
      ]);
      const claimableAt = await propose(f, 1n, tree, FUNDED);
      await networkHelpers.time.increaseTo(claimableAt);
      await rewards.claim(1n, claimOf(tree, alice.address));
      const b = claimOf(tree, bob.address);
      await expect(rewards.claim(1n, b))
        .to.be.revertedWithCustomError(rewards, "ClaimExceedsRootTotal")
        .withArgs(1n, 2n * big, FUNDED);
      await expect(rewards.claimBatch(1n, [b]))
        .to.be.revertedWithCustomError(rewards, "ClaimExceedsRootTotal")
        .withArgs(1n, 2n * big, FUNDED);
      expect(await rewards.lastClaimedEpoch(1n)).to.equal(0n);
      expect(await token.balanceOf(await rewards.getAddress())).to.equal(FUNDED - big);
      // The pool stays solvent: what it holds is exactly funded minus claimed.
      expect(await rewards.totalFunded()).to.equal(FUNDED);
      expect(await rewards.totalClaimed()).to.equal(big);
      // Later funding (meant for later epochs) does not let the over-allocated leaf through: the root's own
      // declared total bounds what it can pay.
      await token.connect(carol).approve(await rewards.getAddress(), FUNDED);
      await rewards.connect(carol).fund(FUNDED);
      await expect(rewards.claim(1n, b))
        .to.be.revertedWithCustomError(rewards, "ClaimExceedsRootTotal")
        .withArgs(1n, 2n * big, FUNDED);
      expect(await rewards.totalClaimed()).to.equal(big);
    });
  });

  describe("governance setters", () => {
    it("test_setters_updateAndEmit", async () => {
      const { rewards, alice, curator, governance } = await networkHelpers.loadFixture(fundedPool);
      await expect(rewards.connect(governance).setAttestor(alice.address))
        .to.emit(rewards, "AttestorSet")
        .withArgs(alice.address);
      expect(await rewards.attestor()).to.equal(alice.address);
      await expect(rewards.proposeRoot(1n, hashOf("r"), 0n, hashOf("c"), "u", 1n))
        .to.be.revertedWithCustomError(rewards, "NotAttestor")
        .withArgs((await ethers.getSigners())[0].address);
      await rewards.connect(alice).proposeRoot(1n, hashOf("r"), 0n, hashOf("c"), "u", 1n);
      const t1 = BigInt(await networkHelpers.time.latest());
      await expect(rewards.connect(governance).setGuardian(curator.address))
        .to.emit(rewards, "GuardianSet")
        .withArgs(curator.address);
      expect(await rewards.guardian()).to.equal(curator.address);
      await expect(rewards.connect(governance).setClaimDelay(30 * DAY))
        .to.emit(rewards, "ClaimDelaySet")
        .withArgs(BigInt(30 * DAY));
      await rewards.connect(alice).proposeRoot(2n, hashOf("r2"), 0n, hashOf("c"), "u", 1n);
      const t = BigInt(await networkHelpers.time.latest());
      expect((await rewards.getEpochRoot(2n)).claimableAt).to.equal(t + BigInt(30 * DAY));
      // The earlier root keeps the delay it was proposed with.
      expect((await rewards.getEpochRoot(1n)).claimableAt).to.equal(t1 + CLAIM_DELAY);
    });

    it("test_setters_revertOnBadInputOrNonGovernance", async () => {
      const { rewards, deployer, governance } = await networkHelpers.loadFixture(fundedPool);
      await expect(rewards.connect(governance).setClaimDelay(30 * DAY + 1))
        .to.be.revertedWithCustomError(rewards, "ClaimDelayTooLong")
        .withArgs(BigInt(30 * DAY + 1), BigInt(30 * DAY));
      await expect(rewards.connect(governance).setAttestor(ethers.ZeroAddress)).to.be.revertedWithCustomError(
        rewards,
        "ZeroAddress",
      );
      await expect(rewards.connect(governance).setGuardian(ethers.ZeroAddress)).to.be.revertedWithCustomError(
        rewards,
        "ZeroAddress",
      );
      for (const call of [
        rewards.connect(deployer).setAttestor(deployer.address),
        rewards.connect(deployer).setGuardian(deployer.address),
        rewards.connect(deployer).setClaimDelay(0),
      ]) {
        await expect(call)
          .to.be.revertedWithCustomError(rewards, "OwnableUnauthorizedAccount")
          .withArgs(deployer.address);
      }
      expect(await rewards.claimDelay()).to.equal(CLAIM_DELAY);
    });
  });

  describe("attribution policy", () => {
    it("test_constructor_schedulesTheInitialPolicyFromEpochOne", async () => {
      const { rewards } = await networkHelpers.loadFixture(fundedPool);
      expect(await rewards.attributionPolicyCount()).to.equal(1n);
      expect(await scheduleOf(rewards)).to.deep.equal([[1n, 1n]]);
      expect((await rewards.getAttributionPolicy(1n)).toObject(true)).to.deep.equal(decoded(INITIAL_POLICY));
      expect(await rewards.attributionPolicyForEpoch(0n)).to.equal(0n);
      for (const epoch of [1n, 2n, 1_000n]) expect(await rewards.attributionPolicyForEpoch(epoch)).to.equal(1n);
      const [set] = await rewards.queryFilter(rewards.filters.AttributionPolicySet(), 0);
      expect([set!.args.policyId, set!.args.fromEpoch]).to.deep.equal([1n, 1n]);
      expect(set!.args.policy.toObject(true)).to.deep.equal(decoded(INITIAL_POLICY));
    });

    it("test_setAttributionPolicy_takesEffectFromEpochAfterNext", async () => {
      const f = await networkHelpers.loadFixture(fundedPool);
      const { rewards, governance } = f;
      await propose(f, 1n, distribution([[f.alice.address, 10n]]), 10n);
      // Epoch 2 is collecting usage now: served under policy 1, it keeps it. Epoch 3 is the first under the new one.
      const policy = policyOf("spec-v2");
      expect(await rewards.connect(governance).setAttributionPolicy.staticCall(policy)).to.deep.equal([2n, 3n]);
      const tx = rewards.connect(governance).setAttributionPolicy(policy);
      await expect(tx).to.emit(rewards, "AttributionPolicySet");
      const [, set] = await rewards.queryFilter(rewards.filters.AttributionPolicySet(), 0);
      expect([set!.args.policyId, set!.args.fromEpoch]).to.deep.equal([2n, 3n]);
      expect(set!.args.policy.toObject(true)).to.deep.equal(decoded(policy));
      expect(await rewards.attributionPolicyCount()).to.equal(2n);
      expect(await scheduleOf(rewards)).to.deep.equal([
        [1n, 1n],
        [2n, 3n],
      ]);
      expect((await rewards.getAttributionPolicy(2n)).toObject(true)).to.deep.equal(decoded(policy));
      const policies = await Promise.all([1n, 2n, 3n, 4n].map((e) => rewards.attributionPolicyForEpoch(e)));
      expect(policies).to.deep.equal([1n, 1n, 2n, 2n]);

      await expect(rewards.proposeRoot(2n, hashOf("r2"), 10n, hashOf("c2"), "u", 2n))
        .to.be.revertedWithCustomError(rewards, "WrongAttributionPolicy")
        .withArgs(2n, 2n, 1n);
      await rewards.proposeRoot(2n, hashOf("r2"), 10n, hashOf("c2"), "u", 1n);
      await expect(rewards.proposeRoot(3n, hashOf("r3"), 10n, hashOf("c3"), "u", 1n))
        .to.be.revertedWithCustomError(rewards, "WrongAttributionPolicy")
        .withArgs(3n, 1n, 2n);
      const proposed = rewards.proposeRoot(3n, hashOf("r3"), 10n, hashOf("c3"), "u", 2n);
      await proposed;
      const { claimableAt } = await rewards.getEpochRoot(3n);
      await expect(proposed)
        .to.emit(rewards, "RootProposed")
        .withArgs(3n, hashOf("r3"), 10n, hashOf("c3"), "u", claimableAt, 2n);
      expect((await rewards.getEpochRoot(2n)).policyId).to.equal(1n);
      expect((await rewards.getEpochRoot(3n)).policyId).to.equal(2n);
    });

    it("test_setAttributionPolicy_beforeTheFirstEpochGovernsFromEpochTwo", async () => {
      const { rewards, governance } = await networkHelpers.loadFixture(fundedPool);
      expect(await rewards.connect(governance).setAttributionPolicy.staticCall(policyOf("spec-v2"))).to.deep.equal([
        2n,
        2n,
      ]);
      await rewards.connect(governance).setAttributionPolicy(policyOf("spec-v2"));
      expect(await rewards.attributionPolicyForEpoch(1n)).to.equal(1n);
      expect(await rewards.attributionPolicyForEpoch(2n)).to.equal(2n);
    });

    it("test_proposeRoot_revertsIfWrongPolicy", async () => {
      const { rewards, governance } = await networkHelpers.loadFixture(fundedPool);
      for (const named of [0n, 2n, 2n ** 32n + 1n]) {
        await expect(rewards.proposeRoot(1n, hashOf("r"), 0n, hashOf("c"), "u", named))
          .to.be.revertedWithCustomError(rewards, "WrongAttributionPolicy")
          .withArgs(1n, named, 1n);
      }
      // A policy that exists but governs later epochs only.
      await rewards.connect(governance).setAttributionPolicy(policyOf("spec-v2"));
      await expect(rewards.proposeRoot(1n, hashOf("r"), 0n, hashOf("c"), "u", 2n))
        .to.be.revertedWithCustomError(rewards, "WrongAttributionPolicy")
        .withArgs(1n, 2n, 1n);
      // The epoch is checked first: an out-of-order epoch is refused as such, whatever policy it names.
      await expect(rewards.proposeRoot(2n, hashOf("r"), 0n, hashOf("c"), "u", 2n))
        .to.be.revertedWithCustomError(rewards, "EpochOutOfOrder")
        .withArgs(2n, 1n);
    });

    it("test_setAttributionPolicy_supersedesPending", async () => {
      const f = await networkHelpers.loadFixture(fundedPool);
      const { rewards, governance } = f;
      await rewards.connect(governance).setAttributionPolicy(policyOf("spec-v2"));
      // Before epoch 2 begins, governance changes its mind: policy 3 replaces policy 2 from epoch 2.
      await rewards.connect(governance).setAttributionPolicy(policyOf("spec-v3", { rarityExponent: 2 }));
      expect(await scheduleOf(rewards)).to.deep.equal([
        [1n, 1n],
        [3n, 2n],
      ]);
      expect(await rewards.attributionPolicyCount()).to.equal(3n);
      // The superseded policy stays readable by id.
      expect((await rewards.getAttributionPolicy(2n)).toObject(true)).to.deep.equal(decoded(policyOf("spec-v2")));
      expect(await rewards.attributionPolicyForEpoch(2n)).to.equal(3n);

      await propose(f, 1n, distribution([[f.alice.address, 10n]]), 10n);
      // Set now, policy 4 starts at epoch 3 and leaves policy 3 epoch 2.
      await rewards.connect(governance).setAttributionPolicy(policyOf("spec-v4"));
      expect(await scheduleOf(rewards)).to.deep.equal([
        [1n, 1n],
        [3n, 2n],
        [4n, 3n],
      ]);
      await expect(rewards.proposeRoot(2n, hashOf("r2"), 10n, hashOf("c"), "u", 2n))
        .to.be.revertedWithCustomError(rewards, "WrongAttributionPolicy")
        .withArgs(2n, 2n, 3n);
      await rewards.proposeRoot(2n, hashOf("r2"), 10n, hashOf("c"), "u", 3n);
      await rewards.proposeRoot(3n, hashOf("r3"), 10n, hashOf("c"), "u", 4n);
    });

    it("test_setAttributionPolicy_afterARevocationStartsAfterTheNewLastEpoch", async () => {
      const f = await networkHelpers.loadFixture(fundedPool);
      const { rewards, governance } = f;
      for (const epoch of [1n, 2n, 3n]) await propose(f, epoch, distribution([[f.alice.address, 10n * epoch]]), 30n);
      await rewards.connect(governance).setAttributionPolicy(policyOf("spec-v2"));
      expect(await rewards.attributionPolicyForEpoch(5n)).to.equal(2n);
      await rewards.revokeRoot(2n);
      // lastEpoch is 1 again: a policy set now governs from epoch 3, superseding policy 2 (from epoch 5).
      expect(await rewards.connect(governance).setAttributionPolicy.staticCall(policyOf("spec-v3"))).to.deep.equal([
        3n,
        3n,
      ]);
      await rewards.connect(governance).setAttributionPolicy(policyOf("spec-v3"));
      expect(await scheduleOf(rewards)).to.deep.equal([
        [1n, 1n],
        [3n, 3n],
      ]);
      // Epoch 1 keeps the policy its root named; the revoked epoch 2 is proposed again under policy 1.
      expect((await rewards.getEpochRoot(1n)).policyId).to.equal(1n);
      await rewards.proposeRoot(2n, hashOf("r2"), 30n, hashOf("c"), "u", 1n);
      await rewards.proposeRoot(3n, hashOf("r3"), 30n, hashOf("c"), "u", 3n);
    });

    it("test_setAttributionPolicy_revertsIfNotOwner", async () => {
      const { rewards, deployer, alice } = await networkHelpers.loadFixture(fundedPool);
      // Neither the attestor and guardian (the deployer) nor anyone else.
      for (const caller of [deployer, alice]) {
        await expect(rewards.connect(caller).setAttributionPolicy(policyOf("spec-v2")))
          .to.be.revertedWithCustomError(rewards, "OwnableUnauthorizedAccount")
          .withArgs(caller.address);
      }
      expect(await rewards.attributionPolicyCount()).to.equal(1n);
    });

    it("test_setAttributionPolicy_revertsIfInvalid", async () => {
      const { rewards, governance } = await networkHelpers.loadFixture(fundedPool);
      const valid = policyOf("spec-v2");
      const invalid: [Policy, string][] = [
        [{ ...valid, algorithm: "" }, "algorithm is empty"],
        [{ ...valid, version: 0 }, "version is 0"],
        [policyOf("s", { matchWeightBps: 10_001 }), "matchWeightBps exceeds 10000"],
        [policyOf("s", { duplicateCoverageBps: 0 }), "duplicateCoverageBps not in 1..10000"],
        [policyOf("s", { duplicateCoverageBps: 10_001 }), "duplicateCoverageBps not in 1..10000"],
        [policyOf("s", { minSpanTokens: 0 }), "minSpanTokens is 0"],
        [policyOf("s", { maxSpanOccurrences: 0 }), "maxSpanOccurrences is 0"],
        [policyOf("s", { duplicateShingleTokens: 0 }), "duplicateShingleTokens is 0"],
        [policyOf("s", { duplicateSampling: 0 }), "duplicateSampling is 0"],
        [{ ...valid, version: 1 }, "rarityExponent must be 0 under version 1"],
        [{ ...valid, specHash: ethers.ZeroHash }, "specHash is 0"],
      ];
      for (const [policy, reason] of invalid) {
        await expect(rewards.connect(governance).setAttributionPolicy(policy))
          .to.be.revertedWithCustomError(rewards, "InvalidAttributionPolicy")
          .withArgs(reason);
      }
      // The bounds themselves are accepted: 0 and 10,000 bps of match weight, full coverage, version 1 without
      // exponent, any later version.
      for (const policy of [
        policyOf("a", { matchWeightBps: 0, duplicateCoverageBps: 10_000 }),
        policyOf("b", { matchWeightBps: 10_000, duplicateCoverageBps: 1 }),
        { ...policyOf("c"), version: 1, params: { ...INITIAL_POLICY.params } },
        { ...policyOf("d"), version: 7 },
      ]) {
        await rewards.connect(governance).setAttributionPolicy(policy);
      }
      expect(await rewards.attributionPolicyCount()).to.equal(5n);
    });

    it("test_constructor_revertsIfInvalidPolicy", async () => {
      const { token, governance, deployer } = await networkHelpers.loadFixture(fundedPool);
      const factory = await ethers.getContractFactory("AttributionRewards");
      const args = [await token.getAddress(), governance.address, deployer.address, deployer.address, 0n] as const;
      await expect(factory.deploy(...args, { ...INITIAL_POLICY, specHash: ethers.ZeroHash }))
        .to.be.revertedWithCustomError(factory, "InvalidAttributionPolicy")
        .withArgs("specHash is 0");
    });

    it("test_getAttributionPolicy_revertsIfNotFound", async () => {
      const { rewards } = await networkHelpers.loadFixture(fundedPool);
      for (const policyId of [0n, 2n]) {
        await expect(rewards.getAttributionPolicy(policyId))
          .to.be.revertedWithCustomError(rewards, "AttributionPolicyNotFound")
          .withArgs(policyId);
      }
    });
  });
});
