import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { sha256, toUtf8Bytes, ZeroAddress, type BigNumberish, type Signer } from "ethers";
import { network } from "hardhat";
import OpenPoAModule, { DEFAULT_PARAMETERS } from "../../ignition/modules/OpenPoA.ts";
import { commitmentOf, newSalt } from "../../scripts/lib/commitments.ts";
import type { DatanetRegistry, IModelRegistry, ModelRegistry } from "../../types/ethers-contracts/index.ts";

export const OPEN = 10n ** 18n;
export const DAY = 24 * 60 * 60;

/** The production defaults, with governance short enough for tests to travel through. */
export const testParameters = {
  ...DEFAULT_PARAMETERS,
  timelockDelaySeconds: DAY,
  votingDelaySeconds: 60,
  votingPeriodSeconds: 3 * DAY,
  proposalThresholdVotes: 0n,
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
    const servingRules = await ethers.getContractAt("ServingRules", await deployed.servingRules.getAddress());
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
      servingRules,
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
    await contribute(datanets.connect(owner), n, hashOf(`text-${n}`), `ipfs://text-${n}`, 100, 0);
    await datanets.connect(owner).publishVersion(n, hashOf(`root-${n}`));
  }
  await registerBaseModel(models.connect(alice), "tiny-llama", hashOf("base-weights"), "ipfs://base");
}

type Committing = { commit(commitment: string): Promise<{ wait(): Promise<unknown> }>; runner: unknown };

/** Commits, as the registry's connected signer, to registering `hash`; returns the salt that reveals it. */
export async function commitTo(registry: Committing, hash: string): Promise<`0x${string}`> {
  const submitter = (await (registry.runner as Signer).getAddress()) as `0x${string}`;
  const salt = newSalt();
  await (await registry.commit(commitmentOf(submitter, hash as `0x${string}`, salt))).wait();
  return salt;
}

/** `DatanetRegistry.contribute` as its caller sends it: commit in one block, reveal in the next. */
export async function contribute(
  datanets: DatanetRegistry,
  datanetId: BigNumberish,
  contentHash: string,
  uri: string,
  sizeTokens: BigNumberish,
  stake: BigNumberish,
) {
  const salt = await commitTo(datanets, contentHash);
  return datanets.contribute(datanetId, contentHash, uri, sizeTokens, stake, salt);
}

/** `ModelRegistry.registerBaseModel` after its commitment. */
export async function registerBaseModel(models: ModelRegistry, name: string, artifactHash: string, uri: string) {
  const salt = await commitTo(models, artifactHash);
  return models.registerBaseModel(name, artifactHash, uri, salt);
}

/** `ModelRegistry.registerAdapter` after its commitment. */
export async function registerAdapter(models: ModelRegistry, params: IModelRegistry.AdapterParamsStruct) {
  const salt = await commitTo(models, params.artifactHash as string);
  return models.registerAdapter(params, salt);
}
