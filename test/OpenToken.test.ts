import { expect } from "chai";
import { connectSuite, OPEN } from "./helpers/fixtures.ts";

const { ethers, networkHelpers, deploySuite } = await connectSuite();

describe("OpenToken", () => {
  it("test_constructor_mintsFixedSupplyToGenesisRecipient", async () => {
    const { token, deployer } = await networkHelpers.loadFixture(deploySuite);
    expect(await token.totalSupply()).to.equal(1_000_000_000n * OPEN);
    expect(await token.TOTAL_SUPPLY()).to.equal(1_000_000_000n * OPEN);
    expect(await token.symbol()).to.equal("OPEN");
    expect(await token.decimals()).to.equal(18n);
    expect(await token.balanceOf(deployer.address)).to.equal(996_000_000n * OPEN);
  });

  it("test_constructor_revertsIfZeroTreasury", async () => {
    const factory = await ethers.getContractFactory("OpenToken");
    await expect(factory.deploy(ethers.ZeroAddress)).to.be.revertedWithCustomError(factory, "ZeroTreasury");
  });

  it("test_token_hasNoMintFunction", async () => {
    const { token } = await networkHelpers.loadFixture(deploySuite);
    const names = token.interface.fragments
      .filter((f) => f.type === "function")
      .map((f) => (f as { name: string }).name);
    expect(names.some((name) => /mint/i.test(name))).to.equal(false);
  });

  it("test_clock_isTimestamp", async () => {
    const { token } = await networkHelpers.loadFixture(deploySuite);
    expect(await token.CLOCK_MODE()).to.equal("mode=timestamp");
    expect(await token.clock()).to.equal(BigInt(await networkHelpers.time.latest()));
  });

  it("test_permit_setsAllowanceFromSignature", async () => {
    const { token, alice, bob } = await networkHelpers.loadFixture(deploySuite);
    const deadline = BigInt(await networkHelpers.time.latest()) + 3600n;
    const value = 5n * OPEN;
    const { chainId } = await ethers.provider.getNetwork();
    const signature = ethers.Signature.from(
      await alice.signTypedData(
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
        { owner: alice.address, spender: bob.address, value, nonce: 0n, deadline },
      ),
    );
    await token.permit(alice.address, bob.address, value, deadline, signature.v, signature.r, signature.s);
    expect(await token.allowance(alice.address, bob.address)).to.equal(value);
    expect(await token.nonces(alice.address)).to.equal(1n);
    // The same signature cannot be replayed: the nonce moved on.
    await expect(
      token.permit(alice.address, bob.address, value, deadline, signature.v, signature.r, signature.s),
    ).to.be.revertedWithCustomError(token, "ERC2612InvalidSigner");
  });

  it("test_delegate_checkpointsVotesByTimestamp", async () => {
    const { token, alice, bob } = await networkHelpers.loadFixture(deploySuite);
    await token.connect(alice).delegate(bob.address);
    const delegatedAt = await networkHelpers.time.latest();
    await networkHelpers.time.increase(10);
    expect(await token.getVotes(bob.address)).to.equal(1_000_000n * OPEN);
    expect(await token.getPastVotes(bob.address, delegatedAt - 1)).to.equal(0n);
    expect(await token.getPastVotes(bob.address, delegatedAt)).to.equal(1_000_000n * OPEN);
  });
});
