/**
 * Data hooks pages read through: a page of an indexer list (GraphQL, cursor-paginated) and the indexer's REST. Reads
 * of contract state use wagmi's useReadContract with contractOf() (contracts.ts). After a transaction, TxButton waits
 * for the indexer to reach its block and refetches every query, so a page shows what it just did.
 */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { fetchPage, graphqlRequest, type Page, type PageRequest } from "./lib/graphql.ts";
import { useStudio } from "./studio.tsx";

export type Pager = {
  /** 0-based index of the page shown. */
  index: number;
  pageSize: number;
  total: number | undefined;
  hasNext: boolean;
  hasPrevious: boolean;
  next(): void;
  previous(): void;
};

/**
 * React Query's options for one page of `request` (a cursor in it reads past the first page): shared by the hook and
 * by a route's prefetch, so that a prefetched page is the one the page then asks for.
 */
export function graphqlPageQuery<T>(indexerUrl: string, { after, before, ...request }: PageRequest) {
  return {
    queryKey: ["graphql", JSON.stringify(request), after ?? undefined, before ?? undefined],
    queryFn: ({ signal }: { signal: AbortSignal }) => fetchPage<T>(indexerUrl, { ...request, after, before }, signal),
  };
}

/** One page of `request` (a Ponder list), with a pager that walks it by cursor; a new request starts at page 1. */
export function useGraphqlPage<T>(request: Omit<PageRequest, "after" | "before">) {
  const { config } = useStudio();
  const key = JSON.stringify(request);
  const [at, setAt] = useState<{ key: string; index: number; after?: string; before?: string }>({ key, index: 0 });
  const cursor = at.key === key ? at : { key, index: 0 };
  useEffect(() => {
    if (at.key !== key) setAt({ key, index: 0 });
  }, [at.key, key]);
  const query = useQuery<Page<T>>({
    ...graphqlPageQuery<T>(config.indexerUrl, { ...request, after: cursor.after, before: cursor.before }),
    placeholderData: keepPreviousData,
  });
  const page = query.data;
  const pager: Pager = useMemo(
    () => ({
      index: cursor.index,
      pageSize: request.limit,
      total: page?.totalCount,
      hasNext: Boolean(page?.pageInfo.hasNextPage),
      hasPrevious: cursor.index > 0,
      next: () => setAt({ key, index: cursor.index + 1, after: page?.pageInfo.endCursor ?? undefined }),
      previous: () =>
        setAt(
          cursor.index <= 1
            ? { key, index: 0 }
            : { key, index: cursor.index - 1, before: page?.pageInfo.startCursor ?? undefined },
        ),
    }),
    [cursor.index, key, page, request.limit],
  );
  return { items: page?.items, pager, query };
}

/** A JSON answer of the indexer's REST API (e.g. `/rewards/0x…`), or its error. */
export function useIndexerJson<T>(path: string | undefined) {
  const { config } = useStudio();
  return useQuery<T>({
    queryKey: ["indexer", path],
    enabled: path !== undefined,
    queryFn: async ({ signal }) => {
      const response = await fetch(`${config.indexerUrl}${path}`, { signal });
      const body = (await response.json()) as T & { error?: { message: string } };
      if (!response.ok) throw new Error(body.error?.message ?? `indexer answered ${response.status}`);
      return body;
    },
  });
}

/** One GraphQL query of the indexer (a single row, e.g. `{ datanet(id: "3") { … } }`); undefined waits. */
export function useGraphql<T>(query: string | undefined) {
  const { config } = useStudio();
  return useQuery<T>({
    queryKey: ["graphql-one", query],
    enabled: query !== undefined,
    queryFn: ({ signal }) => graphqlRequest<T>(config.indexerUrl, query!, signal),
  });
}
