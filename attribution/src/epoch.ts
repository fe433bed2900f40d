/**
 * Epoch aggregation: the epoch's settlements, usage receipts and attribution
 * records → cumulative per-account amounts, their Merkle tree and the
 * distribution file. Pure: everything it needs is passed in, the epoch's
 * attribution policy (AttributionRewards' schedule) included: a record made
 * under another policy is not applied, and the file names the policy.
 *
 * The receipts are those the epoch's settlements paid for, taken from the
 * receipt batches published under their usage roots and checked against the
 * chain (inference/sdk/usage.ts); a settlement whose receipts could not be
 * established is `unverified`, and its amount goes pro rata.
 *
 * Money rule, per (adapter a, datanet version d) funded amount A:
 *   for each receipt r of a (request weight m_r = its amount):
 *     record usable → direct(c) += m_r · ppm_r(d, c) for matched c;  pool += m_r · ppm_r(d, pool)
 *     otherwise     → pool += m_r · weightBps_d · 100        (all of r's d-share goes pro rata)
 *   for each unverified settlement u of a (its paid amount m_u):
 *                     pool += m_u · weightBps_d · 100
 *   claim(c) = direct(c) · W + pool · w(c)      (w = contribution weight, W = Σ w)
 *   A is apportioned over claims by largest remainder, ties to the lower
 *   contributionId, so every wei of A lands on a contribution. With no
 *   receipts (or only zero-weight ones) the split is pure pro rata by weight.
 * Contribution amounts are summed per contributor and added to the previous
 * epoch's cumulative amounts.
 *
 * Stable indices: every leaf carries the account's index, which
 * AttributionRewards uses as the key of what the account has claimed. An
 * account keeps the index of its previous leaf forever (leaves never leave the
 * distribution); the epoch's new accounts take the next indices, in ascending
 * address order. Indices are therefore exactly 0..n-1.
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { getAddress, type Address, type Hex } from "viem";
import { allocateLargestRemainder } from "./allocate.ts";
import {
  assertLineage,
  compareDatanetVersions,
  hashAttributionRecord,
  poolContributionId,
  ppmTotal,
  bpsTotal,
  type AttributionRecord,
  type LineageEntry,
} from "./attribute.ts";
import { canonicalJson, type CanonicalValue, type Encoded } from "./canonicalJson.ts";
import { sha256Hex } from "./contentStore.ts";
import {
  assertDatanetVersionRoot,
  compareBigints,
  datanetVersionKey,
  type Contribution,
  type DatanetVersion,
} from "./datanet.ts";
import { BaseError, DistributionFileMismatchError, InvalidEpochInputError } from "./errors.ts";
import { assertAttributionPolicy, recordPolicyIssues, type AttributionPolicy } from "./policy.ts";
import type { AdapterSettlement } from "./settlement.ts";

/**
 * v4: the file names the attribution policy it was computed with (policyId). v3: receipts are named by (channelId,
 * position) and carry their completion hash; settlements whose receipts could not be established are listed. Leaves
 * carry the account's stable index: (index, account, cumulativeAmount).
 */
export const distributionFileFormat = "openpoa-distribution-v4";
export const distributionLeafEncoding = ["uint256", "address", "uint256"] as const;

/** An accepted receipt a settlement of the epoch paid for: the `position`th of channel `channelId`. */
export type UsageReceipt = {
  channelId: bigint;
  position: bigint;
  adapterId: bigint;
  /** Request weight: the amount the request paid. */
  amount: bigint;
  completionHash: Hex;
  attributionHash: Hex;
};

/** A contribution mostly covered by one earlier contribution of its datanet version (datanetIndex.ts). */
export type DuplicateContribution = { datanetId: bigint; version: bigint; contributionId: bigint; duplicateOf: bigint };

/** A settlement of the epoch whose receipts could not be established: its paid amounts go pro rata. */
export type UnverifiedUsage = { channelId: bigint; usageRoot: Hex; adapterId: bigint; amount: bigint; reason: string };

/** One leaf of a distribution tree: the account's stable index, the account and its cumulative amount. */
export type CumulativeBalance = { index: bigint; account: Address; cumulativeAmount: bigint };

/** The chain blocks whose settlements an epoch covers, both inclusive; the next epoch starts at toBlock + 1. */
export type EpochBlocks = { fromBlock: bigint; toBlock: bigint };

export type EpochInputs = {
  epoch: bigint;
  blocks: EpochBlocks;
  /** The attribution policy governing the epoch: records made under another are not applied. */
  policy: AttributionPolicy;
  settlements: readonly AdapterSettlement[];
  receipts: readonly UsageReceipt[];
  unverified: readonly UnverifiedUsage[];
  /** Published attribution records; matched to receipts by their hash. */
  records: readonly AttributionRecord[];
  /**
   * Records that do not check against the public contributions under the epoch's policy (spans, sources, shares;
   * attribution/recordCheck), by attribution hash, with why.
   */
  rejectedRecords: ReadonlyMap<Hex, string>;
  /**
   * Near-duplicate contributions of the datanet versions (found from their public contents): credited once, to the
   * earlier contribution, so they take no part of the pro-rata pool either.
   */
  duplicates: readonly DuplicateContribution[];
  /** Every datanet version named by a settled adapter's lineage. */
  datanets: readonly DatanetVersion[];
  /** The previous epoch's leaves, with their indices (empty for the first epoch); any order. */
  previous: readonly CumulativeBalance[];
};

/**
 * used: the record was applied; absent: no published record has that hash; invalid: it does not fit the settlement
 * or was made under another attribution policy.
 */
export type RecordStatus = "used" | "absent" | "invalid";

export type DistributionLeaf = {
  /** The account's stable index: the key of its claims on-chain. */
  index: bigint;
  account: Address;
  cumulativeAmount: bigint;
  previousAmount: bigint;
  epochAmount: bigint;
};

export type DistributionFile = {
  format: typeof distributionFileFormat;
  epoch: bigint;
  /** The attribution policy the file was computed with: the one the epoch's root names. */
  policyId: bigint;
  /** The settlements' block range: anyone re-reads the same chain events to verify. */
  blocks: EpochBlocks;
  root: Hex;
  previousRoot: Hex | null;
  /** Wei funded in this epoch (Σ settlement amounts) = Σ epochAmount. */
  total: bigint;
  /** Sorted by index (0..n-1): the previous leaves, then the epoch's new accounts in ascending address order. */
  leaves: DistributionLeaf[];
  settlements: { adapterId: bigint; datanetId: bigint; version: bigint; weightBps: number; amount: bigint }[];
  receipts: {
    channelId: bigint;
    position: bigint;
    adapterId: bigint;
    amount: bigint;
    completionHash: Hex;
    attributionHash: Hex;
    record: RecordStatus;
    reason: string | null;
  }[];
  /** Settlements whose receipts could not be established, per adapter paid: split pro rata. */
  unverified: UnverifiedUsage[];
  /** Near-duplicate contributions of the epoch's datanet versions: weight 0 in the pool. */
  duplicates: DuplicateContribution[];
  /** Non-zero amounts per (adapter, datanet version, contribution). */
  allocations: {
    adapterId: bigint;
    datanetId: bigint;
    version: bigint;
    contributionId: bigint;
    contributor: Address;
    amount: bigint;
  }[];
};

export type EpochDistribution = {
  file: DistributionFile;
  tree: StandardMerkleTree<DistributionTreeLeaf>;
  /** Canonical JSON of `file`. */
  json: string;
  /** sha256 of `json`: the file's content address. */
  fileHash: Hex;
};

/** A leaf of the on-chain tree: (index, account, cumulativeAmount). */
export type DistributionTreeLeaf = [bigint, Address, bigint];

export function aggregateEpoch(inputs: EpochInputs): EpochDistribution {
  const { fromBlock, toBlock } = inputs.blocks;
  if (fromBlock < 0n || toBlock < fromBlock) {
    throw new InvalidEpochInputError({ reason: `block range ${fromBlock}..${toBlock} is empty or negative` });
  }
  assertAttributionPolicy(inputs.policy);
  const settlements = mergeSettlements(inputs.settlements);
  const datanets = new Map(inputs.datanets.map((datanet) => [datanetVersionKey(datanet), datanet]));
  const contributionIds = new Map(
    inputs.datanets.map((d) => [datanetVersionKey(d), new Set(d.contributions.map((c) => c.contributionId))]),
  );
  const recordsByHash = new Map(inputs.records.map((record) => [hashAttributionRecord(record), record]));
  const duplicates = [...inputs.duplicates]
    .filter((d) => datanets.has(datanetVersionKey(d)))
    .sort((a, b) => compareDatanetVersions(a, b) || compareBigints(a.contributionId, b.contributionId));
  const duplicateIds = new Set(duplicates.map((d) => `${datanetVersionKey(d)}/${d.contributionId}`));
  const checkedDatanets = new Set<string>();

  const given = [...inputs.receipts].sort(compareReceipts);
  given.forEach((receipt, k) => {
    if (k > 0 && compareReceipts(given[k - 1]!, receipt) === 0) {
      throw new InvalidEpochInputError({ reason: `${receiptName(receipt)} appears twice` });
    }
    if (receipt.amount < 0n)
      throw new InvalidEpochInputError({ reason: `${receiptName(receipt)} has a negative amount` });
  });
  // By rule, a receipt belongs to the epoch only if a settlement in its block range funded its adapter's data share:
  // the base model's receipts (no lineage) move nothing.
  const receipts = given.filter((receipt) => settlements.has(receipt.adapterId));
  const unverified = [...inputs.unverified]
    .filter((usage) => settlements.has(usage.adapterId))
    .sort((a, b) => compareBigints(a.channelId, b.channelId) || compareBigints(a.adapterId, b.adapterId));

  const receiptEvidence: DistributionFile["receipts"] = [];
  const usedRecords = new Map<string, AttributionRecord>();
  for (const receipt of receipts) {
    const settlement = settlements.get(receipt.adapterId)!;
    const hash = receipt.attributionHash.toLowerCase() as Hex;
    const record = recordsByHash.get(hash);
    const reason =
      record === undefined
        ? null
        : (inputs.rejectedRecords.get(hash) ??
          recordIssue(record, { receipt, settlement, policy: inputs.policy, datanets, contributionIds }));
    const status: RecordStatus = record === undefined ? "absent" : reason === null ? "used" : "invalid";
    if (status === "used") usedRecords.set(receiptKey(receipt), record!);
    receiptEvidence.push({
      channelId: receipt.channelId,
      position: receipt.position,
      adapterId: receipt.adapterId,
      amount: receipt.amount,
      completionHash: receipt.completionHash.toLowerCase() as Hex,
      attributionHash: hash,
      record: status,
      reason,
    });
  }

  const allocations: DistributionFile["allocations"] = [];
  const settlementEvidence: DistributionFile["settlements"] = [];
  for (const [adapterId, settlement] of [...settlements].sort(([a], [b]) => compareBigints(a, b))) {
    const adapterReceipts = receipts.filter((receipt) => receipt.adapterId === adapterId);
    const adapterUnverified = unverified.filter((usage) => usage.adapterId === adapterId);
    for (const entry of [...settlement.lineage].sort(compareDatanetVersions)) {
      settlementEvidence.push({ adapterId, ...pickLineage(entry), amount: entry.amount });
      const datanet = datanets.get(datanetVersionKey(entry));
      if (datanet === undefined) {
        throw new InvalidEpochInputError({
          reason: `datanet ${entry.datanetId} v${entry.version} of adapter ${adapterId} is not given`,
        });
      }
      if (!checkedDatanets.has(datanetVersionKey(entry))) {
        assertDatanetVersionRoot(datanet);
        checkedDatanets.add(datanetVersionKey(entry));
      }
      const contributions = [...datanet.contributions].sort((a, b) =>
        compareBigints(a.contributionId, b.contributionId),
      );
      const amounts = allocateDatanetAmount({
        entry,
        contributions,
        isDuplicate: (c) => duplicateIds.has(`${datanetVersionKey(entry)}/${c.contributionId}`),
        receipts: adapterReceipts,
        unverified: adapterUnverified,
        usedRecords,
      });
      contributions.forEach((contribution, k) => {
        if (amounts[k]! > 0n) {
          allocations.push({
            adapterId,
            ...pickKey(entry),
            contributionId: contribution.contributionId,
            contributor: getAddress(contribution.contributor),
            amount: amounts[k]!,
          });
        }
      });
    }
  }

  const previous = previousBalances(inputs.previous);
  const earned = new Map<string, bigint>();
  for (const { contributor, amount } of allocations) {
    const key = contributor.toLowerCase();
    earned.set(key, (earned.get(key) ?? 0n) + amount);
  }
  const leaves = assignIndices(previous, earned.keys()).map(({ key, index }): DistributionLeaf => {
    const previousAmount = previous.get(key)?.cumulativeAmount ?? 0n;
    const epochAmount = earned.get(key) ?? 0n;
    return {
      index,
      account: getAddress(key),
      cumulativeAmount: previousAmount + epochAmount,
      previousAmount,
      epochAmount,
    };
  });
  if (leaves.length === 0)
    throw new InvalidEpochInputError({ reason: "nothing to distribute and no previous balances" });

  const tree = distributionTree(leaves);
  const file: DistributionFile = {
    format: distributionFileFormat,
    epoch: inputs.epoch,
    policyId: inputs.policy.id,
    blocks: { fromBlock: inputs.blocks.fromBlock, toBlock: inputs.blocks.toBlock },
    root: tree.root as Hex,
    previousRoot: inputs.previous.length === 0 ? null : (distributionTree(inputs.previous).root as Hex),
    total: settlementEvidence.reduce((sum, s) => sum + s.amount, 0n),
    leaves,
    settlements: settlementEvidence,
    receipts: receiptEvidence,
    unverified,
    duplicates,
    allocations,
  };
  const json = encodeDistributionFile(file);
  return { file, tree, json, fileHash: sha256Hex(new TextEncoder().encode(json)) };
}

/** The on-chain distribution tree: leaves (index, account, cumulativeAmount). */
export function distributionTree(balances: readonly CumulativeBalance[]): StandardMerkleTree<DistributionTreeLeaf> {
  return StandardMerkleTree.of(
    balances.map((b): DistributionTreeLeaf => [b.index, getAddress(b.account), b.cumulativeAmount]),
    [...distributionLeafEncoding],
  );
}

/**
 * The previous leaves by lowercase account, checked: each account once, indices exactly 0..n-1 (as aggregateEpoch
 * produces them).
 */
export function previousBalances(balances: readonly CumulativeBalance[]): Map<string, CumulativeBalance> {
  const byAccount = new Map<string, CumulativeBalance>();
  const indices = new Set<bigint>();
  for (const balance of balances) {
    const key = balance.account.toLowerCase();
    if (byAccount.has(key))
      throw new InvalidEpochInputError({ reason: `previous balance of ${balance.account} appears twice` });
    if (indices.has(balance.index))
      throw new InvalidEpochInputError({ reason: `previous index ${balance.index} appears twice` });
    if (balance.index < 0n || balance.index >= BigInt(balances.length)) {
      throw new InvalidEpochInputError({
        reason: `previous index ${balance.index} of ${balance.account} is outside 0..${balances.length - 1}`,
      });
    }
    byAccount.set(key, balance);
    indices.add(balance.index);
  }
  return byAccount;
}

/**
 * Every account's index, sorted by index: previous accounts keep theirs, new accounts (in `accounts` but not in
 * `previous`) take the next ones in ascending address order.
 */
export function assignIndices(
  previous: ReadonlyMap<string, CumulativeBalance>,
  accounts: Iterable<string>,
): { key: string; index: bigint }[] {
  const kept = [...previous].map(([key, balance]) => ({ key, index: balance.index }));
  const fresh = [...new Set([...accounts].map((account) => account.toLowerCase()))]
    .filter((key) => !previous.has(key))
    .sort();
  const next = BigInt(previous.size);
  return [
    ...kept.sort((a, b) => compareBigints(a.index, b.index)),
    ...fresh.map((key, k) => ({ key, index: next + BigInt(k) })),
  ];
}

export function encodeDistributionFile(file: DistributionFile): string {
  return canonicalJson(file as unknown as CanonicalValue);
}

/** Inverse of encodeDistributionFile; only canonical encodings are accepted. */
export function decodeDistributionFile(json: string): DistributionFile {
  const raw = JSON.parse(json) as Encoded<DistributionFile>;
  if (raw.format !== distributionFileFormat)
    throw new BaseError(`Unknown distribution file format ${String(raw.format)}.`);
  const file: DistributionFile = {
    ...raw,
    epoch: BigInt(raw.epoch),
    policyId: BigInt(raw.policyId),
    blocks: { fromBlock: BigInt(raw.blocks.fromBlock), toBlock: BigInt(raw.blocks.toBlock) },
    total: BigInt(raw.total),
    leaves: raw.leaves.map((leaf) => ({
      index: BigInt(leaf.index),
      account: leaf.account,
      cumulativeAmount: BigInt(leaf.cumulativeAmount),
      previousAmount: BigInt(leaf.previousAmount),
      epochAmount: BigInt(leaf.epochAmount),
    })),
    settlements: raw.settlements.map((s) => ({
      ...s,
      adapterId: BigInt(s.adapterId),
      datanetId: BigInt(s.datanetId),
      version: BigInt(s.version),
      amount: BigInt(s.amount),
    })),
    receipts: raw.receipts.map((r) => ({
      ...r,
      channelId: BigInt(r.channelId),
      position: BigInt(r.position),
      adapterId: BigInt(r.adapterId),
      amount: BigInt(r.amount),
    })),
    unverified: raw.unverified.map((u) => ({
      ...u,
      channelId: BigInt(u.channelId),
      adapterId: BigInt(u.adapterId),
      amount: BigInt(u.amount),
    })),
    duplicates: raw.duplicates.map((d) => ({
      datanetId: BigInt(d.datanetId),
      version: BigInt(d.version),
      contributionId: BigInt(d.contributionId),
      duplicateOf: BigInt(d.duplicateOf),
    })),
    allocations: raw.allocations.map((a) => ({
      ...a,
      adapterId: BigInt(a.adapterId),
      datanetId: BigInt(a.datanetId),
      version: BigInt(a.version),
      contributionId: BigInt(a.contributionId),
      amount: BigInt(a.amount),
    })),
  };
  if (encodeDistributionFile(file) !== json) throw new BaseError("Distribution file is not canonically encoded.");
  return file;
}

/**
 * The distribution file `json` decoded and checked against what the chain says of its epoch: the epoch and, when
 * given, the attribution policy it names, the root it states and the root its leaves build. The caller checks the
 * bytes' sha256 against the on-chain contentHash (getContent does). Anything else, undecodable text included, is a
 * DistributionFileMismatchError.
 */
export function checkDistributionFile(
  json: string,
  expected: { epoch: bigint; root: Hex; policyId?: bigint },
): { file: DistributionFile; tree: StandardMerkleTree<DistributionTreeLeaf> } {
  const mismatch = (reason: string) => new DistributionFileMismatchError({ epoch: expected.epoch, reason });
  let file: DistributionFile;
  let tree: StandardMerkleTree<DistributionTreeLeaf>;
  try {
    file = decodeDistributionFile(json);
    tree = distributionTree(file.leaves);
  } catch (error) {
    throw mismatch(`it does not decode (${(error as Error).message.split("\n")[0]})`);
  }
  if (file.epoch !== expected.epoch) throw mismatch(`it is the file of epoch ${file.epoch}`);
  if (expected.policyId !== undefined && file.policyId !== expected.policyId) {
    throw mismatch(`it names attribution policy ${file.policyId}, the root names ${expected.policyId}`);
  }
  for (const [what, root] of [
    ["its leaves build", tree.root],
    ["it states", file.root],
  ] as const) {
    if (root.toLowerCase() !== expected.root.toLowerCase()) {
      throw mismatch(`${what} root ${root}, the chain's is ${expected.root}`);
    }
  }
  return { file, tree };
}

/**
 * Why a file's allocations do not make up its leaves, or null when they do (aggregateEpoch builds them so): every
 * allocation positive, every leaf's cumulativeAmount its previousAmount plus its epochAmount, and the allocations to
 * each account summing to its leaf's epochAmount. The root commits to the leaves alone: this ties the
 * per-contribution figures to what the accounts can claim.
 */
export function allocationsIssue(file: DistributionFile): string | null {
  const earned = new Map<string, bigint>();
  for (const allocation of file.allocations) {
    if (allocation.amount <= 0n) return `the allocation to contribution ${allocation.contributionId} is not positive`;
    const key = allocation.contributor.toLowerCase();
    earned.set(key, (earned.get(key) ?? 0n) + allocation.amount);
  }
  for (const leaf of file.leaves) {
    if (leaf.cumulativeAmount !== leaf.previousAmount + leaf.epochAmount) {
      return `the leaf of ${leaf.account} is not its previous amount plus its epoch amount`;
    }
    const key = leaf.account.toLowerCase();
    const sum = earned.get(key) ?? 0n;
    if (sum !== leaf.epochAmount) {
      return `the allocations to ${leaf.account} sum to ${sum}, its leaf's epoch amount is ${leaf.epochAmount}`;
    }
    earned.delete(key);
  }
  const [stray] = earned.keys();
  return stray === undefined ? null : `allocations pay ${stray}, which has no leaf`;
}

/**
 * Splits one (adapter, datanet version) amount over the datanet's
 * contributions, given in contributionId order (the tie-break order). See the
 * module comment.
 */
function allocateDatanetAmount({
  entry,
  contributions,
  isDuplicate,
  receipts,
  unverified,
  usedRecords,
}: {
  entry: LineageEntry & { amount: bigint };
  contributions: readonly Contribution[];
  isDuplicate: (contribution: Contribution) => boolean;
  receipts: readonly UsageReceipt[];
  unverified: readonly UnverifiedUsage[];
  usedRecords: ReadonlyMap<string, AttributionRecord>;
}): bigint[] {
  if (contributions.length === 0) {
    if (entry.amount === 0n) return [];
    throw new InvalidEpochInputError({
      reason: `datanet ${entry.datanetId} v${entry.version} has no contributions to pay`,
    });
  }
  // A near-duplicate is credited once, through its original: no pool weight of its own. Zero-weight datanets split
  // equally (among the originals) rather than not at all.
  const own = contributions.map((c) => (isDuplicate(c) ? 0n : c.weight));
  const allZero = own.every((w) => w === 0n);
  const weights = contributions.map((c, k) => (allZero ? (isDuplicate(c) ? 0n : 1n) : own[k]!));
  const weightTotal = weights.reduce((sum, w) => sum + w, 0n);

  const direct = new Map<bigint, bigint>();
  let pool = 0n;
  const budgetPpm = BigInt(entry.weightBps * (ppmTotal / bpsTotal));
  for (const usage of unverified) pool += usage.amount * budgetPpm;
  for (const receipt of receipts) {
    const record = usedRecords.get(receiptKey(receipt));
    if (record === undefined) {
      pool += receipt.amount * budgetPpm;
      continue;
    }
    for (const share of record.shares) {
      if (share.datanetId !== entry.datanetId || share.version !== entry.version) continue;
      const value = receipt.amount * BigInt(share.ppm);
      if (share.contributionId === poolContributionId) pool += value;
      else direct.set(share.contributionId, (direct.get(share.contributionId) ?? 0n) + value);
    }
  }
  if (pool === 0n && [...direct.values()].every((v) => v === 0n)) pool = 1n;

  const claims = contributions.map((c, k) => (direct.get(c.contributionId) ?? 0n) * weightTotal + pool * weights[k]!);
  return allocateLargestRemainder({ total: entry.amount, weights: claims });
}

/** Why a record cannot be applied to its receipt's settlement under the epoch's policy, or null when it can. */
function recordIssue(
  record: AttributionRecord,
  {
    receipt,
    settlement,
    policy,
    datanets,
    contributionIds,
  }: {
    receipt: UsageReceipt;
    settlement: AdapterSettlement;
    policy: AttributionPolicy;
    datanets: ReadonlyMap<string, DatanetVersion>;
    contributionIds: ReadonlyMap<string, ReadonlySet<bigint>>;
  },
): string | null {
  if (record.adapterId !== settlement.adapterId) return `record is for adapter ${record.adapterId}`;
  const policyIssues = recordPolicyIssues(record, policy);
  if (policyIssues.length > 0) {
    return `record does not follow the epoch's attribution policy ${policy.id}: ${policyIssues.join("; ")}`;
  }
  if (record.completionHash.toLowerCase() !== receipt.completionHash.toLowerCase())
    return `record's completion hash ${record.completionHash} is not the receipt's ${receipt.completionHash}`;
  const lineage = [...settlement.lineage].sort(compareDatanetVersions);
  if (
    record.lineage.length !== lineage.length ||
    record.lineage.some(
      (entry, k) =>
        compareDatanetVersions(entry, lineage[k]!) !== 0 ||
        entry.weightBps !== lineage[k]!.weightBps ||
        entry.root.toLowerCase() !== datanets.get(datanetVersionKey(entry))?.root.toLowerCase(),
    )
  ) {
    return "record lineage differs from the settled lineage";
  }
  const perDatanet = new Map<string, number>();
  for (const share of record.shares) {
    const key = datanetVersionKey(share);
    const datanet = datanets.get(key);
    if (datanet === undefined || !lineage.some((entry) => datanetVersionKey(entry) === key)) {
      return `share for datanet ${share.datanetId} v${share.version} outside the lineage`;
    }
    if (!Number.isSafeInteger(share.ppm) || share.ppm <= 0) return `share ppm ${share.ppm} is not a positive integer`;
    if (share.contributionId !== poolContributionId && !contributionIds.get(key)!.has(share.contributionId)) {
      return `contribution ${share.contributionId} is not in datanet ${share.datanetId} v${share.version}`;
    }
    perDatanet.set(key, (perDatanet.get(key) ?? 0) + share.ppm);
  }
  for (const entry of lineage) {
    const sum = perDatanet.get(datanetVersionKey(entry)) ?? 0;
    if (sum !== entry.weightBps * (ppmTotal / bpsTotal)) {
      return `shares of datanet ${entry.datanetId} v${entry.version} sum to ${sum} ppm, not ${entry.weightBps * (ppmTotal / bpsTotal)}`;
    }
  }
  return null;
}

/** One entry per adapter; several settlements of an adapter in an epoch add up. */
function mergeSettlements(settlements: readonly AdapterSettlement[]): Map<bigint, AdapterSettlement> {
  const merged = new Map<bigint, AdapterSettlement>();
  for (const settlement of settlements) {
    assertLineage(settlement.lineage);
    if (settlement.lineage.some((entry) => entry.amount < 0n)) {
      throw new InvalidEpochInputError({ reason: `adapter ${settlement.adapterId} has a negative settlement amount` });
    }
    const known = merged.get(settlement.adapterId);
    if (known === undefined) {
      merged.set(settlement.adapterId, {
        adapterId: settlement.adapterId,
        lineage: settlement.lineage.map((e) => ({ ...e })),
      });
      continue;
    }
    const sameLineage =
      known.lineage.length === settlement.lineage.length &&
      known.lineage.every((entry, k) => {
        const other = settlement.lineage[k]!;
        return compareDatanetVersions(entry, other) === 0 && entry.weightBps === other.weightBps;
      });
    if (!sameLineage)
      throw new InvalidEpochInputError({ reason: `adapter ${settlement.adapterId} settled with two lineages` });
    merged.set(settlement.adapterId, {
      adapterId: settlement.adapterId,
      lineage: known.lineage.map((entry, k) => ({ ...entry, amount: entry.amount + settlement.lineage[k]!.amount })),
    });
  }
  return merged;
}

/** Receipts in (channel, position) order. */
function compareReceipts(a: UsageReceipt, b: UsageReceipt): number {
  return compareBigints(a.channelId, b.channelId) || compareBigints(a.position, b.position);
}

const receiptKey = ({ channelId, position }: { channelId: bigint; position: bigint }) => `${channelId}/${position}`;

/** How reports name a receipt. */
export const receiptName = ({ channelId, position }: { channelId: bigint; position: bigint }) =>
  `receipt ${position} of channel ${channelId}`;

function pickKey({ datanetId, version }: LineageEntry): { datanetId: bigint; version: bigint } {
  return { datanetId, version };
}

function pickLineage({ datanetId, version, weightBps }: LineageEntry): LineageEntry {
  return { datanetId, version, weightBps };
}
