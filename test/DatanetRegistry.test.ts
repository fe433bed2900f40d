import { expect } from "chai";
import {
  commitTo,
  connectSuite,
  contribute,
  datanetVersionTree,
  DAY,
  hashOf,
  OPEN,
  testParameters,
  type DatanetLeaf,
} from "./helpers/fixtures.ts";

const { ethers, networkHelpers, deploySuite } = await connectSuite();

const MIN_STAKE = 10n * OPEN;

async function suiteWithDatanets() {
  const suite = await deploySuite();
  const { datanets, token, alice, bob, curator } = suite;
  // Datanet 1: curated, owned by alice, curator `curator`, slashes to the default treasury (alice).
  await datanets.connect(alice).createDatanet({
    metadataURI: "ipfs://datanet-1",
    license: "CC-BY-4.0",
    curated: true,
    minStake: MIN_STAKE,
    treasury: ethers.ZeroAddress,
    curators: [curator.address],
  });
  // Datanet 2: open, owned by bob, no stake needed.
  await datanets.connect(bob).createDatanet({
    metadataURI: "ipfs://datanet-2",
    license: "MIT",
    curated: false,
    minStake: 0n,
    treasury: ethers.ZeroAddress,
    curators: [],
  });
  const registry = await datanets.getAddress();
  for (const signer of [alice, bob, suite.carol, curator]) {
    await token.connect(signer).approve(registry, ethers.MaxUint256);
  }
  return suite;
}

describe("DatanetRegistry", () => {
  describe("createDatanet", () => {
    it("test_createDatanet_storesAndEmits", async () => {
      const { datanets, alice, curator } = await networkHelpers.loadFixture(suiteWithDatanets);
      const datanet = await datanets.getDatanet(1);
      expect(datanet.owner).to.equal(alice.address);
      expect(datanet.treasury).to.equal(alice.address);
      expect(datanet.curated).to.equal(true);
      expect(datanet.minStake).to.equal(MIN_STAKE);
      expect(datanet.metadataURI).to.equal("ipfs://datanet-1");
      expect(datanet.license).to.equal("CC-BY-4.0");
      expect(await datanets.isCurator(1, curator.address)).to.equal(true);
      expect(await datanets.datanetCount()).to.equal(2n);
      await expect(
        datanets.connect(alice).createDatanet({
          metadataURI: "ipfs://3",
          license: "",
          curated: false,
          minStake: 1n,
          treasury: curator.address,
          curators: [],
        }),
      )
        .to.emit(datanets, "DatanetCreated")
        .withArgs(3n, alice.address, curator.address, false, 1n, "ipfs://3", "");
    });

    it("test_createDatanet_revertsIfEmptyURI", async () => {
      const { datanets, alice } = await networkHelpers.loadFixture(suiteWithDatanets);
      const params = {
        metadataURI: "",
        license: "",
        curated: false,
        minStake: 0n,
        treasury: ethers.ZeroAddress,
        curators: [],
      };
      await expect(datanets.connect(alice).createDatanet(params)).to.be.revertedWithCustomError(datanets, "EmptyURI");
      expect(await datanets.datanetCount()).to.equal(2n);
    });

    it("test_createDatanet_revertsIfZeroCurator", async () => {
      const { datanets, alice } = await networkHelpers.loadFixture(suiteWithDatanets);
      const params = {
        metadataURI: "ipfs://x",
        license: "",
        curated: true,
        minStake: 0n,
        treasury: ethers.ZeroAddress,
        curators: [ethers.ZeroAddress],
      };
      await expect(datanets.connect(alice).createDatanet(params)).to.be.revertedWithCustomError(
        datanets,
        "ZeroAddress",
      );
    });

    it("test_constructor_revertsIfZeroTokenOrLockTooLong", async () => {
      const { token, deployer } = await networkHelpers.loadFixture(suiteWithDatanets);
      const factory = await ethers.getContractFactory("DatanetRegistry");
      await expect(factory.deploy(ethers.ZeroAddress, deployer.address, 0)).to.be.revertedWithCustomError(
        factory,
        "ZeroAddress",
      );
      await expect(factory.deploy(await token.getAddress(), deployer.address, 366 * DAY))
        .to.be.revertedWithCustomError(factory, "StakeLockPeriodTooLong")
        .withArgs(366 * DAY, 365 * DAY);
    });
  });

  describe("owner functions", () => {
    it("test_setCurator_togglesAndRevertsIfNotOwner", async () => {
      const { datanets, alice, bob } = await networkHelpers.loadFixture(suiteWithDatanets);
      await expect(datanets.connect(alice).setCurator(1, bob.address, true))
        .to.emit(datanets, "CuratorSet")
        .withArgs(1n, bob.address, true);
      expect(await datanets.isCurator(1, bob.address)).to.equal(true);
      await expect(datanets.connect(bob).setCurator(1, bob.address, false))
        .to.be.revertedWithCustomError(datanets, "NotDatanetOwner")
        .withArgs(1n, bob.address);
      await expect(datanets.connect(alice).setCurator(9, bob.address, true))
        .to.be.revertedWithCustomError(datanets, "DatanetNotFound")
        .withArgs(9n);
    });

    it("test_setMetadataURI_updatesAndRevertsIfEmpty", async () => {
      const { datanets, alice } = await networkHelpers.loadFixture(suiteWithDatanets);
      await expect(datanets.connect(alice).setMetadataURI(1, "ipfs://new"))
        .to.emit(datanets, "DatanetMetadataUpdated")
        .withArgs(1n, "ipfs://new");
      expect((await datanets.getDatanet(1)).metadataURI).to.equal("ipfs://new");
      await expect(datanets.connect(alice).setMetadataURI(1, "")).to.be.revertedWithCustomError(datanets, "EmptyURI");
    });
  });

  describe("contribute", () => {
    it("test_contribute_curatedIsPendingAndTakesStake", async () => {
      const { datanets, token, carol } = await networkHelpers.loadFixture(suiteWithDatanets);
      const before = await token.balanceOf(carol.address);
      await expect(contribute(datanets.connect(carol), 1, hashOf("a"), "ipfs://a", 100, MIN_STAKE))
        .to.emit(datanets, "ContributionSubmitted")
        .withArgs(1n, 1n, carol.address, hashOf("a"), "ipfs://a", 100n, MIN_STAKE);
      const contribution = await datanets.getContribution(1);
      expect(contribution.status).to.equal(1n); // Pending
      expect(contribution.stake).to.equal(MIN_STAKE);
      expect(await token.balanceOf(carol.address)).to.equal(before - MIN_STAKE);
      expect(await datanets.totalPendingStake()).to.equal(MIN_STAKE);
      expect(await datanets.contributionByHash(1, hashOf("a"))).to.equal(1n);
    });

    it("test_contribute_openIsAcceptedAtTheFixedWeightWhateverTheDeclaredSize", async () => {
      const { datanets, carol } = await networkHelpers.loadFixture(suiteWithDatanets);
      const weight = await datanets.OPEN_DATANET_WEIGHT();
      await expect(contribute(datanets.connect(carol), 2, hashOf("b"), "ipfs://b", 2n ** 64n - 1n, 0))
        .to.emit(datanets, "ContributionAccepted")
        .withArgs(1n, 2n, carol.address, weight, 0n);
      const contribution = await datanets.getContribution(1);
      expect(contribution.status).to.equal(2n); // Accepted
      expect(contribution.weight).to.equal(weight);
      expect(contribution.sizeTokens).to.equal(2n ** 64n - 1n);
      expect((await datanets.getDatanet(2)).totalWeight).to.equal(weight);
    });

    it("test_contributeWithPermit_takesStakeWithoutApproval", async () => {
      const { datanets, token, stranger, deployer } = await networkHelpers.loadFixture(suiteWithDatanets);
      await token.connect(deployer).transfer(stranger.address, MIN_STAKE);
      const deadline = BigInt(await networkHelpers.time.latest()) + 3600n;
      const { chainId } = await ethers.provider.getNetwork();
      const registry = await datanets.getAddress();
      const signature = ethers.Signature.from(
        await stranger.signTypedData(
          { name: "Open", version: "1", chainId, verifyingContract: await token.getAddress() },
          {
            Permit: [
              { name: "owner", type: "address" },
              { name: "spender", type: "address" },
              { name: "value", type: "uint256" },
              { name: "nonce", type: "uint256" },
              { name: "deadline", type: "uint256" },
            ],
          },
          { owner: stranger.address, spender: registry, value: MIN_STAKE, nonce: 0n, deadline },
        ),
      );
      // Someone front-runs the permit: the contribution still goes through on the allowance it set.
      await token.permit(stranger.address, registry, MIN_STAKE, deadline, signature.v, signature.r, signature.s);
      await datanets
        .connect(stranger)
        .contributeWithPermit(
          1,
          hashOf("p"),
          "ipfs://p",
          5,
          MIN_STAKE,
          await commitTo(datanets.connect(stranger), hashOf("p")),
          deadline,
          signature.v,
          signature.r,
          signature.s,
        );
      expect(await token.balanceOf(registry)).to.equal(MIN_STAKE);
      expect((await datanets.getContribution(1)).contributor).to.equal(stranger.address);
    });

    it("test_contribute_revertsOnBadInput", async () => {
      const { datanets, carol } = await networkHelpers.loadFixture(suiteWithDatanets);
      await expect(contribute(datanets.connect(carol), 7, hashOf("a"), "ipfs://a", 1, MIN_STAKE))
        .to.be.revertedWithCustomError(datanets, "DatanetNotFound")
        .withArgs(7n);
      await expect(
        contribute(datanets.connect(carol), 1, ethers.ZeroHash, "ipfs://a", 1, MIN_STAKE),
      ).to.be.revertedWithCustomError(datanets, "EmptyContentHash");
      await expect(contribute(datanets.connect(carol), 1, hashOf("a"), "", 1, MIN_STAKE)).to.be.revertedWithCustomError(
        datanets,
        "EmptyURI",
      );
      await expect(
        contribute(datanets.connect(carol), 1, hashOf("a"), "ipfs://a", 0, MIN_STAKE),
      ).to.be.revertedWithCustomError(datanets, "ZeroSize");
      await expect(contribute(datanets.connect(carol), 1, hashOf("a"), "ipfs://a", 1, MIN_STAKE - 1n))
        .to.be.revertedWithCustomError(datanets, "StakeBelowMinimum")
        .withArgs(1n, MIN_STAKE - 1n, MIN_STAKE);
      expect(await datanets.contributionCount()).to.equal(0n);
      expect(await datanets.totalPendingStake()).to.equal(0n);
    });

    it("test_contribute_revertsIfDuplicate", async () => {
      const { datanets, carol, bob } = await networkHelpers.loadFixture(suiteWithDatanets);
      await contribute(datanets.connect(carol), 1, hashOf("a"), "ipfs://a", 1, MIN_STAKE);
      await expect(contribute(datanets.connect(bob), 1, hashOf("a"), "ipfs://copy", 1, MIN_STAKE))
        .to.be.revertedWithCustomError(datanets, "DuplicateContribution")
        .withArgs(1n, hashOf("a"), 1n);
      // The same content in another datanet is a different contribution.
      await contribute(datanets.connect(bob), 2, hashOf("a"), "ipfs://a", 1, 0);
      expect(await datanets.contributionCount()).to.equal(2n);
    });
  });

  describe("curation", () => {
    async function withPending() {
      const suite = await suiteWithDatanets();
      await contribute(suite.datanets.connect(suite.carol), 1, hashOf("a"), "ipfs://a", 100, MIN_STAKE);
      await contribute(suite.datanets.connect(suite.bob), 1, hashOf("b"), "ipfs://b", 50, 2n * MIN_STAKE);
      return suite;
    }

    it("test_accept_locksStakeAndRecordsWeight", async () => {
      const { datanets, curator } = await networkHelpers.loadFixture(withPending);
      await expect(datanets.connect(curator).accept(2, 77))
        .to.emit(datanets, "ContributionAccepted")
        .withArgs(2n, 1n, curator.address, 77n, 0n);
      expect(await datanets.totalPendingStake()).to.equal(MIN_STAKE);
      expect(await datanets.totalLockedStake()).to.equal(2n * MIN_STAKE);
      expect(await datanets.getAcceptedContributions(1, 0, 10)).to.deep.equal([2n]);
      expect((await datanets.getDatanet(1)).acceptedCount).to.equal(1n);
    });

    it("test_accept_revertsIfNotCuratorZeroWeightOrNotPending", async () => {
      const { datanets, curator, stranger } = await networkHelpers.loadFixture(withPending);
      await expect(datanets.connect(stranger).accept(1, 1))
        .to.be.revertedWithCustomError(datanets, "NotCurator")
        .withArgs(1n, stranger.address);
      await expect(datanets.connect(curator).accept(1, 0))
        .to.be.revertedWithCustomError(datanets, "ZeroWeight")
        .withArgs(1n);
      await expect(datanets.connect(curator).accept(99, 1))
        .to.be.revertedWithCustomError(datanets, "ContributionNotFound")
        .withArgs(99n);
      await datanets.connect(curator).accept(1, 1);
      await expect(datanets.connect(curator).accept(1, 1))
        .to.be.revertedWithCustomError(datanets, "ContributionNotPending")
        .withArgs(1n, 2n);
    });

    it("test_reject_slashesStakeToTreasuryAndFreesHash", async () => {
      const { datanets, token, curator, alice, bob } = await networkHelpers.loadFixture(withPending);
      const treasuryBefore = await token.balanceOf(alice.address);
      await expect(datanets.connect(curator).reject(2))
        .to.emit(datanets, "ContributionRejected")
        .withArgs(2n, 1n, curator.address, 2n * MIN_STAKE);
      expect(await token.balanceOf(alice.address)).to.equal(treasuryBefore + 2n * MIN_STAKE);
      expect(await datanets.totalPendingStake()).to.equal(MIN_STAKE);
      expect((await datanets.getContribution(2)).status).to.equal(3n); // Rejected
      // A rejected hash may be submitted again.
      await contribute(datanets.connect(bob), 1, hashOf("b"), "ipfs://b2", 50, MIN_STAKE);
      await expect(datanets.connect(bob).reject(1))
        .to.be.revertedWithCustomError(datanets, "NotCurator")
        .withArgs(1n, bob.address);
    });

    it("test_withdraw_refundsPendingStakeOnlyToContributor", async () => {
      const { datanets, token, carol, bob } = await networkHelpers.loadFixture(withPending);
      await expect(datanets.connect(bob).withdraw(1))
        .to.be.revertedWithCustomError(datanets, "NotContributor")
        .withArgs(1n, bob.address);
      const before = await token.balanceOf(carol.address);
      await expect(datanets.connect(carol).withdraw(1))
        .to.emit(datanets, "ContributionWithdrawn")
        .withArgs(1n, 1n, MIN_STAKE);
      expect(await token.balanceOf(carol.address)).to.equal(before + MIN_STAKE);
      expect((await datanets.getContribution(1)).status).to.equal(4n); // Withdrawn
      expect(await datanets.contributionByHash(1, hashOf("a"))).to.equal(0n);
    });

    it("test_releaseStake_onlyAfterLock", async () => {
      const { datanets, token, curator, carol, stranger } = await networkHelpers.loadFixture(withPending);
      await expect(datanets.releaseStake(1))
        .to.be.revertedWithCustomError(datanets, "StakeNotReleasable")
        .withArgs(1n, 1n, MIN_STAKE);
      await expect(datanets.releaseStake(42)).to.be.revertedWithCustomError(datanets, "ContributionNotFound");
      await datanets.connect(curator).accept(1, 10);
      const acceptedAt = (await datanets.getContribution(1)).acceptedAt;
      const unlockTime = acceptedAt + BigInt(testParameters.stakeLockPeriodSeconds);
      await expect(datanets.releaseStake(1))
        .to.be.revertedWithCustomError(datanets, "StakeLocked")
        .withArgs(1n, unlockTime);
      await networkHelpers.time.increaseTo(unlockTime);
      const before = await token.balanceOf(carol.address);
      // Anyone may release; the stake goes to the contributor.
      await expect(datanets.connect(stranger).releaseStake(1))
        .to.emit(datanets, "StakeReleased")
        .withArgs(1n, carol.address, MIN_STAKE);
      expect(await token.balanceOf(carol.address)).to.equal(before + MIN_STAKE);
      expect(await datanets.totalLockedStake()).to.equal(0n);
      await expect(datanets.releaseStake(1))
        .to.be.revertedWithCustomError(datanets, "StakeNotReleasable")
        .withArgs(1n, 2n, 0n);
    });
  });

  describe("publishVersion", () => {
    it("test_publishVersion_rootRebuildsFromEvents", async () => {
      const { datanets, curator, carol, bob, alice } = await networkHelpers.loadFixture(suiteWithDatanets);
      await contribute(datanets.connect(carol), 1, hashOf("a"), "ipfs://a", 100, MIN_STAKE);
      await contribute(datanets.connect(bob), 1, hashOf("b"), "ipfs://b", 50, MIN_STAKE);
      await contribute(datanets.connect(carol), 1, hashOf("c"), "ipfs://c", 70, MIN_STAKE);
      await datanets.connect(curator).accept(3, 7);
      await datanets.connect(curator).accept(1, 3);
      await datanets.connect(curator).reject(2);

      // Rebuild the leaves from events only, as any third party would.
      const submitted = await datanets.queryFilter(datanets.filters.ContributionSubmitted(undefined, 1n));
      const accepted = await datanets.queryFilter(datanets.filters.ContributionAccepted(undefined, 1n));
      const byId = new Map(submitted.map((e) => [e.args.contributionId, e.args]));
      const leaves: DatanetLeaf[] = accepted
        .sort((x, y) => Number(x.args.acceptedIndex - y.args.acceptedIndex))
        .map((e) => {
          const s = byId.get(e.args.contributionId)!;
          return [e.args.contributionId, s.contributor, s.contentHash, e.args.weight];
        });
      expect(leaves.map((l) => l[0])).to.deep.equal([3n, 1n]);
      const tree = datanetVersionTree(leaves);

      await expect(datanets.connect(alice).publishVersion(1, tree.root))
        .to.emit(datanets, "VersionPublished")
        .withArgs(1n, 1n, tree.root, 2n, 10n, alice.address);
      const version = await datanets.getVersion(1, 1);
      expect(version.root).to.equal(tree.root);
      expect(version.contributionCount).to.equal(2n);
      expect(version.totalWeight).to.equal(10n);
      expect(await datanets.isPublishedVersion(1, 1)).to.equal(true);
      expect(await datanets.isPublishedVersion(1, 2)).to.equal(false);
      expect(await datanets.isPublishedVersion(1, 0)).to.equal(false);
    });

    it("test_publishVersion_revertsOnBadInput", async () => {
      const { datanets, curator, carol, stranger, bob } = await networkHelpers.loadFixture(suiteWithDatanets);
      const root = hashOf("root");
      await expect(datanets.connect(curator).publishVersion(1, root))
        .to.be.revertedWithCustomError(datanets, "NothingToPublish")
        .withArgs(1n, 0n);
      await contribute(datanets.connect(carol), 2, hashOf("a"), "ipfs://a", 10, 0);
      await expect(datanets.connect(stranger).publishVersion(2, root))
        .to.be.revertedWithCustomError(datanets, "NotCurator")
        .withArgs(2n, stranger.address);
      await expect(datanets.connect(bob).publishVersion(2, ethers.ZeroHash)).to.be.revertedWithCustomError(
        datanets,
        "EmptyRoot",
      );
      await expect(datanets.connect(bob).publishVersion(5, root))
        .to.be.revertedWithCustomError(datanets, "DatanetNotFound")
        .withArgs(5n);
      await datanets.connect(bob).publishVersion(2, root);
      await expect(datanets.connect(bob).publishVersion(2, hashOf("other")))
        .to.be.revertedWithCustomError(datanets, "NothingToPublish")
        .withArgs(2n, 1n);
      await expect(datanets.getVersion(2, 2))
        .to.be.revertedWithCustomError(datanets, "VersionNotFound")
        .withArgs(2n, 2n);
      // Version 1 is untouched by the failed attempts.
      expect((await datanets.getVersion(2, 1)).root).to.equal(root);
    });
  });
});
