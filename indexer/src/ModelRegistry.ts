import { adapter, adapterLineage, baseModel, operatorApproval } from "ponder:schema";
import { register, setParameter, touchAccounts, ZERO_ADDRESS } from "./lib/register.ts";

register("ModelRegistry", {
  async BaseModelRegistered(event, context) {
    const a = event.args;
    await touchAccounts(context, event, a.registrant);
    await context.db.insert(baseModel).values({
      id: a.baseModelId,
      registrant: a.registrant,
      artifactHash: a.artifactHash,
      name: a.name,
      uri: a.uri,
      deprecated: false,
      registeredBlock: event.block.number,
    });
  },
  async BaseModelDeprecated(event, context) {
    await context.db.update(baseModel, { id: event.args.baseModelId }).set({ deprecated: true });
  },
  async AdapterRegistered(event, context) {
    const a = event.args;
    await touchAccounts(context, event, a.owner);
    await context.db.insert(adapter).values({
      id: a.adapterId,
      baseModelId: a.baseModelId,
      owner: a.owner,
      artifactHash: a.artifactHash,
      uri: a.uri,
      rank: Number(a.rank),
      targetModules: Number(a.targetModules),
      pricePer1kTokens: a.pricePer1kTokens,
      ownerShareBps: Number(a.ownerShareBps),
      dataShareBps: Number(a.dataShareBps),
      deprecated: false,
      lineageLength: 0,
      registeredBlock: event.block.number,
      registeredAt: event.block.timestamp,
    });
  },
  async AdapterLineage(event, context) {
    const { adapterId, datanetId, version, weightBps } = event.args;
    const row = await context.db.find(adapter, { id: adapterId });
    await context.db
      .insert(adapterLineage)
      .values({ adapterId, index: row.lineageLength, datanetId, version, weightBps: Number(weightBps) });
    await context.db.update(adapter, { id: adapterId }).set({ lineageLength: row.lineageLength + 1 });
  },
  async AdapterPriceSet(event, context) {
    await context.db
      .update(adapter, { id: event.args.adapterId })
      .set({ pricePer1kTokens: event.args.pricePer1kTokens });
  },
  async AdapterURISet(event, context) {
    await context.db.update(adapter, { id: event.args.adapterId }).set({ uri: event.args.uri });
  },
  async AdapterDeprecated(event, context) {
    await context.db.update(adapter, { id: event.args.adapterId }).set({ deprecated: true });
  },
  async MinDataShareSet(event, context) {
    await setParameter(context, event, "ModelRegistry", "minDataShareBps", event.args.minDataShareBps);
  },
  async OwnershipTransferred(event, context) {
    await setParameter(context, event, "ModelRegistry", "owner", event.args.newOwner);
  },
  // ERC-721: adapters are tokens; the mint comes after AdapterRegistered, which already set the owner.
  async Transfer(event, context) {
    const { from, to, tokenId } = event.args;
    await touchAccounts(context, event, from, to);
    if (from === ZERO_ADDRESS) return;
    // A transfer clears the approval (OpenZeppelin emits no Approval for that).
    await context.db.update(adapter, { id: tokenId }).set({ owner: to, approved: null });
  },
  async Approval(event, context) {
    const { owner, approved, tokenId } = event.args;
    await touchAccounts(context, event, owner, approved);
    await context.db.update(adapter, { id: tokenId }).set({ approved: approved === ZERO_ADDRESS ? null : approved });
  },
  async ApprovalForAll(event, context) {
    const { owner, operator, approved } = event.args;
    await touchAccounts(context, event, owner, operator);
    await context.db.insert(operatorApproval).values({ owner, operator, approved }).onConflictDoUpdate({ approved });
  },
});
