/**
 * HTTP API: Ponder's GraphQL at /graphql (and /), plus REST:
 *   GET /rewards/:account     cumulative entitlement, claimed, claimable and the Merkle proof for the newest
 *                             claimable reward root (or ?epoch=, an older claimable one), from the distribution file
 *                             whose sha256 is on chain; with the account's leaf in the epoch it last claimed against
 *                             (`previous`), which AttributionRewards.claim also proves
 *   GET /accounts/:account/earnings     what the account's contributions earned, per epoch, adapter and datanet
 *   GET /contributions/:id/earnings     what one contribution earned   (both: ?epoch=&cursor=&limit=, paginated)
 *   GET /adapters/:id/usage   an adapter's revenue totals and usage per day
 * Errors are JSON `{ "error": { "code", "message" } }` with a 4xx/5xx status. Browsers of any origin (the Studio) may
 * call every route: Ponder's server answers CORS for all of them (`cors({ origin: "*" })`); indexer.test.ts checks it.
 */
import { db, publicClients } from "ponder:api";
import schema from "ponder:schema";
import { Hono, type Context } from "hono";
import { and, asc, count, desc, eq, graphql, gt, inArray, lt, or, sum } from "ponder";
import { getAddress, isAddress } from "viem";
import {
  checkDistributionFile,
  ContentHashMismatchError,
  ContentNotFoundError,
  getContent,
  type ContentStore,
  type DistributionFile,
  type DistributionTreeLeaf,
} from "../../../attribution/src/index.ts";
import type { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { distributionStore, type ProposedRoot } from "../lib/earnings.ts";

const app = new Hono();

/** Largest GraphQL request body accepted (bytes); larger ones get 413. */
const maxGraphqlBodyBytes = Number(process.env.OPENPOA_GRAPHQL_MAX_BYTES ?? 16_384);

type Status = 400 | 404 | 409 | 413 | 502 | 503;
const fail = (c: Context, status: Status, code: string, message: string) =>
  c.json({ error: { code, message } }, status);

app.onError((error, c) => c.json({ error: { code: "internal", message: error.message } }, 500));
app.notFound((c) => fail(c, 404, "not_found", `No route ${c.req.method} ${c.req.path}`));

// ------------------------------------------------------------------ GraphQL

const graphqlHandler = graphql(
  { db, schema },
  { maxOperationTokens: 2_000, maxOperationDepth: 12, maxOperationAliases: 30 },
);

for (const path of ["/graphql"]) {
  app.use(path, async (c, next) => {
    if (c.req.method !== "POST") return graphqlHandler(c, next);
    const length = Number(c.req.header("content-length") ?? 0);
    const body = await c.req.raw.clone().arrayBuffer();
    if (length > maxGraphqlBodyBytes || body.byteLength > maxGraphqlBodyBytes) {
      return fail(c, 413, "query_too_large", `GraphQL request over ${maxGraphqlBodyBytes} bytes`);
    }
    const response = (await graphqlHandler(c, next)) as Response;
    // Ponder answers 200 even when the request was rejected before execution (parse errors, token, depth or
    // alias limits): such an answer has errors and no data; give it a 400.
    const text = await response.text();
    let parsed: { data?: unknown; errors?: { message: string }[] } | undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const rejected = parsed?.errors?.length && (parsed.data === undefined || parsed.data === null);
    return new Response(text, {
      status: rejected ? 400 : response.status,
      headers: { "content-type": "application/json; charset=utf-8" },
    });
  });
}

// ------------------------------------------------------------------ rewards

type LoadedFile = {
  file: DistributionFile;
  tree: StandardMerkleTree<DistributionTreeLeaf>;
  index: Map<string, number>;
};
/** Distribution files are immutable (content-addressed): keep the ones already checked. */
const files = new Map<string, Promise<LoadedFile>>();

async function loadDistribution(store: ContentStore, root: ProposedRoot) {
  const key = `${root.contentHash}:${root.root}`;
  let loaded = files.get(key);
  if (!loaded) {
    loaded = (async () => {
      const bytes = await getContent(store, { contentHash: root.contentHash }); // checks the sha256
      const { file, tree } = checkDistributionFile(new TextDecoder().decode(bytes), root);
      const index = new Map<string, number>();
      // Leaves are (index, account, cumulativeAmount) or, before stable indices, (account, cumulativeAmount): find
      // the account by type rather than by position.
      for (const [i, value] of tree.entries()) index.set(accountOf(value).toLowerCase(), i);
      return { file, tree, index };
    })();
    files.set(key, loaded);
    loaded.catch(() => files.delete(key));
  }
  return loaded;
}

function accountOf(value: readonly unknown[]): string {
  return value.find((v) => typeof v === "string" && /^0x[0-9a-fA-F]{40}$/.test(v)) as string;
}

/** The chain's time: claimability is decided by block.timestamp, so read the newest block's. */
async function chainTime(): Promise<bigint> {
  const client = Object.values(publicClients)[0]!;
  const block = await client.getBlock({ blockTag: "latest" });
  return block.timestamp;
}

/** Why a distribution file could not serve a proof, as the API's error code. */
const fileErrorCode = (error: unknown) =>
  error instanceof ContentNotFoundError
    ? "distribution_file_not_found"
    : error instanceof ContentHashMismatchError
      ? "distribution_file_hash_mismatch"
      : "distribution_file_invalid";

/** The account's leaf in a loaded file, with its proof; null when the file has no leaf for it. */
function leafOf(loaded: LoadedFile, lower: string) {
  const i = loaded.index.get(lower);
  if (i === undefined) return null;
  const value = loaded.tree.at(i) as readonly unknown[];
  return {
    cumulativeAmount: BigInt(value[value.length - 1] as bigint),
    // Leaves are (index, account, amount), or (account, amount) before stable indices.
    index: value.length === 3 ? String(value[0]) : null,
    proof: loaded.tree.getProof(i),
  };
}

app.get("/rewards/:account", async (c) => {
  const raw = c.req.param("account");
  if (!isAddress(raw, { strict: false })) return fail(c, 400, "invalid_account", `Not an address: ${raw}`);
  const { epoch: epochText } = c.req.query();
  if (epochText !== undefined && !/^\d{1,20}$/.test(epochText))
    return fail(c, 400, "invalid_epoch", `Not an epoch: ${epochText}`);
  const account = getAddress(raw);
  const lower = account.toLowerCase() as `0x${string}`;

  const claimedRow = await db.query.rewardAccount.findFirst({ where: eq(schema.rewardAccount.account, lower) });
  const claimed = claimedRow?.claimed ?? 0n;
  // The contract keeps, per index, the last epoch claimed against: the newest epoch of the account's claims.
  const [lastClaim] = await db
    .select()
    .from(schema.claim)
    .where(eq(schema.claim.account, lower))
    .orderBy(desc(schema.claim.epoch))
    .limit(1);
  const lastClaimedEpoch = lastClaim?.epoch ?? 0n;
  const now = await chainTime();
  const roots = await db
    .select()
    .from(schema.rewardRoot)
    .where(eq(schema.rewardRoot.status, "proposed"))
    .orderBy(desc(schema.rewardRoot.epoch));
  const claimable = roots.filter((r) => r.claimableAt <= now);
  // The newest claimable root, or the one asked for: a claim against it pays everything through that epoch.
  const target = epochText === undefined ? claimable[0] : claimable.find((r) => r.epoch === BigInt(epochText));
  if (epochText !== undefined && !target) {
    return fail(c, 409, "epoch_not_claimable", `Epoch ${epochText} has no root that can be claimed against now`);
  }
  const pending = roots
    .filter((r) => r.claimableAt > now)
    .map((r) => ({ epoch: r.epoch.toString(), claimableAt: r.claimableAt.toString() }));

  const base = {
    account,
    claimed: claimed.toString(),
    lastClaimedEpoch: lastClaimedEpoch.toString(),
    pendingRoots: pending.reverse(),
  };
  if (!target) {
    return c.json({
      ...base,
      epoch: null,
      root: null,
      contentHash: null,
      uri: null,
      index: null,
      cumulativeAmount: "0",
      claimable: "0",
      proof: null,
      previous: null,
    });
  }
  const store = distributionStore();
  if (!store) return fail(c, 503, "no_content_store", "Set OPENPOA_CONTENT_DIR or OPENPOA_CONTENT_URL");
  const previousRoot = lastClaimedEpoch === 0n ? undefined : roots.find((r) => r.epoch === lastClaimedEpoch);
  let leaf: ReturnType<typeof leafOf>;
  let previousLeaf: ReturnType<typeof leafOf> = null;
  try {
    leaf = leafOf(await loadDistribution(store, target), lower);
    // A claim by an index that claimed before also proves its leaf in the root it last claimed against.
    if (previousRoot && leaf?.index != null) previousLeaf = leafOf(await loadDistribution(store, previousRoot), lower);
  } catch (error) {
    return fail(c, 502, fileErrorCode(error), (error as Error).message);
  }
  const cumulativeAmount = leaf?.cumulativeAmount ?? 0n;
  const previousAmount = previousLeaf?.cumulativeAmount ?? claimed;
  const owed =
    lastClaimedEpoch >= target.epoch || cumulativeAmount < previousAmount ? 0n : cumulativeAmount - previousAmount;
  return c.json({
    ...base,
    epoch: target.epoch.toString(),
    root: target.root,
    contentHash: target.contentHash,
    uri: target.uri,
    index: leaf?.index ?? null,
    cumulativeAmount: cumulativeAmount.toString(),
    claimable: owed.toString(),
    proof: leaf?.proof ?? null,
    previous: previousLeaf && {
      epoch: lastClaimedEpoch.toString(),
      cumulativeAmount: previousLeaf.cumulativeAmount.toString(),
      proof: previousLeaf.proof,
    },
  });
});

// ------------------------------------------------------------------ earnings

const defaultPageSize = 100;
const maxPageSize = 1_000;

type Page = { epoch: bigint | null; after: { epoch: bigint; index: number } | null; limit: number };

/** `?epoch=&cursor=&limit=`, checked: a 400 naming the bad one otherwise. */
function pageOf(c: Context): Page | Response {
  const { epoch, cursor, limit } = c.req.query();
  if (epoch !== undefined && !/^\d{1,20}$/.test(epoch)) return fail(c, 400, "invalid_epoch", `Not an epoch: ${epoch}`);
  const at = cursor === undefined ? null : /^(\d{1,20})-(\d{1,9})$/.exec(cursor);
  if (cursor !== undefined && !at) return fail(c, 400, "invalid_cursor", `Not a cursor: ${cursor}`);
  const size = limit === undefined ? defaultPageSize : /^\d{1,4}$/.test(limit) ? Number(limit) : 0;
  if (size < 1 || size > maxPageSize) return fail(c, 400, "invalid_limit", `limit must be 1 to ${maxPageSize}`);
  return {
    epoch: epoch === undefined ? null : BigInt(epoch),
    after: at ? { epoch: BigInt(at[1]!), index: Number(at[2]) } : null,
    limit: size,
  };
}

/**
 * A page of `earning` rows under `filter` (and the page's epoch), newest epoch first, in file order within an epoch;
 * the total over every page; and the epochs whose file is unavailable or invalid, whose earnings are not counted.
 */
async function earningsPage(filter: ReturnType<typeof eq>, page: Page) {
  const { earning, epochDistribution } = schema;
  const where = and(filter, page.epoch === null ? undefined : eq(earning.epoch, page.epoch));
  const after =
    page.after &&
    or(
      lt(earning.epoch, page.after.epoch),
      and(eq(earning.epoch, page.after.epoch), gt(earning.index, page.after.index)),
    );
  const rows = await db
    .select()
    .from(earning)
    .where(and(where, after ?? undefined))
    .orderBy(desc(earning.epoch), asc(earning.index))
    .limit(page.limit + 1);
  const [totals] = await db
    .select({ amount: sum(earning.amount), count: count() })
    .from(earning)
    .where(where);
  const missing = await db
    .select()
    .from(epochDistribution)
    .where(
      and(
        inArray(epochDistribution.status, ["unavailable", "invalid"]),
        page.epoch === null ? undefined : eq(epochDistribution.epoch, page.epoch),
      ),
    )
    .orderBy(asc(epochDistribution.epoch))
    .limit(maxPageSize);
  const items = rows.slice(0, page.limit);
  const last = items[items.length - 1];
  return {
    epoch: page.epoch === null ? null : page.epoch.toString(),
    totalAmount: String(totals?.amount ?? 0),
    count: totals?.count ?? 0,
    items: items.map((row) => ({
      epoch: row.epoch.toString(),
      index: row.index,
      account: row.account,
      contributionId: row.contributionId.toString(),
      datanetId: row.datanetId.toString(),
      version: row.version.toString(),
      adapterId: row.adapterId.toString(),
      amount: row.amount.toString(),
      policyId: row.policyId.toString(),
    })),
    nextCursor: rows.length > page.limit && last ? `${last.epoch}-${last.index}` : null,
    missingEpochs: missing.map((d) => ({ epoch: d.epoch.toString(), status: d.status, reason: d.reason })),
  };
}

app.get("/accounts/:account/earnings", async (c) => {
  const raw = c.req.param("account");
  if (!isAddress(raw, { strict: false })) return fail(c, 400, "invalid_account", `Not an address: ${raw}`);
  const page = pageOf(c);
  if (page instanceof Response) return page;
  const account = getAddress(raw);
  const lower = account.toLowerCase() as `0x${string}`;
  return c.json({ account, ...(await earningsPage(eq(schema.earning.account, lower), page)) });
});

app.get("/contributions/:id/earnings", async (c) => {
  const raw = c.req.param("id");
  if (!/^\d{1,30}$/.test(raw)) return fail(c, 400, "invalid_contribution_id", `Not a contribution id: ${raw}`);
  const page = pageOf(c);
  if (page instanceof Response) return page;
  const id = BigInt(raw);
  const row = await db.query.contribution.findFirst({ where: eq(schema.contribution.id, id) });
  if (!row) return fail(c, 404, "unknown_contribution", `No contribution ${raw}`);
  return c.json({
    contributionId: raw,
    datanetId: row.datanetId.toString(),
    contributor: row.contributor,
    ...(await earningsPage(eq(schema.earning.contributionId, id), page)),
  });
});

// ------------------------------------------------------------------ adapters

app.get("/adapters/:id/usage", async (c) => {
  const raw = c.req.param("id");
  if (!/^\d{1,30}$/.test(raw)) return fail(c, 400, "invalid_adapter_id", `Not an adapter id: ${raw}`);
  const id = BigInt(raw);
  // Id 0 is the base model without adapter: it has revenue but no registry entry.
  const row = id === 0n ? null : await db.query.adapter.findFirst({ where: eq(schema.adapter.id, id) });
  if (!row && id !== 0n) return fail(c, 404, "unknown_adapter", `No adapter ${raw}`);
  const totals = await db.query.adapterRevenue.findFirst({ where: eq(schema.adapterRevenue.adapterId, id) });
  const days = await db
    .select()
    .from(schema.adapterUsageDaily)
    .where(and(eq(schema.adapterUsageDaily.adapterId, id)))
    .orderBy(asc(schema.adapterUsageDaily.day));
  return c.json({
    adapterId: id.toString(),
    owner: row?.owner ?? null,
    pricePer1kTokens: row ? row.pricePer1kTokens.toString() : null,
    deprecated: row?.deprecated ?? false,
    totals: {
      settlements: totals?.settlements ?? 0,
      revenue: (totals?.amount ?? 0n).toString(),
      protocolFee: (totals?.protocolFee ?? 0n).toString(),
      operatorFee: (totals?.operatorFee ?? 0n).toString(),
      ownerShare: (totals?.ownerShare ?? 0n).toString(),
      dataShare: (totals?.dataShare ?? 0n).toString(),
    },
    // Requests are not on chain; settlements are. estimatedTokens = revenue · 1000 / pricePer1kTokens.
    daily: days.map((d) => ({
      day: d.day,
      settlements: d.settlements,
      revenue: d.revenue.toString(),
      estimatedTokens: d.estimatedTokens === null ? null : d.estimatedTokens.toString(),
    })),
  });
});

export default app;
