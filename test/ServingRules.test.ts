import { expect } from "chai";
import { connectSuite, testParameters } from "./helpers/fixtures.ts";
import { governanceSigner } from "./helpers/settlement.ts";

const { ethers, networkHelpers, deploySuite } = await connectSuite();

type Rules = {
  maxOutputTokens: number;
  receiptSchemaVersion: number;
  minEngineProtocolVersion: number;
  requireAttributionHash: boolean;
};
const INITIAL: Rules = testParameters.initialServingRules;
const TIGHTER: Rules = { ...INITIAL, maxOutputTokens: 1024, minEngineProtocolVersion: 2 };

/** Rules as the contract returns them (ethers decodes integers as bigints). */
const decoded = (rules: Rules) => ({
  maxOutputTokens: BigInt(rules.maxOutputTokens),
  receiptSchemaVersion: BigInt(rules.receiptSchemaVersion),
  minEngineProtocolVersion: BigInt(rules.minEngineProtocolVersion),
  requireAttributionHash: rules.requireAttributionHash,
});

async function suiteWithGovernance() {
  const suite = await deploySuite();
  return { ...suite, governance: await governanceSigner(ethers, networkHelpers, suite) };
}

describe("ServingRules", () => {
  it("test_constructor_setsVersionOneFromTheDeployment", async () => {
    const { servingRules, timelock } = await networkHelpers.loadFixture(suiteWithGovernance);
    expect(await servingRules.owner()).to.equal(await timelock.getAddress());
    expect(await servingRules.currentVersion()).to.equal(1n);
    const [version, rules] = await servingRules.currentRules();
    expect(version).to.equal(1n);
    expect(rules.toObject()).to.deep.equal(decoded(INITIAL));
    const [set] = await servingRules.queryFilter(servingRules.filters.RulesSet(), 0);
    expect(set!.args.version).to.equal(1n);
    expect(set!.args.rules.toObject()).to.deep.equal(decoded(INITIAL));
  });

  it("test_setRules_appliesAtOnceAndKeepsEveryVersion", async () => {
    const { servingRules, governance } = await networkHelpers.loadFixture(suiteWithGovernance);
    expect(await servingRules.connect(governance).setRules.staticCall(TIGHTER)).to.equal(2n);
    await expect(servingRules.connect(governance).setRules(TIGHTER))
      .to.emit(servingRules, "RulesSet")
      .withArgs(2n, Object.values(decoded(TIGHTER)));
    const [version, rules] = await servingRules.currentRules();
    expect(version).to.equal(2n);
    expect(rules.toObject()).to.deep.equal(decoded(TIGHTER));
    expect(await servingRules.currentVersion()).to.equal(2n);
    // The history stays readable by version: receipts name the version they were served under.
    expect((await servingRules.getRules(1n)).toObject()).to.deep.equal(decoded(INITIAL));
    expect((await servingRules.getRules(2n)).toObject()).to.deep.equal(decoded(TIGHTER));
    // Setting the same rules again is a new version.
    await servingRules.connect(governance).setRules(TIGHTER);
    expect(await servingRules.currentVersion()).to.equal(3n);
  });

  it("test_setRules_revertsIfNotOwner", async () => {
    const { servingRules, deployer, alice } = await networkHelpers.loadFixture(suiteWithGovernance);
    for (const caller of [deployer, alice]) {
      await expect(servingRules.connect(caller).setRules(TIGHTER))
        .to.be.revertedWithCustomError(servingRules, "OwnableUnauthorizedAccount")
        .withArgs(caller.address);
    }
    expect(await servingRules.currentVersion()).to.equal(1n);
  });

  it("test_setRules_revertsIfInvalid", async () => {
    const { servingRules, governance } = await networkHelpers.loadFixture(suiteWithGovernance);
    const invalid: [Rules, string][] = [
      [{ ...TIGHTER, maxOutputTokens: 0 }, "maxOutputTokens is 0"],
      [{ ...TIGHTER, receiptSchemaVersion: 0 }, "receiptSchemaVersion is 0"],
    ];
    for (const [rules, reason] of invalid) {
      await expect(servingRules.connect(governance).setRules(rules))
        .to.be.revertedWithCustomError(servingRules, "InvalidRules")
        .withArgs(reason);
    }
    // The least valid rules: one token, schema 1, any engine, no attribution hash required.
    const least = {
      maxOutputTokens: 1,
      receiptSchemaVersion: 1,
      minEngineProtocolVersion: 0,
      requireAttributionHash: false,
    };
    await servingRules.connect(governance).setRules(least);
    expect((await servingRules.getRules(2n)).toObject()).to.deep.equal(decoded(least));
  });

  it("test_constructor_revertsIfInvalid", async () => {
    const { timelock } = await networkHelpers.loadFixture(suiteWithGovernance);
    const factory = await ethers.getContractFactory("ServingRules");
    await expect(factory.deploy(await timelock.getAddress(), { ...INITIAL, maxOutputTokens: 0 }))
      .to.be.revertedWithCustomError(factory, "InvalidRules")
      .withArgs("maxOutputTokens is 0");
  });

  it("test_getRules_revertsIfVersionNotFound", async () => {
    const { servingRules } = await networkHelpers.loadFixture(suiteWithGovernance);
    for (const version of [0n, 2n]) {
      await expect(servingRules.getRules(version))
        .to.be.revertedWithCustomError(servingRules, "RulesVersionNotFound")
        .withArgs(version);
    }
  });
});
