/**
 * Datanet versions as published on-chain by DatanetRegistry: the accepted
 * contributions in acceptance order, committed to by an OpenZeppelin
 * StandardMerkleTree over (contributionId, contributor, contentHash, weight).
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import type { Address, Hex } from "viem";
import { DatanetRootMismatchError } from "./errors.ts";

export type Contribution = {
  contributionId: bigint;
  contributor: Address;
  /** sha256 of the raw contribution bytes. */
  contentHash: Hex;
  weight: bigint;
};

export type DatanetVersion = {
  datanetId: bigint;
  version: bigint;
  root: Hex;
  /** Accepted contributions in acceptance order. */
  contributions: readonly Contribution[];
};

export type DatanetVersionKey = { datanetId: bigint; version: bigint };

export const contributionLeafEncoding = ["uint256", "address", "bytes32", "uint256"] as const;

export function datanetVersionTree(
  contributions: readonly Contribution[],
): StandardMerkleTree<[bigint, Address, Hex, bigint]> {
  return StandardMerkleTree.of(
    contributions.map(
      (c) => [c.contributionId, c.contributor, c.contentHash, c.weight] as [bigint, Address, Hex, bigint],
    ),
    [...contributionLeafEncoding],
  );
}

/** Throws unless the contributions reproduce the published root. */
export function assertDatanetVersionRoot(datanet: DatanetVersion): void {
  const actual = datanetVersionTree(datanet.contributions).root;
  if (actual.toLowerCase() !== datanet.root.toLowerCase()) {
    throw new DatanetRootMismatchError({ ...datanet, expected: datanet.root, actual });
  }
}

/** Stable string key of a datanet version, for maps. */
export function datanetVersionKey({ datanetId, version }: DatanetVersionKey): string {
  return `${datanetId}:${version}`;
}

export function compareBigints(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
