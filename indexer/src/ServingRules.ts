import { servingRulesVersion } from "ponder:schema";
import { register, setParameter } from "./lib/register.ts";

register("ServingRules", {
  async RulesSet(event, context) {
    const { version, rules } = event.args;
    await context.db.insert(servingRulesVersion).values({
      version,
      maxOutputTokens: BigInt(rules.maxOutputTokens),
      receiptSchemaVersion: Number(rules.receiptSchemaVersion),
      minEngineProtocolVersion: Number(rules.minEngineProtocolVersion),
      requireAttributionHash: rules.requireAttributionHash,
      setBlock: event.block.number,
    });
    // Rules apply at once: the newest version is the one in force.
    await setParameter(context, event, "ServingRules", "currentVersion", version);
  },
  async OwnershipTransferred(event, context) {
    await setParameter(context, event, "ServingRules", "owner", event.args.newOwner);
  },
});
