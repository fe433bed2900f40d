import { expect } from "chai";
import { id } from "ethers";
import { connectSuite, DAY, hashOf, testParameters } from "./helpers/fixtures.ts";

const { networkHelpers, deploySuite } = await connectSuite();

describe("OpenGovernor + Timelock", () => {
  it("test_deploy_timelockOwnsEveryParameterAndDeployerKeepsNoRole", async () => {
    const suite = await networkHelpers.loadFixture(deploySuite);
    const { timelock, governor, deployer } = suite;
    const timelockAddress = await timelock.getAddress();
    for (const owned of [
      suite.datanets,
      suite.models,
      suite.nodes,
      suite.rewards,
      suite.payments,
      suite.servingRules,
    ]) {
      expect(await owned.owner()).to.equal(timelockAddress);
    }
    const admin = await timelock.DEFAULT_ADMIN_ROLE();
    expect(await timelock.hasRole(admin, deployer.address)).to.equal(false);
    expect(await timelock.hasRole(id("PROPOSER_ROLE"), await governor.getAddress())).to.equal(true);
    expect(await timelock.hasRole(id("CANCELLER_ROLE"), await governor.getAddress())).to.equal(true);
    expect(await governor.votingDelay()).to.equal(BigInt(testParameters.votingDelaySeconds));
    expect(await governor.votingPeriod()).to.equal(BigInt(testParameters.votingPeriodSeconds));
    expect(await governor.timelock()).to.equal(timelockAddress);
  });

  it("test_proposal_proposeVoteQueueExecute_changesStakeLockPeriod", async () => {
    const { token, governor, timelock, datanets, deployer } = await networkHelpers.loadFixture(deploySuite);
    await token.connect(deployer).delegate(deployer.address);
    await networkHelpers.time.increase(1);

    const targets = [await datanets.getAddress()];
    const values = [0n];
    const calldatas = [datanets.interface.encodeFunctionData("setStakeLockPeriod", [3 * DAY])];
    const description = "Shorten the stake lock to 3 days";
    const descriptionHash = id(description);

    await governor.propose(targets, values, calldatas, description);
    const proposalId = await governor.hashProposal(targets, values, calldatas, descriptionHash);
    expect(await governor.state(proposalId)).to.equal(0n); // Pending

    await networkHelpers.time.increase(testParameters.votingDelaySeconds + 1);
    await governor.castVote(proposalId, 1); // For
    await networkHelpers.time.increase(testParameters.votingPeriodSeconds + 1);
    expect(await governor.state(proposalId)).to.equal(4n); // Succeeded

    await governor.queue(targets, values, calldatas, descriptionHash);
    expect(await governor.state(proposalId)).to.equal(5n); // Queued
    // The timelock holds the change back for its delay.
    await expect(governor.execute(targets, values, calldatas, descriptionHash)).to.be.revertedWithCustomError(
      timelock,
      "TimelockUnexpectedOperationState",
    );
    await networkHelpers.time.increase(testParameters.timelockDelaySeconds + 1);
    await expect(governor.execute(targets, values, calldatas, descriptionHash))
      .to.emit(datanets, "StakeLockPeriodSet")
      .withArgs(3 * DAY);
    expect(await datanets.stakeLockPeriod()).to.equal(BigInt(3 * DAY));
  });

  it("test_proposal_setsANewAttributionPolicyAndNewServingRules", async () => {
    const { token, governor, rewards, servingRules, deployer } = await networkHelpers.loadFixture(deploySuite);
    await token.connect(deployer).delegate(deployer.address);
    await networkHelpers.time.increase(1);

    const spec = hashOf("openpoa-span-match v2 specification");
    const policy = {
      ...testParameters.initialAttributionPolicy,
      version: 2,
      params: { ...testParameters.initialAttributionPolicy.params, rarityExponent: 1 },
      specHash: spec,
      specUri: `openpoa://content/${spec.slice(2)}`,
    };
    const rules = { ...testParameters.initialServingRules, maxOutputTokens: 2048, minEngineProtocolVersion: 2 };
    const targets = [await rewards.getAddress(), await servingRules.getAddress()];
    const values = [0n, 0n];
    const calldatas = [
      rewards.interface.encodeFunctionData("setAttributionPolicy", [policy]),
      servingRules.interface.encodeFunctionData("setRules", [rules]),
    ];
    const description = "Attribution v2 (rarity in the datanet) and at most 2048 output tokens";
    const descriptionHash = id(description);
    await governor.propose(targets, values, calldatas, description);
    const proposalId = await governor.hashProposal(targets, values, calldatas, descriptionHash);
    await networkHelpers.time.increase(testParameters.votingDelaySeconds + 1);
    await governor.castVote(proposalId, 1);
    // Epochs go on while the vote runs: the attestor proposes epoch 1.
    await rewards.connect(deployer).proposeRoot(1n, hashOf("root-1"), 0n, hashOf("dist-1"), "u", 1n);
    await networkHelpers.time.increase(testParameters.votingPeriodSeconds + 1);
    await governor.queue(targets, values, calldatas, descriptionHash);
    await networkHelpers.time.increase(testParameters.timelockDelaySeconds + 1);

    const executed = governor.execute(targets, values, calldatas, descriptionHash);
    // Epoch 2 is collecting usage under policy 1 when the proposal lands: policy 2 governs from epoch 3.
    await expect(executed).to.emit(rewards, "AttributionPolicySet");
    await expect(executed).to.emit(servingRules, "RulesSet").withArgs(2n, Object.values(rules));
    const [, set] = await rewards.queryFilter(rewards.filters.AttributionPolicySet(), 0);
    expect([set!.args.policyId, set!.args.fromEpoch]).to.deep.equal([2n, 3n]);
    expect(await rewards.attributionPolicyForEpoch(2n)).to.equal(1n);
    expect(await rewards.attributionPolicyForEpoch(3n)).to.equal(2n);
    expect((await rewards.getAttributionPolicy(2n)).specHash).to.equal(spec);
    const [version, current] = await servingRules.currentRules();
    expect(version).to.equal(2n);
    expect(current.maxOutputTokens).to.equal(2048n);
    expect(current.minEngineProtocolVersion).to.equal(2n);
  });

  it("test_proposal_defeatedWithoutQuorum", async () => {
    const { token, governor, models, alice } = await networkHelpers.loadFixture(deploySuite);
    await token.connect(alice).delegate(alice.address); // 1M OPEN: 0.1% of supply, quorum is 4%
    await networkHelpers.time.increase(1);
    const calldatas = [models.interface.encodeFunctionData("setMinDataShareBps", [5_000])];
    const targets = [await models.getAddress()];
    await governor.connect(alice).propose(targets, [0n], calldatas, "Raise the data share floor");
    const proposalId = await governor.hashProposal(targets, [0n], calldatas, id("Raise the data share floor"));
    await networkHelpers.time.increase(testParameters.votingDelaySeconds + 1);
    await governor.connect(alice).castVote(proposalId, 1);
    await networkHelpers.time.increase(testParameters.votingPeriodSeconds + 1);
    expect(await governor.state(proposalId)).to.equal(3n); // Defeated
  });

  it("test_parameters_revertIfNotGovernance", async () => {
    const { datanets, models, alice } = await networkHelpers.loadFixture(deploySuite);
    await expect(datanets.connect(alice).setStakeLockPeriod(1))
      .to.be.revertedWithCustomError(datanets, "OwnableUnauthorizedAccount")
      .withArgs(alice.address);
    await expect(models.connect(alice).setMinDataShareBps(1))
      .to.be.revertedWithCustomError(models, "OwnableUnauthorizedAccount")
      .withArgs(alice.address);
    await expect(models.connect(alice).deprecateBaseModel(1))
      .to.be.revertedWithCustomError(models, "OwnableUnauthorizedAccount")
      .withArgs(alice.address);
  });
});
