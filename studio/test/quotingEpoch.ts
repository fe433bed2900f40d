/**
 * A hand-made epoch whose one request's completion quotes a contribution, for the flow's span-quoting explanation.
 * Why hand-made: the flow's adapter is trained on the tiny random model, whose completions quote nothing, so its real
 * epoch explains a pool-share earning only. This one is made as the attestor makes an epoch (the attribution library's
 * aggregateEpoch over the chain's datanet version, cumulative over the epochs before it), but its one request, the
 * completion and the data share are given rather than read from a settled channel: the operator publishes the
 * completion's attribution record (built by attributeCompletion on the version's real index), the deployer funds the
 * pool with the data share, and the attestor (the deployer) publishes the file and proposes the root.
 */
import type { Hex } from "viem";
import {
  aggregateEpoch,
  attributeCompletion,
  byteTokenizer,
  decodeDistributionFile,
  getContent,
  putAttributionRecord,
  putContent,
  splitDataShare,
  type LineageEntry,
} from "../../attribution/src/index.ts";
import { buildDatanetIndex } from "../../attribution/src/datanetIndex.ts";
import { attributionPolicyOfEpoch } from "../../scripts/lib/epochs.ts";
import { connectSuite } from "../../scripts/lib/contracts.ts";
import { readDatanetVersion, registryLocation } from "../../scripts/lib/datanetVersions.ts";
import { hardhatKey } from "../../scripts/lib/localStack.ts";
import { openContentStore, storeWriter } from "../../scripts/lib/rewards.ts";
import { read, send } from "../../scripts/lib/transactions.ts";
import { roles, type StudioStack } from "./stack.ts";

/**
 * Proposes the next epoch: `amount` of adapter `adapterId`'s data share for one request (on `channelId`) whose
 * completion is `completion` (it should quote a contribution of the adapter's lineage). Returns the epoch.
 */
export async function proposeQuotingEpoch(
  stack: StudioStack,
  {
    adapterId,
    channelId,
    completion,
    amount,
  }: { adapterId: bigint; channelId: bigint; completion: string; amount: bigint },
): Promise<bigint> {
  const attestor = await connectSuite({
    network: "localhost",
    privateKey: hardhatKey(roles.deployer),
    progress: false,
  });
  const operator = await connectSuite({
    network: "localhost",
    privateKey: hardhatKey(roles.operator),
    progress: false,
  });
  const lineage = (
    await read<{ datanetId: bigint; version: bigint; weightBps: number }[]>(attestor, {
      contract: "ModelRegistry",
      functionName: "getLineage",
      args: [adapterId],
    })
  ).map((l): LineageEntry => ({ datanetId: l.datanetId, version: l.version, weightBps: l.weightBps }));
  const epoch = (await read<bigint>(attestor, { contract: "AttributionRewards", functionName: "lastEpoch" })) + 1n;
  const policy = await attributionPolicyOfEpoch(attestor, epoch);

  const reader = openContentStore(stack.storeUrl);
  const datanets = await Promise.all(
    lineage.map(({ datanetId, version }) =>
      readDatanetVersion(attestor.publicClient, { ...registryLocation(attestor), datanetId, version }),
    ),
  );
  const indexes = await Promise.all(
    datanets.map(async (datanet) => {
      const contents = await Promise.all(
        datanet.contributions.map((c) => getContent(reader, { contentHash: c.contentHash })),
      );
      return buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer });
    }),
  );
  const { record, hash } = attributeCompletion(
    { tokenizer: byteTokenizer, indexes },
    { adapterId, lineage, completion: byteTokenizer.encode(new TextEncoder().encode(completion)), policy },
  );
  await putAttributionRecord(openContentStore(stack.storeUrl, storeWriter(operator, "record")), { record });

  const previousRoot = await read<{ contentHash: Hex }>(attestor, {
    contract: "AttributionRewards",
    functionName: "getEpochRoot",
    args: [epoch - 1n],
  });
  const previous = decodeDistributionFile(new TextDecoder().decode(await getContent(reader, previousRoot)));
  const { file, json } = aggregateEpoch({
    epoch,
    blocks: { fromBlock: previous.blocks.toBlock + 1n, toBlock: await attestor.publicClient.getBlockNumber() },
    policy,
    settlements: [{ adapterId, lineage: splitDataShare({ amount, lineage }) }],
    receipts: [
      {
        channelId,
        position: 0n,
        adapterId,
        amount,
        completionHash: record.completionHash,
        attributionHash: hash,
      },
    ],
    unverified: [],
    records: [record],
    rejectedRecords: new Map(),
    duplicates: [],
    datanets,
    previous: previous.leaves,
  });

  const rewards = attestor.address("AttributionRewards");
  await send(attestor, { contract: "OpenToken", functionName: "approve", args: [rewards, amount] });
  await send(attestor, { contract: "AttributionRewards", functionName: "fund", args: [amount] });
  const store = openContentStore(stack.storeUrl, storeWriter(attestor, "distribution"));
  const contentHash = await putContent(store, { content: new TextEncoder().encode(json) });
  const total = file.leaves.reduce((sum, leaf) => sum + leaf.cumulativeAmount, 0n);
  await send(attestor, {
    contract: "AttributionRewards",
    functionName: "proposeRoot",
    args: [epoch, file.root, total, contentHash, `openpoa://content/${contentHash.slice(2)}`, policy.id],
  });
  return epoch;
}
