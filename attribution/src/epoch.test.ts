import assert from "node:assert/strict";
import { test } from "node:test";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import type { Hex } from "viem";
import { attributeCompletion } from "./attribute.ts";
import { buildDatanetIndex } from "./datanetIndex.ts";
import {
  aggregateEpoch,
  allocationsIssue,
  checkDistributionFile,
  decodeDistributionFile,
  encodeDistributionFile,
  type DistributionFile,
  type EpochInputs,
} from "./epoch.ts";
import { accounts, makeEpochFixture, plantedSpan, receipt } from "./epochFixture.ts";
import { datanetVersionTree } from "./datanet.ts";
import { DistributionFileMismatchError, InvalidEpochInputError } from "./errors.ts";
import { defaultAttributionPolicy } from "./policy.ts";
import { splitDataShare } from "./settlement.ts";
import { byteTokenizer } from "./tokenizer.ts";
import { asVersion2, createRandom, makeDatanet, testAccount, withParams } from "./testing.ts";

function assertConservation(inputs: EpochInputs): void {
  const { file } = aggregateEpoch(inputs);
  for (const settlement of inputs.settlements) {
    for (const entry of settlement.lineage) {
      const allocated = file.allocations
        .filter(
          (a) => a.adapterId === settlement.adapterId && a.datanetId === entry.datanetId && a.version === entry.version,
        )
        .reduce((sum, a) => sum + a.amount, 0n);
      assert.equal(allocated, entry.amount, `adapter ${settlement.adapterId} datanet ${entry.datanetId}`);
    }
  }
  const funded = inputs.settlements.flatMap((s) => s.lineage).reduce((sum, e) => sum + e.amount, 0n);
  assert.equal(file.total, funded);
  assert.equal(
    file.leaves.reduce((sum, leaf) => sum + leaf.epochAmount, 0n),
    funded,
  );
  for (const leaf of file.leaves) assert.equal(leaf.cumulativeAmount, leaf.previousAmount + leaf.epochAmount);
}

test("hand-checked split: record shares mixed with pro rata, remainder wei by largest remainder", () => {
  const { datanet, contents } = makeDatanet({
    datanetId: 1n,
    version: 1n,
    texts: [`once ${plantedSpan} at dawn`, "maps of violet rivers in june", "old violet rivers ahead"],
  });
  const index = buildDatanetIndex({ datanet, contents, tokenizer: byteTokenizer });
  const lineage = [{ datanetId: 1n, version: 1n, weightBps: 10_000 }];
  const policy = withParams({ minSpanTokens: 8 });
  const { record, hash } = attributeCompletion(
    { tokenizer: byteTokenizer, indexes: [index] },
    {
      adapterId: 1n,
      lineage,
      completion: byteTokenizer.encode(new TextEncoder().encode(`#${plantedSpan}@ violet rivers %`)),
      policy,
    },
  );
  // Span weights (the shipped rarity table; edge words of a span do not count): "quantum kettles sing" → kettles 8
  // (c1); " violet rivers " → violet 9 + rivers 0, in c2 and c3 → 4.5 each; M = 17.
  // ppm: pool 2,000/10,000 → 200,000; c1 8,000·8/170,000 → 376,470.59; c2, c3 → 211,764.71 each;
  // floors leave 2 ppm, which go to the largest remainders (c2, c3).
  assert.deepEqual(
    record.shares.map((s) => [s.contributionId, s.ppm]),
    [
      [0n, 200_000],
      [1n, 376_470],
      [2n, 211_765],
      [3n, 211_765],
    ],
  );
  const { file } = aggregateEpoch({
    epoch: 1n,
    blocks: { fromBlock: 1n, toBlock: 10n },
    policy,
    settlements: [{ adapterId: 1n, lineage: splitDataShare({ amount: 1_000n, lineage }) }],
    receipts: [receipt(1n, 1n, 1n, { record, hash })],
    unverified: [],
    records: [record],
    rejectedRecords: new Map(),
    duplicates: [],
    datanets: [datanet],
    previous: [],
  });
  // claim(c) = direct(c) · W + pool · w(c), W = 3:
  //   c1 = 376,470 · 3 + 200,000 = 1,329,410; c2 = c3 = 835,295; Σ = 3,000,000.
  //   1000 wei → 443.14, 278.43, 278.43 → floors 443, 278, 278 (999), +1 to c2 (largest remainder, lower id).
  assert.deepEqual(
    file.allocations.map((a) => [a.contributionId, a.amount]),
    [
      [1n, 443n],
      [2n, 279n],
      [3n, 278n],
    ],
  );
});

test("no receipts: pure pro rata by contribution weight; exact ties go to the lower contributionId", () => {
  const { datanet } = makeDatanet({
    datanetId: 1n,
    version: 1n,
    texts: ["a", "b", "c", "d"],
    weights: [1n, 2n, 3n, 0n],
  });
  const lineage = [{ datanetId: 1n, version: 1n, weightBps: 10_000 }];
  const run = (amount: bigint) =>
    aggregateEpoch({
      epoch: 1n,
      blocks: { fromBlock: 1n, toBlock: 10n },
      policy: defaultAttributionPolicy,
      settlements: [{ adapterId: 1n, lineage: splitDataShare({ amount, lineage }) }],
      receipts: [],
      unverified: [],
      records: [],
      rejectedRecords: new Map(),
      duplicates: [],
      datanets: [datanet],
      previous: [],
    }).file.allocations.map((a) => [a.contributionId, a.amount]);
  assert.deepEqual(run(600n), [
    [1n, 100n],
    [2n, 200n],
    [3n, 300n],
  ]);
  // 7 wei over 1:2:3 → 1.167, 2.333, 3.5 → 1, 2, 3 + 1 to c3 (largest remainder .5).
  assert.deepEqual(run(7n), [
    [1n, 1n],
    [2n, 2n],
    [3n, 4n],
  ]);
  // 2 wei over 1:1:1 (remainders all equal) → c1, c2.
  const equal = makeDatanet({ datanetId: 1n, version: 1n, texts: ["a", "b", "c"] }).datanet;
  const { file } = aggregateEpoch({
    epoch: 1n,
    blocks: { fromBlock: 1n, toBlock: 10n },
    policy: defaultAttributionPolicy,
    settlements: [{ adapterId: 1n, lineage: splitDataShare({ amount: 2n, lineage }) }],
    receipts: [],
    unverified: [],
    records: [],
    rejectedRecords: new Map(),
    duplicates: [],
    datanets: [equal],
    previous: [],
  });
  assert.deepEqual(
    file.allocations.map((a) => [a.contributionId, a.amount]),
    [
      [1n, 1n],
      [2n, 1n],
    ],
  );
});

test("fixture epoch: every wei conserved, leaves cumulative, tree matches the file, evidence recorded", () => {
  const inputs = makeEpochFixture();
  assertConservation(inputs);
  const { file, tree, json, fileHash } = aggregateEpoch(inputs);
  assert.deepEqual(
    file.receipts.map((r) => [r.position, r.record]),
    [
      [1n, "used"],
      [2n, "used"],
      [3n, "absent"],
    ],
  );
  // The previous-only account keeps its leaf; the unpaid contributor of the unmatched datanet still earns pro rata.
  const leaf = (account: string) => file.leaves.find((l) => l.account === account);
  assert.deepEqual(leaf(accounts.e), {
    index: 1n,
    account: accounts.e,
    cumulativeAmount: 50n,
    previousAmount: 50n,
    epochAmount: 0n,
  });
  assert.equal(leaf(accounts.a)!.previousAmount, 100n);
  // Datanet 2 (no matches anywhere): 400,000,000,000,000,002 wei (4,000 bps of the amount, floor) split 1:3 → .5 remainders.
  const d2 = file.allocations.filter((a) => a.datanetId === 2n);
  assert.deepEqual(
    d2.map((a) => [a.contributor, a.amount]),
    [
      [accounts.c, 100_000_000_000_000_001n],
      [accounts.d, 300_000_000_000_000_001n],
    ],
  );
  assert.equal(tree.root, file.root);
  const reloaded = StandardMerkleTree.of(
    file.leaves.map((l) => [l.index, l.account, l.cumulativeAmount]),
    ["uint256", "address", "uint256"],
  );
  assert.equal(reloaded.root, file.root);
  assert.deepEqual(decodeDistributionFile(json), file);
  assert.match(fileHash, /^0x[0-9a-f]{64}$/);
  assert.ok(!json.includes(plantedSpan), "completions stay out of the distribution file");
});

test("stable indices: previous accounts keep theirs, new accounts are appended in ascending address order", () => {
  const inputs = makeEpochFixture();
  const { file } = aggregateEpoch(inputs);
  // a and e had 0 and 1; b, c, d are new this epoch.
  const fresh = [accounts.b, accounts.c, accounts.d].sort((x, y) => (x.toLowerCase() < y.toLowerCase() ? -1 : 1));
  assert.deepEqual(
    file.leaves.map((l) => [l.index, l.account]),
    [[0n, accounts.a], [1n, accounts.e], ...fresh.map((account, k) => [2n + BigInt(k), account])],
  );
  // The next epoch starts from this one's leaves: every index stays, and a newcomer takes the next one.
  const newcomer = testAccount(42);
  const next = aggregateEpoch({
    ...inputs,
    epoch: inputs.epoch + 1n,
    datanets: inputs.datanets.map((d) => {
      const contributions = d.contributions.map((c, k) => (k === 0 ? { ...c, contributor: newcomer } : c));
      return { ...d, contributions, root: datanetVersionTree(contributions).root as Hex };
    }),
    previous: file.leaves,
  });
  assert.ok(next.file.leaves.length > file.leaves.length);
  for (const leaf of file.leaves) {
    assert.equal(next.file.leaves.find((l) => l.account === leaf.account)!.index, leaf.index);
  }
  assert.deepEqual(
    next.file.leaves.map((l) => l.index),
    next.file.leaves.map((_, k) => BigInt(k)),
  );
  assert.equal(next.file.leaves.find((l) => l.account === newcomer)!.index, BigInt(file.leaves.length));
  assert.equal(next.file.previousRoot, file.root);
});

test("previous leaves with duplicate or out-of-range indices are refused", () => {
  const inputs = makeEpochFixture();
  const [a, e] = inputs.previous;
  assert.throws(() => aggregateEpoch({ ...inputs, previous: [a!, { ...e!, index: 0n }] }), InvalidEpochInputError);
  assert.throws(() => aggregateEpoch({ ...inputs, previous: [a!, { ...e!, index: 2n }] }), InvalidEpochInputError);
  assert.throws(() => aggregateEpoch({ ...inputs, previous: [{ ...a!, index: -1n }, e!] }), InvalidEpochInputError);
});

test("aggregation is deterministic and independent of input order", () => {
  const inputs = makeEpochFixture();
  const shuffled: EpochInputs = {
    ...inputs,
    receipts: [...inputs.receipts].reverse(),
    records: [...inputs.records].reverse(),
    datanets: [...inputs.datanets].reverse(),
    previous: [...inputs.previous].reverse(),
    settlements: [...inputs.settlements].reverse(),
  };
  assert.equal(aggregateEpoch(shuffled).fileHash, aggregateEpoch(inputs).fileHash);
  assert.equal(aggregateEpoch(makeEpochFixture()).fileHash, aggregateEpoch(inputs).fileHash);
});

test("property: random epochs conserve every wei", () => {
  const random = createRandom(99);
  for (let round = 0; round < 150; round++) {
    const datanets = Array.from(
      { length: random.int(1, 3) },
      (_, d) =>
        makeDatanet({
          datanetId: BigInt(d + 1),
          version: 1n,
          texts: Array.from({ length: random.int(1, 8) }, (_, k) => `text ${d} ${k}`),
          firstContributionId: BigInt(d * 100 + 1),
          contributors: Array.from({ length: 3 }, () => testAccount(random.int(1, 6))),
          weights: Array.from({ length: 8 }, () => BigInt(random.int(0, 5))),
        }).datanet,
    );
    const settlements = Array.from({ length: random.int(1, 3) }, (_, a) => {
      const chosen = datanets.filter(() => random.next() < 0.7);
      const lineageDatanets = chosen.length > 0 ? chosen : [datanets[0]!];
      const cuts = lineageDatanets
        .slice(1)
        .map(() => random.int(0, 10_000))
        .sort((x, y) => x - y);
      const lineage = lineageDatanets.map((d, k) => ({
        datanetId: d.datanetId,
        version: d.version,
        weightBps: (k === lineageDatanets.length - 1 ? 10_000 : cuts[k]!) - (k === 0 ? 0 : cuts[k - 1]!),
      }));
      const amount = BigInt(random.int(0, 1_000_000)) * 10n ** BigInt(random.int(0, 18)) + BigInt(random.int(0, 999));
      return { adapterId: BigInt(a + 1), lineage: splitDataShare({ amount, lineage }) };
    });
    const receipts = Array.from({ length: random.int(0, 6) }, (_, r) => ({
      channelId: 1n,
      position: BigInt(r),
      adapterId: random.pick(settlements).adapterId,
      amount: BigInt(random.int(0, 1000)),
      completionHash: `0x${"cd".repeat(32)}` as const,
      attributionHash: `0x${"ab".repeat(32)}` as const,
    }));
    const unverified = Array.from({ length: random.int(0, 2) }, () => ({
      channelId: 2n,
      usageRoot: `0x${"ef".repeat(32)}` as const,
      adapterId: random.pick(settlements).adapterId,
      amount: BigInt(random.int(0, 1000)),
      reason: "no receipts are published",
    }));
    assertConservation({
      epoch: 1n,
      blocks: { fromBlock: 1n, toBlock: 1n },
      policy: defaultAttributionPolicy,
      settlements,
      receipts,
      unverified,
      records: [],
      rejectedRecords: new Map(),
      duplicates: [],
      datanets,
      previous: [],
    });
  }
});

test("a near-duplicate contribution takes no part of the pool: it is credited once, through its original", () => {
  const { datanet } = makeDatanet({ datanetId: 1n, version: 1n, texts: ["a", "b", "a!"], weights: [1n, 1n, 1n] });
  const lineage = [{ datanetId: 1n, version: 1n, weightBps: 10_000 }];
  const run = (duplicates: EpochInputs["duplicates"]) =>
    aggregateEpoch({
      epoch: 1n,
      blocks: { fromBlock: 1n, toBlock: 10n },
      policy: defaultAttributionPolicy,
      settlements: [{ adapterId: 1n, lineage: splitDataShare({ amount: 600n, lineage }) }],
      receipts: [],
      unverified: [],
      records: [],
      rejectedRecords: new Map(),
      duplicates,
      datanets: [datanet],
      previous: [],
    }).file;
  assert.deepEqual(
    run([]).allocations.map((a) => [a.contributionId, a.amount]),
    [
      [1n, 200n],
      [2n, 200n],
      [3n, 200n],
    ],
  );
  const copy = { datanetId: 1n, version: 1n, contributionId: 3n, duplicateOf: 1n };
  const file = run([copy]);
  assert.deepEqual(
    file.allocations.map((a) => [a.contributionId, a.amount]),
    [
      [1n, 300n],
      [2n, 300n],
    ],
  );
  assert.deepEqual(file.duplicates, [copy]);
});

test("inconsistent inputs are typed errors", () => {
  const inputs = makeEpochFixture();
  assert.throws(
    () => aggregateEpoch({ ...inputs, receipts: [...inputs.receipts, inputs.receipts[0]!] }),
    InvalidEpochInputError,
  );
  assert.throws(
    () => aggregateEpoch({ ...inputs, receipts: [{ ...inputs.receipts[0]!, position: 99n, amount: -1n }] }),
    InvalidEpochInputError,
  );
  assert.throws(() => aggregateEpoch({ ...inputs, datanets: inputs.datanets.slice(1) }), InvalidEpochInputError);
});

test("checkDistributionFile: the file an on-chain root commits to, and nothing else", () => {
  const inputs = makeEpochFixture();
  const { file, json, tree } = aggregateEpoch(inputs);
  const expected = { epoch: inputs.epoch, root: file.root, policyId: inputs.policy.id };
  const checked = checkDistributionFile(json, expected);
  assert.deepEqual(checked.file, file);
  assert.equal(checked.tree.root, tree.root);
  const refuses = (text: string, against: typeof expected, reason: RegExp) =>
    assert.throws(
      () => checkDistributionFile(text, against),
      (error: Error) => error instanceof DistributionFileMismatchError && reason.test(error.message),
    );
  refuses(json, { ...expected, epoch: inputs.epoch + 1n }, /it is the file of epoch/);
  refuses(json, { ...expected, policyId: 9n }, /names attribution policy/);
  refuses(json, { ...expected, root: `0x${"11".repeat(32)}` }, /its leaves build root/);
  // A file that states the right root over other leaves.
  const other = encodeDistributionFile({ ...file, leaves: file.leaves.slice(1) });
  refuses(other, expected, /its leaves build root/);
  refuses(json.replace('"format":', ' "format":'), expected, /does not decode/);
  refuses("not json", expected, /does not decode/);
});

test("allocationsIssue: the allocations make up the leaves' epoch amounts", () => {
  const { file } = aggregateEpoch(makeEpochFixture());
  assert.equal(allocationsIssue(file), null);
  const [first, ...rest] = file.allocations;
  const changed = (patch: Partial<DistributionFile>) => allocationsIssue({ ...file, ...patch });
  assert.match(changed({ allocations: [{ ...first!, amount: first!.amount + 1n }, ...rest] }) ?? "", /sum to/);
  assert.match(changed({ allocations: [{ ...first!, amount: 0n }, ...rest] }) ?? "", /not positive/);
  assert.match(changed({ allocations: [...file.allocations, { ...first!, contributor: accounts.e }] }) ?? "", /sum to/);
  const stranger = "0x00000000000000000000000000000000000000ff";
  assert.match(changed({ allocations: [...file.allocations, { ...first!, contributor: stranger }] }) ?? "", /no leaf/);
  const [leaf, ...leaves] = file.leaves;
  assert.match(
    changed({ leaves: [{ ...leaf!, previousAmount: leaf!.previousAmount + 1n }, ...leaves] }) ?? "",
    /previous/,
  );
});

test("receipts that cannot belong to the epoch (base model, adapters not settled in its range) are left out by rule", () => {
  const inputs = makeEpochFixture();
  const expected = aggregateEpoch(inputs);
  // Base-model receipts and an adapter that no settlement of this range paid.
  const outside = [
    { ...inputs.receipts[0]!, position: 98n, adapterId: 0n },
    { ...inputs.receipts[0]!, position: 99n, adapterId: 77n },
  ];
  const withOutside = aggregateEpoch({ ...inputs, receipts: [...inputs.receipts, ...outside] });
  assert.equal(withOutside.fileHash, expected.fileHash);
  assert.equal(withOutside.file.receipts.length, inputs.receipts.length);
});

test("a record that does not fit its receipt is not applied; a forged record finds no receipt", () => {
  const inputs = makeEpochFixture();
  // Receipt 4 is for adapter 10 but points at adapter 9's record.
  const misfit = { ...inputs.receipts[0]!, position: 4n, adapterId: 10n, amount: 1n };
  const { file } = aggregateEpoch({ ...inputs, receipts: [...inputs.receipts, misfit] });
  assert.deepEqual(file.receipts[3], { ...misfit, record: "invalid", reason: "record is for adapter 9" });
  assertConservation({ ...inputs, receipts: [...inputs.receipts, misfit] });

  // A record of another completion (its completion hash is not the receipt's) is not applied either.
  const other = { ...inputs.receipts[0]!, completionHash: inputs.receipts[1]!.completionHash };
  const swapped = aggregateEpoch({ ...inputs, receipts: [other, ...inputs.receipts.slice(1)] }).file.receipts[0]!;
  assert.equal(swapped.record, "invalid");
  assert.match(swapped.reason!, /completion hash .* is not the receipt's/);

  // A record the caller found not to check against the public contributions is not applied, with that reason.
  const rejectedRecords = new Map([[inputs.receipts[0]!.attributionHash, "span 0 is not in contribution 1"]]);
  const rejected = aggregateEpoch({ ...inputs, rejectedRecords }).file.receipts[0]!;
  assert.deepEqual([rejected.record, rejected.reason], ["invalid", "span 0 is not in contribution 1"]);

  // Editing a published record changes its hash, so the receipt no longer finds it.
  const [planted] = inputs.records;
  const forged = { ...planted!, shares: planted!.shares.map((s, k) => (k === 0 ? { ...s, ppm: s.ppm + 1 } : s)) };
  assert.equal(aggregateEpoch({ ...inputs, records: [forged, inputs.records[1]!] }).file.receipts[0]!.record, "absent");
});

test("records made under another attribution policy are not applied: their share goes pro rata, the file names the policy", () => {
  const governed = makeEpochFixture();
  const other = makeEpochFixture({ policy: asVersion2({ rarityExponent: 1 }) });
  // The epoch is governed by policy 1, but its receipts point at records made under policy 2.
  const mixed = { ...governed, receipts: other.receipts, records: other.records };
  const { file } = aggregateEpoch(mixed);
  assert.equal(file.policyId, 1n);
  const published = file.receipts.filter((r) => r.record !== "absent");
  assert.equal(published.length, 2);
  for (const r of published) {
    assert.equal(r.record, "invalid");
    assert.match(
      r.reason!,
      /^record does not follow the epoch's attribution policy 1: policy\.id is 2, the epoch policy's is 1; policy\.version is 2, the epoch policy's is 1; params\.rarityExponent is 1, the policy's is 0$/,
    );
  }
  // Exactly as if every record had been rejected: all of it pro rata.
  const rejectedRecords = new Map(mixed.receipts.map((r) => [r.attributionHash, "rejected"]));
  assert.deepEqual(file.allocations, aggregateEpoch({ ...mixed, rejectedRecords }).file.allocations);
  assertConservation(mixed);

  // Under policy 2 the same records are used, and the file names policy 2.
  const under2 = aggregateEpoch(other).file;
  assert.equal(under2.policyId, 2n);
  assert.deepEqual(
    under2.receipts.map((r) => r.record),
    ["used", "used", "absent"],
  );
});

test("the distribution file hash is stable across runs and machines (golden value)", () => {
  assert.equal(aggregateEpoch(makeEpochFixture()).fileHash, GOLDEN_FILE_HASH);
});

// Recompute only on a deliberate change of the file encoding, record encoding or money rule. Last recomputed for
// distribution files openpoa-distribution-v4 (policyId) and attribution records openpoa-attribution-v3 (the
// receipts' attribution hashes changed; the money rule did not).
const GOLDEN_FILE_HASH = "0x975aa110a686e791eea0e57108903599148d13d446d653e5d4f7221c0d46fac2";
