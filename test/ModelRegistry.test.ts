import { expect } from "chai";
import {
  connectSuite,
  hashOf,
  publishDatanetsAndBaseModel,
  registerAdapter,
  registerBaseModel,
  testParameters,
} from "./helpers/fixtures.ts";

const { ethers, networkHelpers, deploySuite } = await connectSuite();

const ALL_MODULES = 0x7f;

/** Two datanets with one published version each, and one base model. */
async function suiteWithVersions() {
  const suite = await deploySuite();
  const { alice, bob } = suite;
  await publishDatanetsAndBaseModel(suite, [alice, bob]);
  return suite;
}

function adapterParams(overrides: Record<string, unknown> = {}) {
  return {
    baseModelId: 1n,
    artifactHash: hashOf("adapter-1"),
    uri: "ipfs://adapter-1",
    rank: 16,
    targetModules: ALL_MODULES,
    pricePer1kTokens: 10n ** 15n,
    ownerShareBps: 7_000,
    dataShareBps: 3_000,
    lineage: [
      { datanetId: 1n, version: 1n, weightBps: 6_000 },
      { datanetId: 2n, version: 1n, weightBps: 4_000 },
    ],
    ...overrides,
  };
}

describe("ModelRegistry", () => {
  describe("base models", () => {
    it("test_registerBaseModel_storesAndEmits", async () => {
      const { models, alice } = await networkHelpers.loadFixture(suiteWithVersions);
      const base = await models.getBaseModel(1);
      expect(base.registrant).to.equal(alice.address);
      expect(base.artifactHash).to.equal(hashOf("base-weights"));
      expect(base.name).to.equal("tiny-llama");
      await expect(registerBaseModel(models, "other", hashOf("other"), "ipfs://o"))
        .to.emit(models, "BaseModelRegistered")
        .withArgs(2n, (await ethers.getSigners())[0].address, hashOf("other"), "other", "ipfs://o");
    });

    it("test_registerBaseModel_revertsOnBadInput", async () => {
      const { models } = await networkHelpers.loadFixture(suiteWithVersions);
      await expect(registerBaseModel(models, "", hashOf("x"), "ipfs://x")).to.be.revertedWithCustomError(
        models,
        "EmptyName",
      );
      await expect(registerBaseModel(models, "x", ethers.ZeroHash, "ipfs://x")).to.be.revertedWithCustomError(
        models,
        "EmptyArtifactHash",
      );
      await expect(registerBaseModel(models, "x", hashOf("x"), "")).to.be.revertedWithCustomError(models, "EmptyURI");
      await expect(registerBaseModel(models, "copy", hashOf("base-weights"), "ipfs://copy"))
        .to.be.revertedWithCustomError(models, "DuplicateBaseModel")
        .withArgs(hashOf("base-weights"), 1n);
      await expect(models.getBaseModel(9)).to.be.revertedWithCustomError(models, "BaseModelNotFound").withArgs(9n);
      expect(await models.baseModelCount()).to.equal(1n);
    });

    it("test_deprecateBaseModel_byGovernanceBlocksNewAdapters", async () => {
      const { models, timelock, alice } = await networkHelpers.loadFixture(suiteWithVersions);
      const governance = await ethers.getImpersonatedSigner(await timelock.getAddress());
      await networkHelpers.setBalance(governance.address, 10n ** 18n);
      await expect(models.connect(governance).deprecateBaseModel(1))
        .to.emit(models, "BaseModelDeprecated")
        .withArgs(1n);
      await expect(models.connect(governance).deprecateBaseModel(1))
        .to.be.revertedWithCustomError(models, "BaseModelIsDeprecated")
        .withArgs(1n);
      await expect(registerAdapter(models.connect(alice), adapterParams()))
        .to.be.revertedWithCustomError(models, "BaseModelIsDeprecated")
        .withArgs(1n);
    });
  });

  describe("registerAdapter", () => {
    it("test_registerAdapter_mintsTokenAndStoresLineage", async () => {
      const { models, carol } = await networkHelpers.loadFixture(suiteWithVersions);
      const tx = registerAdapter(models.connect(carol), adapterParams());
      await expect(tx)
        .to.emit(models, "AdapterRegistered")
        .withArgs(
          1n,
          1n,
          carol.address,
          hashOf("adapter-1"),
          "ipfs://adapter-1",
          16n,
          0x7fn,
          10n ** 15n,
          7_000n,
          3_000n,
        );
      await expect(tx).to.emit(models, "AdapterLineage").withArgs(1n, 1n, 1n, 6_000n);
      await expect(tx).to.emit(models, "AdapterLineage").withArgs(1n, 2n, 1n, 4_000n);
      expect(await models.ownerOf(1)).to.equal(carol.address);
      const adapter = await models.getAdapter(1);
      expect(adapter.rank).to.equal(16n);
      expect(adapter.dataShareBps).to.equal(3_000n);
      const lineage = await models.getLineage(1);
      expect(lineage.map((e) => [e.datanetId, e.version, e.weightBps])).to.deep.equal([
        [1n, 1n, 6_000n],
        [2n, 1n, 4_000n],
      ]);
    });

    it("test_registerAdapter_revertsOnBadTerms", async () => {
      const { models, carol } = await networkHelpers.loadFixture(suiteWithVersions);
      const register = (overrides: Record<string, unknown>) =>
        registerAdapter(models.connect(carol), adapterParams(overrides));
      await expect(register({ baseModelId: 5n }))
        .to.be.revertedWithCustomError(models, "BaseModelNotFound")
        .withArgs(5n);
      await expect(register({ artifactHash: ethers.ZeroHash })).to.be.revertedWithCustomError(
        models,
        "EmptyArtifactHash",
      );
      await expect(register({ uri: "" })).to.be.revertedWithCustomError(models, "EmptyURI");
      await expect(register({ rank: 0 }))
        .to.be.revertedWithCustomError(models, "InvalidRank")
        .withArgs(0n);
      await expect(register({ targetModules: 0 }))
        .to.be.revertedWithCustomError(models, "InvalidTargetModules")
        .withArgs(0n);
      await expect(register({ targetModules: 0x80 }))
        .to.be.revertedWithCustomError(models, "InvalidTargetModules")
        .withArgs(0x80n);
      await expect(register({ ownerShareBps: 7_000, dataShareBps: 2_000 }))
        .to.be.revertedWithCustomError(models, "SharesNotWhole")
        .withArgs(7_000n, 2_000n);
      await expect(register({ ownerShareBps: 9_500, dataShareBps: 500 }))
        .to.be.revertedWithCustomError(models, "DataShareBelowMinimum")
        .withArgs(500n, BigInt(testParameters.minDataShareBps));
      expect(await models.adapterCount()).to.equal(0n);
    });

    it("test_registerAdapter_revertsOnBadLineage", async () => {
      const { models, carol } = await networkHelpers.loadFixture(suiteWithVersions);
      const register = (lineage: { datanetId: bigint; version: bigint; weightBps: number }[]) =>
        registerAdapter(models.connect(carol), adapterParams({ lineage }));
      await expect(register([])).to.be.revertedWithCustomError(models, "LineageLength").withArgs(0n, 16n);
      const tooMany = Array.from({ length: 17 }, () => ({ datanetId: 1n, version: 1n, weightBps: 1 }));
      await expect(register(tooMany)).to.be.revertedWithCustomError(models, "LineageLength").withArgs(17n, 16n);
      await expect(register([{ datanetId: 1n, version: 2n, weightBps: 10_000 }]))
        .to.be.revertedWithCustomError(models, "LineageVersionNotPublished")
        .withArgs(1n, 2n);
      await expect(register([{ datanetId: 3n, version: 1n, weightBps: 10_000 }]))
        .to.be.revertedWithCustomError(models, "LineageVersionNotPublished")
        .withArgs(3n, 1n);
      await expect(
        register([
          { datanetId: 1n, version: 1n, weightBps: 5_000 },
          { datanetId: 1n, version: 1n, weightBps: 5_000 },
        ]),
      )
        .to.be.revertedWithCustomError(models, "LineageDuplicate")
        .withArgs(1n, 1n);
      await expect(
        register([
          { datanetId: 1n, version: 1n, weightBps: 10_000 },
          { datanetId: 2n, version: 1n, weightBps: 0 },
        ]),
      )
        .to.be.revertedWithCustomError(models, "LineageZeroWeight")
        .withArgs(2n, 1n);
      await expect(
        register([
          { datanetId: 1n, version: 1n, weightBps: 6_000 },
          { datanetId: 2n, version: 1n, weightBps: 3_999 },
        ]),
      )
        .to.be.revertedWithCustomError(models, "LineageWeightsNotWhole")
        .withArgs(9_999n);
      expect(await models.adapterCount()).to.equal(0n);
    });

    it("test_registerAdapter_revertsIfDuplicateArtifact", async () => {
      const { models, carol, bob } = await networkHelpers.loadFixture(suiteWithVersions);
      await registerAdapter(models.connect(carol), adapterParams());
      await expect(registerAdapter(models.connect(bob), adapterParams()))
        .to.be.revertedWithCustomError(models, "DuplicateAdapter")
        .withArgs(hashOf("adapter-1"), 1n);
    });
  });

  describe("owner updates", () => {
    async function withAdapter() {
      const suite = await suiteWithVersions();
      await registerAdapter(suite.models.connect(suite.carol), adapterParams());
      return suite;
    }

    it("test_setPriceAndURI_byOwnerOnly", async () => {
      const { models, carol, bob } = await networkHelpers.loadFixture(withAdapter);
      await expect(models.connect(carol).setPrice(1, 5n)).to.emit(models, "AdapterPriceSet").withArgs(1n, 5n);
      await expect(models.connect(carol).setURI(1, "ipfs://v2"))
        .to.emit(models, "AdapterURISet")
        .withArgs(1n, "ipfs://v2");
      const adapter = await models.getAdapter(1);
      expect(adapter.pricePer1kTokens).to.equal(5n);
      expect(adapter.uri).to.equal("ipfs://v2");
      await expect(models.connect(bob).setPrice(1, 1n))
        .to.be.revertedWithCustomError(models, "NotAdapterOwner")
        .withArgs(1n, bob.address);
      await expect(models.connect(carol).setURI(1, "")).to.be.revertedWithCustomError(models, "EmptyURI");
      await expect(models.connect(carol).setPrice(2, 1n))
        .to.be.revertedWithCustomError(models, "AdapterNotFound")
        .withArgs(2n);
    });

    it("test_deprecate_isFinalAndLineageNeverChanges", async () => {
      const { models, carol, bob } = await networkHelpers.loadFixture(withAdapter);
      const lineageBefore = await models.getLineage(1);
      // A transferred adapter is managed by its new owner.
      await models.connect(carol).transferFrom(carol.address, bob.address, 1);
      await expect(models.connect(bob).deprecate(1)).to.emit(models, "AdapterDeprecated").withArgs(1n);
      expect((await models.getAdapter(1)).deprecated).to.equal(true);
      await expect(models.connect(bob).deprecate(1))
        .to.be.revertedWithCustomError(models, "AdapterIsDeprecated")
        .withArgs(1n);
      await expect(models.connect(bob).setPrice(1, 1n)).to.be.revertedWithCustomError(models, "AdapterIsDeprecated");
      expect(await models.getLineage(1)).to.deep.equal(lineageBefore);
      await expect(models.getLineage(3)).to.be.revertedWithCustomError(models, "AdapterNotFound").withArgs(3n);
    });

    it("test_setMinDataShareBps_revertsIfAboveWhole", async () => {
      const { models, timelock } = await networkHelpers.loadFixture(withAdapter);
      const governance = await ethers.getImpersonatedSigner(await timelock.getAddress());
      await networkHelpers.setBalance(governance.address, 10n ** 18n);
      await expect(models.connect(governance).setMinDataShareBps(10_001))
        .to.be.revertedWithCustomError(models, "MinDataShareTooHigh")
        .withArgs(10_001n);
      await expect(models.connect(governance).setMinDataShareBps(2_000))
        .to.emit(models, "MinDataShareSet")
        .withArgs(2_000n);
      const factory = await ethers.getContractFactory("ModelRegistry");
      await expect(factory.deploy(ethers.ZeroAddress, governance.address, 0)).to.be.revertedWithCustomError(
        factory,
        "ZeroAddress",
      );
    });
  });
});
