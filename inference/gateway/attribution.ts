/**
 * Per-response attribution: the completion is matched against the indexes of the adapter's lineage datanet
 * versions, the record is published to the content store under its attribution hash, and the hash goes into the
 * usage receipt. Indexes are rebuilt from public data (DatanetRegistry events and the content store) once per
 * datanet version and cached on disk.
 */
import { zeroHash, type Address, type Hex, type PublicClient } from "viem";
import {
  attributeCompletion,
  byteTokenizer,
  openDatanetIndex,
  pickNearDuplicateParams,
  putAttributionRecord,
  type AttributionPolicy,
  type ContentStore,
  type DatanetIndex,
  type LineageEntry,
  type Tokenizer,
} from "../../attribution/src/index.ts";
import { readDatanetVersion, type RegistryLocation } from "../../scripts/lib/datanetVersions.ts";
import { abiOf } from "../sdk/abis.ts";

export type AttributorConfig = {
  client: PublicClient;
  models: Address;
  datanets: RegistryLocation;
  contentStore: ContentStore;
  /** Where built indexes are kept between restarts. */
  cacheDir: string;
  /** The attribution policy in force for the epoch collecting usage now (gateway/governed.ts follows it). */
  policy: () => AttributionPolicy;
  tokenizer?: Tokenizer;
};

export type Attributor = {
  /** The tokenizer records count in: receipts hash completions with it too. */
  tokenizer: Tokenizer;
  /**
   * The attribution hash of `completion` served by `adapterId` (zero for the base model alone); `exclude` is text
   * the completion may repeat that no contributor wrote (chat-template markers, the system prompt).
   */
  attribute(params: { adapterId: bigint; completion: string; exclude?: readonly string[] }): Promise<Hex>;
};

export function createAttributor({
  client,
  models,
  datanets,
  contentStore,
  cacheDir,
  policy,
  tokenizer = byteTokenizer,
}: AttributorConfig): Attributor {
  const lineages = new Map<bigint, Promise<LineageEntry[]>>();
  const indexes = new Map<string, Promise<DatanetIndex>>();
  // A failed load is forgotten, so that the next request tries again (the content store may come back).
  const cached = <K, V>(map: Map<K, Promise<V>>, key: K, load: () => Promise<V>): Promise<V> => {
    let value = map.get(key);
    if (!value) {
      value = load();
      map.set(key, value);
      value.catch(() => map.delete(key));
    }
    return value;
  };
  // Lineage never changes after registration, and a published version never changes: both cache forever.
  const lineageOf = (adapterId: bigint) =>
    cached(lineages, adapterId, async () => {
      const entries = (await client.readContract({
        address: models,
        abi: abiOf("ModelRegistry"),
        functionName: "getLineage",
        args: [adapterId],
      })) as readonly { datanetId: bigint; version: bigint; weightBps: number }[];
      return entries.map(({ datanetId, version, weightBps }) => ({ datanetId, version, weightBps: Number(weightBps) }));
    });
  // An index is built with the policy's near-duplicate params: a policy that changes them gets indexes of its own.
  const indexOf = ({ datanetId, version }: LineageEntry, { params }: AttributionPolicy) =>
    cached(indexes, `${datanetId}:${version}:${JSON.stringify(pickNearDuplicateParams(params))}`, async () => {
      const datanet = await readDatanetVersion(client, { ...datanets, datanetId, version });
      return (await openDatanetIndex({ cacheDir, contentStore, tokenizer, params }, { datanet })).index;
    });

  return {
    tokenizer,
    async attribute({ adapterId, completion, exclude }) {
      if (adapterId === 0n) return zeroHash;
      // One policy for the whole record, even if a poll changes it meanwhile.
      const inForce = policy();
      const lineage = await lineageOf(adapterId);
      const lineageIndexes = await Promise.all(lineage.map((entry) => indexOf(entry, inForce)));
      const { record } = attributeCompletion(
        { tokenizer, indexes: lineageIndexes },
        {
          adapterId,
          lineage,
          completion: tokenizer.encode(new TextEncoder().encode(completion)),
          policy: inForce,
          exclude,
        },
      );
      return putAttributionRecord(contentStore, { record });
    },
  };
}
