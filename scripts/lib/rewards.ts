/**
 * Reward claims from public data: the epoch roots on AttributionRewards, and the distribution files (content-
 * addressed by the hash proposed with each root) in a content store.
 */
import { getAddress, type Address, type Hex, type LocalAccount } from "viem";
import {
  contentStoreAt,
  decodeDistributionFile,
  distributionTree,
  getContent,
  type ContentStore,
  type DistributionFile,
  type StoreKind,
} from "../../attribution/src/index.ts";
import { ConfigurationError, type Suite } from "./contracts.ts";
import { read } from "./transactions.ts";

export type EpochRoot = {
  epoch: bigint;
  root: Hex;
  total: bigint;
  contentHash: Hex;
  claimableAt: bigint;
  revoked: boolean;
  /** The attribution policy the root was computed with. */
  policyId: number;
};

/** The content store's location (a directory or an http(s) base URL); defaults to OPENPOA_CONTENT_DIR / _URL. */
export function contentLocation(location = process.env.OPENPOA_CONTENT_DIR ?? process.env.OPENPOA_CONTENT_URL): string {
  if (!location)
    throw new ConfigurationError(
      "Name a content store: --content <dir|url>, OPENPOA_CONTENT_DIR or OPENPOA_CONTENT_URL",
    );
  return location;
}

/** The content store at `location` (default as contentLocation); writes to a store server signed as `writer` says. */
export function openContentStore(
  location?: string,
  writer: { signer?: LocalAccount; kind?: StoreKind } = {},
): ContentStore {
  return contentStoreAt(contentLocation(location), writer);
}

/** The CLI's writes of `kind` to a store server: signed by its account, when it has a key. */
export const storeWriter = (suite: Suite, kind: StoreKind) => ({
  signer: suite.account?.type === "local" ? suite.account : undefined,
  kind,
});

export async function readEpochRoot(suite: Suite, epoch: bigint): Promise<EpochRoot> {
  const root = await read<Omit<EpochRoot, "epoch">>(suite, {
    contract: "AttributionRewards",
    functionName: "getEpochRoot",
    args: [epoch],
  });
  return { epoch, ...root };
}

/** The newest epoch whose root can be claimed against now (not revoked, past its delay), or undefined. */
export async function newestClaimableEpoch(suite: Suite): Promise<EpochRoot | undefined> {
  const last = await read<bigint>(suite, { contract: "AttributionRewards", functionName: "lastEpoch" });
  const { timestamp } = await suite.publicClient.getBlock();
  for (let epoch = last; epoch > 0n; epoch--) {
    const root = await readEpochRoot(suite, epoch);
    if (!root.revoked && root.claimableAt <= timestamp) return root;
  }
  return undefined;
}

/** The newest proposed epoch if it is not claimable yet (not revoked, still within its claim delay). */
export async function pendingEpoch(suite: Suite): Promise<EpochRoot | undefined> {
  const last = await read<bigint>(suite, { contract: "AttributionRewards", functionName: "lastEpoch" });
  if (last === 0n) return undefined;
  const root = await readEpochRoot(suite, last);
  const { timestamp } = await suite.publicClient.getBlock();
  return !root.revoked && root.claimableAt > timestamp ? root : undefined;
}

/** What `account` earned in an epoch, per contribution: the file's allocations to it. */
export function earnedBy(file: DistributionFile, account: Address) {
  return file.allocations
    .filter((allocation) => getAddress(allocation.contributor) === getAddress(account))
    .map(({ contributionId, datanetId, version, adapterId, amount }) => ({
      epoch: file.epoch,
      contributionId,
      datanetId,
      version,
      adapterId,
      amount,
    }));
}

export async function loadDistribution(store: ContentStore, root: EpochRoot): Promise<DistributionFile> {
  const file = decodeDistributionFile(
    new TextDecoder().decode(await getContent(store, { contentHash: root.contentHash })),
  );
  if (file.root.toLowerCase() !== root.root.toLowerCase() || file.epoch !== root.epoch) {
    throw new ConfigurationError(
      `The distribution file ${root.contentHash} does not match epoch ${root.epoch}'s root ${root.root}`,
    );
  }
  return file;
}

export type RewardStatus = {
  account: Address;
  epoch: bigint;
  index: bigint;
  cumulativeAmount: bigint;
  claimed: bigint;
  claimable: bigint;
  lastClaimedEpoch: bigint;
  /** What the account earned in this epoch, per contribution. */
  earned: ReturnType<typeof earnedBy>;
  /** Arguments for AttributionRewards.claim(epoch, claim). */
  claim: {
    index: bigint;
    account: Address;
    cumulativeAmount: bigint;
    proof: Hex[];
    previousAmount: bigint;
    previousProof: Hex[];
  };
};

function leafProof(file: DistributionFile, account: Address) {
  const position = file.leaves.findIndex((leaf) => getAddress(leaf.account) === account);
  if (position < 0) return undefined;
  const tree = distributionTree(file.leaves);
  return { leaf: file.leaves[position]!, proof: tree.getProof(position) as Hex[] };
}

/** What `account` is owed under the newest claimable root, with the proofs to claim it; undefined if nothing. */
export async function rewardStatus(
  suite: Suite,
  store: ContentStore,
  account: Address,
): Promise<RewardStatus | undefined> {
  account = getAddress(account);
  const root = await newestClaimableEpoch(suite);
  if (!root) return undefined;
  const file = await loadDistribution(store, root);
  const current = leafProof(file, account);
  if (!current) return undefined;
  const { index, cumulativeAmount } = current.leaf;
  const lastClaimedEpoch = await read<bigint>(suite, {
    contract: "AttributionRewards",
    functionName: "lastClaimedEpoch",
    args: [index],
  });
  let previousAmount = 0n;
  let previousProof: Hex[] = [];
  if (lastClaimedEpoch > 0n) {
    const previous = leafProof(await loadDistribution(store, await readEpochRoot(suite, lastClaimedEpoch)), account);
    if (!previous) throw new ConfigurationError(`Epoch ${lastClaimedEpoch}'s distribution has no leaf for ${account}`);
    previousAmount = previous.leaf.cumulativeAmount;
    previousProof = previous.proof;
  }
  const claimable = lastClaimedEpoch >= root.epoch ? 0n : cumulativeAmount - previousAmount;
  return {
    account,
    epoch: root.epoch,
    index,
    cumulativeAmount,
    claimed: previousAmount,
    claimable,
    lastClaimedEpoch,
    earned: earnedBy(file, account),
    claim: { index, account, cumulativeAmount, proof: current.proof, previousAmount, previousProof },
  };
}
