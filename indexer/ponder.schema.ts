/**
 * The indexer's tables. Amounts are OPEN wei (bigint, numeric(78) in the database); ids are the on-chain ids.
 * Rows whose primary key is a string built from several parts document the parts in a comment.
 */
import { index, onchainTable, primaryKey, relations } from "ponder";

/** Every log of every indexed contract, decoded: the raw record the other tables are derived from. */
export const event = onchainTable(
  "event",
  (t) => ({
    /** `${blockNumber}-${logIndex}`, zero-padded so that the text order is the chain order. */
    id: t.text().primaryKey(),
    contract: t.text().notNull(),
    name: t.text().notNull(),
    blockNumber: t.bigint().notNull(),
    logIndex: t.integer().notNull(),
    timestamp: t.bigint().notNull(),
    transactionHash: t.hex().notNull(),
    /** Decoded arguments; bigints as decimal strings. */
    args: t.json().notNull(),
  }),
  (t) => ({ nameIdx: index().on(t.contract, t.name) }),
);

/** Any address seen in any event, with the figures the chain gives about it. */
export const account = onchainTable("account", (t) => ({
  address: t.hex().primaryKey(),
  /** OPEN balance (ERC-20 Transfer events). */
  balance: t.bigint().notNull(),
  delegate: t.hex(),
  votes: t.bigint().notNull(),
  firstSeenBlock: t.bigint().notNull(),
}));

export const allowance = onchainTable(
  "allowance",
  (t) => ({ owner: t.hex().notNull(), spender: t.hex().notNull(), value: t.bigint().notNull() }),
  (t) => ({ pk: primaryKey({ columns: [t.owner, t.spender] }) }),
);

/** Protocol parameters as last set by an event: key `${contract}.${name}` (e.g. InferencePayments.protocolFeeBps). */
export const parameter = onchainTable("parameter", (t) => ({
  key: t.text().primaryKey(),
  value: t.text().notNull(),
  blockNumber: t.bigint().notNull(),
}));

// ---------------------------------------------------------------- datanets

export const datanet = onchainTable("datanet", (t) => ({
  id: t.bigint().primaryKey(),
  owner: t.hex().notNull(),
  treasury: t.hex().notNull(),
  curated: t.boolean().notNull(),
  minStake: t.bigint().notNull(),
  metadataURI: t.text().notNull(),
  license: t.text().notNull(),
  contributionCount: t.integer().notNull(),
  acceptedCount: t.integer().notNull(),
  versionCount: t.integer().notNull(),
  /** Sum of accepted weights. */
  totalWeight: t.bigint().notNull(),
  createdBlock: t.bigint().notNull(),
  createdAt: t.bigint().notNull(),
}));

export const datanetCurator = onchainTable(
  "datanet_curator",
  (t) => ({ datanetId: t.bigint().notNull(), curator: t.hex().notNull(), enabled: t.boolean().notNull() }),
  (t) => ({ pk: primaryKey({ columns: [t.datanetId, t.curator] }) }),
);

export const datanetVersion = onchainTable(
  "datanet_version",
  (t) => ({
    datanetId: t.bigint().notNull(),
    version: t.bigint().notNull(),
    root: t.hex().notNull(),
    contributionCount: t.bigint().notNull(),
    totalWeight: t.bigint().notNull(),
    publisher: t.hex().notNull(),
    publishedBlock: t.bigint().notNull(),
    publishedAt: t.bigint().notNull(),
    /** Data share allocated to this version by settlements (DataShareAllocated). */
    revenue: t.bigint().notNull(),
  }),
  (t) => ({ pk: primaryKey({ columns: [t.datanetId, t.version] }) }),
);

export const contribution = onchainTable(
  "contribution",
  (t) => ({
    id: t.bigint().primaryKey(),
    datanetId: t.bigint().notNull(),
    contributor: t.hex().notNull(),
    contentHash: t.hex().notNull(),
    uri: t.text().notNull(),
    sizeTokens: t.bigint().notNull(),
    /** Stake at submission. */
    stake: t.bigint().notNull(),
    /** pending | accepted | rejected | withdrawn */
    status: t.text().notNull(),
    /** Stake still held by the registry. */
    stakeHeld: t.bigint().notNull(),
    weight: t.bigint(),
    acceptedIndex: t.bigint(),
    /** The curator who accepted or rejected it. */
    curator: t.hex(),
    slashedStake: t.bigint(),
    refundedStake: t.bigint(),
    releasedStake: t.bigint(),
    submittedBlock: t.bigint().notNull(),
    updatedBlock: t.bigint().notNull(),
  }),
  (t) => ({ datanetIdx: index().on(t.datanetId), contributorIdx: index().on(t.contributor) }),
);

// ---------------------------------------------------------------- models

export const baseModel = onchainTable("base_model", (t) => ({
  id: t.bigint().primaryKey(),
  registrant: t.hex().notNull(),
  artifactHash: t.hex().notNull(),
  name: t.text().notNull(),
  uri: t.text().notNull(),
  deprecated: t.boolean().notNull(),
  registeredBlock: t.bigint().notNull(),
}));

export const adapter = onchainTable(
  "adapter",
  (t) => ({
    id: t.bigint().primaryKey(),
    baseModelId: t.bigint().notNull(),
    /** ERC-721 owner (follows Transfer events): the account paid the owner share. */
    owner: t.hex().notNull(),
    /** ERC-721 approved address, if any. */
    approved: t.hex(),
    artifactHash: t.hex().notNull(),
    uri: t.text().notNull(),
    rank: t.integer().notNull(),
    targetModules: t.integer().notNull(),
    pricePer1kTokens: t.bigint().notNull(),
    ownerShareBps: t.integer().notNull(),
    dataShareBps: t.integer().notNull(),
    deprecated: t.boolean().notNull(),
    lineageLength: t.integer().notNull(),
    registeredBlock: t.bigint().notNull(),
    registeredAt: t.bigint().notNull(),
  }),
  (t) => ({ ownerIdx: index().on(t.owner) }),
);

/** One row per lineage entry, in registry order (`index`). */
export const adapterLineage = onchainTable(
  "adapter_lineage",
  (t) => ({
    adapterId: t.bigint().notNull(),
    index: t.integer().notNull(),
    datanetId: t.bigint().notNull(),
    version: t.bigint().notNull(),
    weightBps: t.integer().notNull(),
  }),
  (t) => ({ pk: primaryKey({ columns: [t.adapterId, t.index] }) }),
);

export const operatorApproval = onchainTable(
  "adapter_operator_approval",
  (t) => ({ owner: t.hex().notNull(), operator: t.hex().notNull(), approved: t.boolean().notNull() }),
  (t) => ({ pk: primaryKey({ columns: [t.owner, t.operator] }) }),
);

// ---------------------------------------------------------------- operators

export const operator = onchainTable("operator", (t) => ({
  address: t.hex().primaryKey(),
  signingKey: t.hex().notNull(),
  endpoint: t.text().notNull(),
  baseModelIds: t.bigint().array().notNull(),
  bonded: t.bigint().notNull(),
  unbonding: t.bigint().notNull(),
  unbondingReleaseTime: t.bigint().notNull(),
  slashed: t.bigint().notNull(),
  withdrawn: t.bigint().notNull(),
  /** Zero, or the end of a guardian's freeze (a frozen operator is not active on chain and cannot withdraw). */
  frozenUntil: t.bigint().notNull(),
  /** active: bonded >= NodeRegistry.minStake (recomputed when either changes); inactive otherwise. */
  status: t.text().notNull(),
  registeredBlock: t.bigint().notNull(),
}));

// ---------------------------------------------------------------- payments

export const channel = onchainTable(
  "channel",
  (t) => ({
    id: t.bigint().primaryKey(),
    payer: t.hex().notNull(),
    operator: t.hex().notNull(),
    deposit: t.bigint().notNull(),
    /** Cumulative amount paid out by settlements. */
    settled: t.bigint().notNull(),
    settlementCount: t.integer().notNull(),
    /** open | closing | finalized */
    status: t.text().notNull(),
    closesAt: t.bigint(),
    refund: t.bigint(),
    openedBlock: t.bigint().notNull(),
  }),
  (t) => ({ payerIdx: index().on(t.payer), operatorIdx: index().on(t.operator) }),
);

/** One row per ChannelSettled. id: `${transactionHash}-${channelId}`. */
export const settlement = onchainTable(
  "settlement",
  (t) => ({
    id: t.text().primaryKey(),
    channelId: t.bigint().notNull(),
    operator: t.hex().notNull(),
    cumulativeAmount: t.bigint().notNull(),
    increase: t.bigint().notNull(),
    /** The receipts this settlement paid for are those under usageRoot and not under previousUsageRoot. */
    previousUsageRoot: t.hex().notNull(),
    usageRoot: t.hex().notNull(),
    /**
     * Where the operator publishes the receipts under usageRoot: this name in any content store (GET <store>/<name>);
     * the batch is checked by recomputing its usage root (inference/sdk/usage.ts). Empty for a zero usage root.
     */
    receiptBatch: t.text().notNull(),
    adapterCount: t.integer().notNull(),
    blockNumber: t.bigint().notNull(),
    logIndex: t.integer().notNull(),
    timestamp: t.bigint().notNull(),
    transactionHash: t.hex().notNull(),
  }),
  (t) => ({ channelIdx: index().on(t.channelId, t.blockNumber) }),
);

/** One row per AdapterRevenue: one adapter's part of a settlement and its split. id: `${blockNumber}-${logIndex}`. */
export const settlementAdapter = onchainTable(
  "settlement_adapter",
  (t) => ({
    id: t.text().primaryKey(),
    settlementId: t.text().notNull(),
    channelId: t.bigint().notNull(),
    adapterId: t.bigint().notNull(),
    adapterOwner: t.hex().notNull(),
    operator: t.hex().notNull(),
    amount: t.bigint().notNull(),
    protocolFee: t.bigint().notNull(),
    /** What the operator received for this adapter (for adapter 0, the base model, this includes the rest). */
    operatorFee: t.bigint().notNull(),
    ownerShare: t.bigint().notNull(),
    dataShare: t.bigint().notNull(),
    blockNumber: t.bigint().notNull(),
    logIndex: t.integer().notNull(),
    timestamp: t.bigint().notNull(),
  }),
  (t) => ({
    adapterBlockIdx: index().on(t.adapterId, t.blockNumber, t.logIndex),
    settlementIdx: index().on(t.settlementId),
  }),
);

/** One row per DataShareAllocated. id: `${blockNumber}-${logIndex}`. */
export const dataShareAllocation = onchainTable(
  "data_share_allocation",
  (t) => ({
    id: t.text().primaryKey(),
    settlementId: t.text().notNull(),
    channelId: t.bigint().notNull(),
    adapterId: t.bigint().notNull(),
    datanetId: t.bigint().notNull(),
    version: t.bigint().notNull(),
    amount: t.bigint().notNull(),
    blockNumber: t.bigint().notNull(),
  }),
  (t) => ({ adapterIdx: index().on(t.adapterId), datanetIdx: index().on(t.datanetId, t.version) }),
);

export const adapterRevenue = onchainTable("adapter_revenue", (t) => ({
  adapterId: t.bigint().primaryKey(),
  settlements: t.integer().notNull(),
  amount: t.bigint().notNull(),
  protocolFee: t.bigint().notNull(),
  operatorFee: t.bigint().notNull(),
  ownerShare: t.bigint().notNull(),
  dataShare: t.bigint().notNull(),
}));

export const datanetRevenue = onchainTable("datanet_revenue", (t) => ({
  datanetId: t.bigint().primaryKey(),
  allocations: t.integer().notNull(),
  amount: t.bigint().notNull(),
}));

/** Revenue credited to an account by InferencePayments, by role; plus what it withdrew and claimed. */
export const accountRevenue = onchainTable("account_revenue", (t) => ({
  account: t.hex().primaryKey(),
  ownerShare: t.bigint().notNull(),
  operatorFees: t.bigint().notNull(),
  protocolFees: t.bigint().notNull(),
  /** ownerShare + operatorFees + protocolFees. */
  total: t.bigint().notNull(),
  withdrawn: t.bigint().notNull(),
  rewardsClaimed: t.bigint().notNull(),
}));

/**
 * Usage of an adapter per UTC day (of the block timestamp). The chain knows settlements, not requests: `settlements`
 * counts AdapterRevenue events, `revenue` sums their amounts, and `estimatedTokens` = Σ amount · 1000 /
 * pricePer1kTokens at the time of each settlement (null while the price is zero).
 */
export const adapterUsageDaily = onchainTable(
  "adapter_usage_daily",
  (t) => ({
    adapterId: t.bigint().notNull(),
    day: t.text().notNull(),
    settlements: t.integer().notNull(),
    revenue: t.bigint().notNull(),
    estimatedTokens: t.bigint(),
  }),
  (t) => ({ pk: primaryKey({ columns: [t.adapterId, t.day] }) }),
);

// ---------------------------------------------------------------- rewards

export const rewardRoot = onchainTable("reward_root", (t) => ({
  epoch: t.bigint().primaryKey(),
  root: t.hex().notNull(),
  total: t.bigint().notNull(),
  contentHash: t.hex().notNull(),
  uri: t.text().notNull(),
  claimableAt: t.bigint().notNull(),
  /** The attribution policy the root was computed under (`attributionPolicy.id`). */
  policyId: t.bigint().notNull(),
  /** proposed | revoked. A proposed root is claimable once the chain's time reaches claimableAt. */
  status: t.text().notNull(),
  revokedBy: t.hex(),
  proposedBlock: t.bigint().notNull(),
}));

/**
 * The distribution file of each proposed epoch (the one whose sha256 is the root's contentHash), as the indexer found
 * it. status:
 *   verified     read from the content store, hashed to contentHash, names the root's epoch and policy, its leaves
 *                build the on-chain root, and its allocations add up to its leaves' epoch amounts: its allocations are
 *                the epoch's `earning` rows and its receipts the `epoch_receipt` rows;
 *   unavailable  the store did not give bytes that hash to contentHash (missing, unreachable, other bytes): tried
 *                again from `nextAttemptAt` (chain time), waiting twice as long after each failure;
 *   invalid      the bytes hash right but are not the file the root commits to, or do not add up (`reason`): no rows,
 *                ever (content-addressed bytes never change);
 *   revoked      the root was revoked: its rows were deleted. A re-proposed epoch starts over with its new file.
 */
export const epochDistribution = onchainTable("epoch_distribution", (t) => ({
  epoch: t.bigint().primaryKey(),
  contentHash: t.hex().notNull(),
  status: t.text().notNull(),
  /** Why the file is unavailable (the last attempt's error) or invalid; null when verified or revoked. */
  reason: t.text(),
  /** Rows in `earning` (the file's allocations) and `epoch_receipt` (its receipts); 0 unless verified. */
  allocationCount: t.integer().notNull(),
  receiptCount: t.integer().notNull(),
  /** Σ of the file's allocations: what the epoch distributed (0 unless verified). */
  amount: t.bigint().notNull(),
  /** Reads of the file so far (for this proposal). */
  attempts: t.integer().notNull(),
  /** While unavailable: the chain time from which the next block tries again; null otherwise. */
  nextAttemptAt: t.bigint(),
}));

/**
 * What a contribution earned in an epoch through one adapter and datanet version: one row per allocation of a
 * verified distribution file, keyed by (epoch, index), index being the allocation's position in the file. Rows of a
 * revoked epoch are deleted, so the rows present are exactly the standing roots' earnings; the account's claim is
 * the sum of its rows over the epochs (its leaf's cumulativeAmount) once its epoch is claimable.
 */
export const earning = onchainTable(
  "earning",
  (t) => ({
    epoch: t.bigint().notNull(),
    index: t.integer().notNull(),
    /** The contributor the file pays (lowercase). */
    account: t.hex().notNull(),
    contributionId: t.bigint().notNull(),
    datanetId: t.bigint().notNull(),
    version: t.bigint().notNull(),
    adapterId: t.bigint().notNull(),
    amount: t.bigint().notNull(),
    /** The attribution policy the file was computed under (its root's). */
    policyId: t.bigint().notNull(),
  }),
  (t) => ({
    pk: primaryKey({ columns: [t.epoch, t.index] }),
    accountIdx: index().on(t.account, t.epoch),
    contributionIdx: index().on(t.contributionId, t.epoch),
    adapterIdx: index().on(t.adapterId, t.epoch),
  }),
);

/**
 * The usage receipts a verified distribution file lists: the requests the epoch's settlements paid for, each with its
 * attribution record's hash and whether the record was applied (`record`: used | absent | invalid, with `reason`).
 * A used record moved part of its adapter's data share to the contributions its spans matched: the record is in the
 * content store under `record-<attributionHash hex>` (attribution/src/recordStore.ts). Key (epoch, index): the
 * receipt's position in the file.
 */
export const epochReceipt = onchainTable(
  "epoch_receipt",
  (t) => ({
    epoch: t.bigint().notNull(),
    index: t.integer().notNull(),
    channelId: t.bigint().notNull(),
    position: t.bigint().notNull(),
    adapterId: t.bigint().notNull(),
    /** What the request paid: its weight in the split. */
    amount: t.bigint().notNull(),
    completionHash: t.hex().notNull(),
    attributionHash: t.hex().notNull(),
    record: t.text().notNull(),
    reason: t.text(),
  }),
  (t) => ({ pk: primaryKey({ columns: [t.epoch, t.index] }), adapterIdx: index().on(t.epoch, t.adapterId) }),
);

/** Singleton (id 1): the epochs whose distribution file is unavailable, oldest first, for the retries. */
export const distributionRetry = onchainTable("distribution_retry", (t) => ({
  id: t.integer().primaryKey(),
  epochs: t.bigint().array().notNull(),
}));

/**
 * Every attribution policy AttributionRewards was given, by id (1 from the deployment). A policy governs the epochs
 * from `fromEpoch` until the next live policy's; one superseded before its first epoch never governs any.
 */
export const attributionPolicy = onchainTable("attribution_policy", (t) => ({
  id: t.bigint().primaryKey(),
  fromEpoch: t.bigint().notNull(),
  /** The policy that replaced this one from its `fromEpoch` on, before that epoch began; null while it stands. */
  supersededBy: t.bigint(),
  algorithm: t.text().notNull(),
  version: t.integer().notNull(),
  minSpanTokens: t.bigint().notNull(),
  matchWeightBps: t.integer().notNull(),
  maxSpanOccurrences: t.bigint().notNull(),
  rarityTable: t.hex().notNull(),
  duplicateShingleTokens: t.bigint().notNull(),
  duplicateSampling: t.bigint().notNull(),
  duplicateCoverageBps: t.integer().notNull(),
  rarityExponent: t.integer().notNull(),
  specHash: t.hex().notNull(),
  specUri: t.text().notNull(),
  setBlock: t.bigint().notNull(),
}));

// ---------------------------------------------------------------- serving rules

/** Every version of ServingRules (1 from the deployment); the newest is in force. */
export const servingRulesVersion = onchainTable("serving_rules_version", (t) => ({
  version: t.bigint().primaryKey(),
  maxOutputTokens: t.bigint().notNull(),
  receiptSchemaVersion: t.integer().notNull(),
  minEngineProtocolVersion: t.integer().notNull(),
  requireAttributionHash: t.boolean().notNull(),
  setBlock: t.bigint().notNull(),
}));

/** id: `${blockNumber}-${logIndex}`. */
export const claim = onchainTable(
  "claim",
  (t) => ({
    id: t.text().primaryKey(),
    epoch: t.bigint().notNull(),
    account: t.hex().notNull(),
    index: t.bigint(),
    amount: t.bigint().notNull(),
    /** As the event reports it: the leaf amount (older contract) or what the account received in total. */
    cumulativeAmount: t.bigint().notNull(),
    blockNumber: t.bigint().notNull(),
    timestamp: t.bigint().notNull(),
    transactionHash: t.hex().notNull(),
  }),
  (t) => ({ accountIdx: index().on(t.account) }),
);

/** Per-account claimed total (the contract's `claimed(account)`). */
export const rewardAccount = onchainTable("reward_account", (t) => ({
  account: t.hex().primaryKey(),
  claimed: t.bigint().notNull(),
  claims: t.integer().notNull(),
}));

/** Singleton (id 1): AttributionRewards' totals. */
export const rewardPool = onchainTable("reward_pool", (t) => ({
  id: t.integer().primaryKey(),
  totalFunded: t.bigint().notNull(),
  totalClaimed: t.bigint().notNull(),
  fundings: t.integer().notNull(),
}));

// ---------------------------------------------------------------- governance

export const proposal = onchainTable("proposal", (t) => ({
  id: t.bigint().primaryKey(),
  proposer: t.hex().notNull(),
  targets: t.hex().array().notNull(),
  values: t.bigint().array().notNull(),
  signatures: t.text().array().notNull(),
  calldatas: t.hex().array().notNull(),
  voteStart: t.bigint().notNull(),
  voteEnd: t.bigint().notNull(),
  description: t.text().notNull(),
  /** created | queued | executed | canceled */
  status: t.text().notNull(),
  etaSeconds: t.bigint(),
  forVotes: t.bigint().notNull(),
  againstVotes: t.bigint().notNull(),
  abstainVotes: t.bigint().notNull(),
  createdBlock: t.bigint().notNull(),
}));

export const vote = onchainTable(
  "vote",
  (t) => ({
    proposalId: t.bigint().notNull(),
    voter: t.hex().notNull(),
    support: t.integer().notNull(),
    weight: t.bigint().notNull(),
    reason: t.text().notNull(),
    params: t.hex(),
  }),
  (t) => ({ pk: primaryKey({ columns: [t.proposalId, t.voter] }) }),
);

export const timelockOperation = onchainTable("timelock_operation", (t) => ({
  id: t.hex().primaryKey(),
  /** scheduled | executed | cancelled */
  status: t.text().notNull(),
  calls: t.integer().notNull(),
  executedCalls: t.integer().notNull(),
  predecessor: t.hex(),
  salt: t.hex(),
  delay: t.bigint(),
  scheduledBlock: t.bigint(),
}));

export const timelockRole = onchainTable(
  "timelock_role",
  (t) => ({
    role: t.hex().notNull(),
    account: t.hex().notNull(),
    granted: t.boolean().notNull(),
    sender: t.hex().notNull(),
  }),
  (t) => ({ pk: primaryKey({ columns: [t.role, t.account] }) }),
);

// ---------------------------------------------------------------- relations (GraphQL fields)

export const datanetRelations = relations(datanet, ({ many }) => ({
  versions: many(datanetVersion),
  contributions: many(contribution),
}));
export const datanetVersionRelations = relations(datanetVersion, ({ one }) => ({
  datanet: one(datanet, { fields: [datanetVersion.datanetId], references: [datanet.id] }),
}));
export const contributionRelations = relations(contribution, ({ one, many }) => ({
  datanet: one(datanet, { fields: [contribution.datanetId], references: [datanet.id] }),
  earnings: many(earning),
}));
export const adapterRelations = relations(adapter, ({ one, many }) => ({
  baseModel: one(baseModel, { fields: [adapter.baseModelId], references: [baseModel.id] }),
  lineage: many(adapterLineage),
  revenue: one(adapterRevenue, { fields: [adapter.id], references: [adapterRevenue.adapterId] }),
  usage: many(adapterUsageDaily),
  settlements: many(settlementAdapter),
}));
export const adapterLineageRelations = relations(adapterLineage, ({ one }) => ({
  adapter: one(adapter, { fields: [adapterLineage.adapterId], references: [adapter.id] }),
}));
export const adapterUsageRelations = relations(adapterUsageDaily, ({ one }) => ({
  adapter: one(adapter, { fields: [adapterUsageDaily.adapterId], references: [adapter.id] }),
}));
export const settlementRelations = relations(settlement, ({ one, many }) => ({
  channel: one(channel, { fields: [settlement.channelId], references: [channel.id] }),
  adapters: many(settlementAdapter),
  allocations: many(dataShareAllocation),
}));
export const settlementAdapterRelations = relations(settlementAdapter, ({ one }) => ({
  settlement: one(settlement, { fields: [settlementAdapter.settlementId], references: [settlement.id] }),
  adapter: one(adapter, { fields: [settlementAdapter.adapterId], references: [adapter.id] }),
}));
export const dataShareAllocationRelations = relations(dataShareAllocation, ({ one }) => ({
  settlement: one(settlement, { fields: [dataShareAllocation.settlementId], references: [settlement.id] }),
}));
export const channelRelations = relations(channel, ({ many }) => ({ settlements: many(settlement) }));
export const proposalRelations = relations(proposal, ({ many }) => ({ votes: many(vote) }));
export const voteRelations = relations(vote, ({ one }) => ({
  proposal: one(proposal, { fields: [vote.proposalId], references: [proposal.id] }),
}));
export const rewardRootRelations = relations(rewardRoot, ({ one }) => ({
  distribution: one(epochDistribution, { fields: [rewardRoot.epoch], references: [epochDistribution.epoch] }),
}));
export const epochDistributionRelations = relations(epochDistribution, ({ many }) => ({
  earnings: many(earning),
  receipts: many(epochReceipt),
}));
export const earningRelations = relations(earning, ({ one }) => ({
  distribution: one(epochDistribution, { fields: [earning.epoch], references: [epochDistribution.epoch] }),
  contribution: one(contribution, { fields: [earning.contributionId], references: [contribution.id] }),
  adapter: one(adapter, { fields: [earning.adapterId], references: [adapter.id] }),
}));
export const epochReceiptRelations = relations(epochReceipt, ({ one }) => ({
  distribution: one(epochDistribution, { fields: [epochReceipt.epoch], references: [epochDistribution.epoch] }),
}));
