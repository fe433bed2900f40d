/**
 * A scenario that emits every event type the suite can emit, over JSON-RPC against a `hardhat node` with the suite
 * deployed (ethers v6, the node's unlocked accounts). Returns what it did, for the test to check the indexer against.
 *
 * Two events have no code path in the contracts and are not emitted: EIP712DomainChanged (OpenToken, OpenGovernor,
 * InferencePayments) and OpenTimelock's RoleAdminChanged.
 */
import { mkdir } from "node:fs/promises";
import { Contract, getAddress, id, JsonRpcProvider, sha256, toUtf8Bytes, ZeroAddress, type Signer } from "ethers";
import {
  assignIndices,
  createDirectoryContentStore,
  distributionFileFormat,
  distributionTree,
  encodeDistributionFile,
  previousBalances,
  putContent,
  type DistributionFile,
} from "../../attribution/src/index.ts";
import { abiOf, type ContractName } from "../lib/abis.ts";
import type { Deployment } from "../../scripts/lib/deployments.ts";
import { commitmentOf, newSalt } from "../../scripts/lib/commitments.ts";
import { voucherDomain, voucherTypes } from "../../inference/sdk/index.ts";
import { DEFAULT_PARAMETERS } from "../../ignition/modules/OpenPoA.ts";

export const OPEN = 10n ** 18n;
const DAY = 86_400;
export const hashOf = (text: string) => sha256(toUtf8Bytes(text));

export type ScenarioResult = {
  lastEventBlock: number;
  accounts: Record<"deployer" | "alice" | "bob" | "carol" | "curator", string>;
  adapters: { a1: bigint; a2: bigint };
  /** Per adapter id: gross amounts settled, in order. */
  settled: Record<string, bigint[]>;
  rewards: {
    /** AttributionRewards' totalFunded when epoch 1 was proposed. */
    funded: bigint;
    epoch: bigint;
    root: string;
    contentHash: string;
    leaves: { index: bigint; account: string; cumulativeAmount: bigint }[];
    /** Epoch 1's distribution file (the one proposed again after the first was revoked). */
    file: DistributionFile;
    claimed: Record<string, bigint>;
    claimSkipped: string | null;
  };
  emitted: Set<string>;
};

export async function runScenario(rpcUrl: string, deployment: Deployment, contentDir: string): Promise<ScenarioResult> {
  const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
  provider.pollingInterval = 50;
  const signers = await Promise.all([0, 1, 2, 3, 4].map((i) => provider.getSigner(i)));
  const [deployer, alice, bob, carol, curator] = signers as [Signer, Signer, Signer, Signer, Signer];
  const addr = {
    deployer: await deployer.getAddress(),
    alice: await alice.getAddress(),
    bob: await bob.getAddress(),
    carol: await carol.getAddress(),
    curator: await curator.getAddress(),
  };
  const at = (name: ContractName, signer: Signer = deployer) =>
    new Contract(deployment.contracts[name]!.address, abiOf(name), signer);
  const token = at("OpenToken");
  const timelock = at("OpenTimelock");
  const governor = at("OpenGovernor");
  const datanets = at("DatanetRegistry");
  const models = at("ModelRegistry");
  const nodes = at("NodeRegistry");
  const rewards = at("AttributionRewards");
  const payments = at("InferencePayments");
  const servingRules = at("ServingRules");
  const emitted = new Set<string>();
  const contractsByAddress = new Map(
    Object.entries(deployment.contracts).map(([name, c]) => [c.address.toLowerCase(), at(name as ContractName)]),
  );

  /** Sends a transaction and records the events its receipt holds. */
  const send = async (contract: Contract, signer: Signer, method: string, ...args: unknown[]) => {
    const connected = contract.connect(signer) as Contract;
    const tx = await connected.getFunction(method)(...args);
    const receipt = await tx.wait();
    if (receipt.status !== 1) throw new Error(`${method} failed`);
    for (const log of receipt.logs) {
      const emitter = contractsByAddress.get(log.address.toLowerCase());
      const parsed = emitter?.interface.parseLog(log);
      if (parsed) emitted.add(`${nameOf(emitter!)}:${parsed.name}`);
    }
    return receipt;
  };
  /** `method(...args, salt)` after committing to `hash` in an earlier block (ICommitments). */
  const sendRevealing = async (
    contract: Contract,
    signer: Signer,
    method: string,
    hash: string,
    ...args: unknown[]
  ) => {
    const salt = newSalt();
    const submitter = (await signer.getAddress()) as `0x${string}`;
    await send(contract, signer, "commit", commitmentOf(submitter, hash as `0x${string}`, salt));
    return send(contract, signer, method, ...args, salt);
  };
  const nameOf = (c: Contract) =>
    Object.entries(deployment.contracts).find(
      ([, d]) => d.address.toLowerCase() === String(c.target).toLowerCase(),
    )![0];
  const travel = async (seconds: number) => {
    await provider.send("evm_increaseTime", [seconds]);
    await provider.send("evm_mine", []);
  };
  const max = 2n ** 256n - 1n;

  // Token: holdings, approvals, delegation.
  for (const who of [alice, bob, carol, curator])
    await send(token, deployer, "transfer", await who.getAddress(), 1_000_000n * OPEN);
  await send(token, deployer, "delegate", addr.deployer);
  await send(token, alice, "delegate", addr.alice);
  for (const who of [alice, bob, carol, curator]) {
    for (const spender of ["DatanetRegistry", "NodeRegistry", "InferencePayments"] as const) {
      await send(token, who, "approve", deployment.contracts[spender]!.address, max);
    }
  }

  // Datanets: 1 curated (alice; curator), 2 open (carol).
  await send(datanets, alice, "createDatanet", {
    metadataURI: "ipfs://datanet-1",
    license: "CC-BY-4.0",
    curated: true,
    minStake: 10n * OPEN,
    treasury: "0x0000000000000000000000000000000000000000",
    curators: [addr.curator],
  });
  await send(datanets, carol, "createDatanet", {
    metadataURI: "ipfs://datanet-2",
    license: "MIT",
    curated: false,
    minStake: 0n,
    treasury: addr.carol,
    curators: [],
  });
  await send(datanets, alice, "setMetadataURI", 1n, "ipfs://datanet-1-v2");
  await send(datanets, alice, "setCurator", 1n, addr.carol, true);
  await sendRevealing(datanets, carol, "contribute", hashOf("c1"), 1n, hashOf("c1"), "ipfs://c1", 100n, 10n * OPEN); // 1: accepted
  await sendRevealing(datanets, carol, "contribute", hashOf("c2"), 1n, hashOf("c2"), "ipfs://c2", 200n, 20n * OPEN); // 2: rejected
  await sendRevealing(datanets, carol, "contribute", hashOf("c3"), 1n, hashOf("c3"), "ipfs://c3", 300n, 30n * OPEN); // 3: withdrawn
  await sendRevealing(datanets, alice, "contribute", hashOf("c4"), 2n, hashOf("c4"), "ipfs://c4", 400n, 0n); // 4: accepted at once
  await send(datanets, curator, "accept", 1n, 500n);
  await send(datanets, curator, "reject", 2n);
  await send(datanets, carol, "withdraw", 3n);
  await send(datanets, curator, "publishVersion", 1n, hashOf("root-1-1"));
  await send(datanets, carol, "publishVersion", 2n, hashOf("root-2-1"));

  // Models: two base models (the second deprecated by governance), two adapters.
  await sendRevealing(
    models,
    alice,
    "registerBaseModel",
    hashOf("base-1"),
    "tiny-llama",
    hashOf("base-1"),
    "ipfs://base-1",
  );
  await sendRevealing(
    models,
    alice,
    "registerBaseModel",
    hashOf("base-2"),
    "old-llama",
    hashOf("base-2"),
    "ipfs://base-2",
  );
  const adapterParams = (n: number, dataShareBps: number, lineage: [bigint, bigint, number][]) => ({
    baseModelId: 1n,
    artifactHash: hashOf(`adapter-${n}`),
    uri: `ipfs://adapter-${n}`,
    rank: 16,
    targetModules: 0x7f,
    pricePer1kTokens: 10n ** 15n,
    ownerShareBps: 10_000 - dataShareBps,
    dataShareBps,
    lineage: lineage.map(([datanetId, version, weightBps]) => ({ datanetId, version, weightBps })),
  });
  await sendRevealing(
    models,
    carol,
    "registerAdapter",
    hashOf("adapter-1"),
    adapterParams(1, 3_000, [
      [1n, 1n, 6_000],
      [2n, 1n, 4_000],
    ]),
  );
  await sendRevealing(
    models,
    curator,
    "registerAdapter",
    hashOf("adapter-2"),
    adapterParams(2, 1_500, [[2n, 1n, 10_000]]),
  );
  await send(models, carol, "setPrice", 1n, 2n * 10n ** 15n);
  await send(models, carol, "setURI", 1n, "ipfs://adapter-1-v2");
  await send(models, carol, "approve", addr.alice, 1n);
  await send(models, carol, "setApprovalForAll", addr.bob, true);

  // Operator bob.
  await send(nodes, bob, "register", "https://bob.example", [1n], addr.bob, 10_000n * OPEN);
  await send(nodes, bob, "update", "https://bob.example/v2", [1n], addr.bob);
  await send(nodes, bob, "addStake", 5_000n * OPEN);
  await send(nodes, bob, "requestUnbond", 1_000n * OPEN);

  // Channels: alice pays bob; settlements over adapters 0, 1, 2.
  await send(payments, alice, "openChannel", addr.bob, 1_000n * OPEN, ZeroAddress);
  await send(payments, alice, "topUp", 1n, 200n * OPEN);
  const { chainId } = await provider.getNetwork();
  const domain = voucherDomain(Number(chainId), deployment.contracts.InferencePayments!.address as `0x${string}`);
  const types = { Voucher: [...voucherTypes.Voucher] };
  const settled: Record<string, bigint[]> = { "0": [], "1": [], "2": [] };
  const cumulative: Record<string, bigint> = { "0": 0n, "1": 0n, "2": 0n };
  const settle = async (channelId: bigint, increases: Record<string, bigint>, payer: Signer, n: number) => {
    const ids = Object.keys(cumulative).filter((k) => cumulative[k]! > 0n || increases[k]);
    for (const k of ids) {
      const inc = increases[k] ?? 0n;
      cumulative[k] = cumulative[k]! + inc;
      if (inc > 0n) settled[k]!.push(inc);
    }
    const voucher = {
      channelId,
      cumulativeAmount: ids.reduce((s, k) => s + cumulative[k]!, 0n),
      adapterIds: ids.map(BigInt),
      adapterAmounts: ids.map((k) => cumulative[k]!),
      usageRoot: hashOf(`usage-${n}`),
      expiry: 2n ** 63n,
    };
    const signature = await payer.signTypedData(domain, types, voucher);
    await send(payments, bob, "settle", voucher, signature);
  };
  await settle(1n, { "0": 10n * OPEN, "1": 100n * OPEN, "2": 50n * OPEN }, alice, 1);
  await send(models, curator, "transferFrom", addr.curator, addr.carol, 2n); // adapter 2 changes hands
  await settle(1n, { "1": 40n * OPEN, "2": 7n * OPEN }, alice, 2);
  await send(payments, carol, "openChannel", addr.bob, 50n * OPEN, ZeroAddress);
  await send(payments, carol, "requestClose", 2n);
  await send(payments, bob, "withdrawBalance");
  await send(payments, alice, "withdrawBalanceFor", addr.carol);
  // The guardian (the deployer here) freezes bob pending the governance vote below, which slashes and unfreezes.
  await send(nodes, deployer, "freeze", addr.bob);

  // Rewards: epoch 1 proposed, revoked, proposed again (paying twice as much); claims after the delay. Carol's
  // contribution 1 earns through adapter 1 (datanet 1), alice's contribution 4 through adapters 1 and 2 (datanet 2).
  const funded: bigint = await rewards.getFunction("totalFunded")();
  const epochOne = [
    allocation(1n, 1n, 1n, addr.carol, funded / 2n),
    allocation(1n, 2n, 4n, addr.alice, funded / 12n),
    allocation(2n, 2n, 4n, addr.alice, funded / 4n - funded / 12n),
  ];
  const receipts: DistributionFile["receipts"] = [
    usageReceipt(1n, 0n, 1n, 60n * OPEN, "used"),
    usageReceipt(1n, 1n, 2n, 20n * OPEN, "absent"),
  ];
  const policyId = (await rewards.getFunction("attributionPolicyForEpoch")(1n)) as bigint;
  const toBlock = BigInt(await provider.getBlockNumber());
  const publish = async (file: DistributionFile) => {
    await mkdir(contentDir, { recursive: true });
    const contentHash = await putContent(createDirectoryContentStore({ dir: contentDir }), {
      content: new TextEncoder().encode(encodeDistributionFile(file)),
    });
    await send(rewards, deployer, "proposeRoot", ...proposeRootArgs(file, contentHash));
    return contentHash;
  };
  // Halves, rounded down: a file of its own, whose rows must not outlive its revocation.
  await publish(
    distributionFileOf({
      epoch: 1n,
      policyId,
      toBlock,
      allocations: epochOne.map((a) => ({ ...a, amount: a.amount / 2n })),
      receipts,
    }),
  );
  await send(rewards, deployer, "revokeRoot", 1n);
  const file = distributionFileOf({ epoch: 1n, policyId, toBlock, allocations: epochOne, receipts });
  const contentHash = await publish(file);
  const tree = distributionTree(file.leaves);
  const leaves = file.leaves.map(({ index, account, cumulativeAmount }) => ({ index, account, cumulativeAmount }));

  // Governance: one proposal with several protocol calls; a second one canceled. Two attribution policies, set in
  // the same epoch: the second supersedes the first before it governs anything.
  const policy = (name: string) => ({
    ...DEFAULT_PARAMETERS.initialAttributionPolicy,
    version: 2,
    params: { ...DEFAULT_PARAMETERS.initialAttributionPolicy.params, rarityExponent: 1 },
    specHash: hashOf(name),
    specUri: `openpoa://content/${hashOf(name).slice(2)}`,
  });
  const calls: [Contract, string, unknown[]][] = [
    [payments, "setFees", [400, 900]],
    [nodes, "slash", [addr.bob, 100n * OPEN]],
    [nodes, "unfreeze", [addr.bob]],
    [models, "deprecateBaseModel", [2n]],
    [timelock, "grantRole", [id("PROPOSER_ROLE"), addr.deployer]],
    [timelock, "grantRole", [id("CANCELLER_ROLE"), addr.deployer]],
    [rewards, "setAttributionPolicy", [policy("spec-v2")]],
    [rewards, "setAttributionPolicy", [policy("spec-v2-corrected")]],
    [servingRules, "setRules", [{ ...DEFAULT_PARAMETERS.initialServingRules, maxOutputTokens: 2048 }]],
  ];
  const targets = calls.map(([c]) => String(c.target));
  const values = calls.map(() => 0n);
  const calldatas = calls.map(([c, m, a]) => c.interface.encodeFunctionData(m, a));
  const description = "Fees, a slash and an unfreeze, a deprecation, two roles, attribution policies, serving rules";
  await send(governor, deployer, "propose", targets, values, calldatas, description);
  await send(
    governor,
    deployer,
    "propose",
    [String(datanets.target)],
    [0n],
    [datanets.interface.encodeFunctionData("setStakeLockPeriod", [DAY])],
    "Withdrawn",
  );
  const proposalId: bigint = await governor.getFunction("hashProposal")(targets, values, calldatas, id(description));
  await send(
    governor,
    deployer,
    "cancel",
    [String(datanets.target)],
    [0n],
    [datanets.interface.encodeFunctionData("setStakeLockPeriod", [DAY])],
    id("Withdrawn"),
  );
  const votingDelay = Number(await governor.getFunction("votingDelay")());
  const votingPeriod = Number(await governor.getFunction("votingPeriod")());
  await travel(votingDelay + 1);
  await send(governor, deployer, "castVote", proposalId, 1);
  await send(governor, alice, "castVoteWithReasonAndParams", proposalId, 2, "abstain, with params", "0x1234");
  await travel(votingPeriod + 1);
  await send(governor, deployer, "queue", targets, values, calldatas, id(description));
  await travel(Number(await timelock.getFunction("getMinDelay")()) + 1);
  await send(governor, deployer, "execute", targets, values, calldatas, id(description));
  // The deployer, now proposer and canceller, schedules and cancels a call itself, then renounces the role.
  const data = datanets.interface.encodeFunctionData("setStakeLockPeriod", [2 * DAY]);
  const salt = hashOf("salt");
  const delay = await timelock.getFunction("getMinDelay")();
  await send(timelock, deployer, "schedule", String(datanets.target), 0n, data, "0x" + "00".repeat(32), salt, delay);
  const operationId = await timelock.getFunction("hashOperation")(
    String(datanets.target),
    0n,
    data,
    "0x" + "00".repeat(32),
    salt,
  );
  await send(timelock, deployer, "cancel", operationId);
  await send(timelock, deployer, "renounceRole", id("PROPOSER_ROLE"), addr.deployer);

  // Time has passed (past bob's 14-day unbonding): stakes unlock, the closing channel finalizes, epoch 1 is claimable.
  await travel(5 * DAY);
  await send(datanets, carol, "releaseStake", 1n);
  await send(nodes, bob, "withdrawUnbonded");
  await send(payments, carol, "withdrawChannel", 2n);
  await send(models, curator, "deprecate", 2n).catch(async () => send(models, carol, "deprecate", 2n));

  const claimed: Record<string, bigint> = {};
  let claimSkipped: string | null = null;
  const claimFn = rewards.interface.getFunction("claim")!;
  for (const [i, value] of tree.entries()) {
    const account = value.find((v) => typeof v === "string" && /^0x[0-9a-fA-F]{40}$/.test(v)) as string;
    const amount = value[value.length - 1] as bigint;
    if (account.toLowerCase() !== addr.carol.toLowerCase()) continue;
    const proof = tree.getProof(i);
    if (claimFn.inputs.length === 4 && value.length === 2) {
      await send(rewards, bob, "claim", 1n, account, amount, proof);
    } else if (claimFn.inputs.length === 2 && value.length === 3) {
      await send(rewards, bob, "claim", 1n, {
        index: value[0],
        account,
        cumulativeAmount: amount,
        proof,
        previousAmount: 0n,
        previousProof: [],
      });
    } else {
      claimSkipped = `AttributionRewards.claim takes ${claimFn.format()} but the library's distribution leaves have ${value.length} fields`;
      continue;
    }
    claimed[account.toLowerCase()] = amount;
  }
  const lastEventBlock = await provider.getBlockNumber();
  // Make everything final for Ponder (its finality depth for an unknown chain is 30 blocks), so that it is indexed
  // by the backfill rather than block by block. One by one: the blocks hardhat_mine reserves do not chain by
  // parentHash, and an indexer that follows new blocks from among them takes that for a reorg beyond finality.
  for (let i = 0; i < 32; i++) await provider.send("evm_mine", []);
  provider.destroy();
  return {
    lastEventBlock,
    accounts: addr,
    adapters: { a1: 1n, a2: 2n },
    settled,
    rewards: { funded, epoch: 1n, root: tree.root, contentHash, leaves, file, claimed, claimSkipped },
    emitted,
  };
}

type Allocation = DistributionFile["allocations"][number];

export function allocation(
  adapterId: bigint,
  datanetId: bigint,
  contributionId: bigint,
  contributor: string,
  amount: bigint,
): Allocation {
  return {
    adapterId,
    datanetId,
    version: 1n,
    contributionId,
    contributor: getAddress(contributor) as `0x${string}`,
    amount,
  };
}

function usageReceipt(
  channelId: bigint,
  position: bigint,
  adapterId: bigint,
  amount: bigint,
  record: "used" | "absent",
): DistributionFile["receipts"][number] {
  return {
    channelId,
    position,
    adapterId,
    amount,
    completionHash: hashOf(`completion-${channelId}-${position}`) as `0x${string}`,
    attributionHash: id(`record-${channelId}-${position}`) as `0x${string}`,
    record,
    reason: null,
  };
}

/**
 * The distribution file of `epoch` that pays `allocations` on top of `previous` (the epoch before's leaves), leaves
 * built as aggregateEpoch builds them: previous accounts keep their index, new ones follow in address order.
 */
export function distributionFileOf({
  epoch,
  policyId,
  toBlock,
  allocations,
  receipts = [],
  previous = [],
}: {
  epoch: bigint;
  policyId: bigint;
  toBlock: bigint;
  allocations: Allocation[];
  receipts?: DistributionFile["receipts"];
  previous?: DistributionFile["leaves"];
}): DistributionFile {
  const earned = new Map<string, bigint>();
  for (const a of allocations)
    earned.set(a.contributor.toLowerCase(), (earned.get(a.contributor.toLowerCase()) ?? 0n) + a.amount);
  const before = previousBalances(previous);
  const leaves = assignIndices(before, earned.keys()).map(({ key, index }) => {
    const previousAmount = before.get(key)?.cumulativeAmount ?? 0n;
    const epochAmount = earned.get(key) ?? 0n;
    const account = getAddress(key) as `0x${string}`;
    return { index, account, cumulativeAmount: previousAmount + epochAmount, previousAmount, epochAmount };
  });
  const epochTotal = leaves.reduce((sum, leaf) => sum + leaf.epochAmount, 0n);
  return {
    format: distributionFileFormat,
    epoch,
    policyId,
    blocks: { fromBlock: 1n, toBlock },
    root: distributionTree(leaves).root as `0x${string}`,
    previousRoot: previous.length === 0 ? null : (distributionTree(previous).root as `0x${string}`),
    total: epochTotal,
    leaves,
    settlements: [],
    receipts,
    unverified: [],
    duplicates: [],
    allocations,
  };
}

/** AttributionRewards.proposeRoot's arguments for `file` stored under `contentHash` (its root unless `root`). */
export function proposeRootArgs(file: DistributionFile, contentHash: string, root: string = file.root) {
  // The on-chain total is cumulative: what all leaves add up to.
  const total = file.leaves.reduce((sum, leaf) => sum + leaf.cumulativeAmount, 0n);
  return [file.epoch, root, total, contentHash, `file://${contentHash.slice(2)}`, file.policyId] as const;
}
