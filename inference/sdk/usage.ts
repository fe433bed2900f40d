/**
 * Usage roots: what a voucher's `usageRoot` commits to, and the receipt batches that prove it.
 *
 * A channel's receipts are numbered by the operator in the order it issued them (`Receipt.position`, from 0).
 * The usage root after n receipts is the root of an append-only Merkle tree of depth 32 whose leaf i is
 * keccak256(receiptDigest_i ‖ status_i) (status 0 = accepted, 1 = disputed by the payer), empty leaves zero,
 * parents keccak256(left ‖ right), mixed with the count: usageRoot = keccak256(treeRoot ‖ uint256(n)). No
 * receipts: the zero hash (the root a channel starts with on chain).
 *
 * The tree is kept as its frontier (the roots of the complete left subtrees along the path of the next leaf), so
 * appending a receipt and computing the root cost at most 32 hashes each, however long the channel. A batch
 * carries the frontier where it starts: anyone recomputes the previous settlement's root from it and the new root
 * by appending the batch's receipts, with nothing but the chain's two roots to compare against.
 */
import { bytesToHex, concatBytes, hexToBytes, keccak256, numberToBytes, zeroHash, type Hex } from "viem";
import { receiptFromJson, receiptToJson, type ReceiptJson } from "./codec.ts";
import { domainSeparator, receiptDigest, receiptDomain, type SignedReceipt } from "./eip712.ts";

export const usageTreeDepth = 32;

export type ReceiptStatus = "accepted" | "disputed";

const hashPair = (left: Uint8Array, right: Uint8Array) => keccak256(concatBytes([left, right]), "bytes");

/** zeroNodes[i]: the root of an empty subtree of height i. */
const zeroNodes: Uint8Array[] = [new Uint8Array(32)];
for (let i = 1; i <= usageTreeDepth; i++) zeroNodes.push(hashPair(zeroNodes[i - 1]!, zeroNodes[i - 1]!));

/** The leaf of a receipt: its EIP-712 digest and whether the payer accepted it. */
export function usageLeaf(digest: Hex, status: ReceiptStatus): Uint8Array {
  const flag = new Uint8Array(32);
  flag[31] = status === "disputed" ? 1 : 0;
  return keccak256(concatBytes([hexToBytes(digest), flag]), "bytes");
}

/** An append-only usage tree, as its leaf count and frontier. */
export class UsageTree {
  /** frontier[i] is meaningful where bit i of `count` is set: the root of the complete subtree left of the path. */
  private frontier: Uint8Array[];
  count: number;

  constructor(count = 0, frontier: readonly Hex[] = []) {
    if (!Number.isSafeInteger(count) || count < 0 || count >= 2 ** usageTreeDepth)
      throw new RangeError(`usage tree count ${count} is out of range`);
    const needed = setBits(count);
    if (frontier.length !== needed.length)
      throw new RangeError(
        `a usage tree of ${count} leaves has a frontier of ${needed.length}, not ${frontier.length}`,
      );
    this.count = count;
    this.frontier = new Array<Uint8Array>(usageTreeDepth).fill(zeroNodes[0]!);
    needed.forEach((level, k) => (this.frontier[level] = hexToBytes(frontier[k]!)));
  }

  append(leaf: Uint8Array): void {
    if (this.count + 1 >= 2 ** usageTreeDepth) throw new RangeError("usage tree is full");
    let node = leaf;
    let size = this.count;
    for (let level = 0; level < usageTreeDepth; level++) {
      if ((size & 1) === 0) {
        this.frontier[level] = node;
        break;
      }
      node = hashPair(this.frontier[level]!, node);
      size = Math.floor(size / 2);
    }
    this.count++;
  }

  /** The usage root of the receipts appended so far. */
  root(): Hex {
    if (this.count === 0) return zeroHash;
    let node = zeroNodes[0]!;
    let size = this.count;
    for (let level = 0; level < usageTreeDepth; level++) {
      node = (size & 1) === 1 ? hashPair(this.frontier[level]!, node) : hashPair(node, zeroNodes[level]!);
      size = Math.floor(size / 2);
    }
    return keccak256(concatBytes([node, numberToBytes(this.count, { size: 32 })]));
  }

  /** The frontier entries a batch starting here carries (one per set bit of `count`, lowest level first). */
  frontierHex(): Hex[] {
    return setBits(this.count).map((level) => bytesToHex(this.frontier[level]!));
  }

  clone(): UsageTree {
    return new UsageTree(this.count, this.frontierHex());
  }
}

function setBits(count: number): number[] {
  const levels: number[] = [];
  for (let level = 0, size = count; size > 0; level++, size = Math.floor(size / 2)) if (size & 1) levels.push(level);
  return levels;
}

/** Receipts in a batch: each with the status the payer's voucher gave it. */
export type BatchReceipt = SignedReceipt & { status: ReceiptStatus };

/**
 * The receipts one settlement paid for: positions [from, from + receipts.length) of the channel, with the tree's
 * frontier at `from`. Published in a content store under `usage-<usageRoot>` before the voucher is settled.
 */
export type UsageBatch = {
  format: typeof usageBatchFormat;
  chainId: number;
  payments: Hex;
  channelId: bigint;
  from: number;
  frontier: Hex[];
  previousUsageRoot: Hex;
  usageRoot: Hex;
  receipts: BatchReceipt[];
};
export const usageBatchFormat = "openpoa-usage-batch-v1";

type UsageBatchJson = Omit<UsageBatch, "channelId" | "receipts"> & {
  channelId: string;
  receipts: (ReceiptJson & { status: ReceiptStatus })[];
};

export function usageBatchFileName(usageRoot: Hex): string {
  if (!/^0x[0-9a-fA-F]{64}$/.test(usageRoot)) throw new TypeError(`not a usage root: ${usageRoot}`);
  return `usage-${usageRoot.slice(2).toLowerCase()}`;
}

export function encodeUsageBatch(batch: UsageBatch): string {
  const json: UsageBatchJson = {
    format: batch.format,
    chainId: batch.chainId,
    payments: batch.payments,
    channelId: batch.channelId.toString(),
    from: batch.from,
    frontier: batch.frontier,
    previousUsageRoot: batch.previousUsageRoot,
    usageRoot: batch.usageRoot,
    receipts: batch.receipts.map((r) => ({ ...receiptToJson(r), status: r.status })),
  };
  return JSON.stringify(json);
}

/** Parses a batch; throws on anything malformed. Whether it is true is `checkUsageBatch`'s question. */
export function decodeUsageBatch(text: string): UsageBatch {
  const json = JSON.parse(text) as UsageBatchJson;
  if (json.format !== usageBatchFormat) throw new TypeError(`unknown usage batch format ${String(json.format)}`);
  if (!Number.isSafeInteger(json.from) || json.from < 0) throw new TypeError(`bad batch start ${String(json.from)}`);
  if (!Array.isArray(json.receipts) || !Array.isArray(json.frontier)) throw new TypeError("batch lacks receipts");
  return {
    format: usageBatchFormat,
    chainId: Number(json.chainId),
    payments: json.payments,
    channelId: BigInt(json.channelId),
    from: json.from,
    frontier: json.frontier,
    previousUsageRoot: json.previousUsageRoot,
    usageRoot: json.usageRoot,
    receipts: json.receipts.map((r) => {
      if (r.status !== "accepted" && r.status !== "disputed") throw new TypeError(`bad receipt status ${r.status}`);
      return { ...receiptFromJson(r), status: r.status };
    }),
  };
}

/**
 * The usage root `batch`'s receipts lead to from its frontier, under the receipt domain it names: what a content
 * store checks its `usage-<root>` name against. Says nothing of who signed the receipts (checkUsageBatch does).
 */
export function recomputedUsageRoot(batch: UsageBatch): Hex {
  const separator = domainSeparator(receiptDomain(batch.chainId, batch.payments));
  const tree = new UsageTree(batch.from, batch.frontier);
  for (const { receipt, status } of batch.receipts) tree.append(usageLeaf(receiptDigest(separator, receipt), status));
  return tree.root();
}

/** What a settlement event says, against which a batch is checked. */
export type SettledUsage = {
  channelId: bigint;
  previousUsageRoot: Hex;
  usageRoot: Hex;
  /** Per adapter, the amount the settlement paid (AdapterRevenue.amount). */
  paid: ReadonlyMap<bigint, bigint>;
};

/**
 * Why `batch` does not prove `settled`, or an empty list: same channel and roots, receipts signed by one of the
 * operator's keys at consecutive positions from `from`, the frontier giving the previous root and the receipts the
 * new one, and per adapter the accepted receipts adding up to exactly what was paid.
 */
export function checkUsageBatch(
  batch: UsageBatch,
  {
    settled,
    receiptSeparator,
    isOperatorKey,
  }: {
    settled: SettledUsage;
    receiptSeparator: Uint8Array;
    /** Whether a receipt signed over `digest` with `signature` comes from one of the operator's keys. */
    isOperatorKey: (digest: Hex, signature: Hex) => boolean;
  },
): string[] {
  const issues: string[] = [];
  const where = `usage batch ${settled.usageRoot} of channel ${settled.channelId}`;
  if (batch.channelId !== settled.channelId) issues.push(`${where} is for channel ${batch.channelId}`);
  if (batch.usageRoot.toLowerCase() !== settled.usageRoot.toLowerCase())
    issues.push(`${where} names usage root ${batch.usageRoot}`);
  let tree: UsageTree;
  try {
    tree = new UsageTree(batch.from, batch.frontier);
  } catch (error) {
    return [...issues, `${where}: ${(error as Error).message}`];
  }
  if (tree.root().toLowerCase() !== settled.previousUsageRoot.toLowerCase()) {
    issues.push(
      `${where} starts at receipt ${batch.from} with a frontier whose root is ${tree.root()}, not the previous settlement's ${settled.previousUsageRoot}`,
    );
  }
  const accepted = new Map<bigint, bigint>();
  batch.receipts.forEach(({ receipt, signature, status }, k) => {
    const position = BigInt(batch.from + k);
    const name = `receipt ${position} of channel ${settled.channelId}`;
    if (receipt.channelId !== settled.channelId) issues.push(`${name} is for channel ${receipt.channelId}`);
    if (receipt.position !== position) issues.push(`${name} says it is at position ${receipt.position}`);
    const digest = receiptDigest(receiptSeparator, receipt);
    if (!isOperatorKey(digest, signature)) issues.push(`${name} is not signed by the operator's key`);
    tree.append(usageLeaf(digest, status));
    if (status === "accepted")
      accepted.set(receipt.adapterId, (accepted.get(receipt.adapterId) ?? 0n) + receipt.amount);
  });
  if (tree.root().toLowerCase() !== settled.usageRoot.toLowerCase())
    issues.push(`${where}: its receipts give root ${tree.root()}`);
  for (const adapterId of new Set([...accepted.keys(), ...settled.paid.keys()])) {
    const sum = accepted.get(adapterId) ?? 0n;
    const paid = settled.paid.get(adapterId) ?? 0n;
    if (sum !== paid)
      issues.push(`${where}: adapter ${adapterId} was paid ${paid} but its accepted receipts add up to ${sum}`);
  }
  return issues;
}
