import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { concatBytes, keccak256, numberToBytes, zeroHash, type Hex } from "viem";
import { digestSigner, isSignedBy } from "../gateway/signatures.ts";
import { domainSeparator, receiptDigest, receiptDomain, type Receipt } from "./eip712.ts";
import {
  checkUsageBatch,
  decodeUsageBatch,
  encodeUsageBatch,
  recomputedUsageRoot,
  usageBatchFormat,
  usageLeaf,
  usageTreeDepth,
  UsageTree,
  type BatchReceipt,
  type ReceiptStatus,
  type UsageBatch,
} from "./usage.ts";

const payments = "0x8A791620dd6260079BF849Dc5567aDC3F2FdC318";
const separator = domainSeparator(receiptDomain(31337, payments));
const operator = digestSigner(`0x${"11".repeat(32)}`);
const stranger = digestSigner(`0x${"22".repeat(32)}`);
const isOperatorKey = (digest: Hex, signature: Hex) => isSignedBy(digest, signature, operator.address);

/** The usage root by definition: the whole depth-32 tree, level by level, with zero leaves padding. */
function naiveRoot(leaves: Uint8Array[]): Hex {
  if (leaves.length === 0) return zeroHash;
  let level: Uint8Array[] = leaves;
  let zero = new Uint8Array(32);
  for (let height = 0; height < usageTreeDepth; height++) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(keccak256(concatBytes([level[i]!, level[i + 1] ?? zero]), "bytes"));
    }
    level = next;
    zero = keccak256(concatBytes([zero, zero]), "bytes");
  }
  return keccak256(concatBytes([level[0]!, numberToBytes(leaves.length, { size: 32 })]));
}

const leafOf = (i: number) => keccak256(numberToBytes(i, { size: 32 }), "bytes");

function receiptAt(position: number, adapterId = 1n, amount = 1_000n): Receipt {
  return {
    requestId: keccak256(numberToBytes(position + 1_000, { size: 32 })),
    channelId: 5n,
    position: BigInt(position),
    adapterId,
    promptTokens: 3n,
    completionTokens: 7n,
    amount,
    completionHash: keccak256(numberToBytes(position, { size: 8 })),
    attributionHash: zeroHash,
    timestamp: 1_800_000_000n,
    rulesVersion: 1n,
  };
}

function signed(receipt: Receipt, status: ReceiptStatus = "accepted", signer = operator): BatchReceipt {
  return { receipt, signature: signer.sign(receiptDigest(separator, receipt)), status };
}

/** A channel of `count` receipts settled twice: at `split` and at `count`; returns the second batch. */
function secondBatch(receipts: BatchReceipt[], split: number) {
  const tree = new UsageTree();
  receipts.slice(0, split).forEach((r) => tree.append(usageLeaf(receiptDigest(separator, r.receipt), r.status)));
  const previousUsageRoot = tree.root();
  const frontier = tree.frontierHex();
  receipts.slice(split).forEach((r) => tree.append(usageLeaf(receiptDigest(separator, r.receipt), r.status)));
  const batch: UsageBatch = {
    format: usageBatchFormat,
    chainId: 31337,
    payments,
    channelId: 5n,
    from: split,
    frontier,
    previousUsageRoot,
    usageRoot: tree.root(),
    receipts: receipts.slice(split),
  };
  const paid = new Map<bigint, bigint>();
  for (const { receipt, status } of batch.receipts) {
    if (status === "accepted") paid.set(receipt.adapterId, (paid.get(receipt.adapterId) ?? 0n) + receipt.amount);
  }
  return { batch, settled: { channelId: 5n, previousUsageRoot, usageRoot: batch.usageRoot, paid } };
}

describe("usage tree", () => {
  it("test_root_equalsTheWholeTreeDefinitionForEveryCount", () => {
    const tree = new UsageTree();
    const leaves: Uint8Array[] = [];
    assert.equal(tree.root(), zeroHash);
    for (let i = 0; i < 70; i++) {
      leaves.push(leafOf(i));
      tree.append(leafOf(i));
      assert.equal(tree.root(), naiveRoot(leaves), `after ${i + 1} leaves`);
    }
  });

  it("test_frontier_resumesTheTreeFromWhereABatchStarts", () => {
    const tree = new UsageTree();
    for (let i = 0; i < 45; i++) {
      tree.append(leafOf(i));
      const resumed = new UsageTree(tree.count, tree.frontierHex());
      assert.equal(resumed.root(), tree.root());
      const [a, b] = [tree.clone(), resumed];
      a.append(leafOf(1_000 + i));
      b.append(leafOf(1_000 + i));
      assert.equal(a.root(), b.root());
    }
    assert.throws(() => new UsageTree(3, []), /frontier of 2/);
  });

  it("test_root_dependsOnCountAndStatus", () => {
    const digest = keccak256(numberToBytes(9, { size: 32 }));
    const accepted = new UsageTree();
    accepted.append(usageLeaf(digest, "accepted"));
    const disputed = new UsageTree();
    disputed.append(usageLeaf(digest, "disputed"));
    assert.notEqual(accepted.root(), disputed.root());
    const padded = accepted.clone();
    padded.append(new Uint8Array(32));
    assert.notEqual(padded.root(), accepted.root(), "a zero leaf still counts");
  });
});

describe("usage batches", () => {
  const receipts = Array.from({ length: 11 }, (_, i) =>
    signed(receiptAt(i, BigInt(1 + (i % 3)), 1_000n + BigInt(i)), i === 7 ? "disputed" : "accepted"),
  );
  const check = (batch: UsageBatch, settled: ReturnType<typeof secondBatch>["settled"]) =>
    checkUsageBatch(batch, { settled, receiptSeparator: separator, isOperatorKey });

  it("test_recomputedUsageRoot_isTheRootABatchNames_andMovesWithAnyReceipt", () => {
    const { batch } = secondBatch(receipts, 4);
    assert.equal(recomputedUsageRoot(batch), batch.usageRoot);
    const disputed = batch.receipts.map((r, k) => (k === 0 ? { ...r, status: "disputed" as const } : r));
    assert.notEqual(recomputedUsageRoot({ ...batch, receipts: disputed }), batch.usageRoot);
    assert.notEqual(recomputedUsageRoot({ ...batch, chainId: 1 }), batch.usageRoot, "the receipt domain counts");
  });

  it("test_checkUsageBatch_acceptsAnHonestBatchAndItsEncoding", () => {
    const { batch, settled } = secondBatch(receipts, 4);
    assert.deepEqual(check(batch, settled), []);
    const decoded = decodeUsageBatch(encodeUsageBatch(batch));
    assert.deepEqual(decoded, batch);
    assert.deepEqual(check(decoded, settled), []);
    assert.equal(settled.paid.get(2n), 1_004n + 1_010n, "the disputed receipt 7 (adapter 2) is not paid");
  });

  it("test_checkUsageBatch_reportsAnInflatedReceipt", () => {
    const { batch, settled } = secondBatch(receipts, 4);
    const inflated = { ...batch.receipts[2]!, receipt: { ...batch.receipts[2]!.receipt, amount: 10n ** 18n } };
    const issues = check({ ...batch, receipts: batch.receipts.with(2, inflated) }, settled);
    assert.ok(issues.some((i) => /receipt 6 of channel 5 is not signed by the operator's key/.test(i)));
    assert.ok(issues.some((i) => /adapter 1 was paid 2015 but its accepted receipts add up to/.test(i)));
  });

  it("test_checkUsageBatch_reportsDroppedReplayedAndForeignReceipts", () => {
    const { batch, settled } = secondBatch(receipts, 4);
    const dropped = check({ ...batch, receipts: batch.receipts.toSpliced(1, 1) }, settled);
    assert.ok(dropped.some((i) => /receipt 5 of channel 5 says it is at position 6/.test(i)));
    assert.ok(dropped.some((i) => /its receipts give root/.test(i)));

    // Receipts paid by the first settlement, offered again for the second: the frontier at 0 gives the zero
    // root, not the previous settlement's.
    const replay = secondBatch(receipts, 0).batch;
    const replayed = check(replay, settled);
    assert.ok(replayed.some((i) => /starts at receipt 0 .* not the previous settlement's/.test(i)));

    const forged = signed(receiptAt(5), "accepted", stranger);
    const foreign = check({ ...batch, receipts: batch.receipts.with(1, forged) }, settled);
    assert.ok(foreign.some((i) => /receipt 5 of channel 5 is not signed by the operator's key/.test(i)));
  });

  it("test_checkUsageBatch_reportsAFlippedStatusAndAMismatchedRoot", () => {
    const { batch, settled } = secondBatch(receipts, 4);
    const flipped = { ...batch.receipts[3]!, status: "accepted" as const };
    const issues = check({ ...batch, receipts: batch.receipts.with(3, flipped) }, settled);
    assert.ok(issues.some((i) => /its receipts give root/.test(i)));
    assert.ok(issues.some((i) => /adapter 2 was paid 2014 but its accepted receipts add up to 3021/.test(i)));

    const other = check(batch, { ...settled, usageRoot: `0x${"99".repeat(32)}` });
    assert.ok(other.some((i) => /names usage root/.test(i)));
  });
});
