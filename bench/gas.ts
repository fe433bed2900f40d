/**
 * `npm run bench:gas`: transaction gas of settlement and claims on the in-process chain, in one run, written to
 * bench/results/gas.json. Every figure is a receipt's gasUsed.
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { mkdir, writeFile } from "node:fs/promises";
import { network } from "hardhat";
import { voucherDomain, voucherTypes } from "../inference/sdk/index.ts";
import OpenPoAModule from "../ignition/modules/OpenPoA.ts";
import { contribute, registerAdapter, registerBaseModel } from "../test/helpers/fixtures.ts";

const OPEN = 10n ** 18n;
const REQUESTS = 1_000;
const PRICE_PER_REQUEST = 3n * 10n ** 15n; // 0.003 OPEN: about 300 tokens at 0.01 OPEN per 1k
const TREE_LEAVES = 65_536;

const { ethers, ignition, networkHelpers } = await network.create();
const [, operator, payer, adapterOwner] = await ethers.getSigners();
const deployed = await ignition.deploy(OpenPoAModule);
const at = async <T extends string>(name: T, contract: { getAddress(): Promise<string> }) =>
  ethers.getContractAt(name, await contract.getAddress());
const token = await at("OpenToken", deployed.token);
const datanets = await at("DatanetRegistry", deployed.datanetRegistry);
const models = await at("ModelRegistry", deployed.modelRegistry);
const nodes = await at("NodeRegistry", deployed.nodeRegistry);
const payments = await at("InferencePayments", deployed.inferencePayments);
const rewards = await at("AttributionRewards", deployed.attributionRewards);

const gasOf = async (tx: Promise<{ wait(): Promise<{ gasUsed: bigint } | null> }>) =>
  Number((await (await tx).wait())!.gasUsed);

/** Deterministic addresses that have never held anything (creating 65,536 wallets would take minutes). */
const freshAddress = (label: string) => ethers.getAddress(ethers.dataSlice(ethers.id(label), 12));

// An OPEN transfer to an address that never held any.
const erc20Transfer = await gasOf(token.transfer(freshAddress("transfer"), 1n * OPEN));

// Sixteen datanets with a published version each; 50 adapters with a two-entry lineage, then MAX_VOUCHER_ADAPTERS
// adapters with the longest lineage (MAX_LINEAGE entries) for the costliest settlement a voucher can ask for.
const MAX_LINEAGE = Number(await models.MAX_LINEAGE());
for (let n = 1; n <= MAX_LINEAGE; n++) {
  await datanets.createDatanet({
    metadataURI: `ipfs://datanet-${n}`,
    license: "CC-BY-4.0",
    curated: false,
    minStake: 0n,
    treasury: ethers.ZeroAddress,
    curators: [],
  });
  await contribute(datanets, n, ethers.id(`text-${n}`), `ipfs://text-${n}`, 1_000, 0);
  await datanets.publishVersion(n, ethers.id(`root-${n}`));
}
await registerBaseModel(models, "bench-base", ethers.id("base"), "ipfs://base");
const ADAPTERS = 50;
const MAX_VOUCHER_ADAPTERS = Number(await payments.MAX_VOUCHER_ADAPTERS());
const adapterWith = (i: number, lineage: { datanetId: bigint; version: bigint; weightBps: number }[]) => ({
  baseModelId: 1n,
  artifactHash: ethers.id(`adapter-${i}`),
  uri: `ipfs://adapter-${i}`,
  rank: 16,
  targetModules: 0x7f,
  pricePer1kTokens: 10n ** 16n,
  ownerShareBps: 7_000,
  dataShareBps: 3_000,
  lineage,
});
for (let i = 1; i <= ADAPTERS; i++) {
  await registerAdapter(
    models.connect(adapterOwner),
    adapterWith(i, [
      { datanetId: 1n, version: 1n, weightBps: 6_000 },
      { datanetId: 2n, version: 1n, weightBps: 4_000 },
    ]),
  );
}
const longestLineage = Array.from({ length: MAX_LINEAGE }, (_, j) => ({
  datanetId: BigInt(j + 1),
  version: 1n,
  weightBps: j === 0 ? 10_000 - 625 * (MAX_LINEAGE - 1) : 625,
}));
for (let i = ADAPTERS + 1; i <= ADAPTERS + MAX_VOUCHER_ADAPTERS; i++) {
  await registerAdapter(models.connect(adapterOwner), adapterWith(i, longestLineage));
}

await token.transfer(operator.address, 100_000n * OPEN);
await token.connect(operator).approve(await nodes.getAddress(), ethers.MaxUint256);
await nodes.connect(operator).register("http://127.0.0.1:8080", [1n], operator.address, 10_000n * OPEN);
await token.transfer(payer.address, 1_000_000n * OPEN);
await token.connect(payer).approve(await payments.getAddress(), ethers.MaxUint256);

const { chainId } = await ethers.provider.getNetwork();
const domain = voucherDomain(Number(chainId), (await payments.getAddress()) as `0x${string}`);
/**
 * A fresh channel's first settlement (every per-adapter slot written for the first time: the costly case) over
 * `adapters` adapters from id `firstId` on.
 */
async function settleGas(adapters: number, firstId = 1) {
  const channelId = (await payments.channelCount()) + 1n;
  await payments.connect(payer).openChannel(operator.address, 10_000n * OPEN, ethers.ZeroAddress);
  const adapterIds = Array.from({ length: adapters }, (_, i) => BigInt(firstId + i));
  // 1,000 requests spread over the adapters.
  const adapterAmounts = adapterIds.map((_, i) => {
    const requests = Math.floor(REQUESTS / adapters) + (i < REQUESTS % adapters ? 1 : 0);
    return BigInt(requests) * PRICE_PER_REQUEST;
  });
  const voucher = {
    channelId,
    cumulativeAmount: adapterAmounts.reduce((a, b) => a + b, 0n),
    adapterIds,
    adapterAmounts,
    usageRoot: ethers.id(`usage-${channelId}`),
    expiry: BigInt(await networkHelpers.time.latest()) + 3_600n,
  };
  const signature = await payer.signTypedData(domain, { Voucher: [...voucherTypes.Voucher] }, voucher);
  return gasOf(payments.connect(operator).settle(voucher, signature));
}

const settle = [];
for (const adapters of [1, 10, 50]) settle.push({ requests: REQUESTS, adapters, gas: await settleGas(adapters) });
// The worst a voucher can ask for: MAX_VOUCHER_ADAPTERS fresh adapters, each with MAX_LINEAGE lineage entries.
const settleMaxAdapters = {
  adapters: MAX_VOUCHER_ADAPTERS,
  lineageEntries: MAX_LINEAGE,
  gas: await settleGas(MAX_VOUCHER_ADAPTERS, ADAPTERS + 1),
};

// A 65,536-leaf cumulative distribution of accounts that never held OPEN. Leaves (index, account, cumulativeAmount):
// the first epoch gives every account its stable index in ascending address order, as attribution/src/epoch.ts does.
type Leaf = [bigint, string, bigint];
const accounts = Array.from({ length: TREE_LEAVES }, (_, i) => freshAddress(`claimant-${i}`)).sort((a, b) =>
  a.toLowerCase() < b.toLowerCase() ? -1 : 1,
);
const epochTree = (scale: bigint) => {
  const leaves = accounts.map((account, i): Leaf => [BigInt(i), account, BigInt(i + 1) * scale * 10n ** 12n]);
  return { leaves, tree: StandardMerkleTree.of(leaves, ["uint256", "address", "uint256"]) };
};
const sum = (leaves: Leaf[]) => leaves.reduce((total, [, , amount]) => total + amount, 0n);
const one = epochTree(1n);
const two = epochTree(2n);
await token.approve(await rewards.getAddress(), sum(two.leaves));
await rewards.fund(sum(two.leaves));
await rewards.proposeRoot(1, one.tree.root, sum(one.leaves), ethers.id("distribution-1"), "ipfs://distribution-1", 1);
await rewards.proposeRoot(2, two.tree.root, sum(two.leaves), ethers.id("distribution-2"), "ipfs://distribution-2", 1);
await networkHelpers.time.increase(Number(await rewards.claimDelay()));

/** A first claim (no previous epoch) of leaf i of epoch 1. */
const firstClaim = (i: number) => ({
  index: one.leaves[i][0],
  account: one.leaves[i][1],
  cumulativeAmount: one.leaves[i][2],
  proof: one.tree.getProof(i),
  previousAmount: 0n,
  previousProof: [],
});
// Index 0: a fresh account whose 8-lane word nobody wrote yet (the costly case); index 1 shares that word.
const claim = await gasOf(rewards.claim(1, firstClaim(0)));
const claimWordShared = await gasOf(rewards.claim(1, firstClaim(1)));
// The same two cases against the least possible claim contract (contracts/bench/ClaimFloor.sol), with two other fresh
// accounts (indices 16 and 17 share a word): the floor any claim pays with this token and proof size.
const floor = await ethers.deployContract("ClaimFloor", [await token.getAddress()]);
await token.transfer(await floor.getAddress(), one.leaves[16][2] + one.leaves[17][2]);
await floor.setRoot(1, one.tree.root);
const floorClaim = (i: number) =>
  floor.claim(1, one.leaves[i][0], one.leaves[i][1], one.leaves[i][2], one.tree.getProof(i));
const claimFloor = await gasOf(floorClaim(16));
const claimFloorWordShared = await gasOf(floorClaim(17));
// Ten consecutive fresh indices from a multiple of 8: two words, each written once.
const batch = Array.from({ length: 10 }, (_, i) => 1_000 + i);
const claimBatchGas = await gasOf(rewards.claimBatch(1, batch.map(firstClaim)));
// Index 0 again, against epoch 2, proving its epoch-1 leaf.
const claimRepeat = await gasOf(
  rewards.claim(2, {
    index: two.leaves[0][0],
    account: two.leaves[0][1],
    cumulativeAmount: two.leaves[0][2],
    proof: two.tree.getProof(0),
    previousAmount: one.leaves[0][2],
    previousProof: one.tree.getProof(0),
  }),
);

const results = {
  erc20Transfer,
  settle,
  settleMaxAdapters,
  amortizedPerRequest: settle[0].gas / REQUESTS,
  claim,
  claimWordShared,
  claimFloor,
  claimFloorWordShared,
  claimBatch10PerAccount: Math.round(claimBatchGas / batch.length),
  claimRepeat,
};
await mkdir("bench/results", { recursive: true });
await writeFile("bench/results/gas.json", JSON.stringify(results, null, 2) + "\n");

const percent = (x: number) => `${(100 * x).toFixed(2)}%`;
console.table({
  "OPEN transfer (fresh address)": { gas: erc20Transfer, target: "" },
  ...Object.fromEntries(
    settle.map((s) => [`settle ${s.requests} requests, ${s.adapters} adapter(s)`, { gas: s.gas, target: "" }]),
  ),
  [`settle ${MAX_VOUCHER_ADAPTERS} adapters x ${MAX_LINEAGE} lineage entries (the cap)`]: {
    gas: settleMaxAdapters.gas,
    target: "fits a 30M block",
  },
  "amortized per request (1 adapter)": {
    gas: results.amortizedPerRequest,
    target: `<= 1% of transfer (${percent(results.amortizedPerRequest / erc20Transfer)})`,
  },
  "claim (fresh account, fresh word, 65,536-leaf tree)": { gas: claim, target: "<= 80,000" },
  "claim (fresh account, word already written)": { gas: claimWordShared, target: "" },
  "least possible claim, fresh word (ClaimFloor)": { gas: claimFloor, target: "" },
  "least possible claim, word already written (ClaimFloor)": { gas: claimFloorWordShared, target: "" },
  "claimBatch of 10 consecutive indices, per account": { gas: results.claimBatch10PerAccount, target: "<= 55,000" },
  "claim again next epoch (with previous proof)": { gas: claimRepeat, target: "" },
});
