import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { sha256, toUtf8Bytes, ZeroAddress, type Signer } from "ethers";
import { network } from "hardhat";
import OpenPoAModule from "../../ignition/modules/OpenPoA.ts";

export const OPEN = 10n ** 18n;
export const DAY = 24 * 60 * 60;

/** Governance settings short enough for tests to travel through; the production defaults live in the module. */
export const testParameters = {
  timelockDelaySeconds: DAY,
  votingDelaySeconds: 60,
  votingPeriodSeconds: 3 * DAY,
  proposalThresholdVotes: 0,
  quorumPercent: 4,
  stakeLockPeriodSeconds: 7 * DAY,
  minDataShareBps: 1_000,
  minOperatorStake: 10_000n * 10n ** 18n,
  unbondingPeriodSeconds: 7 * DAY,
  claimDelaySeconds: DAY,
  protocolFeeBps: 500,
  operatorFeeBps: 1_000,
  challengePeriodSeconds: DAY,
};

/** One in-process chain per test file, with the suite deployed by the same Ignition module as production. */
export async function connectSuite() {
  const connection = await network.create();
  const { ethers, ignition, networkHelpers } = connection;

  async function deploySuite() {
    const [deployer, alice, bob, carol, curator, stranger] = await ethers.getSigners();
    const deployed = await ignition.deploy(OpenPoAModule, { parameters: { OpenPoA: testParameters } });
    const token = await ethers.getContractAt("OpenToken", await deployed.token.getAddress());
    const timelock = await ethers.getContractAt("OpenTimelock", await deployed.timelock.getAddress());
    const governor = await ethers.getContractAt("OpenGovernor", await deployed.governor.getAddress());
    const datanets = await ethers.getContractAt("DatanetRegistry", await deployed.datanetRegistry.getAddress());
    const models = await ethers.getContractAt("ModelRegistry", await deployed.modelRegistry.getAddress());
    const nodes = await ethers.getContractAt("NodeRegistry", await deployed.nodeRegistry.getAddress());
    const rewards = await ethers.getContractAt("AttributionRewards", await deployed.attributionRewards.getAddress());
    const payments = await ethers.getContractAt("InferencePayments", await deployed.inferencePayments.getAddress());
    for (const account of [alice, bob, carol, curator]) {
      await token.transfer(account.address, 1_000_000n * OPEN);
    }
    return {
      deployer,
      alice,
      bob,
      carol,
      curator,
      stranger,
      token,
      timelock,
      governor,
      datanets,
      models,
      nodes,
      rewards,
      payments,
    };
  }

  return { ethers, networkHelpers, deploySuite };
}

export type DatanetLeaf = [contributionId: bigint, contributor: string, contentHash: string, weight: bigint];

/** The datanet-version tree exactly as IDatanetRegistry documents it, rebuilt from events. */
export function datanetVersionTree(leaves: DatanetLeaf[]) {
  return StandardMerkleTree.of(leaves, ["uint256", "address", "bytes32", "uint256"]);
}

export const hashOf = (text: string) => sha256(toUtf8Bytes(text));

type Suite = Awaited<ReturnType<Awaited<ReturnType<typeof connectSuite>>["deploySuite"]>>;

/**
 * One open datanet per owner (ids 1, 2, …), each with one contribution and a published version 1, and base model 1:
 * what adapters need before they can register a lineage.
 */
export async function publishDatanetsAndBaseModel(suite: Suite, owners: readonly Signer[]): Promise<void> {
  const { datanets, models, alice } = suite;
  for (const [i, owner] of owners.entries()) {
    const n = i + 1;
    await datanets.connect(owner).createDatanet({
      metadataURI: `ipfs://datanet-${n}`,
      license: "MIT",
      curated: false,
      minStake: 0n,
      treasury: ZeroAddress,
      curators: [],
    });
    await datanets.connect(owner).contribute(n, hashOf(`text-${n}`), `ipfs://text-${n}`, 100, 0);
    await datanets.connect(owner).publishVersion(n, hashOf(`root-${n}`));
  }
  await models.connect(alice).registerBaseModel("tiny-llama", hashOf("base-weights"), "ipfs://base");
}
