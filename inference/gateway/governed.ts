/**
 * The governed rules a worker serves under, followed from the chain:
 * - ServingRules: what every worker must follow (the output cap, the receipt schema, the least engine protocol,
 *   whether receipts must carry an attribution hash);
 * - the attribution policy of the epoch now collecting usage (AttributionRewards: the epoch after the last one
 *   proposed), which the worker's attribution records are made under, when it attributes.
 * Read at start, where rules this worker cannot meet refuse the start in one line, and read again whenever an event
 * says they changed (RulesSet; AttributionPolicySet, or RootProposed/RootRevoked moving the open epoch): new limits
 * and a new policy apply to new requests without a restart, and rules that stop being met stop new requests (503)
 * until the worker is upgraded or the rules change back.
 */
import type { Address, PublicClient } from "viem";
import {
  attributionPolicyFromChain,
  BaseError,
  type AttributionPolicy,
  type OnChainAttributionPolicy,
} from "../../attribution/src/index.ts";
import { getContractEventsInChunks } from "../sdk/logs.ts";
import { abiOf } from "../sdk/abis.ts";
import { GatewayError } from "./errors.ts";
import type { Logger } from "./log.ts";

export type ServingRules = {
  version: bigint;
  maxOutputTokens: number;
  receiptSchemaVersion: number;
  minEngineProtocolVersion: number;
  requireAttributionHash: boolean;
};

/** What this worker can meet. */
export type WorkerAbilities = {
  /** The receipt schema it signs (sdk/eip712.ts receiptSchemaVersion). */
  receiptSchemaVersion: number;
  /** The protocol its engine speaks (`openpoa-engine/<n>`). */
  engineProtocolVersion: number;
  /** Whether it attributes completions (it has a content store for the datanets and the records). */
  attributes: boolean;
};

/** Rules the worker cannot meet; the message is one line naming the rule. */
export class ServingRulesUnmetError extends Error {
  readonly rules: ServingRules;
  constructor(rules: ServingRules, reason: string) {
    super(`ServingRules v${rules.version} ${reason}`);
    this.name = "ServingRulesUnmetError";
    this.rules = rules;
  }
}

/** The first rule `abilities` cannot meet, as an error; undefined when every rule is met. */
export function unmetRule(rules: ServingRules, abilities: WorkerAbilities): ServingRulesUnmetError | undefined {
  if (rules.receiptSchemaVersion !== abilities.receiptSchemaVersion) {
    return new ServingRulesUnmetError(
      rules,
      `require receipt schema ${rules.receiptSchemaVersion}; this worker signs schema ${abilities.receiptSchemaVersion}`,
    );
  }
  if (abilities.engineProtocolVersion < rules.minEngineProtocolVersion) {
    return new ServingRulesUnmetError(
      rules,
      `require engine protocol ${rules.minEngineProtocolVersion} or later; this engine speaks ${abilities.engineProtocolVersion}`,
    );
  }
  if (rules.requireAttributionHash && !abilities.attributes) {
    return new ServingRulesUnmetError(
      rules,
      "require an attribution hash on every adapter's receipt; this worker has no content store to attribute with " +
        "(set OPENPOA_CONTENT_DIR or OPENPOA_CONTENT_URL)",
    );
  }
  return undefined;
}

/** The rules in force, as ServingRules.currentRules() returns them. */
export async function readServingRules(client: PublicClient, address: Address): Promise<ServingRules> {
  const [version, rules] = (await client.readContract({
    address,
    abi: abiOf("ServingRules"),
    functionName: "currentRules",
  })) as [
    bigint,
    {
      maxOutputTokens: number;
      receiptSchemaVersion: number;
      minEngineProtocolVersion: number;
      requireAttributionHash: boolean;
    },
  ];
  return {
    version,
    maxOutputTokens: Number(rules.maxOutputTokens),
    receiptSchemaVersion: Number(rules.receiptSchemaVersion),
    minEngineProtocolVersion: Number(rules.minEngineProtocolVersion),
    requireAttributionHash: rules.requireAttributionHash,
  };
}

/** The attribution policy governing the epoch after the last one proposed: the epoch collecting usage now. */
export async function readOpenEpochPolicy(client: PublicClient, rewards: Address): Promise<AttributionPolicy> {
  const read = (functionName: string, args: unknown[] = []) =>
    client.readContract({ address: rewards, abi: abiOf("AttributionRewards"), functionName, args });
  const lastEpoch = (await read("lastEpoch")) as bigint;
  const id = (await read("attributionPolicyForEpoch", [lastEpoch + 1n])) as bigint;
  const policy = (await read("getAttributionPolicy", [id])) as OnChainAttributionPolicy;
  return attributionPolicyFromChain({ id, policy });
}

export type GovernedRulesOptions = {
  client: PublicClient;
  servingRules: Address;
  /** AttributionRewards, followed when the worker attributes. */
  rewards?: Address;
  abilities: WorkerAbilities;
  log: Logger;
};

/** The rules in force, kept current by `poll`. */
export class GovernedRules {
  rules: ServingRules;
  /** The policy this worker's records are made under; undefined when it does not attribute. */
  attributionPolicy: AttributionPolicy | undefined;
  /** Why the rules in force cannot be met (new requests get 503), or undefined. */
  unmet: Error | undefined;
  private fromBlock: bigint;
  private polling: Promise<void> = Promise.resolve();
  private readonly options: GovernedRulesOptions;

  private constructor(
    options: GovernedRulesOptions,
    read: { rules: ServingRules; attributionPolicy?: AttributionPolicy },
    fromBlock: bigint,
  ) {
    this.options = options;
    this.rules = read.rules;
    this.attributionPolicy = read.attributionPolicy;
    this.fromBlock = fromBlock;
  }

  /**
   * Reads the rules in force; throws ServingRulesUnmetError when this worker cannot meet them, and the attribution
   * library's UnsupportedAttributionPolicyError when it attributes and does not implement the policy in force.
   */
  static async start(options: GovernedRulesOptions): Promise<GovernedRules> {
    // The head first: a change landing between the reads is seen again by the first poll, never missed.
    const head = await options.client.getBlockNumber({ cacheTime: 0 });
    const rules = await readServingRules(options.client, options.servingRules);
    const unmet = unmetRule(rules, options.abilities);
    if (unmet) throw unmet;
    const attributionPolicy = options.rewards && (await readOpenEpochPolicy(options.client, options.rewards));
    return new GovernedRules(options, { rules, attributionPolicy }, head + 1n);
  }

  /**
   * Reads the events since the last poll; on a change, what changed. Polls run one after another, so an older read
   * never lands over a newer one.
   */
  poll(): Promise<void> {
    const next = this.polling.then(() => this.pollOnce());
    this.polling = next.catch(() => {});
    return next;
  }

  private async pollOnce(): Promise<void> {
    const { client, servingRules, rewards, abilities, log } = this.options;
    // Uncached: viem reuses a block number for its polling interval, which would hide a change just made.
    const head = await client.getBlockNumber({ cacheTime: 0 });
    if (this.fromBlock > head) return;
    const range = { fromBlock: this.fromBlock, toBlock: head };
    const [ruleChanges, rewardEvents] = await Promise.all([
      getContractEventsInChunks(client, {
        address: servingRules,
        abi: abiOf("ServingRules"),
        eventName: "RulesSet",
        ...range,
      }),
      rewards
        ? getContractEventsInChunks(client, { address: rewards, abi: abiOf("AttributionRewards"), ...range })
        : [],
    ]);
    if (ruleChanges.length > 0) {
      this.rules = await readServingRules(client, servingRules);
      log("info", "serving rules changed", { version: this.rules.version, rules: this.rules });
    }
    const policyMoves = ["AttributionPolicySet", "RootProposed", "RootRevoked"];
    let policyError: Error | undefined;
    if (rewards && rewardEvents.some((event) => policyMoves.includes(event.eventName!))) {
      try {
        const policy = await readOpenEpochPolicy(client, rewards);
        if (policy.id !== this.attributionPolicy?.id) log("info", "attribution policy changed", { id: policy.id });
        this.attributionPolicy = policy;
      } catch (error) {
        // A policy this worker does not implement: attributing under the old one would make records the epoch rejects.
        if (!(error instanceof BaseError)) throw error;
        policyError = error;
      }
    }
    this.unmet = unmetRule(this.rules, abilities) ?? policyError;
    if (this.unmet) log("error", "governed rules not met: refusing new requests", { reason: this.unmet.message });
    this.fromBlock = head + 1n;
  }

  /** The rules a new request is served under; 503 while they cannot be met. */
  forRequest(): ServingRules {
    if (this.unmet) {
      throw new GatewayError(503, "serving_rules_unmet", `${this.unmet.message}: this worker serves no new requests`, {
        retryAfterSec: 60,
      });
    }
    return this.rules;
  }
}
