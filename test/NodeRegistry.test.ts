import { expect } from "chai";
import { network } from "hardhat";
import OpenPoAModule from "../ignition/modules/OpenPoA.ts";
import { connectSuite, DAY, OPEN, testParameters } from "./helpers/fixtures.ts";
import { governanceSigner, MIN_OPERATOR_STAKE } from "./helpers/settlement.ts";

const { ethers, networkHelpers, deploySuite } = await connectSuite();

const UNBONDING = BigInt(testParameters.unbondingPeriodSeconds);

/** bob registered with exactly the minimum stake; alice and carol approved but not registered. */
async function suiteWithOperator() {
  const suite = await deploySuite();
  const { nodes, token, alice, bob, carol } = suite;
  for (const signer of [alice, bob, carol]) {
    await token.connect(signer).approve(await nodes.getAddress(), ethers.MaxUint256);
  }
  await nodes.connect(bob).register("https://bob.example", [1n, 2n], carol.address, MIN_OPERATOR_STAKE);
  const governance = await governanceSigner(ethers, networkHelpers, suite);
  return { ...suite, governance };
}

describe("NodeRegistry", () => {
  describe("register and update", () => {
    it("test_register_bondsStakeAndEmits", async () => {
      const { nodes, token, alice, curator } = await networkHelpers.loadFixture(suiteWithOperator);
      const stake = 123n * OPEN + 7n;
      const before = await token.balanceOf(alice.address);
      const totalBefore = await nodes.totalStaked();
      const tx = nodes.connect(alice).register("https://alice.example", [3n], curator.address, stake);
      await expect(tx)
        .to.emit(nodes, "OperatorRegistered")
        .withArgs(alice.address, curator.address, "https://alice.example", [3n]);
      await expect(tx).to.emit(nodes, "StakeAdded").withArgs(alice.address, stake, stake);
      expect(await token.balanceOf(alice.address)).to.equal(before - stake);
      expect(await nodes.totalStaked()).to.equal(totalBefore + stake);
      const op = await nodes.getOperator(alice.address);
      expect(op.signingKey).to.equal(curator.address);
      expect(op.bonded).to.equal(stake);
      expect(op.unbonding).to.equal(0n);
      expect(op.registered).to.equal(true);
      expect(op.endpoint).to.equal("https://alice.example");
      expect(op.baseModelIds).to.deep.equal([3n]);
      expect(await nodes.signingKeyOf(alice.address)).to.equal(curator.address);
      // Below the minimum: registered but not active.
      expect(await nodes.isActive(alice.address)).to.equal(false);
    });

    it("test_register_withZeroStakeEmitsNoStakeAdded", async () => {
      const { nodes, token, alice, curator } = await networkHelpers.loadFixture(suiteWithOperator);
      const before = await token.balanceOf(alice.address);
      await expect(nodes.connect(alice).register("https://a", [1n], curator.address, 0n)).not.to.emit(
        nodes,
        "StakeAdded",
      );
      expect(await token.balanceOf(alice.address)).to.equal(before);
      expect((await nodes.getOperator(alice.address)).registered).to.equal(true);
    });

    it("test_register_revertsOnBadProfileOrTwice", async () => {
      const { nodes, alice, bob, curator } = await networkHelpers.loadFixture(suiteWithOperator);
      await expect(nodes.connect(alice).register("", [1n], curator.address, 0n)).to.be.revertedWithCustomError(
        nodes,
        "EmptyEndpoint",
      );
      await expect(nodes.connect(alice).register("https://a", [], curator.address, 0n)).to.be.revertedWithCustomError(
        nodes,
        "NoBaseModels",
      );
      await expect(
        nodes.connect(alice).register("https://a", [1n], ethers.ZeroAddress, 0n),
      ).to.be.revertedWithCustomError(nodes, "ZeroAddress");
      await expect(nodes.connect(bob).register("https://b2", [1n], curator.address, 0n))
        .to.be.revertedWithCustomError(nodes, "AlreadyRegistered")
        .withArgs(bob.address);
      await expect(nodes.getOperator(alice.address))
        .to.be.revertedWithCustomError(nodes, "NotRegistered")
        .withArgs(alice.address);
    });

    it("test_update_replacesProfileAndKeepsStake", async () => {
      const { nodes, bob, curator } = await networkHelpers.loadFixture(suiteWithOperator);
      await expect(nodes.connect(bob).update("https://bob2.example", [7n, 8n, 9n], curator.address))
        .to.emit(nodes, "OperatorUpdated")
        .withArgs(bob.address, curator.address, "https://bob2.example", [7n, 8n, 9n]);
      const op = await nodes.getOperator(bob.address);
      expect(op.endpoint).to.equal("https://bob2.example");
      expect(op.baseModelIds).to.deep.equal([7n, 8n, 9n]);
      expect(op.signingKey).to.equal(curator.address);
      expect(op.bonded).to.equal(MIN_OPERATOR_STAKE);
      await expect(nodes.connect(bob).update("", [1n], curator.address)).to.be.revertedWithCustomError(
        nodes,
        "EmptyEndpoint",
      );
      await expect(nodes.connect(bob).update("x", [], curator.address)).to.be.revertedWithCustomError(
        nodes,
        "NoBaseModels",
      );
      await expect(nodes.connect(bob).update("x", [1n], ethers.ZeroAddress)).to.be.revertedWithCustomError(
        nodes,
        "ZeroAddress",
      );
      expect((await nodes.getOperator(bob.address)).endpoint).to.equal("https://bob2.example");
    });

    it("test_update_revertsIfNotRegistered", async () => {
      const { nodes, alice, curator } = await networkHelpers.loadFixture(suiteWithOperator);
      await expect(nodes.connect(alice).update("https://a", [1n], curator.address))
        .to.be.revertedWithCustomError(nodes, "NotRegistered")
        .withArgs(alice.address);
      await expect(nodes.signingKeyOf(alice.address))
        .to.be.revertedWithCustomError(nodes, "NotRegistered")
        .withArgs(alice.address);
    });
  });

  describe("stake", () => {
    it("test_addStake_bondsMore", async () => {
      const { nodes, token, bob } = await networkHelpers.loadFixture(suiteWithOperator);
      const before = await token.balanceOf(bob.address);
      await expect(nodes.connect(bob).addStake(5n))
        .to.emit(nodes, "StakeAdded")
        .withArgs(bob.address, 5n, MIN_OPERATOR_STAKE + 5n);
      expect(await token.balanceOf(bob.address)).to.equal(before - 5n);
      expect(await token.balanceOf(await nodes.getAddress())).to.equal(MIN_OPERATOR_STAKE + 5n);
      expect(await nodes.totalStaked()).to.equal(MIN_OPERATOR_STAKE + 5n);
    });

    it("test_addStake_revertsOnZeroOrUnregistered", async () => {
      const { nodes, alice, bob } = await networkHelpers.loadFixture(suiteWithOperator);
      await expect(nodes.connect(bob).addStake(0n)).to.be.revertedWithCustomError(nodes, "ZeroAmount");
      await expect(nodes.connect(alice).addStake(1n))
        .to.be.revertedWithCustomError(nodes, "NotRegistered")
        .withArgs(alice.address);
    });

    it("test_requestUnbond_movesStakeAndRestartsReleaseTime", async () => {
      const { nodes, bob } = await networkHelpers.loadFixture(suiteWithOperator);
      const first = nodes.connect(bob).requestUnbond(OPEN);
      await first;
      const t1 = BigInt(await networkHelpers.time.latest());
      await expect(first)
        .to.emit(nodes, "UnbondRequested")
        .withArgs(bob.address, OPEN, OPEN, t1 + UNBONDING);
      let op = await nodes.getOperator(bob.address);
      expect(op.bonded).to.equal(MIN_OPERATOR_STAKE - OPEN);
      expect(op.unbonding).to.equal(OPEN);
      expect(op.unbondingReleaseTime).to.equal(t1 + UNBONDING);
      // Stake still held: totalStaked counts unbonding stake.
      expect(await nodes.totalStaked()).to.equal(MIN_OPERATOR_STAKE);

      await networkHelpers.time.increase(3 * DAY);
      const second = nodes.connect(bob).requestUnbond(2n * OPEN);
      await second;
      const t2 = BigInt(await networkHelpers.time.latest());
      await expect(second)
        .to.emit(nodes, "UnbondRequested")
        .withArgs(bob.address, 2n * OPEN, 3n * OPEN, t2 + UNBONDING);
      op = await nodes.getOperator(bob.address);
      expect(op.unbonding).to.equal(3n * OPEN);
      expect(op.unbondingReleaseTime).to.equal(t2 + UNBONDING);
    });

    it("test_requestUnbond_afterAShorterPeriodNeverPullsAnEarlierUnbondForward", async () => {
      const { nodes, bob, governance } = await networkHelpers.loadFixture(suiteWithOperator);
      await nodes.connect(bob).requestUnbond(OPEN);
      const fixed = (await nodes.getOperator(bob.address)).unbondingReleaseTime;
      // Governance shortens the period to a day; one more wei of unbonding must not release the first OPEN early.
      await nodes.connect(governance).setUnbondingPeriod(DAY);
      await nodes.connect(bob).requestUnbond(1n);
      expect((await nodes.getOperator(bob.address)).unbondingReleaseTime).to.equal(fixed);
      await networkHelpers.time.increase(2 * DAY);
      await expect(nodes.connect(bob).withdrawUnbonded())
        .to.be.revertedWithCustomError(nodes, "StakeStillUnbonding")
        .withArgs(bob.address, fixed);
      // Once everything unbonding has left, a new unbond takes the new period.
      await networkHelpers.time.increaseTo(fixed);
      await nodes.connect(bob).withdrawUnbonded();
      await nodes.connect(bob).requestUnbond(1n);
      const t = BigInt(await networkHelpers.time.latest());
      expect((await nodes.getOperator(bob.address)).unbondingReleaseTime).to.equal(t + BigInt(DAY));
    });

    it("test_requestUnbond_revertsOnZeroOverBondOrUnregistered", async () => {
      const { nodes, alice, bob } = await networkHelpers.loadFixture(suiteWithOperator);
      await expect(nodes.connect(bob).requestUnbond(0n)).to.be.revertedWithCustomError(nodes, "ZeroAmount");
      await expect(nodes.connect(bob).requestUnbond(MIN_OPERATOR_STAKE + 1n))
        .to.be.revertedWithCustomError(nodes, "InsufficientBond")
        .withArgs(bob.address, MIN_OPERATOR_STAKE + 1n, MIN_OPERATOR_STAKE);
      await expect(nodes.connect(alice).requestUnbond(1n))
        .to.be.revertedWithCustomError(nodes, "NotRegistered")
        .withArgs(alice.address);
    });

    it("test_withdrawUnbonded_onlyAfterReleaseTime", async () => {
      const { nodes, token, bob } = await networkHelpers.loadFixture(suiteWithOperator);
      await expect(nodes.connect(bob).withdrawUnbonded())
        .to.be.revertedWithCustomError(nodes, "NothingToWithdraw")
        .withArgs(bob.address);
      await nodes.connect(bob).requestUnbond(4n * OPEN);
      const release = (await nodes.getOperator(bob.address)).unbondingReleaseTime;
      await expect(nodes.connect(bob).withdrawUnbonded())
        .to.be.revertedWithCustomError(nodes, "StakeStillUnbonding")
        .withArgs(bob.address, release);
      // One second before the release time still fails; at the release time it pays.
      await networkHelpers.time.setNextBlockTimestamp(release - 1n);
      await expect(nodes.connect(bob).withdrawUnbonded())
        .to.be.revertedWithCustomError(nodes, "StakeStillUnbonding")
        .withArgs(bob.address, release);
      await networkHelpers.time.setNextBlockTimestamp(release);
      const before = await token.balanceOf(bob.address);
      await expect(nodes.connect(bob).withdrawUnbonded())
        .to.emit(nodes, "StakeWithdrawn")
        .withArgs(bob.address, 4n * OPEN);
      expect(await token.balanceOf(bob.address)).to.equal(before + 4n * OPEN);
      expect(await nodes.totalStaked()).to.equal(MIN_OPERATOR_STAKE - 4n * OPEN);
      expect((await nodes.getOperator(bob.address)).unbonding).to.equal(0n);
      await expect(nodes.connect(bob).withdrawUnbonded())
        .to.be.revertedWithCustomError(nodes, "NothingToWithdraw")
        .withArgs(bob.address);
    });

    it("test_withdrawUnbonded_revertsIfNotRegistered", async () => {
      const { nodes, alice } = await networkHelpers.loadFixture(suiteWithOperator);
      await expect(nodes.connect(alice).withdrawUnbonded())
        .to.be.revertedWithCustomError(nodes, "NotRegistered")
        .withArgs(alice.address);
    });
  });

  describe("isActive", () => {
    it("test_isActive_followsBondedAgainstMinStake", async () => {
      const { nodes, alice, bob, governance } = await networkHelpers.loadFixture(suiteWithOperator);
      expect(await nodes.isActive(bob.address)).to.equal(true);
      expect(await nodes.isActive(alice.address)).to.equal(false);
      // Unbonding one wei drops the bond below the minimum, even though the contract still holds it.
      await nodes.connect(bob).requestUnbond(1n);
      expect(await nodes.isActive(bob.address)).to.equal(false);
      await nodes.connect(bob).addStake(1n);
      expect(await nodes.isActive(bob.address)).to.equal(true);
      await nodes.connect(governance).setMinStake(MIN_OPERATOR_STAKE + 1n);
      expect(await nodes.isActive(bob.address)).to.equal(false);
      await nodes.connect(governance).setMinStake(0n);
      // Registration is still required with a zero minimum.
      expect(await nodes.isActive(alice.address)).to.equal(false);
      expect(await nodes.isActive(bob.address)).to.equal(true);
    });
  });

  describe("slash", () => {
    it("test_slash_takesBondedFirstToTreasury", async () => {
      const { nodes, token, bob, timelock, governance } = await networkHelpers.loadFixture(suiteWithOperator);
      await nodes.connect(bob).requestUnbond(3n * OPEN);
      const treasury = await timelock.getAddress();
      expect(await nodes.treasury()).to.equal(treasury);
      const before = await token.balanceOf(treasury);
      await expect(nodes.connect(governance).slash(bob.address, 2n * OPEN))
        .to.emit(nodes, "OperatorSlashed")
        .withArgs(bob.address, 2n * OPEN, 0n, treasury);
      const op = await nodes.getOperator(bob.address);
      expect(op.bonded).to.equal(MIN_OPERATOR_STAKE - 5n * OPEN);
      expect(op.unbonding).to.equal(3n * OPEN);
      expect(await token.balanceOf(treasury)).to.equal(before + 2n * OPEN);
      expect(await nodes.totalStaked()).to.equal(MIN_OPERATOR_STAKE - 2n * OPEN);
    });

    it("test_slash_spillsIntoUnbondingAndCapsAtStake", async () => {
      const { nodes, token, bob, timelock, governance } = await networkHelpers.loadFixture(suiteWithOperator);
      await nodes.connect(bob).requestUnbond(3n * OPEN);
      const treasury = await timelock.getAddress();
      const bonded = MIN_OPERATOR_STAKE - 3n * OPEN;
      const before = await token.balanceOf(treasury);
      // Bonded entirely, then one OPEN of unbonding.
      await expect(nodes.connect(governance).slash(bob.address, bonded + OPEN))
        .to.emit(nodes, "OperatorSlashed")
        .withArgs(bob.address, bonded, OPEN, treasury);
      let op = await nodes.getOperator(bob.address);
      expect(op.bonded).to.equal(0n);
      expect(op.unbonding).to.equal(2n * OPEN);
      // More than what is left: takes only what is left.
      await expect(nodes.connect(governance).slash(bob.address, 100n * OPEN))
        .to.emit(nodes, "OperatorSlashed")
        .withArgs(bob.address, 0n, 2n * OPEN, treasury);
      op = await nodes.getOperator(bob.address);
      expect(op.unbonding).to.equal(0n);
      expect(await token.balanceOf(treasury)).to.equal(before + MIN_OPERATOR_STAKE);
      expect(await nodes.totalStaked()).to.equal(0n);
      expect(await token.balanceOf(await nodes.getAddress())).to.equal(0n);
      // Nothing left: emits a zero slash and moves no tokens.
      await expect(nodes.connect(governance).slash(bob.address, 1n))
        .to.emit(nodes, "OperatorSlashed")
        .withArgs(bob.address, 0n, 0n, treasury);
      expect(await nodes.isActive(bob.address)).to.equal(false);
    });

    it("test_slash_goesToNewTreasury", async () => {
      const { nodes, token, bob, curator, governance } = await networkHelpers.loadFixture(suiteWithOperator);
      await nodes.connect(governance).setTreasury(curator.address);
      const before = await token.balanceOf(curator.address);
      await nodes.connect(governance).slash(bob.address, 7n);
      expect(await token.balanceOf(curator.address)).to.equal(before + 7n);
    });

    it("test_slash_revertsIfNotGovernanceZeroOrUnregistered", async () => {
      const { nodes, alice, bob, deployer, governance } = await networkHelpers.loadFixture(suiteWithOperator);
      for (const caller of [deployer, bob]) {
        await expect(nodes.connect(caller).slash(bob.address, 1n))
          .to.be.revertedWithCustomError(nodes, "OwnableUnauthorizedAccount")
          .withArgs(caller.address);
      }
      await expect(nodes.connect(governance).slash(bob.address, 0n)).to.be.revertedWithCustomError(nodes, "ZeroAmount");
      await expect(nodes.connect(governance).slash(alice.address, 1n))
        .to.be.revertedWithCustomError(nodes, "NotRegistered")
        .withArgs(alice.address);
    });
  });

  describe("governance setters", () => {
    it("test_setters_updateAndEmit", async () => {
      const { nodes, curator, governance } = await networkHelpers.loadFixture(suiteWithOperator);
      await expect(nodes.connect(governance).setMinStake(42n)).to.emit(nodes, "MinStakeSet").withArgs(42n);
      expect(await nodes.minStake()).to.equal(42n);
      await expect(nodes.connect(governance).setUnbondingPeriod(90 * DAY))
        .to.emit(nodes, "UnbondingPeriodSet")
        .withArgs(BigInt(90 * DAY));
      expect(await nodes.unbondingPeriod()).to.equal(BigInt(90 * DAY));
      await expect(nodes.connect(governance).setUnbondingPeriod(0)).to.emit(nodes, "UnbondingPeriodSet").withArgs(0n);
      await expect(nodes.connect(governance).setTreasury(curator.address))
        .to.emit(nodes, "TreasurySet")
        .withArgs(curator.address);
      expect(await nodes.treasury()).to.equal(curator.address);
    });

    it("test_setUnbondingPeriod_appliesToLaterRequests", async () => {
      const { nodes, bob, governance } = await networkHelpers.loadFixture(suiteWithOperator);
      await nodes.connect(governance).setUnbondingPeriod(DAY);
      await nodes.connect(bob).requestUnbond(1n);
      const t = BigInt(await networkHelpers.time.latest());
      expect((await nodes.getOperator(bob.address)).unbondingReleaseTime).to.equal(t + BigInt(DAY));
    });

    it("test_setters_revertOnBadInputOrNonGovernance", async () => {
      const { nodes, deployer, governance } = await networkHelpers.loadFixture(suiteWithOperator);
      await expect(nodes.connect(governance).setUnbondingPeriod(90 * DAY + 1))
        .to.be.revertedWithCustomError(nodes, "UnbondingPeriodTooLong")
        .withArgs(BigInt(90 * DAY + 1), BigInt(90 * DAY));
      await expect(nodes.connect(governance).setTreasury(ethers.ZeroAddress)).to.be.revertedWithCustomError(
        nodes,
        "ZeroAddress",
      );
      for (const call of [
        nodes.connect(deployer).setMinStake(1n),
        nodes.connect(deployer).setUnbondingPeriod(1),
        nodes.connect(deployer).setTreasury(deployer.address),
      ]) {
        await expect(call)
          .to.be.revertedWithCustomError(nodes, "OwnableUnauthorizedAccount")
          .withArgs(deployer.address);
      }
      expect(await nodes.minStake()).to.equal(MIN_OPERATOR_STAKE);
      expect(await nodes.unbondingPeriod()).to.equal(UNBONDING);
    });
  });
});

describe("NodeRegistry: slashing stays reachable", () => {
  it("test_slash_landsBeforeAnUnbondStartedOnTheSameDayCompletes_withDeployedDefaults", async () => {
    const { ethers: e, ignition, networkHelpers: h } = await network.create();
    const [deployer, bob] = await e.getSigners();
    // The production defaults, no parameters file: the deployer holds the supply and proposes.
    const deployed = await ignition.deploy(OpenPoAModule);
    const token = await e.getContractAt("OpenToken", await deployed.token.getAddress());
    const governor = await e.getContractAt("OpenGovernor", await deployed.governor.getAddress());
    const timelock = await e.getContractAt("OpenTimelock", await deployed.timelock.getAddress());
    const nodes = await e.getContractAt("NodeRegistry", await deployed.nodeRegistry.getAddress());
    const governancePath =
      (await governor.votingDelay()) + (await governor.votingPeriod()) + (await timelock.getMinDelay());
    expect(await nodes.unbondingPeriod()).to.be.greaterThan(governancePath);

    await token.delegate(deployer.address);
    const stake = await nodes.minStake();
    await token.transfer(bob.address, stake);
    await token.connect(bob).approve(await nodes.getAddress(), stake);
    await nodes.connect(bob).register("https://bob.example", [1n], bob.address, stake);
    await h.mine(1);

    // Day 0: misbehaviour is seen; bob unbonds everything while governance proposes to slash it all.
    await nodes.connect(bob).requestUnbond(stake);
    const { unbondingReleaseTime } = await nodes.getOperator(bob.address);
    const calldata = nodes.interface.encodeFunctionData("slash", [bob.address, stake]);
    const target = await nodes.getAddress();
    const description = "Slash bob";
    await governor.propose([target], [0n], [calldata], description);
    const proposalId = await governor.hashProposal([target], [0n], [calldata], e.id(description));
    await h.time.increase((await governor.votingDelay()) + 1n);
    await governor.castVote(proposalId, 1);
    await h.time.increase(await governor.votingPeriod());
    await governor.queue([target], [0n], [calldata], e.id(description));
    await h.time.increase(await timelock.getMinDelay());
    // Bob still cannot leave with the stake...
    await expect(nodes.connect(bob).withdrawUnbonded())
      .to.be.revertedWithCustomError(nodes, "StakeStillUnbonding")
      .withArgs(bob.address, unbondingReleaseTime);
    // ...when the slash executes, at the fastest the governance path allows.
    await expect(governor.execute([target], [0n], [calldata], e.id(description)))
      .to.emit(nodes, "OperatorSlashed")
      .withArgs(bob.address, 0n, stake, await nodes.treasury());
    expect(BigInt(await h.time.latest())).to.be.lessThan(unbondingReleaseTime);
    await h.time.increaseTo(unbondingReleaseTime);
    await expect(nodes.connect(bob).withdrawUnbonded())
      .to.be.revertedWithCustomError(nodes, "NothingToWithdraw")
      .withArgs(bob.address);
  });

  it("test_freeze_keepsStakeSlashableAndOperatorInactiveUntilGovernanceActs", async () => {
    const f = await networkHelpers.loadFixture(suiteWithOperator);
    const { nodes, payments, bob, alice, deployer, governance, token } = f;
    expect(await nodes.isActive(bob.address)).to.equal(true);
    // Longer than bob's unbonding, so that the freeze outlasts it below.
    const freezePeriod = BigInt(30 * DAY);
    await nodes.connect(governance).setFreezePeriod(freezePeriod);
    // Only the guardian (the deployer in tests) or governance freezes.
    await expect(nodes.connect(alice).freeze(bob.address))
      .to.be.revertedWithCustomError(nodes, "NotGovernanceOrGuardian")
      .withArgs(alice.address);
    await expect(nodes.freeze(alice.address)).to.be.revertedWithCustomError(nodes, "NotRegistered");
    const tx = nodes.connect(deployer).freeze(bob.address);
    await tx;
    const frozenUntil = BigInt(await networkHelpers.time.latest()) + freezePeriod;
    await expect(tx).to.emit(nodes, "OperatorFrozen").withArgs(bob.address, frozenUntil, deployer.address);
    expect((await nodes.getOperator(bob.address)).frozenUntil).to.equal(frozenUntil);
    await expect(nodes.connect(deployer).freeze(bob.address))
      .to.be.revertedWithCustomError(nodes, "AlreadyFrozen")
      .withArgs(bob.address, frozenUntil);

    // Frozen: not active (no new channels), and no withdrawal even once the unbonding has passed.
    expect(await nodes.isActive(bob.address)).to.equal(false);
    await token.connect(alice).approve(await payments.getAddress(), 1n);
    await expect(payments.connect(alice).openChannel(bob.address, 1n, ethers.ZeroAddress))
      .to.be.revertedWithCustomError(payments, "OperatorNotActive")
      .withArgs(bob.address);
    await nodes.connect(bob).requestUnbond(1n);
    const { unbondingReleaseTime } = await nodes.getOperator(bob.address);
    await networkHelpers.time.increaseTo(unbondingReleaseTime);
    await expect(nodes.connect(bob).withdrawUnbonded())
      .to.be.revertedWithCustomError(nodes, "OperatorIsFrozen")
      .withArgs(bob.address, frozenUntil);

    // Only governance lifts it early.
    await expect(nodes.connect(deployer).unfreeze(bob.address)).to.be.revertedWithCustomError(
      nodes,
      "OwnableUnauthorizedAccount",
    );
    await expect(nodes.connect(governance).unfreeze(bob.address))
      .to.emit(nodes, "OperatorUnfrozen")
      .withArgs(bob.address);
    expect(await nodes.isActive(bob.address)).to.equal(false); // bonded fell below the minimum by the unbond
    await expect(nodes.connect(governance).unfreeze(bob.address))
      .to.be.revertedWithCustomError(nodes, "NotFrozen")
      .withArgs(bob.address);
    await nodes.connect(bob).withdrawUnbonded();

    // A freeze ends by itself after freezePeriod; the guardian may then freeze again.
    await nodes.connect(deployer).freeze(bob.address);
    await networkHelpers.time.increase(freezePeriod);
    expect((await nodes.getOperator(bob.address)).frozenUntil).to.be.lessThanOrEqual(
      BigInt(await networkHelpers.time.latest()),
    );
    await nodes.connect(deployer).freeze(bob.address);
  });

  it("test_setFreezePeriodAndGuardian_onlyGovernanceWithinBounds", async () => {
    const { nodes, governance, alice } = await networkHelpers.loadFixture(suiteWithOperator);
    await expect(nodes.connect(governance).setFreezePeriod(DAY - 1))
      .to.be.revertedWithCustomError(nodes, "FreezePeriodOutOfRange")
      .withArgs(DAY - 1, DAY, 30 * DAY);
    await expect(nodes.connect(governance).setFreezePeriod(30 * DAY + 1))
      .to.be.revertedWithCustomError(nodes, "FreezePeriodOutOfRange")
      .withArgs(30 * DAY + 1, DAY, 30 * DAY);
    await expect(nodes.connect(governance).setFreezePeriod(20 * DAY))
      .to.emit(nodes, "FreezePeriodSet")
      .withArgs(20 * DAY);
    await expect(nodes.connect(alice).setGuardian(alice.address)).to.be.revertedWithCustomError(
      nodes,
      "OwnableUnauthorizedAccount",
    );
    await expect(nodes.connect(governance).setGuardian(ethers.ZeroAddress)).to.be.revertedWithCustomError(
      nodes,
      "ZeroAddress",
    );
    await expect(nodes.connect(governance).setGuardian(alice.address))
      .to.emit(nodes, "GuardianSet")
      .withArgs(alice.address);
    expect(await nodes.guardian()).to.equal(alice.address);
  });
});
