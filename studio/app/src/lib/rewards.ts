/**
 * Reward claims, checked in the browser before anything is signed. AttributionRewards' claim is cumulative: a claim
 * against epoch e pays the account's leaf in e's root minus its leaf in the epoch its index last claimed against, so
 * one claim pays every epoch through e, and no epoch up to e can be claimed after it. The indexer gives the leaves
 * and their proofs (GET /rewards/:account[?epoch=]); here they are proven against the roots the chain holds.
 */
import { concat, encodeAbiParameters, getAddress, keccak256, type Address, type Hex } from "viem";

/** The indexer's GET /rewards/:account answer. Amounts and epochs are decimal strings. */
export type RewardsAnswer = {
  account: Address;
  /** What the account has received so far (its claims' sum). */
  claimed: string;
  /** The newest epoch the account claimed against ("0": never). */
  lastClaimedEpoch: string;
  /** Proposed roots not claimable yet, oldest first, with the chain time from which they are. */
  pendingRoots: { epoch: string; claimableAt: string }[];
  /** The root the answer's proof is for: the newest claimable one, or the one asked for; null when none is. */
  epoch: string | null;
  root: Hex | null;
  contentHash: Hex | null;
  uri: string | null;
  /** The account's stable leaf index; null when the root has no leaf for it. */
  index: string | null;
  cumulativeAmount: string;
  /** What a claim against `epoch` pays now. */
  claimable: string;
  proof: Hex[] | null;
  /** The account's leaf in the root it last claimed against, which a claim proves too; null before a first claim. */
  previous: { epoch: string; cumulativeAmount: string; proof: Hex[] } | null;
};

/** An epoch's root as AttributionRewards.getEpochRoot returns it (the fields the check needs). */
export type ChainRoot = { root: Hex; claimableAt: bigint; revoked: boolean };

/** AttributionRewards.claim's second argument (IAttributionRewards.Claim). */
export type ClaimArgument = {
  index: bigint;
  account: Address;
  cumulativeAmount: bigint;
  proof: Hex[];
  previousAmount: bigint;
  previousProof: Hex[];
};

/** A claim ready to send: `claim(epoch, argument)` pays `amount`; `previousEpoch` is the one also proven (0: none). */
export type CheckedClaim = { epoch: bigint; argument: ClaimArgument; amount: bigint; previousEpoch: bigint };

/** What the chain says, read just before the check: the roots involved, the index's last claim, the chain's time. */
export type ClaimChainState = {
  root: ChainRoot;
  /** The root of `lastClaimedEpoch`, when it is not 0. */
  previousRoot?: ChainRoot;
  lastClaimedEpoch: bigint;
  /** The newest block's timestamp: claimability is decided by block.timestamp, not the browser's clock. */
  now: bigint;
};

/** The indexer's answer does not hold against the chain, or there is nothing to claim: nothing is signed. */
export class ClaimCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ClaimCheckError";
  }
}

/** The leaf hash of OpenZeppelin's StandardMerkleTree for (index, account, cumulativeAmount). */
export function distributionLeafHash(index: bigint, account: Address, cumulativeAmount: bigint): Hex {
  const encoded = encodeAbiParameters(
    [{ type: "uint256" }, { type: "address" }, { type: "uint256" }],
    [index, account, cumulativeAmount],
  );
  return keccak256(keccak256(encoded));
}

/**
 * Whether `proof` proves the leaf (index, account, cumulativeAmount) in `root`, as MerkleProof.verify does on chain
 * (pairs hashed in sorted order). A few lines here rather than @openzeppelin/merkle-tree in the bundle: that library
 * pulls Node-flavoured dependencies; the tests check both agree.
 */
export function verifyDistributionProof({
  root,
  index,
  account,
  cumulativeAmount,
  proof,
}: {
  root: Hex;
  index: bigint;
  account: Address;
  cumulativeAmount: bigint;
  proof: readonly Hex[];
}): boolean {
  let node = distributionLeafHash(index, account, cumulativeAmount);
  for (const sibling of proof) {
    node = keccak256(BigInt(node) <= BigInt(sibling) ? concat([node, sibling]) : concat([sibling, node]));
  }
  return BigInt(node) === BigInt(root);
}

/**
 * The claim `answer` describes, once it holds against `chain`: the root is the chain's, claimable and not revoked;
 * the leaf's proof verifies against it; the previous leaf is the one of the epoch the chain says the index last
 * claimed against, proven against that root; and the amount is positive. Throws ClaimCheckError naming what fails.
 */
export function checkClaim(answer: RewardsAnswer, chain: ClaimChainState): CheckedClaim {
  if (answer.epoch === null || answer.root === null) throw new ClaimCheckError("No epoch can be claimed against yet.");
  if (answer.index === null || answer.proof === null)
    throw new ClaimCheckError(`Epoch ${answer.epoch}'s distribution has no leaf for ${answer.account}.`);
  const epoch = BigInt(answer.epoch);
  const index = BigInt(answer.index);
  const account = getAddress(answer.account);
  const cumulativeAmount = BigInt(answer.cumulativeAmount);
  if (chain.root.revoked) throw new ClaimCheckError(`Epoch ${epoch}'s root was revoked on chain.`);
  if (BigInt(chain.root.root) !== BigInt(answer.root))
    throw new ClaimCheckError(`The indexer's root of epoch ${epoch} is not the chain's (${chain.root.root}).`);
  if (chain.root.claimableAt > chain.now)
    throw new ClaimCheckError(`Epoch ${epoch} is claimable from chain time ${chain.root.claimableAt}, not yet.`);
  if (!verifyDistributionProof({ root: chain.root.root, index, account, cumulativeAmount, proof: answer.proof }))
    throw new ClaimCheckError(`The proof of leaf ${index} does not verify against epoch ${epoch}'s on-chain root.`);
  if (chain.lastClaimedEpoch >= epoch)
    throw new ClaimCheckError(`Index ${index} already claimed through epoch ${chain.lastClaimedEpoch}.`);

  let previousAmount = 0n;
  let previousProof: Hex[] = [];
  if (chain.lastClaimedEpoch > 0n) {
    const previous = answer.previous;
    if (!previous || BigInt(previous.epoch) !== chain.lastClaimedEpoch)
      throw new ClaimCheckError(
        `Index ${index} last claimed against epoch ${chain.lastClaimedEpoch}; the indexer has not caught up with it.`,
      );
    if (!chain.previousRoot) throw new ClaimCheckError(`Epoch ${chain.lastClaimedEpoch}'s root was not read.`);
    previousAmount = BigInt(previous.cumulativeAmount);
    previousProof = previous.proof;
    const proven = verifyDistributionProof({
      root: chain.previousRoot.root,
      index,
      account,
      cumulativeAmount: previousAmount,
      proof: previousProof,
    });
    if (!proven)
      throw new ClaimCheckError(
        `The proof of leaf ${index} in epoch ${chain.lastClaimedEpoch} does not verify against its on-chain root.`,
      );
  }
  if (cumulativeAmount <= previousAmount)
    throw new ClaimCheckError(`Nothing to claim through epoch ${epoch}: everything up to it was received.`);
  return {
    epoch,
    argument: { index, account, cumulativeAmount, proof: answer.proof, previousAmount, previousProof },
    amount: cumulativeAmount - previousAmount,
    previousEpoch: chain.lastClaimedEpoch,
  };
}

/** Where an epoch of an account stands: claimed (through its last claim), claimable now, or pending until a time. */
export type EpochStanding =
  { kind: "claimed" } | { kind: "claimable" } | { kind: "pending"; claimableAt: bigint } | { kind: "unknown" };

/** The standing of `epoch` for an account whose last claim was against `lastClaimedEpoch`. */
export function epochStanding(
  epoch: bigint,
  {
    lastClaimedEpoch,
    pendingRoots,
    newestClaimable,
  }: {
    lastClaimedEpoch: bigint;
    pendingRoots: readonly { epoch: string; claimableAt: string }[];
    /** The newest claimable epoch, if any. */
    newestClaimable: bigint | null;
  },
): EpochStanding {
  if (epoch <= lastClaimedEpoch) return { kind: "claimed" };
  const pending = pendingRoots.find((root) => BigInt(root.epoch) === epoch);
  if (pending) return { kind: "pending", claimableAt: BigInt(pending.claimableAt) };
  if (newestClaimable !== null && epoch <= newestClaimable) return { kind: "claimable" };
  return { kind: "unknown" };
}

/** `seconds` of waiting as a short phrase: "in 3 h 20 min", "in 45 s", "now". */
export function formatWait(seconds: bigint): string {
  if (seconds <= 0n) return "now";
  const s = Number(seconds);
  const days = Math.floor(s / 86_400);
  const hours = Math.floor((s % 86_400) / 3_600);
  const minutes = Math.floor((s % 3_600) / 60);
  if (days > 0) return `in ${days} d${hours ? ` ${hours} h` : ""}`;
  if (hours > 0) return `in ${hours} h${minutes ? ` ${minutes} min` : ""}`;
  if (minutes > 0) return `in ${minutes} min`;
  return `in ${s} s`;
}
