import { contribution, datanet, datanetCurator, datanetVersion } from "ponder:schema";
import { register, setParameter, touchAccounts } from "./lib/register.ts";

register("DatanetRegistry", {
  async DatanetCreated(event, context) {
    const a = event.args;
    await touchAccounts(context, event, a.owner, a.treasury);
    await context.db.insert(datanet).values({
      id: a.datanetId,
      owner: a.owner,
      treasury: a.treasury,
      curated: a.curated,
      minStake: a.minStake,
      metadataURI: a.metadataURI,
      license: a.license,
      contributionCount: 0,
      acceptedCount: 0,
      versionCount: 0,
      totalWeight: 0n,
      createdBlock: event.block.number,
      createdAt: event.block.timestamp,
    });
  },
  async DatanetMetadataUpdated(event, context) {
    await context.db.update(datanet, { id: event.args.datanetId }).set({ metadataURI: event.args.metadataURI });
  },
  async CuratorSet(event, context) {
    const { datanetId, curator, enabled } = event.args;
    await touchAccounts(context, event, curator);
    await context.db.insert(datanetCurator).values({ datanetId, curator, enabled }).onConflictDoUpdate({ enabled });
  },
  async ContributionSubmitted(event, context) {
    const a = event.args;
    await touchAccounts(context, event, a.contributor);
    await context.db.insert(contribution).values({
      id: a.contributionId,
      datanetId: a.datanetId,
      contributor: a.contributor,
      contentHash: a.contentHash,
      uri: a.uri,
      sizeTokens: a.sizeTokens,
      stake: a.stake,
      stakeHeld: a.stake,
      status: "pending",
      submittedBlock: event.block.number,
      updatedBlock: event.block.number,
    });
    await context.db
      .update(datanet, { id: a.datanetId })
      .set((row: { contributionCount: number }) => ({ contributionCount: row.contributionCount + 1 }));
  },
  async ContributionAccepted(event, context) {
    const { contributionId, datanetId, curator, weight, acceptedIndex } = event.args;
    await touchAccounts(context, event, curator);
    await context.db
      .update(contribution, { id: contributionId })
      .set({ status: "accepted", weight, acceptedIndex, curator, updatedBlock: event.block.number });
    await context.db.update(datanet, { id: datanetId }).set((row: { acceptedCount: number; totalWeight: bigint }) => ({
      acceptedCount: row.acceptedCount + 1,
      totalWeight: row.totalWeight + weight,
    }));
  },
  async ContributionRejected(event, context) {
    const { contributionId, curator, slashedStake } = event.args;
    await touchAccounts(context, event, curator);
    await context.db
      .update(contribution, { id: contributionId })
      .set({ status: "rejected", curator, slashedStake, stakeHeld: 0n, updatedBlock: event.block.number });
  },
  async ContributionWithdrawn(event, context) {
    const { contributionId, refundedStake } = event.args;
    await context.db
      .update(contribution, { id: contributionId })
      .set({ status: "withdrawn", refundedStake, stakeHeld: 0n, updatedBlock: event.block.number });
  },
  async StakeReleased(event, context) {
    const { contributionId, amount } = event.args;
    await context.db
      .update(contribution, { id: contributionId })
      .set({ releasedStake: amount, stakeHeld: 0n, updatedBlock: event.block.number });
  },
  async VersionPublished(event, context) {
    const a = event.args;
    await touchAccounts(context, event, a.publisher);
    await context.db.insert(datanetVersion).values({
      datanetId: a.datanetId,
      version: a.version,
      root: a.root,
      contributionCount: a.contributionCount,
      totalWeight: a.totalWeight,
      publisher: a.publisher,
      publishedBlock: event.block.number,
      publishedAt: event.block.timestamp,
      revenue: 0n,
    });
    await context.db
      .update(datanet, { id: a.datanetId })
      .set((row: { versionCount: number }) => ({ versionCount: row.versionCount + 1 }));
  },
  async StakeLockPeriodSet(event, context) {
    await setParameter(context, event, "DatanetRegistry", "stakeLockPeriod", event.args.stakeLockPeriod);
  },
  async OwnershipTransferred(event, context) {
    await setParameter(context, event, "DatanetRegistry", "owner", event.args.newOwner);
  },
});
