import { expect } from "chai";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { Signature, type ContractTransactionResponse } from "ethers";
import { connectSuite, DAY, hashOf, OPEN, testParameters } from "./helpers/fixtures.ts";
import {
  ADAPTER_1,
  ADAPTER_2,
  governanceSigner,
  malleate,
  SECP256K1_N,
  setupSettlement,
  signVoucher,
  splitOf,
  voucherDigest,
  voucherDomain,
  voucherOf,
  type Split,
  type Voucher,
} from "./helpers/settlement.ts";

const { ethers, networkHelpers, deploySuite } = await connectSuite();

const DEPOSIT = 1_000n * OPEN + 7n;
const CHALLENGE = BigInt(testParameters.challengePeriodSeconds);

/** Settlement suite plus channel 1: alice pays bob, DEPOSIT escrowed; vouchers expire in 30 days. */
async function suiteWithChannel() {
  const suite = await setupSettlement(ethers, await deploySuite());
  const { payments, alice, bob } = suite;
  await payments.connect(alice).openChannel(bob.address, DEPOSIT, ethers.ZeroAddress);
  const expiry = BigInt(await networkHelpers.time.latest()) + 30n * BigInt(DAY);
  const governance = await governanceSigner(ethers, networkHelpers, suite);
  return { ...suite, expiry, governance };
}

type Fixture = Awaited<ReturnType<typeof suiteWithChannel>>;

async function signed(f: Fixture, voucher: Voucher, signer = f.alice) {
  return signVoucher(signer, f.domain, voucher);
}

async function settle(f: Fixture, voucher: Voucher, signer = f.alice) {
  return f.payments.connect(f.bob).settle(voucher, await signed(f, voucher, signer));
}

/** Decoded logs of one event name from a transaction's receipt. */
async function eventsOf(f: Fixture, tx: Promise<ContractTransactionResponse>, name: string) {
  const receipt = (await (await tx).wait())!;
  return receipt.logs
    .map((log) => {
      try {
        return f.payments.interface.parseLog(log);
      } catch {
        return null;
      }
    })
    .filter((parsed) => parsed !== null && parsed.name === name)
    .map((parsed) => parsed!.args as unknown as Record<string, bigint>);
}

const splitA1 = (x: bigint) => splitOf(x, ADAPTER_1.dataShareBps, ADAPTER_1.weights);
const splitA2 = (x: bigint) => splitOf(x, ADAPTER_2.dataShareBps, ADAPTER_2.weights);
const splitBase = (x: bigint) => splitOf(x, null);
const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);

/** Balances every settlement touches. */
async function snapshot(f: Fixture) {
  const treasury = await f.timelock.getAddress();
  return {
    treasury: await f.payments.balanceOf(treasury),
    operator: await f.payments.balanceOf(f.bob.address),
    carol: await f.payments.balanceOf(f.carol.address),
    curator: await f.payments.balanceOf(f.curator.address),
    funded: await f.rewards.totalFunded(),
    rewardsTokens: await f.token.balanceOf(await f.rewards.getAddress()),
  };
}

/** Asserts the deltas of one settlement with base, adapter-1 (carol) and adapter-2 (curator) splits. */
async function expectSplits(
  f: Fixture,
  before: Awaited<ReturnType<typeof snapshot>>,
  splits: { base?: Split; a1?: Split; a2?: Split },
) {
  const after = await snapshot(f);
  const all = [splits.base, splits.a1, splits.a2].filter((s): s is Split => s !== undefined);
  expect(after.treasury - before.treasury, "treasury").to.equal(sum(all.map((s) => s.protocolFee)));
  expect(after.operator - before.operator, "operator").to.equal(sum(all.map((s) => s.operatorFee)));
  expect(after.carol - before.carol, "adapter 1 owner").to.equal(splits.a1?.ownerShare ?? 0n);
  expect(after.curator - before.curator, "adapter 2 owner").to.equal(splits.a2?.ownerShare ?? 0n);
  const data = sum(all.map((s) => s.dataShare));
  expect(after.funded - before.funded, "rewards funded").to.equal(data);
  expect(after.rewardsTokens - before.rewardsTokens, "rewards tokens").to.equal(data);
}

async function expectConserved(f: Fixture) {
  const held = await f.token.balanceOf(await f.payments.getAddress());
  expect(held).to.equal((await f.payments.totalEscrowed()) + (await f.payments.totalCredited()));
}

describe("InferencePayments", () => {
  describe("channels", () => {
    it("test_openChannel_escrowsDepositAndEmits", async () => {
      const { payments, token, alice, bob } = await networkHelpers.loadFixture(suiteWithChannel);
      const before = await token.balanceOf(alice.address);
      await expect(payments.connect(alice).openChannel(bob.address, 5n, ethers.ZeroAddress))
        .to.emit(payments, "ChannelOpened")
        .withArgs(2n, alice.address, bob.address, 5n);
      expect(await token.balanceOf(alice.address)).to.equal(before - 5n);
      expect(await payments.channelCount()).to.equal(2n);
      expect(await payments.totalEscrowed()).to.equal(DEPOSIT + 5n);
      const channel = await payments.getChannel(2n);
      expect(channel.payer).to.equal(alice.address);
      expect(channel.operator).to.equal(bob.address);
      expect(channel.deposit).to.equal(5n);
      expect(channel.settled).to.equal(0n);
      expect(channel.closesAt).to.equal(0n);
      expect(channel.voucherSigner).to.equal(ethers.ZeroAddress);
      expect(channel.finalized).to.equal(false);
      await expect(payments.getChannel(3n)).to.be.revertedWithCustomError(payments, "ChannelNotFound").withArgs(3n);
    });

    it("test_openChannel_requiresActiveOperatorAndDeposit", async () => {
      const { payments, nodes, alice, bob, carol } = await networkHelpers.loadFixture(suiteWithChannel);
      await expect(payments.connect(alice).openChannel(carol.address, 1n, ethers.ZeroAddress))
        .to.be.revertedWithCustomError(payments, "OperatorNotActive")
        .withArgs(carol.address);
      await expect(
        payments.connect(alice).openChannel(bob.address, 0n, ethers.ZeroAddress),
      ).to.be.revertedWithCustomError(payments, "ZeroAmount");
      // Unbonding one wei leaves bob below the minimum stake: no new channels.
      await nodes.connect(bob).requestUnbond(1n);
      await expect(payments.connect(alice).openChannel(bob.address, 1n, ethers.ZeroAddress))
        .to.be.revertedWithCustomError(payments, "OperatorNotActive")
        .withArgs(bob.address);
    });

    async function permitFor(f: Fixture, owner: HardhatEthersSigner, value: bigint, deadline: bigint) {
      const { token, payments, chainId } = f;
      const sig = await owner.signTypedData(
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
        {
          owner: owner.address,
          spender: await payments.getAddress(),
          value,
          nonce: await token.nonces(owner.address),
          deadline,
        },
      );
      return Signature.from(sig);
    }

    it("test_openChannelWithPermit_opensWithoutPriorApproval", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const { payments, token, curator, bob } = f;
      expect(await token.allowance(curator.address, await payments.getAddress())).to.equal(0n);
      const deadline = f.expiry;
      const { v, r, s } = await permitFor(f, curator, 77n, deadline);
      await expect(payments.connect(curator).openChannelWithPermit(bob.address, 77n, deadline, v, r, s))
        .to.emit(payments, "ChannelOpened")
        .withArgs(2n, curator.address, bob.address, 77n);
      expect(await token.nonces(curator.address)).to.equal(1n);
      expect(await token.balanceOf(await payments.getAddress())).to.equal(DEPOSIT + 77n);
    });

    it("test_openChannelWithPermit_survivesFrontRunPermit", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const { payments, token, curator, stranger, bob } = f;
      const deadline = f.expiry;
      const { v, r, s } = await permitFor(f, curator, 77n, deadline);
      // Someone watching the mempool submits the permit first: the allowance is set, the nonce consumed.
      await token.connect(stranger).permit(curator.address, await payments.getAddress(), 77n, deadline, v, r, s);
      await expect(payments.connect(curator).openChannelWithPermit(bob.address, 77n, deadline, v, r, s))
        .to.emit(payments, "ChannelOpened")
        .withArgs(2n, curator.address, bob.address, 77n);
      expect(await token.allowance(curator.address, await payments.getAddress())).to.equal(0n);
    });

    it("test_openChannelWithPermit_revertsWithoutAllowance", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const { payments, token, curator, bob } = f;
      const deadline = f.expiry;
      // Signed for 77, used for 78: the permit fails, and with no allowance the transfer does too.
      const { v, r, s } = await permitFor(f, curator, 77n, deadline);
      await expect(payments.connect(curator).openChannelWithPermit(bob.address, 78n, deadline, v, r, s))
        .to.be.revertedWithCustomError(token, "ERC20InsufficientAllowance")
        .withArgs(await payments.getAddress(), 0n, 78n);
    });

    it("test_topUp_addsToDeposit", async () => {
      const { payments, token, alice } = await networkHelpers.loadFixture(suiteWithChannel);
      const before = await token.balanceOf(alice.address);
      await expect(payments.connect(alice).topUp(1n, 9n))
        .to.emit(payments, "ChannelToppedUp")
        .withArgs(1n, 9n, DEPOSIT + 9n);
      expect((await payments.getChannel(1n)).deposit).to.equal(DEPOSIT + 9n);
      expect(await payments.totalEscrowed()).to.equal(DEPOSIT + 9n);
      expect(await token.balanceOf(alice.address)).to.equal(before - 9n);
    });

    it("test_topUp_revertsForStrangerZeroUnknownOrClosing", async () => {
      const { payments, alice, bob } = await networkHelpers.loadFixture(suiteWithChannel);
      await expect(payments.connect(bob).topUp(1n, 1n))
        .to.be.revertedWithCustomError(payments, "NotPayer")
        .withArgs(1n, bob.address);
      await expect(payments.connect(alice).topUp(1n, 0n)).to.be.revertedWithCustomError(payments, "ZeroAmount");
      await expect(payments.connect(alice).topUp(9n, 1n))
        .to.be.revertedWithCustomError(payments, "ChannelNotFound")
        .withArgs(9n);
      await payments.connect(alice).requestClose(1n);
      const { closesAt } = await payments.getChannel(1n);
      await expect(payments.connect(alice).topUp(1n, 1n))
        .to.be.revertedWithCustomError(payments, "ChannelClosing")
        .withArgs(1n, closesAt);
    });
  });

  describe("vouchers and settlement", () => {
    it("test_voucherDigest_matchesTypedDataEncoder", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const voucher = voucherOf(
        1n,
        [
          [0n, 11n],
          [1n, 22n],
          [2n, 33n],
        ],
        f.expiry,
      );
      expect(await f.payments.voucherDigest(voucher)).to.equal(voucherDigest(f.domain, voucher));
      const empty = voucherOf(1n, [], f.expiry);
      expect(await f.payments.voucherDigest(empty)).to.equal(voucherDigest(f.domain, empty));
      // A different domain gives a different digest.
      expect(await f.payments.voucherDigest(voucher)).not.to.equal(
        voucherDigest(voucherDomain(f.chainId + 1n, await f.payments.getAddress()), voucher),
      );
    });

    it("test_splitOf_knownVector", async () => {
      // 1_000_001 wei of adapter 1: every step rounds down; the owner and the last lineage entry take remainders.
      const s = splitA1(1_000_001n);
      expect([s.protocolFee, s.operatorFee, s.rest, s.dataShare, s.ownerShare]).to.deep.equal([
        50_000n,
        100_000n,
        850_001n,
        255_000n,
        595_001n,
      ]);
      expect(s.lineageParts).to.deep.equal([84_991n, 84_991n, 85_018n]);
    });

    it("test_settle_splitsEachAdapterExactly", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const { payments, bob, carol, curator } = f;
      const amounts = { base: 333_333_333_333n, a1: 1_000_001n, a2: 987_654_321_987n };
      const voucher = voucherOf(
        1n,
        [
          [0n, amounts.base],
          [1n, amounts.a1],
          [2n, amounts.a2],
        ],
        f.expiry,
      );
      const splits = { base: splitBase(amounts.base), a1: splitA1(amounts.a1), a2: splitA2(amounts.a2) };
      const before = await snapshot(f);
      const tx = settle(f, voucher);
      await expect(tx)
        .to.emit(payments, "ChannelSettled")
        .withArgs(
          1n,
          bob.address,
          voucher.cumulativeAmount,
          voucher.cumulativeAmount,
          ethers.ZeroHash,
          voucher.usageRoot,
        );
      const b = splits.base;
      await expect(tx)
        .to.emit(payments, "AdapterRevenue")
        .withArgs(1n, 0n, bob.address, amounts.base, b.protocolFee, b.operatorFee, 0n, 0n);
      const a1 = splits.a1;
      await expect(tx)
        .to.emit(payments, "AdapterRevenue")
        .withArgs(1n, 1n, carol.address, amounts.a1, a1.protocolFee, a1.operatorFee, a1.ownerShare, a1.dataShare);
      const a2 = splits.a2;
      await expect(tx)
        .to.emit(payments, "AdapterRevenue")
        .withArgs(1n, 2n, curator.address, amounts.a2, a2.protocolFee, a2.operatorFee, a2.ownerShare, a2.dataShare);
      await expectSplits(f, before, splits);

      const allocations = await eventsOf(f, tx, "DataShareAllocated");
      const rows = allocations.map((a) => [a.adapterId, a.datanetId, a.version, a.amount]);
      expect(rows).to.deep.equal([
        [1n, 1n, 1n, a1.lineageParts[0]],
        [1n, 2n, 1n, a1.lineageParts[1]],
        [1n, 3n, 1n, a1.lineageParts[2]],
        [2n, 1n, 1n, a2.lineageParts[0]],
      ]);
      expect(sum(rows.slice(0, 3).map((r: bigint[]) => r[3]))).to.equal(a1.dataShare);
      expect(rows[3][3]).to.equal(a2.dataShare);

      const channel = await payments.getChannel(1n);
      expect(channel.settled).to.equal(voucher.cumulativeAmount);
      expect(await payments.settledForAdapter(1n, 0n)).to.equal(amounts.base);
      expect(await payments.settledForAdapter(1n, 1n)).to.equal(amounts.a1);
      expect(await payments.settledForAdapter(1n, 2n)).to.equal(amounts.a2);
      expect(await payments.totalEscrowed()).to.equal(DEPOSIT - voucher.cumulativeAmount);
      expect(await payments.totalCredited()).to.equal(voucher.cumulativeAmount - a1.dataShare - a2.dataShare);
      await expectConserved(f);
    });

    it("test_settle_secondVoucherPaysOnlyTheIncreasePerAdapter", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const { payments, bob } = f;
      const first = voucherOf(
        1n,
        [
          [0n, 1_001n],
          [1n, 2_000_003n],
          [2n, 5_555n],
        ],
        f.expiry,
      );
      await settle(f, first);
      // Adapter 0 unchanged, adapter 1 +999_999, adapter 2 +4_444_447.
      const second = voucherOf(
        1n,
        [
          [0n, 1_001n],
          [1n, 3_000_002n],
          [2n, 4_450_002n],
        ],
        f.expiry,
      );
      const before = await snapshot(f);
      const tx = settle(f, second);
      await expect(tx)
        .to.emit(payments, "ChannelSettled")
        .withArgs(1n, bob.address, second.cumulativeAmount, 999_999n + 4_444_447n, first.usageRoot, second.usageRoot);
      expect((await payments.getChannel(1n)).usageRoot).to.equal(second.usageRoot);
      const revenue = await eventsOf(f, tx, "AdapterRevenue");
      expect(revenue.map((r) => [r.adapterId, r.amount])).to.deep.equal([
        [1n, 999_999n],
        [2n, 4_444_447n],
      ]);
      await expectSplits(f, before, { a1: splitA1(999_999n), a2: splitA2(4_444_447n) });
      expect(await payments.settledForAdapter(1n, 1n)).to.equal(3_000_002n);
      expect(await payments.settledForAdapter(1n, 2n)).to.equal(4_450_002n);
      expect((await payments.getChannel(1n)).settled).to.equal(second.cumulativeAmount);
      await expectConserved(f);
    });

    it("test_settle_addsANewAdapterLater", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      await settle(f, voucherOf(1n, [[1n, 100n]], f.expiry));
      const before = await snapshot(f);
      await settle(
        f,
        voucherOf(
          1n,
          [
            [1n, 100n],
            [2n, 301n],
          ],
          f.expiry,
        ),
      );
      await expectSplits(f, before, { a2: splitA2(301n) });
    });

    it("test_settle_baseModelRestGoesToOperator", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const { payments, bob } = f;
      const amount = 10_000_019n;
      const before = await snapshot(f);
      await expect(settle(f, voucherOf(1n, [[0n, amount]], f.expiry)))
        .to.emit(payments, "AdapterRevenue")
        .withArgs(1n, 0n, bob.address, amount, 500_000n, 9_500_019n, 0n, 0n);
      await expectSplits(f, before, { base: splitBase(amount) });
      expect(await f.rewards.totalFunded()).to.equal(0n);
    });

    it("test_settle_adapterTransferRedirectsOwnerShare", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const { payments, models, carol, stranger } = f;
      await settle(f, voucherOf(1n, [[1n, 1_000n]], f.expiry));
      const carolBalance = await payments.balanceOf(carol.address);
      expect(carolBalance).to.equal(splitA1(1_000n).ownerShare);
      await models.connect(carol).transferFrom(carol.address, stranger.address, 1n);
      await expect(settle(f, voucherOf(1n, [[1n, 3_001n]], f.expiry)))
        .to.emit(payments, "AdapterRevenue")
        .withArgs(
          1n,
          1n,
          stranger.address,
          2_001n,
          ...(() => {
            const s = splitA1(2_001n);
            return [s.protocolFee, s.operatorFee, s.ownerShare, s.dataShare];
          })(),
        );
      expect(await payments.balanceOf(stranger.address)).to.equal(splitA1(2_001n).ownerShare);
      expect(await payments.balanceOf(carol.address)).to.equal(carolBalance);
    });

    it("test_withdrawBalance_paysCreditedOnce", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const { payments, token, bob, carol, timelock, governance } = f;
      await settle(
        f,
        voucherOf(
          1n,
          [
            [0n, 7_777n],
            [1n, 9_999n],
          ],
          f.expiry,
        ),
      );
      for (const account of [bob, carol, governance]) {
        const credited = await payments.balanceOf(account.address);
        expect(credited).to.be.greaterThan(0n);
        const before = await token.balanceOf(account.address);
        await expect(payments.connect(account).withdrawBalance())
          .to.emit(payments, "BalanceWithdrawn")
          .withArgs(account.address, credited);
        expect(await token.balanceOf(account.address)).to.equal(before + credited);
        expect(await payments.balanceOf(account.address)).to.equal(0n);
        await expect(payments.connect(account).withdrawBalance())
          .to.be.revertedWithCustomError(payments, "NothingToWithdraw")
          .withArgs(account.address);
      }
      expect(governance.address).to.equal(await timelock.getAddress());
      expect(await payments.totalCredited()).to.equal(0n);
      await expectConserved(f);
    });
  });

  describe("replay and forgery", () => {
    it("test_settle_revertsIfReplayed", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const voucher = voucherOf(1n, [[1n, 500n]], f.expiry);
      const signature = await signed(f, voucher);
      await f.payments.connect(f.bob).settle(voucher, signature);
      await expect(f.payments.connect(f.bob).settle(voucher, signature))
        .to.be.revertedWithCustomError(f.payments, "NothingToSettle")
        .withArgs(1n, 500n, 500n);
      // An older, smaller voucher is no better.
      const older = voucherOf(1n, [[1n, 400n]], f.expiry);
      await expect(settle(f, older))
        .to.be.revertedWithCustomError(f.payments, "NothingToSettle")
        .withArgs(1n, 400n, 500n);
    });

    it("test_settle_revertsForVoucherSignedForAnotherChannel", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const { payments, alice, bob } = f;
      await payments.connect(alice).openChannel(bob.address, DEPOSIT, ethers.ZeroAddress);
      const forTwo = voucherOf(2n, [[1n, 500n]], f.expiry);
      const signature = await signed(f, forTwo);
      await expect(payments.connect(bob).settle({ ...forTwo, channelId: 1n }, signature))
        .to.be.revertedWithCustomError(payments, "InvalidSignature")
        .withArgs(1n, alice.address);
      // On its own channel it settles.
      await payments.connect(bob).settle(forTwo, signature);
      expect((await payments.getChannel(2n)).settled).to.equal(500n);
    });

    it("test_settle_revertsForVoucherSignedForAnotherChainOrContract", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const { payments, nodes, alice, bob } = f;
      const voucher = voucherOf(1n, [[1n, 500n]], f.expiry);
      const otherChain = await signVoucher(alice, voucherDomain(f.chainId + 1n, await payments.getAddress()), voucher);
      const otherContract = await signVoucher(alice, voucherDomain(f.chainId, await nodes.getAddress()), voucher);
      const otherName = await signVoucher(alice, { ...f.domain, version: "2" }, voucher);
      for (const signature of [otherChain, otherContract, otherName]) {
        await expect(payments.connect(bob).settle(voucher, signature))
          .to.be.revertedWithCustomError(payments, "InvalidSignature")
          .withArgs(1n, alice.address);
      }
      await payments.connect(bob).settle(voucher, await signed(f, voucher));
    });

    it("test_settle_revertsForMalleableSignature", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const { payments, alice, bob } = f;
      const voucher = voucherOf(1n, [[1n, 500n]], f.expiry);
      const signature = await signed(f, voucher);
      const highS = malleate(signature);
      // Both recover to alice with plain ecrecover...
      expect(ethers.recoverAddress(voucherDigest(f.domain, voucher), Signature.from(signature))).to.equal(
        alice.address,
      );
      expect(highS).not.to.equal(signature);
      expect(BigInt("0x" + highS.slice(66, 130))).to.be.greaterThan(SECP256K1_N / 2n);
      // ...but the high-s twin is refused.
      await expect(payments.connect(bob).settle(voucher, highS))
        .to.be.revertedWithCustomError(payments, "InvalidSignature")
        .withArgs(1n, alice.address);
      await payments.connect(bob).settle(voucher, signature);
    });

    it("test_settle_revertsForVoucherSignedByNonPayer", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const voucher = voucherOf(1n, [[1n, 500n]], f.expiry);
      for (const signer of [f.bob, f.carol]) {
        await expect(settle(f, voucher, signer))
          .to.be.revertedWithCustomError(f.payments, "InvalidSignature")
          .withArgs(1n, f.alice.address);
      }
      // Tampering with a signed voucher is a forgery too.
      const signature = await signed(f, voucher);
      await expect(f.payments.connect(f.bob).settle({ ...voucher, usageRoot: hashOf("other usage") }, signature))
        .to.be.revertedWithCustomError(f.payments, "InvalidSignature")
        .withArgs(1n, f.alice.address);
      await expect(f.payments.connect(f.bob).settle(voucher, "0x1234"))
        .to.be.revertedWithCustomError(f.payments, "InvalidSignature")
        .withArgs(1n, f.alice.address);
    });

    it("test_settle_revertsIfNotOperatorOrUnknownChannel", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const voucher = voucherOf(1n, [[1n, 500n]], f.expiry);
      const signature = await signed(f, voucher);
      for (const caller of [f.alice, f.carol]) {
        await expect(f.payments.connect(caller).settle(voucher, signature))
          .to.be.revertedWithCustomError(f.payments, "NotOperator")
          .withArgs(1n, caller.address);
      }
      const unknown = voucherOf(7n, [[1n, 500n]], f.expiry);
      await expect(settle(f, unknown)).to.be.revertedWithCustomError(f.payments, "ChannelNotFound").withArgs(7n);
    });

    it("test_settle_revertsIfExpired", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const voucher = voucherOf(1n, [[1n, 500n]], f.expiry);
      const signature = await signed(f, voucher);
      await networkHelpers.time.setNextBlockTimestamp(f.expiry + 1n);
      await expect(f.payments.connect(f.bob).settle(voucher, signature))
        .to.be.revertedWithCustomError(f.payments, "VoucherExpired")
        .withArgs(1n, f.expiry);
    });

    it("test_settle_acceptsAtExpiry", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const voucher = voucherOf(1n, [[1n, 500n]], f.expiry);
      const signature = await signed(f, voucher);
      await networkHelpers.time.setNextBlockTimestamp(f.expiry);
      await f.payments.connect(f.bob).settle(voucher, signature);
      expect((await f.payments.getChannel(1n)).settled).to.equal(500n);
    });

    it("test_settle_revertsIfAdapterAmountsDoNotSum", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const voucher = {
        ...voucherOf(
          1n,
          [
            [1n, 300n],
            [2n, 200n],
          ],
          f.expiry,
        ),
        cumulativeAmount: 501n,
      };
      await expect(settle(f, voucher))
        .to.be.revertedWithCustomError(f.payments, "AdapterAmountsMismatch")
        .withArgs(500n, 501n);
      const mismatched = { ...voucherOf(1n, [[1n, 300n]], f.expiry), adapterAmounts: [100n, 200n] };
      await expect(settle(f, mismatched)).to.be.revertedWithCustomError(f.payments, "LengthMismatch").withArgs(1n, 2n);
    });

    it("test_settle_revertsIfAdapterIdsNotIncreasing", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const base = { channelId: 1n, cumulativeAmount: 300n, usageRoot: hashOf("u"), expiry: f.expiry };
      const duplicate = { ...base, adapterIds: [1n, 1n], adapterAmounts: [100n, 200n] };
      await expect(settle(f, duplicate))
        .to.be.revertedWithCustomError(f.payments, "AdapterIdsNotIncreasing")
        .withArgs(1n, 1n);
      const descending = { ...base, adapterIds: [0n, 2n, 1n], adapterAmounts: [100n, 100n, 100n] };
      await expect(settle(f, descending))
        .to.be.revertedWithCustomError(f.payments, "AdapterIdsNotIncreasing")
        .withArgs(2n, 1n);
      const zeroTwice = { ...base, adapterIds: [0n, 0n], adapterAmounts: [100n, 200n] };
      await expect(settle(f, zeroTwice))
        .to.be.revertedWithCustomError(f.payments, "AdapterIdsNotIncreasing")
        .withArgs(1n, 0n);
    });

    it("test_settle_revertsIfAdapterAmountDecreased", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      await settle(
        f,
        voucherOf(
          1n,
          [
            [1n, 100n],
            [2n, 100n],
          ],
          f.expiry,
        ),
      );
      // The total grows, but adapter 1 goes back from 100 to 50.
      await expect(
        settle(
          f,
          voucherOf(
            1n,
            [
              [1n, 50n],
              [2n, 300n],
            ],
            f.expiry,
          ),
        ),
      )
        .to.be.revertedWithCustomError(f.payments, "AdapterAmountDecreased")
        .withArgs(1n, 50n, 100n);
    });

    it("test_settle_revertsIfSettledAdapterOmitted", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      await settle(
        f,
        voucherOf(
          1n,
          [
            [1n, 100n],
            [2n, 100n],
          ],
          f.expiry,
        ),
      );
      // Cumulative 250 > 200 settled, but adapter 1 is missing: the listed increase (150) exceeds the real one (50).
      await expect(settle(f, voucherOf(1n, [[2n, 250n]], f.expiry)))
        .to.be.revertedWithCustomError(f.payments, "UnlistedSettledAdapters")
        .withArgs(150n, 50n);
      await expect(settle(f, voucherOf(1n, [[0n, 300n]], f.expiry)))
        .to.be.revertedWithCustomError(f.payments, "UnlistedSettledAdapters")
        .withArgs(300n, 100n);
      expect(await f.payments.settledForAdapter(1n, 2n)).to.equal(100n);
    });

    it("test_settle_revertsIfOverDeposit", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      await expect(settle(f, voucherOf(1n, [[1n, DEPOSIT + 1n]], f.expiry)))
        .to.be.revertedWithCustomError(f.payments, "ExceedsDeposit")
        .withArgs(1n, DEPOSIT + 1n, DEPOSIT);
      // The whole deposit settles; a top-up makes room for more.
      await settle(f, voucherOf(1n, [[1n, DEPOSIT]], f.expiry));
      await f.payments.connect(f.alice).topUp(1n, 1n);
      await settle(f, voucherOf(1n, [[1n, DEPOSIT + 1n]], f.expiry));
      expect(await f.payments.totalEscrowed()).to.equal(0n);
      await expectConserved(f);
    });

    it("test_openChannel_revertsIfContractPayerNamesNoSigner", async () => {
      const { payments, token, carol, bob } = await networkHelpers.loadFixture(suiteWithChannel);
      const wallet = await ethers.deployContract("ERC1271Wallet", [carol.address]);
      const walletAddress = await wallet.getAddress();
      await token.connect(carol).transfer(walletAddress, 1_000n);
      await expect(
        wallet
          .connect(carol)
          .openChannel(await token.getAddress(), await payments.getAddress(), bob.address, 1_000n, ethers.ZeroAddress),
      )
        .to.be.revertedWithCustomError(payments, "VoucherSignerRequired")
        .withArgs(walletAddress);
      // Nor through the permit path on an allowance of its own.
      await expect(
        wallet
          .connect(carol)
          .openChannelWithOwnAllowance(await token.getAddress(), await payments.getAddress(), bob.address, 1_000n),
      )
        .to.be.revertedWithCustomError(payments, "VoucherSignerRequired")
        .withArgs(walletAddress);
    });

    it("test_settle_contractPayerCannotRevokeVouchersByRotatingItsKey", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const { payments, token, carol, alice, bob } = f;
      const wallet = await ethers.deployContract("ERC1271Wallet", [carol.address]);
      const walletAddress = await wallet.getAddress();
      await token.connect(carol).transfer(walletAddress, 1_000n);
      // The wallet names its current key (carol) as the channel's voucher signer, for good.
      await wallet
        .connect(carol)
        .openChannel(await token.getAddress(), await payments.getAddress(), bob.address, 1_000n, carol.address);
      const channel = await payments.getChannel(2n);
      expect(channel.payer).to.equal(walletAddress);
      expect(channel.voucherSigner).to.equal(carol.address);

      // The operator accepts vouchers signed by carol while serving.
      const first = voucherOf(2n, [[1n, 300n]], f.expiry);
      const second = voucherOf(2n, [[1n, 600n]], f.expiry);
      const firstSignature = await signVoucher(carol, f.domain, first);
      const secondSignature = await signVoucher(carol, f.domain, second);
      await payments.connect(bob).settle(first, firstSignature);

      // Then the wallet rotates to another key and asks to close: through ERC-1271 carol's signatures would no
      // longer verify and the wallet would withdraw everything; against the channel's signer they still settle.
      await wallet.connect(carol).rotate(alice.address);
      expect(await wallet.isValidSignature(await payments.voucherDigest(second), secondSignature)).to.equal(
        "0xffffffff",
      );
      await wallet.connect(alice).requestClose(await payments.getAddress(), 2n);
      await expect(payments.connect(bob).settle(second, secondSignature))
        .to.emit(payments, "ChannelSettled")
        .withArgs(2n, bob.address, 600n, 300n, first.usageRoot, second.usageRoot);

      // The new key signs nothing on this channel, and malleated signatures are refused.
      const third = voucherOf(2n, [[1n, 700n]], f.expiry);
      await expect(payments.connect(bob).settle(third, await signVoucher(alice, f.domain, third)))
        .to.be.revertedWithCustomError(payments, "InvalidSignature")
        .withArgs(2n, carol.address);
      await expect(payments.connect(bob).settle(third, malleate(await signVoucher(carol, f.domain, third))))
        .to.be.revertedWithCustomError(payments, "InvalidSignature")
        .withArgs(2n, carol.address);

      await networkHelpers.time.increase(CHALLENGE + 1n);
      const before = await token.balanceOf(walletAddress);
      await wallet.connect(alice).withdrawChannel(await payments.getAddress(), 2n);
      expect(await token.balanceOf(walletAddress)).to.equal(before + 400n);
      await expectConserved(f);
    });
  });

  describe("closing races", () => {
    async function closing() {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      await settle(f, voucherOf(1n, [[1n, 100n]], f.expiry));
      await f.payments.connect(f.alice).requestClose(1n);
      const { closesAt } = await f.payments.getChannel(1n);
      return { ...f, closesAt };
    }

    it("test_requestClose_startsWindowOnce", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const { payments, alice, bob } = f;
      await expect(payments.connect(bob).requestClose(1n))
        .to.be.revertedWithCustomError(payments, "NotPayer")
        .withArgs(1n, bob.address);
      await expect(payments.connect(alice).requestClose(5n))
        .to.be.revertedWithCustomError(payments, "ChannelNotFound")
        .withArgs(5n);
      const tx = payments.connect(alice).requestClose(1n);
      await tx;
      const t = BigInt(await networkHelpers.time.latest());
      await expect(tx)
        .to.emit(payments, "CloseRequested")
        .withArgs(1n, t + CHALLENGE);
      expect((await payments.getChannel(1n)).closesAt).to.equal(t + CHALLENGE);
      await expect(payments.connect(alice).requestClose(1n))
        .to.be.revertedWithCustomError(payments, "ChannelClosing")
        .withArgs(1n, t + CHALLENGE);
    });

    it("test_settle_withinChallengeWindowSucceeds", async () => {
      const f = await closing();
      const voucher = voucherOf(1n, [[1n, 400n]], f.expiry);
      const signature = await signed(f, voucher);
      await networkHelpers.time.setNextBlockTimestamp(f.closesAt);
      await expect(f.payments.connect(f.bob).settle(voucher, signature)).to.emit(f.payments, "ChannelSettled");
      expect((await f.payments.getChannel(1n)).settled).to.equal(400n);
    });

    it("test_settle_revertsAfterChallengeWindow", async () => {
      const f = await closing();
      const voucher = voucherOf(1n, [[1n, 400n]], f.expiry);
      const signature = await signed(f, voucher);
      await networkHelpers.time.setNextBlockTimestamp(f.closesAt + 1n);
      await expect(f.payments.connect(f.bob).settle(voucher, signature))
        .to.be.revertedWithCustomError(f.payments, "ChallengeWindowOver")
        .withArgs(1n, f.closesAt);
    });

    it("test_topUp_revertsAfterRequestClose", async () => {
      const f = await closing();
      await expect(f.payments.connect(f.alice).topUp(1n, 5n))
        .to.be.revertedWithCustomError(f.payments, "ChannelClosing")
        .withArgs(1n, f.closesAt);
    });

    it("test_withdrawChannel_onlyAfterWindow", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const { payments, token, alice, bob } = f;
      await expect(payments.connect(alice).withdrawChannel(1n))
        .to.be.revertedWithCustomError(payments, "ChallengeWindowOpen")
        .withArgs(1n, 0n);
      await settle(f, voucherOf(1n, [[1n, 100n]], f.expiry));
      await payments.connect(alice).requestClose(1n);
      const { closesAt } = await payments.getChannel(1n);
      await expect(payments.connect(bob).withdrawChannel(1n))
        .to.be.revertedWithCustomError(payments, "NotPayer")
        .withArgs(1n, bob.address);
      await networkHelpers.time.setNextBlockTimestamp(closesAt);
      await expect(payments.connect(alice).withdrawChannel(1n))
        .to.be.revertedWithCustomError(payments, "ChallengeWindowOpen")
        .withArgs(1n, closesAt);
      await networkHelpers.time.setNextBlockTimestamp(closesAt + 1n);
      const before = await token.balanceOf(alice.address);
      await expect(payments.connect(alice).withdrawChannel(1n))
        .to.emit(payments, "ChannelFinalized")
        .withArgs(1n, DEPOSIT - 100n);
      expect(await token.balanceOf(alice.address)).to.equal(before + DEPOSIT - 100n);
      expect((await payments.getChannel(1n)).finalized).to.equal(true);
      expect(await payments.totalEscrowed()).to.equal(0n);
      await expect(payments.connect(alice).withdrawChannel(1n))
        .to.be.revertedWithCustomError(payments, "ChannelIsFinalized")
        .withArgs(1n);
      await expectConserved(f);
    });

    it("test_settle_revertsAfterFinalize", async () => {
      const f = await closing();
      const voucher = voucherOf(1n, [[1n, 400n]], f.expiry);
      const signature = await signed(f, voucher);
      await networkHelpers.time.setNextBlockTimestamp(f.closesAt + 1n);
      await f.payments.connect(f.alice).withdrawChannel(1n);
      await expect(f.payments.connect(f.bob).settle(voucher, signature))
        .to.be.revertedWithCustomError(f.payments, "ChannelIsFinalized")
        .withArgs(1n);
      await expect(f.payments.connect(f.alice).topUp(1n, 1n))
        .to.be.revertedWithCustomError(f.payments, "ChannelClosing")
        .withArgs(1n, f.closesAt);
    });

    it("test_withdrawChannel_fullySettledRefundsNothing", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      await settle(f, voucherOf(1n, [[2n, DEPOSIT]], f.expiry));
      await f.payments.connect(f.alice).requestClose(1n);
      await networkHelpers.time.increase(CHALLENGE + 1n);
      const before = await f.token.balanceOf(f.alice.address);
      await expect(f.payments.connect(f.alice).withdrawChannel(1n))
        .to.emit(f.payments, "ChannelFinalized")
        .withArgs(1n, 0n);
      expect(await f.token.balanceOf(f.alice.address)).to.equal(before);
    });
  });

  describe("conservation", () => {
    it("test_conservation_afterMixedSequence", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const { payments, token, alice, bob, carol } = f;
      // A small deterministic generator: the sequence is fixed, the amounts odd and uneven.
      let seed = 0x5eedn;
      const next = (bound: bigint) => {
        seed = (seed * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n;
        return (seed >> 16n) % bound;
      };
      await payments.connect(carol).openChannel(bob.address, 3_000_000_001n, ethers.ZeroAddress);
      const payers = new Map([
        [1n, alice],
        [2n, carol],
      ]);
      let deposits = DEPOSIT + 3_000_000_001n;
      let refunds = 0n;
      let withdrawn = 0n;
      const settledPer = new Map<bigint, Map<bigint, bigint>>([
        [1n, new Map()],
        [2n, new Map()],
      ]);
      const expected = { treasury: 0n, operator: 0n, carol: 0n, curator: 0n, data: 0n };
      const splitFor = (id: bigint, x: bigint) => (id === 0n ? splitBase(x) : id === 1n ? splitA1(x) : splitA2(x));

      for (let step = 0; step < 24; step++) {
        const channelId = 1n + next(2n);
        const action = next(6n);
        const payer = payers.get(channelId)!;
        if (action === 0n) {
          const amount = 1n + next(1_000_003n);
          await payments.connect(payer).topUp(channelId, amount);
          deposits += amount;
        } else if (action === 1n) {
          for (const account of [bob, carol]) {
            const credited = await payments.balanceOf(account.address);
            if (credited > 0n) {
              await payments.connect(account).withdrawBalance();
              withdrawn += credited;
            }
          }
        } else {
          const per = settledPer.get(channelId)!;
          const updated = new Map(per);
          for (const id of [0n, 1n, 2n]) {
            if (next(3n) !== 0n) updated.set(id, (updated.get(id) ?? 0n) + 1n + next(50_000_001n));
          }
          const voucher = voucherOf(channelId, [...updated.entries()], f.expiry);
          if (voucher.cumulativeAmount === sum([...per.values()])) continue;
          await payments.connect(bob).settle(voucher, await signVoucher(payer, f.domain, voucher));
          for (const [id, amount] of updated) {
            const delta = amount - (per.get(id) ?? 0n);
            if (delta === 0n) continue;
            const s = splitFor(id, delta);
            expected.treasury += s.protocolFee;
            expected.operator += s.operatorFee;
            if (id === 1n) expected.carol += s.ownerShare;
            if (id === 2n) expected.curator += s.ownerShare;
            expected.data += s.dataShare;
          }
          settledPer.set(channelId, updated);
        }
        await expectConserved(f);
      }
      // Close channel 2 and take the refund.
      await payments.connect(carol).requestClose(2n);
      await networkHelpers.time.increase(CHALLENGE + 1n);
      const ch2 = await payments.getChannel(2n);
      await payments.connect(carol).withdrawChannel(2n);
      refunds += ch2.deposit - ch2.settled;
      await expectConserved(f);

      const settledTotal = sum([...settledPer.values()].flatMap((m) => [...m.values()]));
      expect(settledTotal).to.be.greaterThan(0n);
      expect((await payments.getChannel(1n)).settled + ch2.settled).to.equal(settledTotal);
      // Every deposited wei is settled, refunded, or still escrowed.
      expect(deposits).to.equal(settledTotal + refunds + (await payments.totalEscrowed()));
      // Every settled wei is a fee, an owner share or a data share.
      const shares = expected.treasury + expected.operator + expected.carol + expected.curator + expected.data;
      expect(shares).to.equal(settledTotal);
      expect(await payments.totalCredited()).to.equal(settledTotal - expected.data - withdrawn);
      expect(await f.rewards.totalFunded()).to.equal(expected.data);
      expect(await token.balanceOf(await f.rewards.getAddress())).to.equal(expected.data);
      expect(await payments.balanceOf(await f.timelock.getAddress())).to.equal(expected.treasury);
      expect(await payments.balanceOf(f.curator.address)).to.equal(expected.curator);
      expect((await payments.balanceOf(bob.address)) + (await payments.balanceOf(carol.address)) + withdrawn).to.equal(
        expected.operator + expected.carol,
      );
    });
  });

  describe("governance setters", () => {
    it("test_setters_updateAndApplyToLaterSettlements", async () => {
      const f = await networkHelpers.loadFixture(suiteWithChannel);
      const { payments, governance, curator } = f;
      await expect(payments.connect(governance).setFees(2_000, 1_000))
        .to.emit(payments, "FeesSet")
        .withArgs(2_000n, 1_000n);
      await expect(payments.connect(governance).setChallengePeriod(3_600))
        .to.emit(payments, "ChallengePeriodSet")
        .withArgs(3_600n);
      await expect(payments.connect(governance).setTreasury(curator.address))
        .to.emit(payments, "TreasurySet")
        .withArgs(curator.address);
      const before = await snapshot(f);
      await settle(f, voucherOf(1n, [[1n, 12_345n]], f.expiry));
      const s = splitOf(12_345n, ADAPTER_1.dataShareBps, ADAPTER_1.weights, 2_000n, 1_000n);
      // Curator is now the treasury: fee credited there, not to the Timelock.
      expect((await payments.balanceOf(curator.address)) - before.curator).to.equal(s.protocolFee);
      expect((await payments.balanceOf(f.bob.address)) - before.operator).to.equal(s.operatorFee);
      expect((await payments.balanceOf(f.carol.address)) - before.carol).to.equal(s.ownerShare);
      expect((await f.rewards.totalFunded()) - before.funded).to.equal(s.dataShare);
    });

    it("test_setters_revertOnBadInputOrNonGovernance", async () => {
      const { payments, governance, deployer } = await networkHelpers.loadFixture(suiteWithChannel);
      await expect(payments.connect(governance).setFees(2_001, 1_000))
        .to.be.revertedWithCustomError(payments, "FeesTooHigh")
        .withArgs(2_001n, 1_000n);
      await expect(payments.connect(governance).setChallengePeriod(3_599))
        .to.be.revertedWithCustomError(payments, "ChallengePeriodOutOfRange")
        .withArgs(3_599n);
      await expect(payments.connect(governance).setChallengePeriod(30 * DAY + 1))
        .to.be.revertedWithCustomError(payments, "ChallengePeriodOutOfRange")
        .withArgs(BigInt(30 * DAY + 1));
      await expect(payments.connect(governance).setTreasury(ethers.ZeroAddress)).to.be.revertedWithCustomError(
        payments,
        "ZeroAddress",
      );
      for (const call of [
        payments.connect(deployer).setFees(0, 0),
        payments.connect(deployer).setChallengePeriod(3_600),
        payments.connect(deployer).setTreasury(deployer.address),
      ]) {
        await expect(call)
          .to.be.revertedWithCustomError(payments, "OwnableUnauthorizedAccount")
          .withArgs(deployer.address);
      }
    });
  });
});
