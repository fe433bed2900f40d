/**
 * `npm run bench:gas`: transaction gas of settlement and claims on the in-process chain, in one run, written to
 * bench/results/gas.json. Every figure is a receipt's gasUsed.
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { mkdir, writeFile } from "node:fs/promises";
import { network } from "hardhat";
import OpenPoAModule from "../ignition/modules/OpenPoA.ts";

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

// Two datanets with a published version each, 50 adapters with a two-entry lineage.
for (const n of [1, 2]) {
  await datanets.createDatanet({
    metadataURI: `ipfs://datanet-${n}`,
    license: "CC-BY-4.0",
    curated: false,
    minStake: 0n,
    treasury: ethers.ZeroAddress,
    curators: [],
  });
  await datanets.contribute(n, ethers.id(`text-${n}`), `ipfs://text-${n}`, 1_000, 0);
  await datanets.publishVersion(n, ethers.id(`root-${n}`));
}
await models.registerBaseModel("bench-base", ethers.id("base"), "ipfs://base");
const ADAPTERS = 50;
for (let i = 1; i <= ADAPTERS; i++) {
  await models.connect(adapterOwner).registerAdapter({
    baseModelId: 1n,
    artifactHash: ethers.id(`adapter-${i}`),
    uri: `ipfs://adapter-${i}`,
    rank: 16,
    targetModules: 0x7f,
    pricePer1kTokens: 10n ** 16n,
    ownerShareBps: 7_000,
    dataShareBps: 3_000,
    lineage: [
      { datanetId: 1n, version: 1n, weightBps: 6_000 },
      { datanetId: 2n, version: 1n, weightBps: 4_000 },
    ],
  });
}

await token.transfer(operator.address, 100_000n * OPEN);
await token.connect(operator).approve(await nodes.getAddress(), ethers.MaxUint256);
await nodes.connect(operator).register("http://127.0.0.1:8080", [1n], operator.address, 10_000n * OPEN);
await token.transfer(payer.address, 1_000_000n * OPEN);
await token.connect(payer).approve(await payments.getAddress(), ethers.MaxUint256);

const { chainId } = await ethers.provider.getNetwork();
const domain = {
  name: "OpenPoA InferencePayments",
  version: "1",
  chainId,
  verifyingContract: await payments.getAddress(),
};
const voucherTypes = {
  Voucher: [
    { name: "channelId", type: "uint256" },
    { name: "cumulativeAmount", type: "uint256" },
    { name: "adapterIds", type: "uint256[]" },
    { name: "adapterAmounts", type: "uint256[]" },
    { name: "usageRoot", type: "bytes32" },
    { name: "expiry", type: "uint64" },
  ],
};

/** A fresh channel's first settlement (every per-adapter slot written for the first time: the costly case). */
async function settleGas(adapters: number) {
  const channelId = (await payments.channelCount()) + 1n;
  await payments.connect(payer).openChannel(operator.address, 10_000n * OPEN);
  const adapterIds = Array.from({ length: adapters }, (_, i) => BigInt(i + 1));
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
  const signature = await payer.signTypedData(domain, voucherTypes, voucher);
  return gasOf(payments.connect(operator).settle(voucher, signature));
}

const settle = [];
for (const adapters of [1, 10, 50]) settle.push({ requests: REQUESTS, adapters, gas: await settleGas(adapters) });

// A 65,536-leaf cumulative distribution; claims by accounts that never held OPEN.
const accounts = Array.from({ length: TREE_LEAVES }, (_, i) => freshAddress(`claimant-${i}`));
const leaves = accounts.map((account, i) => [account, BigInt(i + 1) * 10n ** 12n] as [string, bigint]);
const tree = StandardMerkleTree.of(leaves, ["address", "uint256"]);
const total = leaves.reduce((sum, [, amount]) => sum + amount, 0n);
await token.approve(await rewards.getAddress(), total);
await rewards.fund(total);
await rewards.proposeRoot(1, tree.root, total, ethers.id("distribution"), "ipfs://distribution");
await networkHelpers.time.increase(Number(await rewards.claimDelay()));

const claim = await gasOf(rewards.claim(1, leaves[0][0], leaves[0][1], tree.getProof(0)));
const batch = Array.from({ length: 10 }, (_, i) => 1_000 + i * 4_099);
const claimBatchGas = await gasOf(
  rewards.claimBatch(
    1,
    batch.map((i) => leaves[i][0]),
    batch.map((i) => leaves[i][1]),
    batch.map((i) => tree.getProof(i)),
  ),
);

const results = {
  erc20Transfer,
  settle,
  amortizedPerRequest: settle[0].gas / REQUESTS,
  claim,
  claimBatch10PerAccount: Math.round(claimBatchGas / batch.length),
};
await mkdir("bench/results", { recursive: true });
await writeFile("bench/results/gas.json", JSON.stringify(results, null, 2) + "\n");

const percent = (x: number) => `${(100 * x).toFixed(2)}%`;
console.table({
  "OPEN transfer (fresh address)": { gas: erc20Transfer, target: "" },
  ...Object.fromEntries(
    settle.map((s) => [`settle ${s.requests} requests, ${s.adapters} adapter(s)`, { gas: s.gas, target: "" }]),
  ),
  "amortized per request (1 adapter)": {
    gas: results.amortizedPerRequest,
    target: `<= 1% of transfer (${percent(results.amortizedPerRequest / erc20Transfer)})`,
  },
  "claim (fresh account, 65,536-leaf tree)": { gas: claim, target: "<= 80,000" },
  "claimBatch of 10, per account": { gas: results.claimBatch10PerAccount, target: "<= 55,000" },
});
