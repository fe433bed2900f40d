/**
 * The indexer end to end: a local chain with the suite deployed, a scenario that emits every event type, then
 * `ponder start` as a child process. Checks GraphQL and REST field by field, a restart in the middle of a stream of
 * blocks (no duplicates, no gaps, same answers as a fresh index), PostgreSQL against PGlite (identical answers), and
 * bad requests.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { Contract, JsonRpcProvider, sha256, toUtf8Bytes } from "ethers";
import {
  createDirectoryContentStore,
  encodeDistributionFile,
  putContent,
  type DistributionFile,
} from "../../attribution/src/index.ts";
import { DEFAULT_PARAMETERS } from "../../ignition/modules/OpenPoA.ts";
import { rpc } from "../../scripts/lib/localChain.ts";
import { contractNames, eventNames, abiOf } from "../lib/abis.ts";
import {
  graphqlQuery,
  startDeployedChain,
  startIndexer,
  waitForBlock,
  type DeployedChain,
  type Indexer,
} from "./harness.ts";
import { findPostgresBin, startPostgres } from "./postgres.ts";
import {
  allocation,
  distributionFileOf,
  hashOf,
  OPEN,
  proposeRootArgs,
  runScenario,
  type ScenarioResult,
} from "./scenario.ts";
import { contributeMany } from "./workload.ts";

const PORTS = { chain: 18650, a: 18651, b: 18652, postgres: 18653, c: 18654 };
/** Events no code path emits (see scenario.ts). */
const NEVER_EMITTED = [
  "OpenToken:EIP712DomainChanged",
  "OpenGovernor:EIP712DomainChanged",
  "InferencePayments:EIP712DomainChanged",
  "OpenTimelock:RoleAdminChanged",
];

let chain: DeployedChain;
let scenario: ScenarioResult;
let contentDir: string;
const cleanups: (() => Promise<void>)[] = [];
/** Snapshots of every table and REST answer, by which indexer produced them. */
const snapshots: Record<string, Snapshot> = {};
let fresh: Indexer;
/** The newest block with events (then 32 empty blocks follow, so that Ponder sees every event as final). */
let lastEventBlock = 0;
const started = Date.now();
const log = (what: string) => console.log(`# ${((Date.now() - started) / 1000).toFixed(1)} s: ${what}`);

type Snapshot = { tables: Record<string, unknown[]>; rest: Record<string, unknown> };

async function gql<T = Record<string, { items: Record<string, unknown>[] }>>(url: string, query: string): Promise<T> {
  const { status, body } = await graphqlQuery<T>(url, query);
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data!;
}

/** Every table through GraphQL (all scalar fields, by introspection) plus the REST answers. */
async function snapshot(url: string): Promise<Snapshot> {
  type TypeRef = { name: string | null; kind: string; ofType: TypeRef | null };
  const unwrap = (t: TypeRef): TypeRef => (t.ofType ? unwrap(t.ofType) : t);
  const schema = await gql<{ __schema: { queryType: { fields: { name: string; type: TypeRef }[] } } }>(
    url,
    "{ __schema { queryType { fields { name type { name kind ofType { name kind ofType { name kind } } } } } } }",
  );
  const tables: Record<string, unknown[]> = {};
  for (const field of schema.__schema.queryType.fields) {
    const pageType = unwrap(field.type).name ?? "";
    if (!pageType.endsWith("Page")) continue;
    const itemType = pageType.slice(0, -"Page".length);
    const type = await gql<{ __type: { fields: { name: string; type: TypeRef }[] } }>(
      url,
      `{ __type(name: "${itemType}") { fields { name type { name kind ofType { name kind ofType { name kind ofType { name kind } } } } } } }`,
    );
    const scalars = type.__type.fields
      .filter((f) => ["SCALAR", "ENUM"].includes(unwrap(f.type).kind))
      .map((f) => f.name);
    const data = await gql<Record<string, { totalCount: number; items: unknown[] }>>(
      url,
      `{ ${field.name}(limit: 1000) { totalCount items { ${scalars.join(" ")} } } }`,
    );
    const page = data[field.name]!;
    assert.ok(page.items.length === page.totalCount, `${field.name}: more than one page`);
    tables[field.name] = page.items
      .map((item) => JSON.stringify(item))
      .sort()
      .map((s) => JSON.parse(s));
  }
  const rest: Record<string, unknown> = {};
  for (const route of [
    ...Object.values(scenario.accounts).map((a) => `/rewards/${a}`),
    ...Object.values(scenario.accounts).map((a) => `/accounts/${a}/earnings`),
    "/contributions/1/earnings",
    "/contributions/4/earnings",
    "/adapters/0/usage",
    "/adapters/1/usage",
    "/adapters/2/usage",
  ]) {
    rest[route] = await (await fetch(`${url}${route}`)).json();
  }
  return { tables, rest };
}

before(async () => {
  chain = await startDeployedChain(PORTS.chain);
  cleanups.push(() => chain.stop());
  contentDir = await mkdtemp(path.join(tmpdir(), "openpoa-content-"));
  cleanups.push(() => rm(contentDir, { recursive: true, force: true }));
  log("chain deployed");
  scenario = await runScenario(chain.chain.url, chain.deployment, contentDir);
  lastEventBlock = scenario.lastEventBlock;
  log("scenario done");
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

describe("indexer", { timeout: 240_000 }, () => {
  test("the scenario emits every event type but the ones no code path emits", () => {
    const all = contractNames.flatMap((name) => eventNames(abiOf(name)).map((event) => `${name}:${event}`));
    const missing = all.filter((e) => !scenario.emitted.has(e) && !NEVER_EMITTED.includes(e));
    // Constructor events (ownership, parameters, roles) come from the deployment, inside the indexed range.
    const fromDeployment = [
      "DatanetRegistry:OwnershipTransferred",
      "DatanetRegistry:StakeLockPeriodSet",
      "ModelRegistry:OwnershipTransferred",
      "ModelRegistry:MinDataShareSet",
      "NodeRegistry:OwnershipTransferred",
      "NodeRegistry:MinStakeSet",
      "NodeRegistry:UnbondingPeriodSet",
      "NodeRegistry:TreasurySet",
      "NodeRegistry:GuardianSet",
      "NodeRegistry:FreezePeriodSet",
      "AttributionRewards:OwnershipTransferred",
      "AttributionRewards:AttestorSet",
      "AttributionRewards:GuardianSet",
      "AttributionRewards:ClaimDelaySet",
      "InferencePayments:OwnershipTransferred",
      "InferencePayments:ChallengePeriodSet",
      "InferencePayments:TreasurySet",
      "ServingRules:OwnershipTransferred",
      "OpenGovernor:ProposalThresholdSet",
      "OpenGovernor:VotingDelaySet",
      "OpenGovernor:VotingPeriodSet",
      "OpenGovernor:QuorumNumeratorUpdated",
      "OpenGovernor:TimelockChange",
      "OpenTimelock:MinDelayChange",
    ];
    assert.deepEqual(
      missing.filter((e) => !fromDeployment.includes(e)),
      [],
    );
    assert.equal(scenario.rewards.claimSkipped, null, scenario.rewards.claimSkipped ?? "");
  });

  test("restart mid-stream: no duplicates, no gaps", async () => {
    const pgliteDir = await mkdtemp(path.join(tmpdir(), "openpoa-pglite-restart-"));
    cleanups.push(() => rm(pgliteDir, { recursive: true, force: true }));
    const options = {
      port: PORTS.b,
      rpcUrl: chain.chain.url,
      deploymentsDir: chain.deploymentsDir,
      pgliteDir,
      contentDir,
    };
    let indexer = await startIndexer(options);
    cleanups.push(() => indexer.stop());
    await waitForBlock(indexer, chain.chain.url, scenario.lastEventBlock);
    log("first index caught up");
    // Blocks keep coming; stop the indexer part-way through them, let more arrive, start it again.
    let stopped: Promise<void> | undefined;
    const datanetId = await contributeMany(chain.chain.url, chain.deployment, 30, (i) => {
      if (i === 12) stopped = indexer.stop();
    });
    await stopped;
    await contributeMany(chain.chain.url, chain.deployment, 10, undefined, datanetId, 30);
    lastEventBlock = Number(await rpc<string>(chain.chain.url, "eth_blockNumber"));
    // One by one, as in the scenario: the fresh index follows new blocks on top of these.
    for (let i = 0; i < 32; i++) await rpc(chain.chain.url, "evm_mine");
    indexer = await startIndexer(options);
    await waitForBlock(indexer, chain.chain.url, lastEventBlock);
    log("restarted and caught up");

    // The event table against the chain's own logs.
    const head = await rpc<string>(chain.chain.url, "eth_blockNumber");
    const logs = await rpc<{ blockNumber: string; logIndex: string }[]>(chain.chain.url, "eth_getLogs", [
      { fromBlock: "0x0", toBlock: head, address: Object.values(chain.deployment.contracts).map((c) => c.address) },
    ]);
    const expected = logs.map((l) => `${Number(l.blockNumber)}-${Number(l.logIndex)}`).sort();
    const data = await gql<{ events: { totalCount: number; items: { blockNumber: string; logIndex: number }[] } }>(
      indexer.url,
      "{ events(limit: 1000) { totalCount items { blockNumber logIndex } } }",
    );
    const got = data.events.items.map((e) => `${e.blockNumber}-${e.logIndex}`).sort();
    assert.equal(data.events.totalCount, logs.length);
    assert.deepEqual(got, expected);
    const workload = await gql<{ datanets: { items: { contributionCount: number }[] } }>(
      indexer.url,
      '{ datanets(where: { metadataURI: "ipfs://workload" }) { items { contributionCount } } }',
    );
    assert.deepEqual(workload.datanets.items, [{ contributionCount: 40 }]);
    snapshots.restarted = await snapshot(indexer.url);
    await indexer.stop();
  });

  test("a fresh PGlite index answers exactly as the restarted one", async () => {
    fresh = await startIndexer({
      port: PORTS.a,
      rpcUrl: chain.chain.url,
      deploymentsDir: chain.deploymentsDir,
      contentDir,
    });
    cleanups.push(() => fresh.stop());
    await waitForBlock(fresh, chain.chain.url, lastEventBlock);
    log("fresh PGlite index caught up");
    snapshots.pglite = await snapshot(fresh.url);
    assert.deepEqual(snapshots.pglite, snapshots.restarted);
  });

  test(
    "PostgreSQL answers exactly as PGlite",
    { skip: findPostgresBin() ? false : "PostgreSQL not installed" },
    async () => {
      const postgres = await startPostgres(PORTS.postgres);
      cleanups.push(() => postgres.stop());
      const indexer = await startIndexer({
        port: PORTS.c,
        rpcUrl: chain.chain.url,
        deploymentsDir: chain.deploymentsDir,
        contentDir,
        databaseUrl: postgres.url,
      });
      try {
        await waitForBlock(indexer, chain.chain.url, lastEventBlock);
        log("PostgreSQL index caught up");
        snapshots.postgres = await snapshot(indexer.url);
      } finally {
        await indexer.stop();
      }
      assert.deepEqual(snapshots.postgres, snapshots.pglite);
    },
  );

  test("GraphQL: datanets, versions, contributions", async () => {
    const { alice, carol, curator } = scenario.accounts;
    const data = await gql<any>(
      fresh.url,
      `{ datanets(orderBy: "id", limit: 2) { items { id owner treasury curated minStake metadataURI license contributionCount acceptedCount versionCount totalWeight
           versions { items { version root contributionCount totalWeight publisher revenue } } } }
         contributions(orderBy: "id", limit: 4) { items { id datanetId contributor status stake stakeHeld weight acceptedIndex curator slashedStake refundedStake releasedStake sizeTokens } }
         datanetCurators(orderBy: "curator") { items { datanetId curator enabled } } }`,
    );
    const [d1, d2] = data.datanets.items;
    assert.deepEqual(
      { ...d1, versions: undefined },
      {
        id: "1",
        owner: alice.toLowerCase(),
        treasury: alice.toLowerCase(),
        curated: true,
        minStake: String(10n * OPEN),
        metadataURI: "ipfs://datanet-1-v2",
        license: "CC-BY-4.0",
        contributionCount: 3,
        acceptedCount: 1,
        versionCount: 1,
        totalWeight: "500",
        versions: undefined,
      },
    );
    assert.equal(d2.owner, carol.toLowerCase());
    assert.equal(d2.curated, false);
    // An open datanet weighs each contribution 1, whatever size it declares (400 here).
    assert.equal(d2.totalWeight, "1");
    assert.equal(d1.versions.items[0].publisher, curator.toLowerCase());
    assert.equal(d1.versions.items[0].contributionCount, "1");
    assert.equal(d1.versions.items[0].root, sha256(toUtf8Bytes("root-1-1")));
    const c = data.contributions.items;
    assert.deepEqual(
      c.map((x: any) => x.status),
      ["accepted", "rejected", "withdrawn", "accepted"],
    );
    assert.deepEqual(c[0], {
      id: "1",
      datanetId: "1",
      contributor: carol.toLowerCase(),
      status: "accepted",
      stake: String(10n * OPEN),
      stakeHeld: "0",
      weight: "500",
      acceptedIndex: "0",
      curator: curator.toLowerCase(),
      slashedStake: null,
      refundedStake: null,
      releasedStake: String(10n * OPEN),
      sizeTokens: "100",
    });
    assert.equal(c[1].slashedStake, String(20n * OPEN));
    assert.equal(c[2].refundedStake, String(30n * OPEN));
    assert.equal(c[3].weight, "1");
    assert.equal(c[3].sizeTokens, "400");
    // Data share allocated per version: 60 % of adapter 1's data share plus nothing else for datanet 1.
    const a1Data = splitOf(100n * OPEN, 3_000n).dataShare + splitOf(40n * OPEN, 3_000n).dataShare;
    const v11 = (s: bigint) => (s * 6_000n) / 10_000n;
    assert.equal(
      d1.versions.items[0].revenue,
      String(v11(splitOf(100n * OPEN, 3_000n).dataShare) + v11(splitOf(40n * OPEN, 3_000n).dataShare)),
    );
    assert.ok(a1Data > 0n);
    assert.deepEqual(
      data.datanetCurators.items.map((x: any) => [x.datanetId, x.curator, x.enabled]).sort(),
      [
        ["1", carol.toLowerCase(), true],
        ["1", curator.toLowerCase(), true],
      ].sort(),
    );
  });

  test("GraphQL: models, adapters with lineage, operators, channels", async () => {
    const { bob, carol } = scenario.accounts;
    const data = await gql<any>(
      fresh.url,
      `{ baseModels(orderBy: "id") { items { id name deprecated } }
         adapters(orderBy: "id") { items { id baseModelId owner approved uri pricePer1kTokens ownerShareBps dataShareBps deprecated rank targetModules
           lineage(orderBy: "index") { items { index datanetId version weightBps } } } }
         operators { items { address endpoint bonded unbonding slashed withdrawn status baseModelIds } }
         channels(orderBy: "id") { items { id payer operator deposit settled settlementCount status closesAt refund } } }`,
    );
    assert.deepEqual(data.baseModels.items, [
      { id: "1", name: "tiny-llama", deprecated: false },
      { id: "2", name: "old-llama", deprecated: true },
    ]);
    const [a1, a2] = data.adapters.items;
    assert.deepEqual(a1, {
      id: "1",
      baseModelId: "1",
      owner: carol.toLowerCase(),
      approved: scenario.accounts.alice.toLowerCase(),
      uri: "ipfs://adapter-1-v2",
      pricePer1kTokens: String(2n * 10n ** 15n),
      ownerShareBps: 7_000,
      dataShareBps: 3_000,
      deprecated: false,
      rank: 16,
      targetModules: 0x7f,
      lineage: {
        items: [
          { index: 0, datanetId: "1", version: "1", weightBps: 6_000 },
          { index: 1, datanetId: "2", version: "1", weightBps: 4_000 },
        ],
      },
    });
    assert.equal(a2.owner, carol.toLowerCase()); // transferred from the curator
    assert.equal(a2.deprecated, true);
    assert.deepEqual(a2.lineage.items, [{ index: 0, datanetId: "2", version: "1", weightBps: 10_000 }]);
    assert.deepEqual(data.operators.items, [
      {
        address: bob.toLowerCase(),
        endpoint: "https://bob.example/v2",
        bonded: String(13_900n * OPEN),
        unbonding: "0",
        slashed: String(100n * OPEN),
        withdrawn: String(1_000n * OPEN),
        status: "active",
        baseModelIds: ["1"],
      },
    ]);
    const [c1, c2] = data.channels.items;
    assert.deepEqual(
      { ...c1, closesAt: null },
      {
        id: "1",
        payer: scenario.accounts.alice.toLowerCase(),
        operator: bob.toLowerCase(),
        deposit: String(1_200n * OPEN),
        settled: String(207n * OPEN),
        settlementCount: 2,
        status: "open",
        closesAt: null,
        refund: null,
      },
    );
    assert.equal(c2.status, "finalized");
    assert.equal(c2.refund, String(50n * OPEN));
    assert.ok(BigInt(c2.closesAt) > 0n);
  });

  test("GraphQL: settlements, splits, revenue aggregates, daily usage", async () => {
    const data = await gql<any>(
      fresh.url,
      `{ settlements(orderBy: "blockNumber") { items { channelId cumulativeAmount increase adapterCount usageRoot receiptBatch
           adapters(orderBy: "adapterId") { items { adapterId adapterOwner amount protocolFee operatorFee ownerShare dataShare } }
           allocations { items { adapterId datanetId version amount } } } }
         adapterRevenues(orderBy: "adapterId") { items { adapterId settlements amount protocolFee operatorFee ownerShare dataShare } }
         datanetRevenues(orderBy: "datanetId") { items { datanetId allocations amount } }
         accountRevenues { items { account ownerShare operatorFees protocolFees total withdrawn rewardsClaimed } }
         adapterUsageDailys(where: { adapterId: "1" }) { items { day settlements revenue estimatedTokens } }
         parameters(where: { key: "InferencePayments.protocolFeeBps" }) { items { value } } }`,
    );
    const { alice, bob, carol, curator } = scenario.accounts;
    const [s1, s2] = data.settlements.items;
    assert.equal(s1.increase, String(160n * OPEN));
    assert.equal(s2.cumulativeAmount, String(207n * OPEN));
    assert.deepEqual([s1.adapterCount, s2.adapterCount], [3, 2]);
    // Each settlement names where its receipts are published: its usage root's batch, in any content store.
    for (const s of [s1, s2]) assert.equal(s.receiptBatch, `usage-${s.usageRoot.slice(2)}`);
    const split = (adapterId: string, amount: bigint, owner: string) => {
      const dataShareBps = adapterId === "0" ? null : adapterId === "1" ? 3_000n : 1_500n;
      const s = splitOf(amount, dataShareBps);
      return {
        adapterId,
        adapterOwner: owner,
        amount: String(amount),
        protocolFee: String(s.protocolFee),
        operatorFee: String(s.operatorFee),
        ownerShare: String(s.ownerShare),
        dataShare: String(s.dataShare),
      };
    };
    // Adapter 0 is the base model: the contract names the operator as its "owner".
    assert.deepEqual(s1.adapters.items, [
      split("0", 10n * OPEN, bob.toLowerCase()),
      split("1", 100n * OPEN, carol.toLowerCase()),
      split("2", 50n * OPEN, curator.toLowerCase()),
    ]);
    assert.deepEqual(s2.adapters.items, [
      split("1", 40n * OPEN, carol.toLowerCase()),
      split("2", 7n * OPEN, carol.toLowerCase()),
    ]);
    assert.equal(s1.allocations.items.length, 3);
    const total = (id: string, amounts: bigint[]) => {
      const parts = amounts.map((a) => split(id, a, ""));
      const sum = (k: keyof ReturnType<typeof split>) => String(parts.reduce((s, p) => s + BigInt(p[k]), 0n));
      return {
        adapterId: id,
        settlements: amounts.length,
        amount: sum("amount"),
        protocolFee: sum("protocolFee"),
        operatorFee: sum("operatorFee"),
        ownerShare: sum("ownerShare"),
        dataShare: sum("dataShare"),
      };
    };
    assert.deepEqual(data.adapterRevenues.items, [
      total("0", [10n * OPEN]),
      total("1", [100n * OPEN, 40n * OPEN]),
      total("2", [50n * OPEN, 7n * OPEN]),
    ]);
    const dataShares =
      BigInt(total("1", [100n * OPEN, 40n * OPEN]).dataShare) + BigInt(total("2", [50n * OPEN, 7n * OPEN]).dataShare);
    const byDatanet = data.datanetRevenues.items;
    assert.equal(
      byDatanet.reduce((s: bigint, d: any) => s + BigInt(d.amount), 0n),
      dataShares,
    );
    const revenue = Object.fromEntries(data.accountRevenues.items.map((r: any) => [r.account, r]));
    const ownerCarol =
      BigInt(split("1", 100n * OPEN, "").ownerShare) +
      BigInt(split("1", 40n * OPEN, "").ownerShare) +
      BigInt(split("2", 7n * OPEN, "").ownerShare);
    assert.equal(revenue[carol.toLowerCase()].ownerShare, String(ownerCarol));
    assert.equal(revenue[curator.toLowerCase()].ownerShare, split("2", 50n * OPEN, "").ownerShare);
    const operatorTotal = ["0", "1", "2"].reduce(
      (s, id) => s + BigInt(data.adapterRevenues.items.find((r: any) => r.adapterId === id).operatorFee),
      0n,
    );
    assert.equal(revenue[bob.toLowerCase()].operatorFees, String(operatorTotal));
    assert.equal(revenue[bob.toLowerCase()].withdrawn, String(operatorTotal)); // bob withdrew everything he had
    assert.equal(revenue[carol.toLowerCase()].rewardsClaimed, String(scenario.rewards.claimed[carol.toLowerCase()]));
    assert.equal(revenue[alice.toLowerCase()], undefined);
    const days = data.adapterUsageDailys.items;
    assert.equal(
      days.reduce((s: number, d: any) => s + d.settlements, 0),
      2,
    );
    assert.equal(
      days.reduce((s: bigint, d: any) => s + BigInt(d.revenue), 0n),
      140n * OPEN,
    );
    // 140 OPEN at 0.002 OPEN per 1k tokens.
    assert.equal(
      days.reduce((s: bigint, d: any) => s + BigInt(d.estimatedTokens), 0n),
      70_000_000n,
    );
    assert.deepEqual(data.parameters.items, [{ value: "400" }]); // set by governance after the settlements
  });

  test("GraphQL: reward roots, claims, governance", async () => {
    const data = await gql<any>(
      fresh.url,
      `{ rewardRoots { items { epoch root contentHash status total policyId } }
         attributionPolicys(orderBy: "id") { items { id fromEpoch supersededBy version rarityExponent specHash } }
         servingRulesVersions(orderBy: "version") { items { version maxOutputTokens receiptSchemaVersion requireAttributionHash } }
         claims { items { epoch account amount } }
         rewardPools { items { totalFunded totalClaimed fundings } }
         proposals(orderBy: "createdBlock") { items { status forVotes againstVotes abstainVotes votes { items { voter support reason params } } } }
         timelockOperations { items { status calls executedCalls salt } } }`,
    );
    const { carol, alice, deployer } = scenario.accounts;
    assert.deepEqual(data.rewardRoots.items, [
      {
        epoch: "1",
        root: scenario.rewards.root,
        contentHash: scenario.rewards.contentHash,
        status: "proposed",
        total: String(scenario.rewards.leaves.reduce((s, l) => s + l.cumulativeAmount, 0n)),
        policyId: "1",
      },
    ]);
    // Policy 1 from the deployment; the proposal's two, set while epoch 2 collected usage, from epoch 3: the second
    // superseded the first.
    const policy1 = DEFAULT_PARAMETERS.initialAttributionPolicy;
    assert.deepEqual(data.attributionPolicys.items, [
      { id: "1", fromEpoch: "1", supersededBy: null, version: 1, rarityExponent: 0, specHash: policy1.specHash },
      { id: "2", fromEpoch: "3", supersededBy: "3", version: 2, rarityExponent: 1, specHash: hashOf("spec-v2") },
      {
        id: "3",
        fromEpoch: "3",
        supersededBy: null,
        version: 2,
        rarityExponent: 1,
        specHash: hashOf("spec-v2-corrected"),
      },
    ]);
    assert.deepEqual(
      data.servingRulesVersions.items.map((r: any) => [r.version, r.maxOutputTokens]),
      [
        ["1", "4096"],
        ["2", "2048"],
      ],
    );
    assert.equal(data.servingRulesVersions.items[1].receiptSchemaVersion, 3);
    const carolLeaf = scenario.rewards.leaves.find((l) => l.account === carol)!;
    assert.deepEqual(data.claims.items, [
      { epoch: "1", account: carol.toLowerCase(), amount: String(carolLeaf.cumulativeAmount) },
    ]);
    assert.equal(data.rewardPools.items[0].fundings, 2);
    assert.equal(data.rewardPools.items[0].totalClaimed, String(carolLeaf.cumulativeAmount));
    const [executed, canceled] = data.proposals.items;
    assert.equal(executed.status, "executed");
    assert.equal(canceled.status, "canceled");
    assert.ok(BigInt(executed.forVotes) > 0n && BigInt(executed.abstainVotes) > 0n && executed.againstVotes === "0");
    assert.deepEqual(
      executed.votes.items.map((v: any) => [v.voter, v.support, v.params]).sort(),
      [
        [deployer.toLowerCase(), 1, null],
        [alice.toLowerCase(), 2, "0x1234"],
      ].sort(),
    );
    const ops = data.timelockOperations.items.map((o: any) => [o.status, o.calls, o.executedCalls]).sort();
    assert.deepEqual(ops, [
      ["cancelled", 1, 0],
      ["executed", 9, 9],
    ]);
  });

  test("REST /rewards/:account: entitlement, claimed, claimable and a proof that verifies", async () => {
    const { carol, alice, bob } = scenario.accounts;
    for (const account of [carol, alice]) {
      const response = await fetch(`${fresh.url}/rewards/${account.toLowerCase()}`);
      assert.equal(response.status, 200);
      const body = (await response.json()) as any;
      const leaf = scenario.rewards.leaves.find((l) => l.account === account)!;
      const claimed = scenario.rewards.claimed[account.toLowerCase()] ?? 0n;
      assert.equal(body.account, account);
      assert.equal(body.epoch, "1");
      assert.equal(body.root, scenario.rewards.root);
      assert.equal(body.contentHash, scenario.rewards.contentHash);
      assert.equal(body.cumulativeAmount, String(leaf.cumulativeAmount));
      assert.equal(body.claimed, String(claimed));
      assert.equal(body.claimable, String(leaf.cumulativeAmount - claimed));
      const value =
        body.index === null ? [account, leaf.cumulativeAmount] : [body.index, account, leaf.cumulativeAmount];
      const types = body.index === null ? ["address", "uint256"] : ["uint256", "address", "uint256"];
      assert.ok(StandardMerkleTree.verify(body.root, types, value, body.proof), "proof verifies");
      // Carol claimed against epoch 1: her leaf there is the previous one a later claim proves; alice never claimed.
      assert.equal(body.lastClaimedEpoch, account === carol ? "1" : "0");
      assert.deepEqual(
        body.previous && [body.previous.epoch, body.previous.cumulativeAmount, body.previous.proof],
        account === carol ? ["1", String(leaf.cumulativeAmount), body.proof] : null,
      );
    }
    const none = (await (await fetch(`${fresh.url}/rewards/${bob}`)).json()) as any;
    assert.deepEqual([none.cumulativeAmount, none.claimable, none.proof], ["0", "0", null]);
  });

  test("REST /adapters/:id/usage", async () => {
    const body = (await (await fetch(`${fresh.url}/adapters/2/usage`)).json()) as any;
    assert.equal(body.adapterId, "2");
    assert.equal(body.deprecated, true);
    assert.equal(body.totals.settlements, 2);
    assert.equal(body.totals.revenue, String(57n * OPEN));
    assert.equal(
      body.daily.reduce((s: bigint, d: any) => s + BigInt(d.revenue), 0n),
      57n * OPEN,
    );
    assert.equal(
      body.daily.reduce((s: bigint, d: any) => s + BigInt(d.estimatedTokens), 0n),
      57_000_000n,
    );
  });

  test("earnings: the verified distribution file's allocations and receipts, to the wei", async () => {
    const { file, contentHash } = scenario.rewards;
    const { alice, bob, carol } = scenario.accounts;
    const data = await gql<any>(
      fresh.url,
      `{ earnings(orderBy: "index", limit: 1000) { items { ${earningFields} } }
         epochReceipts(orderBy: "index") { items { epoch index channelId position adapterId amount completionHash attributionHash record reason } }
         epochDistributions { items { ${distributionFields} } }
         rewardRoot(epoch: "1") { distribution { status } }
         contribution(id: "4") { earnings(orderBy: "index") { items { amount } } } }`,
    );
    // Only the re-proposed file's rows: the revoked one (half the amounts) left none.
    assert.deepEqual(data.earnings.items, earningRows(file));
    assert.deepEqual(
      data.epochReceipts.items,
      file.receipts.map((r, index) => ({
        epoch: "1",
        index,
        channelId: String(r.channelId),
        position: String(r.position),
        adapterId: String(r.adapterId),
        amount: String(r.amount),
        completionHash: r.completionHash,
        attributionHash: r.attributionHash,
        record: r.record,
        reason: r.reason,
      })),
    );
    const total = file.allocations.reduce((sum, a) => sum + a.amount, 0n);
    assert.deepEqual(data.epochDistributions.items, [
      {
        epoch: "1",
        contentHash,
        status: "verified",
        reason: null,
        allocationCount: 3,
        receiptCount: 2,
        amount: String(total),
        attempts: 1,
        nextAttemptAt: null,
      },
    ]);
    assert.equal(data.rewardRoot.distribution.status, "verified");
    assert.deepEqual(
      data.contribution.earnings.items.map((e: any) => e.amount),
      file.allocations.filter((a) => a.contributionId === 4n).map((a) => String(a.amount)),
    );

    // REST, a page at a time: an account's rows add up to its leaf's epoch amount.
    const get = async (route: string) => {
      const response = await fetch(`${fresh.url}${route}`);
      assert.equal(response.status, 200, route);
      return (await response.json()) as any;
    };
    const leaf = (account: string) => file.leaves.find((l) => l.account === account)!;
    const first = await get(`/accounts/${alice.toLowerCase()}/earnings?limit=1`);
    assert.equal(first.account, alice);
    assert.deepEqual([first.count, first.totalAmount, first.items.length], [2, String(leaf(alice).epochAmount), 1]);
    assert.equal(first.nextCursor, "1-1");
    const second = await get(`/accounts/${alice}/earnings?limit=1&cursor=${first.nextCursor}`);
    assert.equal(second.nextCursor, null);
    const aliceRows = earningRows(file).filter((row) => row.account === alice.toLowerCase());
    assert.deepEqual([...first.items, ...second.items], aliceRows);
    assert.deepEqual(first.missingEpochs, []);
    const carolEpoch = await get(`/accounts/${carol}/earnings?epoch=1`);
    assert.deepEqual([carolEpoch.epoch, carolEpoch.totalAmount], ["1", String(leaf(carol).epochAmount)]);
    const none = await get(`/accounts/${bob}/earnings`);
    assert.deepEqual([none.count, none.totalAmount, none.items, none.nextCursor], [0, "0", [], null]);
    assert.equal((await get(`/accounts/${carol}/earnings?epoch=2`)).count, 0);
    const c4 = await get("/contributions/4/earnings");
    assert.deepEqual(
      [c4.contributor, c4.datanetId, c4.totalAmount, c4.items],
      [alice.toLowerCase(), "2", String(leaf(alice).epochAmount), aliceRows],
    );

    const expectError = async (route: string, status: number, code: string) => {
      const response = await fetch(`${fresh.url}${route}`);
      assert.equal(response.status, status, route);
      assert.equal(((await response.json()) as any).error.code, code, route);
    };
    await expectError("/accounts/0x1234/earnings", 400, "invalid_account");
    await expectError(`/accounts/${alice}/earnings?limit=0`, 400, "invalid_limit");
    await expectError(`/accounts/${alice}/earnings?limit=1001`, 400, "invalid_limit");
    await expectError(`/accounts/${alice}/earnings?cursor=1`, 400, "invalid_cursor");
    await expectError(`/accounts/${alice}/earnings?epoch=-1`, 400, "invalid_epoch");
    await expectError("/contributions/abc/earnings", 400, "invalid_contribution_id");
    await expectError("/contributions/999/earnings", 404, "unknown_contribution");
  });

  test("bad requests get 4xx with a JSON error", async () => {
    const expectError = async (response: Response, status: number, code: string) => {
      assert.equal(response.status, status);
      assert.match(response.headers.get("content-type") ?? "", /application\/json/);
      const body = (await response.json()) as any;
      if (code) assert.equal(body.error.code, code);
      else assert.ok(Array.isArray(body.errors) && body.errors.length > 0);
    };
    await expectError(await fetch(`${fresh.url}/rewards/0x1234`), 400, "invalid_account");
    await expectError(await fetch(`${fresh.url}/rewards/not-an-address`), 400, "invalid_account");
    await expectError(await fetch(`${fresh.url}/rewards/${scenario.accounts.carol}?epoch=one`), 400, "invalid_epoch");
    await expectError(await fetch(`${fresh.url}/adapters/999/usage`), 404, "unknown_adapter");
    await expectError(await fetch(`${fresh.url}/adapters/abc/usage`), 400, "invalid_adapter_id");
    const post = (query: string) =>
      fetch(`${fresh.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query }),
      });
    await expectError(await post(`{ ${"adapters { items { id } } ".repeat(2_000)} }`), 413, "query_too_large");
    await expectError(await post(`{ adapters { items { ${"id ".repeat(2_500)} } } }`), 400, "");
    await expectError(await post("{ adapters { items { id "), 400, "");
  });

  test("answers browsers of any origin (the Studio reads GraphQL and REST cross-origin)", async () => {
    const origin = "http://studio.example";
    const preflight = await fetch(`${fresh.url}/graphql`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
    assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /POST/);
    const rest = await fetch(`${fresh.url}/adapters/1/usage`, { headers: { origin } });
    assert.equal(rest.status, 200);
    assert.equal(rest.headers.get("access-control-allow-origin"), "*");
    const status = await fetch(`${fresh.url}/status`, { headers: { origin } });
    assert.equal(status.headers.get("access-control-allow-origin"), "*");
  });

  test("earnings: a file read later, a revoked epoch, files that do not verify", async () => {
    const { alice, carol } = scenario.accounts;
    const url = chain.chain.url;
    const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, cacheTimeout: -1 });
    cleanups.push(async () => provider.destroy());
    const deployment = chain.deployment.contracts.AttributionRewards!;
    // The deployer is the attestor and the guardian.
    const rewards = new Contract(deployment.address, abiOf("AttributionRewards"), await provider.getSigner(0));
    const store = createDirectoryContentStore({ dir: contentDir });
    const send = async (method: string, ...args: unknown[]) => {
      await (await rewards.getFunction(method)(...args)).wait();
      await waitForBlock(fresh, url);
    };
    const later = async (seconds: number) => {
      await rpc(url, "evm_increaseTime", [seconds]);
      await rpc(url, "evm_mine", []);
      await waitForBlock(fresh, url);
    };
    const epoch2 = async () =>
      gql<any>(
        fresh.url,
        `{ epochDistribution(epoch: "2") { ${distributionFields} }
           earnings(where: { epoch: "2" }, orderBy: "index") { items { ${earningFields} } }
           epochReceipts(where: { epoch: "2" }) { totalCount }
           distributionRetrys { items { epochs } } }`,
      );
    const earned = async (account: string) =>
      (await (await fetch(`${fresh.url}/accounts/${account}/earnings`)).json()) as any;
    const { funded, file: one } = scenario.rewards;
    const file = distributionFileOf({
      epoch: 2n,
      policyId: 1n,
      toBlock: BigInt(await provider.getBlockNumber()),
      allocations: [allocation(1n, 1n, 1n, carol, funded / 16n), allocation(2n, 2n, 4n, alice, funded / 16n)],
      previous: one.leaves,
    });
    const json = encodeDistributionFile(file);
    const contentHash = sha256(toUtf8Bytes(json));

    // Proposed before its file is published: unavailable, no rows, and the account's answer says so.
    await send("proposeRoot", ...proposeRootArgs(file, contentHash));
    let data = await epoch2();
    assert.equal(data.epochDistribution.status, "unavailable");
    assert.match(data.epochDistribution.reason, /not found/);
    assert.equal(data.epochDistribution.attempts, 1);
    assert.deepEqual(data.earnings.items, []);
    assert.deepEqual(data.distributionRetrys.items, [{ epochs: ["2"] }]);
    const waiting = await earned(carol);
    assert.deepEqual(
      waiting.missingEpochs.map((m: any) => [m.epoch, m.status]),
      [["2", "unavailable"]],
    );
    assert.equal(waiting.totalAmount, String(funded / 2n));

    // Other bytes under its name: read again after the wait (60 s of chain time), refused, the wait doubles.
    await writeFile(path.join(contentDir, contentHash.slice(2)), "tampered");
    await later(61);
    data = await epoch2();
    assert.deepEqual([data.epochDistribution.status, data.epochDistribution.attempts], ["unavailable", 2]);
    assert.match(data.epochDistribution.reason, /does not hash to/);
    assert.deepEqual(data.earnings.items, []);
    const retryAt = BigInt(data.epochDistribution.nextAttemptAt);

    // The file itself: read at the first block after the wait, its rows counted.
    assert.equal(await putContent(store, { content: new TextEncoder().encode(json) }), contentHash);
    await rpc(url, "evm_setNextBlockTimestamp", [Number(retryAt) - 1]);
    await rpc(url, "evm_mine", []);
    await waitForBlock(fresh, url);
    assert.equal((await epoch2()).epochDistribution.attempts, 2, "not before its time");
    await later(1);
    data = await epoch2();
    assert.deepEqual(
      [data.epochDistribution.status, data.epochDistribution.attempts, data.epochDistribution.reason],
      ["verified", 3, null],
    );
    assert.deepEqual(data.earnings.items, earningRows(file));
    assert.deepEqual(data.distributionRetrys.items, [{ epochs: [] }]);
    assert.equal((await earned(carol)).totalAmount, String(funded / 2n + funded / 16n));
    assert.deepEqual((await earned(carol)).missingEpochs, []);
    // Newest epoch first.
    assert.deepEqual(
      (await earned(carol)).items.map((e: any) => e.epoch),
      ["2", "1"],
    );

    // Revoked: its rows stop counting.
    await send("revokeRoot", 2n);
    data = await epoch2();
    assert.deepEqual(
      [data.epochDistribution.status, data.epochDistribution.allocationCount, data.earnings.items],
      ["revoked", 0, []],
    );
    assert.equal((await earned(carol)).totalAmount, String(funded / 2n));

    // Proposed again under a root the file's leaves do not build: refused for good, not retried.
    const otherRoot = distributionFileOf({
      epoch: 2n,
      policyId: 1n,
      toBlock: 0n,
      allocations: file.allocations.slice(1),
      previous: one.leaves,
    }).root;
    await send("proposeRoot", ...proposeRootArgs(file, contentHash, otherRoot));
    data = await epoch2();
    assert.equal(data.epochDistribution.status, "invalid");
    assert.match(data.epochDistribution.reason, /its leaves build root/);
    assert.deepEqual([data.earnings.items, data.distributionRetrys.items], [[], [{ epochs: [] }]]);
    assert.deepEqual(
      (await earned(carol)).missingEpochs.map((m: any) => [m.epoch, m.status]),
      [["2", "invalid"]],
    );

    // A file that builds the root but whose allocations do not add up to its leaves: refused.
    await send("revokeRoot", 2n);
    const padded = { ...file, allocations: file.allocations.map((a) => ({ ...a, amount: a.amount + 1n })) };
    const paddedHash = await putContent(store, { content: new TextEncoder().encode(encodeDistributionFile(padded)) });
    await send("proposeRoot", ...proposeRootArgs(padded, paddedHash));
    data = await epoch2();
    assert.equal(data.epochDistribution.status, "invalid");
    assert.match(data.epochDistribution.reason, /sum to/);
    assert.deepEqual(data.earnings.items, []);

    // And the right file once more: its rows, at once.
    await send("revokeRoot", 2n);
    await send("proposeRoot", ...proposeRootArgs(file, contentHash));
    data = await epoch2();
    assert.deepEqual([data.epochDistribution.status, data.epochDistribution.attempts], ["verified", 1]);
    assert.deepEqual(data.earnings.items, earningRows(file));
    assert.equal(data.epochReceipts.totalCount, 0);
  });

  test("REST /rewards/:account: a second claim proves the leaf last claimed against; ?epoch= names an older root", async () => {
    // The previous test left epoch 2 proposed (carol and alice earn in it); carol claimed against epoch 1.
    const { alice, carol } = scenario.accounts;
    const url = chain.chain.url;
    const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, cacheTimeout: -1 });
    cleanups.push(async () => provider.destroy());
    const { AttributionRewards, OpenToken } = chain.deployment.contracts;
    const rewards = new Contract(AttributionRewards!.address, abiOf("AttributionRewards"), await provider.getSigner(3));
    const token = new Contract(OpenToken!.address, abiOf("OpenToken"), provider);
    const rewardsOf = async (account: string, query = "") => {
      const response = await fetch(`${fresh.url}/rewards/${account}${query}`);
      return { status: response.status, body: (await response.json()) as any };
    };
    const verifies = (root: string, index: string, account: string, amount: string, proof: string[]) =>
      StandardMerkleTree.verify(root, ["uint256", "address", "uint256"], [index, account, amount], proof);
    const leafOne = (account: string) => scenario.rewards.leaves.find((l) => l.account === account)!;
    const root2 = await rewards.getFunction("getEpochRoot")(2n);

    // Pending: the answer is still epoch 1's, epoch 2 is listed with its chain time and cannot be named yet.
    let carolNow = await rewardsOf(carol);
    assert.deepEqual([carolNow.body.epoch, carolNow.body.claimable], ["1", "0"]);
    assert.deepEqual(carolNow.body.pendingRoots, [{ epoch: "2", claimableAt: String(root2.claimableAt) }]);
    const early = await rewardsOf(carol, "?epoch=2");
    assert.deepEqual([early.status, early.body.error.code], [409, "epoch_not_claimable"]);

    await rpc(url, "evm_setNextBlockTimestamp", [Number(root2.claimableAt)]);
    await rpc(url, "evm_mine", []);
    await waitForBlock(fresh, url);

    // Claimable: carol's leaf in root 2 and her leaf in root 1 (the one she last claimed against), both proven.
    carolNow = await rewardsOf(carol);
    const c = carolNow.body;
    assert.deepEqual([c.epoch, c.root, c.lastClaimedEpoch, c.pendingRoots], ["2", root2.root, "1", []]);
    const carolOne = leafOne(carol);
    assert.equal(c.previous.epoch, "1");
    assert.equal(c.previous.cumulativeAmount, String(carolOne.cumulativeAmount));
    assert.equal(c.claimable, String(scenario.rewards.funded / 16n));
    assert.equal(BigInt(c.cumulativeAmount) - BigInt(c.previous.cumulativeAmount), BigInt(c.claimable));
    assert.ok(verifies(c.root, c.index, carol, c.cumulativeAmount, c.proof), "epoch 2 proof");
    assert.ok(verifies(scenario.rewards.root, c.index, carol, c.previous.cumulativeAmount, c.previous.proof));
    // Against epoch 1, which she already claimed against: nothing.
    assert.equal((await rewardsOf(carol, "?epoch=1")).body.claimable, "0");
    // Alice never claimed: no previous leaf; through epoch 1 only, or everything through epoch 2.
    const aliceOne = (await rewardsOf(alice, "?epoch=1")).body;
    assert.deepEqual(
      [aliceOne.epoch, aliceOne.claimable, aliceOne.previous],
      ["1", String(leafOne(alice).cumulativeAmount), null],
    );
    const aliceAll = (await rewardsOf(alice)).body;
    assert.equal(aliceAll.claimable, String(leafOne(alice).cumulativeAmount + scenario.rewards.funded / 16n));

    // The answer is the contract's claim: it pays exactly `claimable` (sent by another account: anyone may claim).
    const before = (await token.getFunction("balanceOf")(carol)) as bigint;
    const claim = {
      index: c.index,
      account: carol,
      cumulativeAmount: c.cumulativeAmount,
      proof: c.proof,
      previousAmount: c.previous.cumulativeAmount,
      previousProof: c.previous.proof,
    };
    await (await rewards.getFunction("claim")(2n, claim)).wait();
    assert.equal((await token.getFunction("balanceOf")(carol)) - before, BigInt(c.claimable));
    await waitForBlock(fresh, url);
    const after = (await rewardsOf(carol)).body;
    assert.deepEqual(
      [after.lastClaimedEpoch, after.claimable, after.claimed],
      ["2", "0", String(carolOne.cumulativeAmount + BigInt(c.claimable))],
    );
  });
});

/** The GraphQL `earning` rows a verified file gives. */
const earningRows = (file: DistributionFile) =>
  file.allocations.map((a, index) => ({
    epoch: String(file.epoch),
    index,
    account: a.contributor.toLowerCase(),
    contributionId: String(a.contributionId),
    datanetId: String(a.datanetId),
    version: String(a.version),
    adapterId: String(a.adapterId),
    amount: String(a.amount),
    policyId: String(file.policyId),
  }));
const earningFields = "epoch index account contributionId datanetId version adapterId amount policyId";
const distributionFields = "epoch contentHash status reason allocationCount receiptCount amount attempts nextAttemptAt";

/** The settlement split IInferencePayments documents (fees 5 % / 10 % at the time of the scenario's settlements). */
function splitOf(amount: bigint, dataShareBps: bigint | null) {
  const protocolFee = (amount * 500n) / 10_000n;
  let operatorFee = (amount * 1_000n) / 10_000n;
  const rest = amount - protocolFee - operatorFee;
  if (dataShareBps === null) {
    operatorFee += rest;
    return { protocolFee, operatorFee, ownerShare: 0n, dataShare: 0n };
  }
  const dataShare = (rest * dataShareBps) / 10_000n;
  return { protocolFee, operatorFee, ownerShare: rest - dataShare, dataShare };
}
