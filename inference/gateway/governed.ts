/**
 * The governed rules a worker serves under, followed from the chain: ServingRules (what every worker must follow:
 * the output cap, the receipt schema, the least engine protocol, whether receipts must carry an attribution hash).
 * Read at start, where rules this worker cannot meet refuse the start in one line, and read again whenever a
 * RulesSet event says they changed: new limits apply to new requests without a restart, and rules that stop being
 * met stop new requests (503) until the worker is upgraded or the rules change back.
 */
import type { Address, PublicClient } from "viem";
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

export type GovernedRulesOptions = {
  client: PublicClient;
  servingRules: Address;
  abilities: WorkerAbilities;
  log: Logger;
};

/** The serving rules in force, kept current by `poll` (RulesSet events). */
export class GovernedRules {
  rules: ServingRules;
  /** Why the rules in force cannot be met (new requests get 503), or undefined. */
  unmet: ServingRulesUnmetError | undefined;
  private fromBlock: bigint;
  private readonly options: GovernedRulesOptions;

  private constructor(options: GovernedRulesOptions, rules: ServingRules, fromBlock: bigint) {
    this.options = options;
    this.rules = rules;
    this.fromBlock = fromBlock;
  }

  /** Reads the rules in force; throws ServingRulesUnmetError when this worker cannot meet them. */
  static async start(options: GovernedRulesOptions): Promise<GovernedRules> {
    // The head first: a change landing between the two reads is seen again by the first poll, never missed.
    const head = await options.client.getBlockNumber();
    const rules = await readServingRules(options.client, options.servingRules);
    const unmet = unmetRule(rules, options.abilities);
    if (unmet) throw unmet;
    return new GovernedRules(options, rules, head + 1n);
  }

  /** Reads RulesSet events since the last poll; on a change, the rules in force again. */
  async poll(): Promise<void> {
    const { client, servingRules, abilities, log } = this.options;
    const head = await client.getBlockNumber();
    if (this.fromBlock > head) return;
    const changes = await getContractEventsInChunks(client, {
      address: servingRules,
      abi: abiOf("ServingRules"),
      eventName: "RulesSet",
      fromBlock: this.fromBlock,
      toBlock: head,
    });
    if (changes.length > 0) {
      this.rules = await readServingRules(client, servingRules);
      this.unmet = unmetRule(this.rules, abilities);
      if (this.unmet) log("error", "serving rules not met: refusing new requests", { reason: this.unmet.message });
      else log("info", "serving rules changed", { version: this.rules.version, rules: this.rules });
    }
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
