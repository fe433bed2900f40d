import type { Address, Hex, PublicClient } from "viem";
import { getContractEventsInChunks } from "../sdk/logs.ts";
import { abiOf } from "../sdk/abis.ts";
import { GatewayError } from "./errors.ts";
import type { Logger } from "./log.ts";

export type AdapterRecord = {
  id: bigint;
  baseModelId: bigint;
  /** Lowercase hex sha256 without 0x, as the engine and the artifact store name it; null for the base model. */
  sha256: string | null;
  /** Where the artifact is fetched from (inference/artifacts/sources.ts); empty for the base model. */
  uri: string;
  rank: number;
  /** ModelRegistry's bit mask of targeted modules (q, k, v, o, gate, up, down). */
  targetModules: number;
  pricePer1kTokens: bigint;
  deprecated: boolean;
};
export type ChannelRecord = {
  payer: Address;
  /** Zero while open; the end of the challenge window once the payer asked to close. */
  closesAt: bigint;
  finalized: boolean;
  operator: Address;
  deposit: bigint;
  settled: bigint;
  /** Signs the channel's vouchers (ECDSA); the zero address means the payer. */
  voucherSigner: Address;
  /** The usage root of the last settled voucher (zero before the first). */
  usageRoot: Hex;
};
export type ChainViewOptions = {
  client: PublicClient;
  payments: Address;
  models: Address;
  baseModelId: bigint;
  basePricePer1kTokens: bigint;
  log: Logger;
};

/**
 * Registry and channel state, cached. The cache is refreshed from events (`poll`): a changed price, URI,
 * deprecation, top-up, settlement or close request drops the entry, so the next read fetches it again.
 */
export class ChainView {
  private adapters = new Map<bigint, Promise<AdapterRecord>>();
  private channels = new Map<bigint, Promise<ChannelRecord>>();
  private fromBlock: bigint | undefined;
  cacheHits = 0;
  cacheMisses = 0;
  readonly options: ChainViewOptions;

  constructor(options: ChainViewOptions) {
    this.options = options;
  }

  adapter(id: bigint): Promise<AdapterRecord> {
    const cached = this.adapters.get(id);
    if (cached) {
      this.cacheHits++;
      return cached;
    }
    this.cacheMisses++;
    const record = this.readAdapter(id);
    this.adapters.set(id, record);
    record.catch(() => this.adapters.delete(id));
    return record;
  }

  private async readAdapter(id: bigint): Promise<AdapterRecord> {
    const { client, models, baseModelId, basePricePer1kTokens } = this.options;
    if (id === 0n)
      return {
        id,
        baseModelId,
        sha256: null,
        uri: "",
        rank: 0,
        targetModules: 0,
        pricePer1kTokens: basePricePer1kTokens,
        deprecated: false,
      };
    const count = (await client.readContract({
      address: models,
      abi: abiOf("ModelRegistry"),
      functionName: "adapterCount",
    })) as bigint;
    if (id > count)
      throw new GatewayError(404, "model_not_found", `The model '${id}' does not exist`, { param: "model" });
    const adapter = (await client.readContract({
      address: models,
      abi: abiOf("ModelRegistry"),
      functionName: "getAdapter",
      args: [id],
    })) as {
      baseModelId: bigint;
      artifactHash: Hex;
      uri: string;
      rank: number;
      targetModules: number;
      pricePer1kTokens: bigint;
      deprecated: boolean;
    };
    return {
      id,
      baseModelId: adapter.baseModelId,
      sha256: adapter.artifactHash.slice(2).toLowerCase(),
      uri: adapter.uri,
      rank: adapter.rank,
      targetModules: adapter.targetModules,
      pricePer1kTokens: adapter.pricePer1kTokens,
      deprecated: adapter.deprecated,
    };
  }

  /** Every adapter on the served base model that is not deprecated, in id order. */
  async servedAdapters(): Promise<AdapterRecord[]> {
    const { client, models, baseModelId } = this.options;
    const count = (await client.readContract({
      address: models,
      abi: abiOf("ModelRegistry"),
      functionName: "adapterCount",
    })) as bigint;
    const records = await Promise.all(Array.from({ length: Number(count) }, (_, i) => this.adapter(BigInt(i + 1))));
    return records.filter((a) => a.baseModelId === baseModelId && !a.deprecated);
  }

  channel(id: bigint): Promise<ChannelRecord> {
    const cached = this.channels.get(id);
    if (cached) return cached;
    const record = this.options.client.readContract({
      address: this.options.payments,
      abi: abiOf("InferencePayments"),
      functionName: "getChannel",
      args: [id],
    }) as Promise<ChannelRecord>;
    this.channels.set(id, record);
    record.catch(() => this.channels.delete(id));
    return record;
  }

  forgetChannel(id: bigint) {
    this.channels.delete(id);
  }

  /** Reads the events since the last poll and drops what they change. */
  async poll(): Promise<void> {
    const { client, payments, models, log } = this.options;
    const head = await client.getBlockNumber();
    const fromBlock = this.fromBlock ?? head;
    if (fromBlock > head) return;
    // In chunks: after a pause (or polls that failed) the range may be wider than a provider answers at once.
    const [modelEvents, paymentEvents] = await Promise.all([
      getContractEventsInChunks(client, { address: models, abi: abiOf("ModelRegistry"), fromBlock, toBlock: head }),
      getContractEventsInChunks(client, {
        address: payments,
        abi: abiOf("InferencePayments"),
        fromBlock,
        toBlock: head,
      }),
    ]);
    for (const event of modelEvents) {
      const args = event.args as { adapterId?: bigint };
      if (args.adapterId !== undefined && event.eventName !== "AdapterLineage") {
        this.adapters.delete(args.adapterId);
        log("info", "adapter changed on chain", { event: event.eventName, adapterId: args.adapterId });
      }
    }
    for (const event of paymentEvents) {
      const args = event.args as { channelId?: bigint };
      if (args.channelId !== undefined) this.channels.delete(args.channelId);
    }
    this.fromBlock = head + 1n;
  }
}
