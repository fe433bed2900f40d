/**
 * Reward epochs from public data only: the settlements in the epoch's block range (ChannelSettled, AdapterRevenue,
 * DataShareAllocated), the receipts each settlement paid for (published under its usage root and checked against
 * the chain: inference/sdk/usage.ts), the datanet versions rebuilt from events, their contents and the attribution
 * records from the content store, and the previous distribution file. Neither the attestor nor the operator chooses
 * which receipts count. `openpoa epoch run` aggregates and proposes; `openpoa epoch verify` recomputes and compares.
 */
import type { Address, Hex } from "viem";
import {
  byteTokenizer,
  checkRecordAgainstContributions,
  ContentNotFoundError,
  attributionPolicyFromChain,
  getAttributionRecord,
  hashAttributionRecord,
  nearDuplicateContributions,
  openDatanetIndex,
  type AdapterSettlement,
  type AttributionPolicy,
  type OnChainAttributionPolicy,
  type AttributionRecord,
  type ContentStore,
  type DatanetIndex,
  type DatanetVersion,
  type DistributionFile,
  type DuplicateContribution,
  type EpochBlocks,
  type EpochInputs,
  type UnverifiedUsage,
  type UsageReceipt,
} from "../../attribution/src/index.ts";
import { isSignedBy } from "../../inference/gateway/signatures.ts";
import { domainSeparator, receiptDomain } from "../../inference/sdk/eip712.ts";
import { checkUsageBatch, decodeUsageBatch, usageBatchFileName, type SettledUsage } from "../../inference/sdk/usage.ts";
import { ConfigurationError, type Suite } from "./contracts.ts";
import { readDatanetVersion, registryLocation } from "./datanetVersions.ts";
import { getContractEventsInChunks } from "./logs.ts";
import { loadDistribution, readEpochRoot } from "./rewards.ts";
import { read } from "./transactions.ts";

type Allocated = { adapterId: bigint; datanetId: bigint; version: bigint; amount: bigint };
type LineageEntry = { datanetId: bigint; version: bigint; weightBps: number };

/** The distribution file of epoch `epoch - 1` (none for the first epoch). */
export async function previousDistribution(suite: Suite, store: ContentStore, epoch: bigint) {
  if (epoch <= 1n) return undefined;
  const root = await readEpochRoot(suite, epoch - 1n);
  if (root.revoked) throw new ConfigurationError(`Epoch ${epoch - 1n} was revoked: propose it again first`);
  return loadDistribution(store, root);
}

/** Where epoch `epoch` starts: after the previous epoch's last block, or at the payments contract's deployment. */
export function epochStartBlock(suite: Suite, previous: DistributionFile | undefined): bigint {
  return previous ? previous.blocks.toBlock + 1n : BigInt(suite.deployment.contracts.InferencePayments!.startBlock);
}

/** Every adapter's data share funded in `blocks`, per lineage entry in registry order (the split's order). */
async function readSettlements(suite: Suite, blocks: EpochBlocks): Promise<AdapterSettlement[]> {
  const logs = await getContractEventsInChunks(suite.publicClient, {
    address: suite.address("InferencePayments"),
    abi: suite.abi("InferencePayments"),
    eventName: "DataShareAllocated",
    fromBlock: blocks.fromBlock,
    toBlock: blocks.toBlock,
  });
  const byAdapter = new Map<bigint, Allocated[]>();
  for (const log of logs) {
    const allocated = (log as unknown as { args: Allocated }).args;
    byAdapter.set(allocated.adapterId, [...(byAdapter.get(allocated.adapterId) ?? []), allocated]);
  }
  const settlements: AdapterSettlement[] = [];
  for (const [adapterId, allocations] of byAdapter) {
    const lineage = await read<LineageEntry[]>(suite, {
      contract: "ModelRegistry",
      functionName: "getLineage",
      args: [adapterId],
    });
    settlements.push({
      adapterId,
      lineage: lineage.map(({ datanetId, version, weightBps }) => ({
        datanetId,
        version,
        weightBps: Number(weightBps),
        amount: allocations
          .filter((a) => a.datanetId === datanetId && a.version === version)
          .reduce((sum, a) => sum + a.amount, 0n),
      })),
    });
  }
  return settlements;
}

/** The datanet versions that the settlements name, rebuilt from DatanetRegistry events. */
async function readDatanetVersions(suite: Suite, settlements: AdapterSettlement[]): Promise<DatanetVersion[]> {
  const keys = new Map<string, { datanetId: bigint; version: bigint }>();
  for (const { lineage } of settlements) {
    for (const { datanetId, version } of lineage) keys.set(`${datanetId}:${version}`, { datanetId, version });
  }
  const location = registryLocation(suite);
  return Promise.all([...keys.values()].map((key) => readDatanetVersion(suite.publicClient, { ...location, ...key })));
}

/** A ChannelSettled of the epoch with what it paid per adapter (its AdapterRevenue events). */
type Settled = SettledUsage & { operator: Address; blockNumber: bigint };

/** The epoch's settlements, each with the AdapterRevenue events that follow it in its transaction. */
async function readSettledUsage(suite: Suite, blocks: EpochBlocks): Promise<Settled[]> {
  const common = {
    address: suite.address("InferencePayments"),
    abi: suite.abi("InferencePayments"),
    fromBlock: blocks.fromBlock,
    toBlock: blocks.toBlock,
  };
  const [settledLogs, revenueLogs] = await Promise.all([
    getContractEventsInChunks(suite.publicClient, { ...common, eventName: "ChannelSettled" }),
    getContractEventsInChunks(suite.publicClient, { ...common, eventName: "AdapterRevenue" }),
  ]);
  type Located = { blockNumber: bigint; logIndex: number; transactionHash: Hex };
  const order = (a: Located, b: Located) =>
    a.blockNumber === b.blockNumber ? a.logIndex - b.logIndex : a.blockNumber < b.blockNumber ? -1 : 1;
  const logs = [
    ...settledLogs.map((log) => ({ kind: "settled" as const, log: log as unknown as Located & { args: SettledArgs } })),
    ...revenueLogs.map((log) => ({ kind: "revenue" as const, log: log as unknown as Located & { args: RevenueArgs } })),
  ].sort((a, b) => order(a.log, b.log));
  const settlements: Settled[] = [];
  // settle() emits ChannelSettled, then one AdapterRevenue per adapter paid, all in its transaction.
  const open = new Map<string, Settled>();
  for (const { kind, log } of logs) {
    const key = `${log.transactionHash}/${log.args.channelId}`;
    if (kind === "settled") {
      const { channelId, operator, previousUsageRoot, usageRoot } = log.args as SettledArgs;
      const settled: Settled = {
        channelId,
        operator,
        previousUsageRoot,
        usageRoot,
        paid: new Map(),
        blockNumber: log.blockNumber,
      };
      settlements.push(settled);
      open.set(key, settled);
    } else {
      const { adapterId, amount } = log.args as RevenueArgs;
      const settled = open.get(key);
      if (settled) (settled.paid as Map<bigint, bigint>).set(adapterId, amount);
    }
  }
  return settlements;
}
type SettledArgs = { channelId: bigint; operator: Address; previousUsageRoot: Hex; usageRoot: Hex };
type RevenueArgs = { channelId: bigint; adapterId: bigint; amount: bigint };

/**
 * Every receipt signing key `operator` registered up to `toBlock`, with the block it was registered in (receipts of a
 * rotated key stay valid). Read once per operator and epoch: each settlement then keeps the keys known by its block.
 */
async function operatorKeys(
  suite: Suite,
  operator: Address,
  toBlock: bigint,
): Promise<{ key: Address; blockNumber: bigint }[]> {
  const common = {
    address: suite.address("NodeRegistry"),
    abi: suite.abi("NodeRegistry"),
    args: { operator },
    fromBlock: BigInt(suite.deployment.contracts.NodeRegistry!.startBlock),
    toBlock,
  };
  const logs = [
    ...(await getContractEventsInChunks(suite.publicClient, { ...common, eventName: "OperatorRegistered" })),
    ...(await getContractEventsInChunks(suite.publicClient, { ...common, eventName: "OperatorUpdated" })),
  ];
  return logs.map((log) => ({
    key: (log as unknown as { args: { signingKey: Address } }).args.signingKey,
    blockNumber: log.blockNumber,
  }));
}

/**
 * The receipts the epoch's settlements paid for: for each, the batch published under its usage root, checked
 * against the settlement (inference/sdk/usage.ts). Accepted receipts of a batch that checks enter the epoch; a
 * settlement without one that checks is unverified, per adapter paid, with the reason.
 */
export async function readEpochUsage(
  suite: Suite,
  store: ContentStore,
  blocks: EpochBlocks,
): Promise<{ receipts: UsageReceipt[]; unverified: UnverifiedUsage[] }> {
  const chainId = await suite.publicClient.getChainId();
  const receiptSeparator = domainSeparator(receiptDomain(chainId, suite.address("InferencePayments")));
  const keys = new Map<Address, Promise<{ key: Address; blockNumber: bigint }[]>>();
  const receipts: UsageReceipt[] = [];
  const unverified: UnverifiedUsage[] = [];
  for (const settled of await readSettledUsage(suite, blocks)) {
    if (!keys.has(settled.operator)) keys.set(settled.operator, operatorKeys(suite, settled.operator, blocks.toBlock));
    const signingKeys = (await keys.get(settled.operator)!)
      .filter(({ blockNumber }) => blockNumber <= settled.blockNumber)
      .map(({ key }) => key);
    const issues = await (async (): Promise<string[]> => {
      const bytes = await store.read(usageBatchFileName(settled.usageRoot));
      if (bytes === undefined) return [`no receipts are published under usage root ${settled.usageRoot}`];
      let batch;
      try {
        batch = decodeUsageBatch(new TextDecoder().decode(bytes));
      } catch (error) {
        return [
          `the receipts published under usage root ${settled.usageRoot} do not parse: ${(error as Error).message}`,
        ];
      }
      const found = checkUsageBatch(batch, {
        settled,
        receiptSeparator,
        isOperatorKey: (digest, signature) => signingKeys.some((key) => isSignedBy(digest, signature, key)),
      });
      if (found.length === 0) {
        for (const { receipt, status } of batch.receipts) {
          if (status !== "accepted") continue;
          const { channelId, position, adapterId, amount, completionHash, attributionHash } = receipt;
          receipts.push({ channelId, position, adapterId, amount, completionHash, attributionHash });
        }
      }
      return found;
    })();
    if (issues.length === 0) continue;
    for (const [adapterId, amount] of settled.paid) {
      unverified.push({
        channelId: settled.channelId,
        usageRoot: settled.usageRoot,
        adapterId,
        amount,
        reason: issues.join("; "),
      });
    }
  }
  return { receipts, unverified };
}

/** Published records for the receipts' attribution hashes; an unpublished one is simply absent. */
async function readRecords(store: ContentStore, receipts: readonly UsageReceipt[]): Promise<AttributionRecord[]> {
  const records: AttributionRecord[] = [];
  const zero = `0x${"0".repeat(64)}`;
  for (const hash of new Set(receipts.map((r) => r.attributionHash.toLowerCase()))) {
    if (hash === zero) continue;
    try {
      records.push(await getAttributionRecord(store, { attributionHash: hash as Hex }));
    } catch (error) {
      if (!(error instanceof ContentNotFoundError)) throw error;
    }
  }
  return records;
}

/**
 * The index of each datanet version (built from the content store once, cached in `indexDir`), with the near-duplicate
 * params of the epoch's policy.
 */
function datanetIndexes(store: ContentStore, { indexDir, policy }: { indexDir: string; policy: AttributionPolicy }) {
  const ctx = { cacheDir: indexDir, contentStore: store, tokenizer: byteTokenizer, params: policy.params };
  const indexes = new Map<string, Promise<DatanetIndex>>();
  return (datanet: DatanetVersion) => {
    const key = `${datanet.datanetId}:${datanet.version}`;
    if (!indexes.has(key))
      indexes.set(
        key,
        openDatanetIndex(ctx, { datanet }).then(({ index }) => index),
      );
    return indexes.get(key)!;
  };
}

/** Policy `id` of AttributionRewards, checked: UnsupportedAttributionPolicyError when this code does not implement it. */
export async function readAttributionPolicy(suite: Suite, id: bigint): Promise<AttributionPolicy> {
  const policy = await read<OnChainAttributionPolicy>(suite, {
    contract: "AttributionRewards",
    functionName: "getAttributionPolicy",
    args: [id],
  });
  return attributionPolicyFromChain({ id, policy });
}

/** The policy governing `epoch` by AttributionRewards' schedule (what its root must be computed with). */
export async function attributionPolicyOfEpoch(suite: Suite, epoch: bigint): Promise<AttributionPolicy> {
  const id = await read<bigint>(suite, {
    contract: "AttributionRewards",
    functionName: "attributionPolicyForEpoch",
    args: [epoch],
  });
  return readAttributionPolicy(suite, id);
}

/**
 * Records whose policy, spans, sources or shares do not check against `policy` and the public contributions of their
 * lineage (attribution/src/recordCheck.ts), with the reasons.
 */
async function rejectRecords(
  indexOf: (datanet: DatanetVersion) => Promise<DatanetIndex>,
  {
    records,
    datanets,
    policy,
  }: { records: readonly AttributionRecord[]; datanets: readonly DatanetVersion[]; policy: AttributionPolicy },
): Promise<Map<Hex, string>> {
  const rejected = new Map<Hex, string>();
  for (const record of records) {
    const lineage = record.lineage.map((entry) =>
      datanets.find((d) => d.datanetId === entry.datanetId && d.version === entry.version),
    );
    // A record naming versions the settlement does not is refused by the aggregation itself.
    if (lineage.some((datanet) => datanet === undefined)) continue;
    const issues = checkRecordAgainstContributions(record, {
      tokenizer: byteTokenizer,
      indexes: await Promise.all(lineage.map((datanet) => indexOf(datanet!))),
      policy,
    });
    if (issues.length > 0) rejected.set(hashAttributionRecord(record), issues.join("; "));
  }
  return rejected;
}

/** Every near-duplicate contribution of the datanet versions, from their indexes. */
async function readDuplicates(
  indexOf: (datanet: DatanetVersion) => Promise<DatanetIndex>,
  datanets: readonly DatanetVersion[],
): Promise<DuplicateContribution[]> {
  const found: DuplicateContribution[] = [];
  for (const datanet of datanets) {
    for (const { contributionId, duplicateOf } of nearDuplicateContributions(await indexOf(datanet))) {
      found.push({ datanetId: datanet.datanetId, version: datanet.version, contributionId, duplicateOf });
    }
  }
  return found;
}

/** Everything aggregateEpoch / verifyEpoch need for `epoch`, read from public data. */
export async function readEpochInputs(
  suite: Suite,
  store: ContentStore,
  {
    epoch,
    blocks,
    indexDir,
    policy,
  }: {
    epoch: bigint;
    blocks: EpochBlocks;
    indexDir: string;
    /** The attribution policy the epoch is computed with (attributionPolicyOfEpoch, or the one its root names). */
    policy: AttributionPolicy;
  },
): Promise<EpochInputs> {
  const previous = await previousDistribution(suite, store, epoch);
  const settlements = await readSettlements(suite, blocks);
  const datanets = await readDatanetVersions(suite, settlements);
  const { receipts, unverified } = await readEpochUsage(suite, store, blocks);
  const records = await readRecords(store, receipts);
  const indexOf = datanetIndexes(store, { indexDir, policy });
  return {
    epoch,
    blocks,
    policy,
    settlements,
    receipts,
    unverified,
    records,
    rejectedRecords: await rejectRecords(indexOf, { records, datanets, policy }),
    duplicates: await readDuplicates(indexOf, datanets),
    datanets,
    previous: previous?.leaves ?? [],
  };
}
