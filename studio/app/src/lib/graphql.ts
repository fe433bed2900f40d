/**
 * Paginated reads of the indexer's GraphQL (Ponder): every list is asked for a page at a time (`limit` and an
 * `after`/`before` cursor), never whole.
 */
export type PageInfo = {
  startCursor: string | null;
  endCursor: string | null;
  hasNextPage: boolean;
  hasPreviousPage: boolean;
};
export type Page<T> = { items: T[]; pageInfo: PageInfo; totalCount: number };

/** The most rows one page may ask for. */
export const MAX_PAGE_SIZE = 100;

export type PageRequest = {
  /** The plural query field, e.g. `datanets`. */
  field: string;
  /** The selection of each item, e.g. `id owner metadataURI`. */
  fields: string;
  where?: Record<string, unknown>;
  orderBy?: string;
  orderDirection?: "asc" | "desc";
  limit: number;
  /** The cursor to read after (the next page) or before (the previous one); at most one of them. */
  after?: string | null;
  before?: string | null;
};

/** The indexer refused a query or answered something that is not a GraphQL answer. */
export class GraphqlError extends Error {
  readonly errors: readonly { message: string }[];
  constructor(message: string, errors: readonly { message: string }[] = []) {
    super(message);
    this.name = "GraphqlError";
    this.errors = errors;
  }
}

/** `value` as a GraphQL input literal: objects with bare keys, strings quoted, bigints as strings (Ponder BigInt). */
export function graphqlLiteral(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string" || typeof value === "bigint") return JSON.stringify(String(value));
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map(graphqlLiteral).join(", ")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    for (const [key] of entries) if (!/^[_A-Za-z][_0-9A-Za-z]*$/.test(key)) throw new GraphqlError(`bad field ${key}`);
    return `{ ${entries.map(([k, v]) => `${k}: ${graphqlLiteral(v)}`).join(", ")} }`;
  }
  throw new GraphqlError(`no GraphQL literal for ${typeof value}`);
}

/** The query text for one page of `request` (its limit clamped to 1..MAX_PAGE_SIZE). */
export function pageQuery(request: PageRequest): string {
  if (request.after && request.before) throw new GraphqlError("a page is read after a cursor or before one, not both");
  const limit = Math.min(Math.max(Math.trunc(request.limit), 1), MAX_PAGE_SIZE);
  const args = graphqlLiteral({
    where: request.where,
    orderBy: request.orderBy,
    orderDirection: request.orderDirection,
    limit,
    after: request.after ?? undefined,
    before: request.before ?? undefined,
  }).slice(2, -2);
  return `{ ${request.field}(${args}) { items { ${request.fields} } pageInfo { startCursor endCursor hasNextPage hasPreviousPage } totalCount } }`;
}

/** The `data` of a GraphQL answer; a GraphqlError naming the first error when there is one. */
export function dataOf<T>(status: number, body: unknown): T {
  const answer = body as { data?: T | null; errors?: { message: string }[] } | null;
  if (answer?.errors?.length) throw new GraphqlError(`indexer: ${answer.errors[0]!.message}`, answer.errors);
  if (status >= 400 || !answer?.data) throw new GraphqlError(`indexer answered ${status} without data`);
  return answer.data;
}

/** Runs `query` on the indexer at `indexerUrl`. */
export async function graphqlRequest<T>(indexerUrl: string, query: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(`${indexerUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query }),
    signal,
  });
  return dataOf<T>(response.status, await response.json().catch(() => null));
}

/** One page of `request` from the indexer at `indexerUrl`. */
export async function fetchPage<T>(indexerUrl: string, request: PageRequest, signal?: AbortSignal): Promise<Page<T>> {
  const data = await graphqlRequest<Record<string, Page<T>>>(indexerUrl, pageQuery(request), signal);
  const page = data[request.field];
  if (!page) throw new GraphqlError(`the indexer's answer has no ${request.field}`);
  return page;
}
