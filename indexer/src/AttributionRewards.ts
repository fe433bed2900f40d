import { ponder } from "ponder:registry";
import { accountRevenue, attributionPolicy, claim, rewardAccount, rewardPool, rewardRoot } from "ponder:schema";
import { indexDistribution, retryDistributions, revokeDistribution } from "./lib/earnings.ts";
import { logId, register, setParameter, touchAccounts } from "./lib/register.ts";

const pool = { id: 1, totalFunded: 0n, totalClaimed: 0n, fundings: 0 };

register("AttributionRewards", {
  async Funded(event, context) {
    const { funder, totalFunded } = event.args;
    await touchAccounts(context, event, funder);
    await context.db
      .insert(rewardPool)
      .values({ ...pool, totalFunded, fundings: 1 })
      .onConflictDoUpdate((row: { fundings: number }) => ({ totalFunded, fundings: row.fundings + 1 }));
  },
  async RootProposed(event, context) {
    const a = event.args;
    // A revoked epoch is proposed again under the same number: the new root replaces it (history: `event`).
    const row = {
      root: a.root,
      total: a.total,
      contentHash: a.contentHash,
      uri: a.uri,
      claimableAt: a.claimableAt,
      policyId: a.policyId,
      status: "proposed",
      revokedBy: null,
      proposedBlock: event.block.number,
    };
    await context.db
      .insert(rewardRoot)
      .values({ epoch: a.epoch, ...row })
      .onConflictDoUpdate(row);
    // Its earnings, from the distribution file the root commits to.
    await indexDistribution(
      context,
      { epoch: a.epoch, root: a.root, contentHash: a.contentHash, policyId: a.policyId },
      { now: event.block.timestamp, attempts: 1 },
    );
  },
  async RootRevoked(event, context) {
    const { epoch, throughEpoch, by } = event.args;
    await touchAccounts(context, event, by);
    // Revoking an epoch revokes every epoch proposed after it.
    for (let e = epoch; e <= throughEpoch; e++) {
      await context.db.update(rewardRoot, { epoch: e }).set({ status: "revoked", revokedBy: by });
      await revokeDistribution(context, e);
    }
  },
  async Claimed(event, context) {
    const { epoch, account, amount, cumulativeAmount } = event.args;
    await touchAccounts(context, event, account);
    await context.db.insert(claim).values({
      id: logId(event),
      epoch,
      account,
      // The account's stable leaf index, when the contract's Claimed event carries one.
      index: event.args.index ?? null,
      amount,
      cumulativeAmount,
      blockNumber: event.block.number,
      timestamp: event.block.timestamp,
      transactionHash: event.transaction.hash,
    });
    await context.db
      .insert(rewardAccount)
      .values({ account, claimed: amount, claims: 1 })
      .onConflictDoUpdate((row: { claimed: bigint; claims: number }) => ({
        claimed: row.claimed + amount,
        claims: row.claims + 1,
      }));
    await context.db
      .insert(rewardPool)
      .values({ ...pool, totalClaimed: amount })
      .onConflictDoUpdate((row: { totalClaimed: bigint }) => ({ totalClaimed: row.totalClaimed + amount }));
    await context.db
      .insert(accountRevenue)
      .values({
        account,
        ownerShare: 0n,
        operatorFees: 0n,
        protocolFees: 0n,
        total: 0n,
        withdrawn: 0n,
        rewardsClaimed: amount,
      })
      .onConflictDoUpdate((row: { rewardsClaimed: bigint }) => ({ rewardsClaimed: row.rewardsClaimed + amount }));
  },
  async AttributionPolicySet(event, context) {
    const { policyId, fromEpoch, policy } = event.args;
    // The new policy supersedes the live ones scheduled from fromEpoch on: the newest live ones, found walking down
    // the ids (those already superseded are skipped) until one that starts earlier.
    for (let id = policyId - 1n; id >= 1n; id--) {
      const older = await context.db.find(attributionPolicy, { id });
      if (older.supersededBy !== null) continue;
      if (older.fromEpoch < fromEpoch) break;
      await context.db.update(attributionPolicy, { id }).set({ supersededBy: policyId });
    }
    // uint32 fields exceed PostgreSQL's integer: bigint columns; uint8 and uint16 ones fit an integer.
    const p = policy.params;
    await context.db.insert(attributionPolicy).values({
      id: policyId,
      fromEpoch,
      supersededBy: null,
      algorithm: policy.algorithm,
      version: Number(policy.version),
      minSpanTokens: BigInt(p.minSpanTokens),
      matchWeightBps: Number(p.matchWeightBps),
      maxSpanOccurrences: BigInt(p.maxSpanOccurrences),
      rarityTable: p.rarityTable,
      duplicateShingleTokens: BigInt(p.duplicateShingleTokens),
      duplicateSampling: BigInt(p.duplicateSampling),
      duplicateCoverageBps: Number(p.duplicateCoverageBps),
      rarityExponent: Number(p.rarityExponent),
      specHash: policy.specHash,
      specUri: policy.specUri,
      setBlock: event.block.number,
    });
  },
  async AttestorSet(event, context) {
    await setParameter(context, event, "AttributionRewards", "attestor", event.args.attestor);
  },
  async GuardianSet(event, context) {
    await setParameter(context, event, "AttributionRewards", "guardian", event.args.guardian);
  },
  async ClaimDelaySet(event, context) {
    await setParameter(context, event, "AttributionRewards", "claimDelay", event.args.claimDelay);
  },
  async OwnershipTransferred(event, context) {
    await setParameter(context, event, "AttributionRewards", "owner", event.args.newOwner);
  },
});

// Each new block tries again the distribution files that could not be read (ponder.config.ts: from the head on).
ponder.on("DistributionRetry:block", async ({ event, context }) => {
  await retryDistributions(context, event.block.timestamp);
});
