/**
 * Finding the operators that serve a base model, with nothing configured but the NodeRegistry's address: an indexer
 * or NodeRegistry's events name the candidates, the chain confirms each one (an indexer can be stale or lie, so
 * endpoint, signing key and stake are always read on chain), and a probe of each gateway says which answer and what
 * they charge.
 */
import { getAddress, isAddress, type AbiEvent, type Address, type PublicClient } from "viem";
import { abiOf } from "#sdk/abis";
import { getLogsInChunks, type ChunkOptions } from "./logs.ts";
import { fetchPrices } from "./payer.ts";

/** An operator as NodeRegistry has it now. */
export type Operator = {
  address: Address;
  /** The gateway's base URL, as registered: its API is under `${endpoint}/v1`. */
  endpoint: string;
  /** The key its receipts must recover to (NodeRegistry.signingKeyOf). */
  signingKey: Address;
  /** OPEN wei bonded. */
  bonded: bigint;
};

/** An operator whose gateway answered the probe, with the prices it lists (model id -> wei per 1,000 tokens). */
export type OperatorOffer = Operator & { prices: Map<string, bigint> };

export type DiscoverOperatorsParameters = ChunkOptions & {
  /** The NodeRegistry address. */
  registry: Address;
  baseModelId: bigint;
  /** An OpenPoA indexer (indexer/): its GraphQL names the candidates. Without it, NodeRegistry's events do. */
  indexerUrl?: string;
  /**
   * The first block to read NodeRegistry's events from: its deployment block (`startBlock` in
   * deployments/<network>.json). Default 0, which on a long chain costs a read per `maxBlockRange` blocks.
   */
  fromBlock?: bigint;
  /** How long the indexer may take to answer one page. Default 10 s. */
  indexerTimeoutMs?: number;
};

export class DiscoveryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DiscoveryError";
  }
}

/**
 * The active operators that serve `baseModelId`, as the chain has them: the candidates come from the indexer's
 * GraphQL when `indexerUrl` is given, else from NodeRegistry's OperatorRegistered/OperatorUpdated events (read in
 * chunks); each is then kept only if NodeRegistry says it is active and its current record lists the base model,
 * and its endpoint, signing key and stake are the record's.
 */
export async function discoverOperators(
  client: PublicClient,
  params: DiscoverOperatorsParameters,
): Promise<Operator[]> {
  const candidates = params.indexerUrl
    ? await candidatesFromIndexer(params.indexerUrl, params)
    : await candidatesFromEvents(client, params);
  try {
    return await confirmOnChain(client, params, candidates);
  } catch (cause) {
    throw new DiscoveryError(`cannot read the operators from NodeRegistry ${params.registry}`, { cause });
  }
}

/** The ponder GraphQL of indexer/ponder.schema.ts: active operators listing the base model, a page at a time. */
const operatorsQuery = `query Operators($baseModelId: BigInt!, $after: String) {
  operators(where: { status: "active", baseModelIds_has: $baseModelId }, limit: 1000, after: $after) {
    items { address }
    pageInfo { hasNextPage endCursor }
  }
}`;
type OperatorsPage = {
  data?: { operators?: { items?: { address?: unknown }[]; pageInfo?: { hasNextPage?: boolean; endCursor?: string } } };
  errors?: { message?: string }[];
};

/**
 * The addresses the indexer lists. Only addresses: whatever else it says is read on chain anyway, so a stale or
 * lying indexer can hide operators, but never make the app pay a key or endpoint NodeRegistry does not name.
 */
async function candidatesFromIndexer(
  indexerUrl: string,
  { baseModelId, indexerTimeoutMs = 10_000 }: DiscoverOperatorsParameters,
): Promise<Address[]> {
  const url = `${indexerUrl.replace(/\/+$/, "")}/graphql`;
  const addresses: Address[] = [];
  for (let after: string | undefined, more = true; more;) {
    let page: OperatorsPage;
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: operatorsQuery, variables: { baseModelId: baseModelId.toString(), after } }),
        signal: AbortSignal.timeout(indexerTimeoutMs),
      });
      page = (await response.json()) as OperatorsPage;
      if (!response.ok || page.errors?.length) throw new Error(page.errors?.[0]?.message ?? `HTTP ${response.status}`);
    } catch (cause) {
      throw new DiscoveryError(`the indexer at ${indexerUrl} did not list the operators`, { cause });
    }
    const { items, pageInfo } = page.data?.operators ?? {};
    if (!Array.isArray(items)) throw new DiscoveryError(`the indexer at ${indexerUrl} answered without operators`);
    for (const { address } of items) {
      if (typeof address !== "string" || !isAddress(address, { strict: false }))
        throw new DiscoveryError(`the indexer at ${indexerUrl} lists an operator "${String(address)}"`);
      addresses.push(getAddress(address));
    }
    more = pageInfo?.hasNextPage === true && typeof pageInfo.endCursor === "string";
    after = pageInfo?.endCursor;
  }
  return addresses;
}

/** The operators whose latest OperatorRegistered/OperatorUpdated event lists the base model. */
async function candidatesFromEvents(
  client: PublicClient,
  { registry, baseModelId, fromBlock = 0n, ...chunks }: DiscoverOperatorsParameters,
): Promise<Address[]> {
  const events = abiOf("NodeRegistry").filter(
    (item): item is AbiEvent =>
      item.type === "event" && (item.name === "OperatorRegistered" || item.name === "OperatorUpdated"),
  );
  let logs;
  try {
    logs = await getLogsInChunks(client, {
      ...chunks,
      fromBlock,
      read: (range) => client.getLogs({ address: registry, events, ...range }),
    });
  } catch (cause) {
    throw new DiscoveryError(`cannot read NodeRegistry ${registry}'s operator events`, { cause });
  }
  // In chain order, so each operator ends with what its latest event says.
  const servesModel = new Map<Address, boolean>();
  for (const log of logs) {
    const { operator, baseModelIds } = log.args as { operator: Address; baseModelIds: readonly bigint[] };
    servesModel.set(operator, baseModelIds.includes(baseModelId));
  }
  return [...servesModel].filter(([, serves]) => serves).map(([operator]) => operator);
}

type OperatorRecord = {
  signingKey: Address;
  bonded: bigint;
  registered: boolean;
  endpoint: string;
  baseModelIds: readonly bigint[];
};

/** The candidates NodeRegistry says are active and serve the base model, as its records have them, at one block. */
async function confirmOnChain(
  client: PublicClient,
  { registry, baseModelId }: DiscoverOperatorsParameters,
  candidates: Address[],
): Promise<Operator[]> {
  const blockNumber = await client.getBlockNumber({ cacheTime: 0 });
  const read = (functionName: string, operator: Address) =>
    client.readContract({ address: registry, abi: abiOf("NodeRegistry"), functionName, args: [operator], blockNumber });
  const confirmed = await Promise.all(
    [...new Set(candidates)].map(async (address): Promise<Operator | undefined> => {
      // getOperator reverts for an address never registered: ask isActive first.
      if (!(await read("isActive", address))) return undefined;
      const record = (await read("getOperator", address)) as OperatorRecord;
      if (!record.baseModelIds.includes(baseModelId) || !isHttpUrl(record.endpoint)) return undefined;
      return {
        address,
        endpoint: record.endpoint.replace(/\/+$/, ""),
        signingKey: record.signingKey,
        bonded: record.bonded,
      };
    }),
  );
  return confirmed.filter((operator) => operator !== undefined);
}

/** Endpoints are anyone's to register: only http(s) ones are ever fetched. */
function isHttpUrl(text: string) {
  try {
    return ["http:", "https:"].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}

/**
 * The operators whose gateway is ready (`GET /health` answers 200 "ok") and lists its prices (`GET /v1/models`),
 * both within `timeoutMs`; the others are left out.
 */
export async function probeOperators(
  operators: Operator[],
  { timeoutMs = 2_000 }: { timeoutMs?: number } = {},
): Promise<OperatorOffer[]> {
  const offers = await Promise.all(
    operators.map(async (operator): Promise<OperatorOffer | undefined> => {
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const health = await fetch(`${operator.endpoint}/health`, { signal });
        const { status } = (await health.json()) as { status?: unknown };
        if (!health.ok || status !== "ok") return undefined;
        return { ...operator, prices: await fetchPrices(operator.endpoint, { signal }) };
      } catch {
        return undefined;
      }
    }),
  );
  return offers.filter((offer) => offer !== undefined);
}

/**
 * The offers that list `model` (an adapter id; "0" the base model, whose price each operator sets), cheapest
 * first, then the most stake bonded, then by address, so that equal offers always come in the same order.
 */
export function rankOperators(offers: OperatorOffer[], model: string): OperatorOffer[] {
  const compare = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
  return offers
    .filter((offer) => offer.prices.has(model))
    .sort(
      (a, b) =>
        compare(a.prices.get(model)!, b.prices.get(model)!) ||
        compare(b.bonded, a.bonded) ||
        a.address.localeCompare(b.address),
    );
}
