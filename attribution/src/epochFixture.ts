/**
 * A small but complete epoch shared by the epoch and verifier tests: two
 * datanets, two adapters, a receipt with a planted-overlap record, one with a
 * no-match record, one whose record was never published, and an adapter with
 * settlements but no receipts.
 */
import type { Hex } from "viem";
import { attributeCompletion, type AttributionRecord, type LineageEntry } from "./attribute.ts";
import { buildDatanetIndex } from "./datanetIndex.ts";
import { defaultAttributionPolicy, type AttributionPolicy } from "./policy.ts";
import type { EpochInputs, UsageReceipt } from "./epoch.ts";
import { splitDataShare } from "./settlement.ts";
import { byteTokenizer } from "./tokenizer.ts";
import { makeDatanet, testAccount } from "./testing.ts";

export const accounts = {
  a: testAccount(1),
  b: testAccount(2),
  c: testAccount(3),
  d: testAccount(4),
  e: testAccount(5),
};

export const plantedSpan = "quantum kettles sing";

/** The receipt at `position` of channel 1 for a completion attributed as `attributed`. */
export function receipt(
  position: bigint,
  adapterId: bigint,
  amount: bigint,
  attributed: { record: AttributionRecord; hash: Hex },
): UsageReceipt {
  return {
    channelId: 1n,
    position,
    adapterId,
    amount,
    completionHash: attributed.record.completionHash,
    attributionHash: attributed.hash,
  };
}

/** The epoch, governed by `policy` (default: policy 1), its records made under it. */
export function makeEpochFixture({
  policy = defaultAttributionPolicy,
}: { policy?: AttributionPolicy } = {}): EpochInputs {
  const d1 = makeDatanet({
    datanetId: 1n,
    version: 1n,
    texts: [`once ${plantedSpan} at dawn`, "maps of violet rivers in june", "old violet river ahead"],
    contributors: [accounts.a, accounts.b, accounts.a],
  });
  const d2 = makeDatanet({
    datanetId: 2n,
    version: 3n,
    texts: ["pumpkin lanterns glow", "zebra crossings hum"],
    firstContributionId: 4n,
    contributors: [accounts.c, accounts.d],
    weights: [1n, 3n],
  });
  const ctx = {
    tokenizer: byteTokenizer,
    indexes: [d1, d2].map(({ datanet, contents }) =>
      buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer }),
    ),
  };
  // Registry order: d2 first, so d1 (last) takes the split remainder.
  const lineage9: LineageEntry[] = [
    { datanetId: 2n, version: 3n, weightBps: 4_000 },
    { datanetId: 1n, version: 1n, weightBps: 6_000 },
  ];
  const lineage10: LineageEntry[] = [{ datanetId: 1n, version: 1n, weightBps: 10_000 }];
  const encode = (text: string) => byteTokenizer.encode(new TextEncoder().encode(text));
  const planted = attributeCompletion(ctx, {
    adapterId: 9n,
    lineage: lineage9,
    completion: encode(`#once ${plantedSpan} at dawn# and violet river`),
    policy,
  });
  const unmatched = attributeCompletion(ctx, {
    adapterId: 9n,
    lineage: lineage9,
    completion: encode("nothing here matches at all"),
    policy,
  });
  const unpublishedHash: Hex = `0x${"77".repeat(32)}`;
  return {
    epoch: 3n,
    blocks: { fromBlock: 120n, toBlock: 245n },
    policy,
    settlements: [
      { adapterId: 9n, lineage: splitDataShare({ amount: 1_000_000_000_000_000_007n, lineage: lineage9 }) },
      { adapterId: 10n, lineage: splitDataShare({ amount: 1_001n, lineage: lineage10 }) },
    ],
    receipts: [
      receipt(1n, 9n, 3n, planted),
      receipt(2n, 9n, 5n, unmatched),
      { ...receipt(3n, 9n, 2n, unmatched), attributionHash: unpublishedHash },
    ],
    unverified: [],
    records: [planted.record, unmatched.record],
    rejectedRecords: new Map(),
    duplicates: [],
    datanets: [d1.datanet, d2.datanet],
    previous: [
      { index: 0n, account: accounts.a, cumulativeAmount: 100n },
      { index: 1n, account: accounts.e, cumulativeAmount: 50n },
    ],
  };
}
