/**
 * Governed actions: every call that only the Timelock may make (it owns every protocol parameter), as a named action
 * with typed arguments in the CLI's words. An action builds the call a proposal carries (`attestor 0x…` becomes
 * `AttributionRewards.setAttestor(0x…)`), and `decodeAction` turns a proposal's call back into those words, so voters
 * read what they vote on as it was proposed. Calldata is always encoded and decoded with the suite's ABIs.
 *
 * Browser-safe (viem, the attribution policy and the CLI's argument parsers only): the CLI (governance.ts adds its
 * chain reads and checks) and the Studio share this table, so both write and read proposals in the same words.
 */
import {
  decodeFunctionData,
  encodeFunctionData,
  formatUnits,
  isAddressEqual,
  keccak256,
  sha256,
  toBytes,
  type Abi,
  type Address,
  type Hex,
} from "viem";
import { BaseError as AttributionError } from "../../attribution/src/errors.ts";
import { contentUri } from "../../attribution/src/httpStore.ts";
import {
  assertAttributionPolicy,
  attributionPolicyToChain,
  attributionSpecs,
  type AttributionPolicy,
  type OnChainAttributionPolicy,
} from "../../attribution/src/policy.ts";
import { contractNames, type ContractName } from "../../inference/sdk/contractNames.ts";
import { parseAddress, parseBounded, parseBytes32, parseId, parseOpen, requireValue, UsageError } from "../cli/args.ts";

/**
 * What actions need of a deployment: its contracts' addresses and ABIs, and a client to read the values in force.
 * The CLI's Suite is one; the Studio makes one from its configuration.
 */
export type ActionSuite = {
  deployment: { contracts: Readonly<Partial<Record<string, { address: string }>>> };
  address(name: ContractName): Address;
  abi(name: ContractName): Abi;
  // Any viem client: its readContract's parameters are generic, so this accepts every client's.
  publicClient: { readContract(parameters: never): Promise<unknown> };
};

/** Reads a file named on a command line (`--spec <file>`); only the CLI has one (a browser has no paths). */
export type ReadFile = (path: string) => Uint8Array;

/** A view of one of the suite's contracts, for the values in force. */
async function read<T>(
  suite: ActionSuite,
  { contract, functionName, args = [] }: { contract: ContractName; functionName: string; args?: readonly unknown[] },
): Promise<T> {
  const parameters = { address: suite.address(contract), abi: suite.abi(contract), functionName, args };
  return (await suite.publicClient.readContract(parameters as never)) as T;
}

export type ArgKind<T = unknown> = {
  /** What to write, for usage lines. */
  hint: string;
  /** `readFile` reads the files an argument names (the CLI's); none where there is no file system. */
  parse(text: string | undefined, name: string, readFile?: ReadFile): T;
  /** Decoded arguments of up to 48 bits come back from viem as numbers, wider ones as bigints. */
  format(value: T | number): string;
};

/** An argument kind of any value type, as a parameter holds it. */
type SomeArgKind = Pick<ArgKind, "hint" | "parse"> & { format(value: never): string };

export type ActionParam = {
  /** A positional argument's name (`<name>`), or a flag's (`--name`). */
  name: string;
  kind: SomeArgKind;
  description: string;
  flag?: boolean;
  /** A flag that may be left out: the action's `inForce` gives it, or the action does without it. */
  optional?: boolean;
};

/** An action's arguments by parameter name, parsed (bigints, addresses, hashes). */
export type ActionValues = Record<string, unknown>;
/** An action as written: its positional arguments in order, its flags by name, and how to read the files named. */
export type ActionArgs = {
  positionals: readonly string[];
  flags: Readonly<Record<string, string | undefined>>;
  readFile?: ReadFile;
};
/** One call of a proposal. */
export type ActionCall = { target: Address; value: bigint; calldata: Hex };

export type GovernedAction = {
  name: string;
  description: string;
  contract: ContractName;
  functionName: string;
  params: readonly ActionParam[];
  /** `name <positional>… [--flag <kind>]…` */
  usage: string;
  /** The values in force, read from the chain, for the optional flags left out. */
  inForce?(suite: ActionSuite): Promise<ActionValues>;
  /** Parses `args`, fills flags left out with the values in force, and encodes the call. */
  build(suite: ActionSuite, args: ActionArgs): Promise<ActionCall & { values: ActionValues }>;
  /** The function's arguments from the action's values (default: the values in parameter order). */
  toArgs(values: ActionValues): readonly unknown[];
  /** The action's values from the function's decoded arguments (default: in parameter order). */
  fromArgs(args: readonly unknown[]): ActionValues;
};

// --- Argument kinds -------------------------------------------------------------------------------------------

const address: ArgKind<Address> = { hint: "address", parse: parseAddress, format: (value) => String(value) };
const openAmount: ArgKind<bigint> = {
  hint: "OPEN",
  parse: parseOpen,
  format: (value) => formatUnits(BigInt(value), 18),
};
const integer = (max: bigint, hint = "integer"): ArgKind<bigint> => ({
  hint,
  parse: (text, name) => parseBounded(text, name, max),
  format: (value) => String(value),
});
const id: ArgKind<bigint> = { hint: "id", parse: parseId, format: (value) => String(value) };
/** Hashes are compared as lowercase hex (as viem decodes them and the attribution library checks them). */
const bytes32: ArgKind<Hex> = {
  hint: "0x…32 bytes",
  parse: (value, name) => parseBytes32(value, name).toLowerCase() as Hex,
  format: (value) => String(value),
};
const text: ArgKind<string> = { hint: "text", parse: (value, name) => requireValue(value, name), format: String };
const bool: ArgKind<boolean> = {
  hint: "true|false",
  parse(value, name) {
    const given = requireValue(value, name);
    if (given !== "true" && given !== "false") throw new UsageError(`${name} must be true or false, got "${given}"`);
    return given === "true";
  },
  format: (value) => String(value),
};
const bps = integer(10_000n, "bps");
const uintMax = (bits: number) => 2n ** BigInt(bits) - 1n;

const UNITS = [
  ["w", 7n * 24n * 3600n],
  ["d", 24n * 3600n],
  ["h", 3600n],
  ["m", 60n],
  ["s", 1n],
] as const;

/** Seconds, written with a unit: 90s, 15m, 36h, 2d, 1w (a bare number is seconds). */
export function parseDuration(value: string | undefined, name: string, max = uintMax(64)): bigint {
  const given = requireValue(value, name);
  const match = /^(\d+)([smhdw]?)$/.exec(given);
  if (!match) throw new UsageError(`${name} must be a duration like 90s, 15m, 36h, 2d or 1w, got "${given}"`);
  const seconds = BigInt(match[1]!) * (UNITS.find(([unit]) => unit === (match[2] || "s"))![1] as bigint);
  if (seconds > max) throw new UsageError(`${name} must be at most ${max} seconds, got ${seconds}`);
  return seconds;
}

/** Seconds in the largest unit that divides them exactly: 172800 is "2d", 5400 is "90m"; parseDuration reads it back. */
export function formatDuration(seconds: bigint | number): string {
  const value = BigInt(seconds);
  if (value === 0n) return "0s";
  const [unit, size] = UNITS.find(([, size]) => value % size === 0n)!;
  return `${value / size}${unit}`;
}

/** Seconds for people: "1d 2h", "59m 10s", every unit down to seconds that is not zero. */
export function readableDuration(seconds: bigint | number): string {
  let rest = BigInt(seconds);
  const parts: string[] = [];
  for (const [unit, size] of UNITS.slice(1)) {
    if (rest >= size) parts.push(`${rest / size}${unit}`);
    rest %= size;
  }
  return parts.length === 0 ? "0s" : parts.join(" ");
}

const duration = (bits: number): ArgKind<bigint> => ({
  hint: "duration",
  parse: (value, name) => parseDuration(value, name, uintMax(bits)),
  format: formatDuration,
});
/** A file given by path, stood for by its sha256 (and written back as that hash). */
const fileHash: ArgKind<Hex> = {
  hint: "file",
  parse(value, name, readFile) {
    const file = requireValue(value, name);
    if (!readFile) throw new UsageError(`${name}: no file can be read here; give the file's sha256 instead`);
    try {
      return sha256(readFile(file));
    } catch (error) {
      throw new UsageError(`${name}: cannot read ${file} (${(error as Error).message})`);
    }
  },
  format: (value) => String(value),
};

// --- The table ------------------------------------------------------------------------------------------------

type ActionSpec = Omit<GovernedAction, "usage" | "build" | "toArgs" | "fromArgs"> &
  Partial<Pick<GovernedAction, "toArgs" | "fromArgs">>;

function defineAction(spec: ActionSpec): GovernedAction {
  const toArgs = spec.toArgs ?? ((values: ActionValues) => spec.params.map((param) => values[param.name]));
  const fromArgs =
    spec.fromArgs ??
    ((args: readonly unknown[]) => Object.fromEntries(spec.params.map((param, i) => [param.name, args[i]])));
  const usage = [
    spec.name,
    ...spec.params.map((param) =>
      param.flag
        ? param.optional
          ? `[--${param.name} <${param.kind.hint}>]`
          : `--${param.name} <${param.kind.hint}>`
        : `<${param.name}>`,
    ),
  ].join(" ");
  const action: GovernedAction = {
    ...spec,
    usage,
    toArgs,
    fromArgs,
    async build(suite, args) {
      const { positionals, flags } = args;
      const positional = spec.params.filter((param) => !param.flag);
      if (positionals.length !== positional.length) {
        throw new UsageError(
          `${spec.name} takes ${positional.length} argument${positional.length === 1 ? "" : "s"}, got ${positionals.length}: ${usage}`,
        );
      }
      for (const flag of Object.keys(flags)) {
        if (flags[flag] !== undefined && !spec.params.some((param) => param.flag && param.name === flag)) {
          throw new UsageError(`${spec.name} has no --${flag}: ${usage}`);
        }
      }
      const values: ActionValues = {};
      for (const param of spec.params) {
        const given = param.flag ? flags[param.name] : positionals[positional.indexOf(param)];
        const label = param.flag ? `--${param.name}` : param.name;
        if (given !== undefined) values[param.name] = param.kind.parse(given, `${spec.name} ${label}`, args.readFile);
        else if (!param.optional) throw new UsageError(`${spec.name}: missing ${label}: ${usage}`);
      }
      const left = spec.params.filter((param) => values[param.name] === undefined);
      if (left.length > 0 && spec.inForce) {
        const inForce = await spec.inForce(suite);
        for (const param of left) values[param.name] = inForce[param.name];
      }
      const calldata = encodeFunctionData({
        abi: suite.abi(spec.contract),
        functionName: spec.functionName,
        args: toArgs(values),
      });
      return { target: suite.address(spec.contract), value: 0n, calldata, values };
    },
  };
  return action;
}

/** A governed action whose arguments are the function's, in order. */
function setter(
  name: string,
  contract: ContractName,
  functionName: string,
  description: string,
  ...params: Array<[string, SomeArgKind, string]>
): GovernedAction {
  return defineAction({
    name,
    description,
    contract,
    functionName,
    params: params.map(([paramName, kind, about]) => ({ name: paramName, kind, description: about })),
  });
}

/** The flags of `attribution-policy`: AttributionParams' fields, by flag name. */
const policyParams = [
  ["min-span-tokens", "minSpanTokens", integer(uintMax(32)), "shortest span (tokens) that counts as evidence"],
  ["match-weight-bps", "matchWeightBps", bps, "part of each datanet version's budget assigned by span evidence"],
  ["max-span-occurrences", "maxSpanOccurrences", integer(uintMax(32)), "spans held more often are common text"],
  ["rarity-table", "rarityTable", bytes32, "sha256 of the rarity table file"],
  ["duplicate-shingle-tokens", "duplicateShingleTokens", integer(uintMax(32)), "near duplicates: shingle length"],
  ["duplicate-sampling", "duplicateSampling", integer(uintMax(32)), "near duplicates: sampling stride"],
  ["duplicate-coverage-bps", "duplicateCoverageBps", bps, "near duplicates: coverage that makes a duplicate"],
  ["rarity-exponent", "rarityExponent", integer(uintMax(8)), "version 2: how much more rare text earns"],
] as const satisfies ReadonlyArray<readonly [string, keyof AttributionPolicy["params"], SomeArgKind, string]>;

/** The flags of `serving-rules`: ServingRules.Rules' fields, by flag name. */
const servingRules = [
  ["max-output-tokens", "maxOutputTokens", integer(uintMax(32)), "most completion tokens per request"],
  ["receipt-schema-version", "receiptSchemaVersion", integer(uintMax(16)), "the usage-receipt schema workers sign"],
  ["min-engine-protocol-version", "minEngineProtocolVersion", integer(uintMax(16)), "least engine protocol version"],
  ["require-attribution-hash", "requireAttributionHash", bool, "every receipt carries an attribution hash"],
] as const;

export const governedActions: readonly GovernedAction[] = [
  // InferencePayments
  defineAction({
    name: "fees",
    description: "The protocol's and the operator's cut of every payment, in bps (together at most 3000)",
    contract: "InferencePayments",
    functionName: "setFees",
    params: [
      {
        name: "protocol-bps",
        kind: bps,
        flag: true,
        description: "the protocol's fee (default: in force)",
        optional: true,
      },
      {
        name: "operator-bps",
        kind: bps,
        flag: true,
        description: "the operator's fee (default: in force)",
        optional: true,
      },
    ],
    async inForce(suite) {
      const [protocol, operator] = await Promise.all([
        read(suite, { contract: "InferencePayments", functionName: "protocolFeeBps" }),
        read(suite, { contract: "InferencePayments", functionName: "operatorFeeBps" }),
      ]);
      return { "protocol-bps": protocol, "operator-bps": operator };
    },
  }),
  setter(
    "challenge-period",
    "InferencePayments",
    "setChallengePeriod",
    "How long a closing channel waits for a later voucher before its payer withdraws (1h to 30d)",
    ["period", duration(64), "the challenge period"],
  ),
  setter("fee-treasury", "InferencePayments", "setTreasury", "Where protocol fees accrue", [
    "treasury",
    address,
    "the new treasury",
  ]),
  // NodeRegistry
  setter(
    "slash",
    "NodeRegistry",
    "slash",
    "Take OPEN from an operator's stake (bonded first, then unbonding) to the slashing treasury",
    ["operator", address, "the operator"],
    ["amount", openAmount, "the OPEN to take"],
  ),
  setter("freeze", "NodeRegistry", "freeze", "Freeze an operator for the freeze period (its stake stays put)", [
    "operator",
    address,
    "the operator",
  ]),
  setter("unfreeze", "NodeRegistry", "unfreeze", "Lift an operator's freeze", ["operator", address, "the operator"]),
  setter("min-operator-stake", "NodeRegistry", "setMinStake", "The bonded OPEN an operator needs to be active", [
    "amount",
    openAmount,
    "the minimum stake",
  ]),
  setter(
    "unbonding-period",
    "NodeRegistry",
    "setUnbondingPeriod",
    "How long unbonded stake stays slashable before it can be withdrawn (at most 90d; must outlast the governance path)",
    ["period", duration(64), "the unbonding period"],
  ),
  setter(
    "freeze-period",
    "NodeRegistry",
    "setFreezePeriod",
    "How long a guardian's freeze holds an operator (1d to 30d; must outlast the governance path)",
    ["period", duration(64), "the freeze period"],
  ),
  setter("slash-treasury", "NodeRegistry", "setTreasury", "Where slashed stake goes", [
    "treasury",
    address,
    "the new treasury",
  ]),
  setter(
    "node-guardian",
    "NodeRegistry",
    "setGuardian",
    "The account that may freeze operators until governance decides",
    ["guardian", address, "the new guardian"],
  ),
  // AttributionRewards
  setter("attestor", "AttributionRewards", "setAttestor", "The account that proposes reward epochs' roots", [
    "attestor",
    address,
    "the new attestor",
  ]),
  setter("rewards-guardian", "AttributionRewards", "setGuardian", "The account that may revoke a pending reward root", [
    "guardian",
    address,
    "the new guardian",
  ]),
  setter(
    "claim-delay",
    "AttributionRewards",
    "setClaimDelay",
    "How long a proposed reward root stays revocable before it can be claimed (at most 30d)",
    ["delay", duration(64), "the claim delay"],
  ),
  setter("revoke-root", "AttributionRewards", "revokeRoot", "Revoke a pending reward root and every later one", [
    "epoch",
    id,
    "the first epoch to revoke",
  ]),
  defineAction({
    name: "attribution-policy",
    description:
      "The attribution algorithm's version, params and specification; it governs from the epoch after the one collecting usage now",
    contract: "AttributionRewards",
    functionName: "setAttributionPolicy",
    params: [
      { name: "version", kind: integer(uintMax(16), "version"), description: "the algorithm's version" },
      {
        name: "algorithm",
        kind: text,
        flag: true,
        optional: true,
        description: "the algorithm (default: the newest policy's)",
      },
      ...policyParams.map(([name, , kind, description]) => ({
        name,
        kind,
        flag: true,
        optional: true,
        description: `${description} (default: the newest policy's)`,
      })),
      {
        name: "spec",
        kind: fileHash,
        flag: true,
        optional: true,
        description: "the specification document, hashed (default: the one this software implements for the version)",
      },
      { name: "spec-hash", kind: bytes32, flag: true, optional: true, description: "its sha256, instead of --spec" },
      {
        name: "spec-uri",
        kind: text,
        flag: true,
        optional: true,
        description: "where to read the specification (default openpoa://content/<its sha256>)",
      },
    ],
    async inForce(suite) {
      const newest = await read<bigint>(suite, {
        contract: "AttributionRewards",
        functionName: "attributionPolicyCount",
      });
      const policy = await read<OnChainAttributionPolicy>(suite, {
        contract: "AttributionRewards",
        functionName: "getAttributionPolicy",
        args: [newest],
      });
      return {
        algorithm: policy.algorithm,
        ...Object.fromEntries(policyParams.map(([name, field]) => [name, policy.params[field]])),
      };
    },
    toArgs(values) {
      if (values.spec !== undefined && values["spec-hash"] !== undefined) {
        throw new UsageError("attribution-policy: give --spec or --spec-hash, not both");
      }
      const version = Number(values.version);
      const specHash = (values.spec ?? values["spec-hash"] ?? attributionSpecs[version as 1 | 2]?.specHash) as
        Hex | undefined;
      if (specHash === undefined) {
        throw new UsageError(`attribution-policy: name the specification of version ${version} with --spec <file>`);
      }
      const policy = {
        // The chain numbers the policy; any valid id lets the library check the rest.
        id: 1n,
        algorithm: values.algorithm as string,
        version,
        params: Object.fromEntries(
          policyParams.map(([name, field, kind]) => [field, kind === bytes32 ? values[name] : Number(values[name])]),
        ) as unknown as AttributionPolicy["params"],
        specHash,
        specUri: (values["spec-uri"] as string | undefined) ?? contentUri(specHash),
      };
      try {
        // A policy the attestor's software cannot follow would stall every epoch from the one it governs.
        assertAttributionPolicy(policy);
      } catch (error) {
        if (!(error instanceof AttributionError)) throw error;
        const details = error.details ? ` (${error.details})` : "";
        throw new UsageError(`attribution-policy: ${error.shortMessage}${details}`);
      }
      return [attributionPolicyToChain(policy)];
    },
    fromArgs([policy]) {
      const { algorithm, version, params, specHash, specUri } = policy as OnChainAttributionPolicy;
      return {
        version,
        algorithm,
        ...Object.fromEntries(policyParams.map(([name, field]) => [name, params[field]])),
        "spec-hash": specHash,
        "spec-uri": specUri,
      };
    },
  }),
  defineAction({
    name: "serving-rules",
    description: "The rules workers serve under, as a new version in force at once",
    contract: "ServingRules",
    functionName: "setRules",
    params: servingRules.map(([name, , kind, description]) => ({
      name,
      kind,
      flag: true,
      optional: true,
      description: `${description} (default: in force)`,
    })),
    async inForce(suite) {
      const [, rules] = await read<readonly [bigint, Record<string, unknown>]>(suite, {
        contract: "ServingRules",
        functionName: "currentRules",
      });
      return Object.fromEntries(servingRules.map(([name, field]) => [name, rules[field]]));
    },
    toArgs: (values) => [Object.fromEntries(servingRules.map(([name, field]) => [field, values[name]]))],
    fromArgs: ([rules]) =>
      Object.fromEntries(servingRules.map(([name, field]) => [name, (rules as Record<string, unknown>)[field]])),
  }),
  // DatanetRegistry and ModelRegistry
  setter(
    "stake-lock-period",
    "DatanetRegistry",
    "setStakeLockPeriod",
    "How long an accepted contribution's stake stays locked (at most 365d)",
    ["period", duration(256), "the lock period"],
  ),
  setter(
    "min-data-share",
    "ModelRegistry",
    "setMinDataShareBps",
    "The least share of an adapter's revenue that must go to its data, in bps",
    ["bps", bps, "the minimum data share"],
  ),
  setter(
    "deprecate-base-model",
    "ModelRegistry",
    "deprecateBaseModel",
    "Deprecate a base model: no new adapters on it",
    ["base-model", id, "the base model's id"],
  ),
  // The Governor and the Timelock themselves
  setter(
    "voting-delay",
    "OpenGovernor",
    "setVotingDelay",
    "Time from a proposal to the opening of its vote (votes count as delegated then)",
    ["delay", duration(48), "the voting delay"],
  ),
  setter("voting-period", "OpenGovernor", "setVotingPeriod", "How long a vote stays open", [
    "period",
    duration(32),
    "the voting period",
  ]),
  setter(
    "proposal-threshold",
    "OpenGovernor",
    "setProposalThreshold",
    "The delegated votes an account needs to propose",
    ["votes", openAmount, "the threshold, in OPEN"],
  ),
  setter(
    "quorum",
    "OpenGovernor",
    "updateQuorumNumerator",
    "The share of the supply whose for and abstain votes a proposal needs, in percent",
    ["percent", integer(100n, "percent"), "the quorum"],
  ),
  setter(
    "timelock-delay",
    "OpenTimelock",
    "updateDelay",
    "How long a passed proposal waits in the Timelock before it can be executed",
    ["delay", duration(256), "the timelock delay"],
  ),
  // The treasury: the Timelock's own OPEN
  setter(
    "transfer",
    "OpenToken",
    "transfer",
    "Send OPEN from the treasury (the Timelock)",
    ["to", address, "the recipient"],
    ["amount", openAmount, "the OPEN to send"],
  ),
];

export function findAction(name: string): GovernedAction | undefined {
  return governedActions.find((action) => action.name === name);
}

/** Usages longer than this take a line of their own in `describeActions` (the multi-field actions). */
const USAGE_COLUMN = 40;

/** Every action with its usage: for the error that names an unknown one, and `gov actions`. */
export function describeActions(): string {
  const fits = (action: GovernedAction) => action.usage.length <= USAGE_COLUMN;
  const width = Math.max(...governedActions.filter(fits).map((action) => action.usage.length));
  return governedActions
    .map((action) =>
      fits(action)
        ? `  ${action.usage.padEnd(width)}  ${action.description}`
        : `  ${action.usage}\n  ${"".padEnd(width)}  ${action.description}`,
    )
    .join("\n");
}

/** The action named `name`, or a UsageError that lists them all. */
export function requireAction(name: string | undefined): GovernedAction {
  const action = name === undefined ? undefined : findAction(name);
  if (!action) {
    throw new UsageError(
      `${name === undefined ? "Name an action" : `Unknown action "${name}"`}; the actions are:\n${describeActions()}`,
    );
  }
  return action;
}

// --- Decoding -------------------------------------------------------------------------------------------------

export type DecodedAction = {
  target: Address;
  value: bigint;
  /** The contract of the suite at `target`, when it is one. */
  contract?: ContractName;
  functionName?: string;
  /** The call's decoded arguments, when the contract's ABI knows the function. */
  args?: readonly unknown[];
  /** The governed action that makes this call, when one does. */
  action?: GovernedAction;
  values?: ActionValues;
  /** The call in the CLI's words: `attestor 0x…`, else `Contract.function(args)`, else `call <target> <calldata>`. */
  text: string;
};

/** A token as the CLI reads it back from `--action "…"`: quoted when it holds a space or a quote. */
const quoted = (token: string) => (/[\s"']/.test(token) || token === "" ? JSON.stringify(token) : token);

/** The action as written on the command line: positionals in order, then every flag. */
export function renderAction(action: GovernedAction, values: ActionValues): string {
  const tokens = [action.name];
  for (const param of action.params.filter((p) => !p.flag)) tokens.push(param.kind.format(values[param.name] as never));
  for (const param of action.params.filter((p) => p.flag && values[p.name] !== undefined)) {
    tokens.push(`--${param.name}`, param.kind.format(values[param.name] as never));
  }
  return tokens.map(quoted).join(" ");
}

/** The contract of the suite deployed at `target`. */
export function contractAt(suite: ActionSuite, target: Address): ContractName | undefined {
  return contractNames.find((name) => {
    const entry = suite.deployment.contracts[name];
    return entry !== undefined && isAddressEqual(entry.address as Address, target);
  });
}

/** A proposal's call in the CLI's words, decoded with the ABI of the suite's contract at its target. */
export function decodeAction(
  suite: ActionSuite,
  call: { target: Address; calldata: Hex; value?: bigint },
): DecodedAction {
  const value = call.value ?? 0n;
  const raw: DecodedAction = { target: call.target, value, text: `call ${call.target} ${call.calldata}` };
  const contract = contractAt(suite, call.target);
  if (!contract) return raw;
  let decoded;
  try {
    decoded = decodeFunctionData({ abi: suite.abi(contract), data: call.calldata });
  } catch {
    return { ...raw, contract };
  }
  const args = decoded.args ?? [];
  const found = { target: call.target, value, contract, functionName: decoded.functionName, args };
  const action = governedActions.find((a) => a.contract === contract && a.functionName === decoded.functionName);
  if (!action) {
    const shown = args.map((arg) => (typeof arg === "bigint" ? arg.toString() : JSON.stringify(arg)));
    return { ...found, text: `${contract}.${decoded.functionName}(${shown.join(", ")})` };
  }
  const values = action.fromArgs(args);
  return { ...found, action, values, text: renderAction(action, values) };
}

// --- Proposals ------------------------------------------------------------------------------------------------

/** OpenZeppelin's IGovernor.ProposalState, by value. */
export const proposalStates = [
  "Pending",
  "Active",
  "Canceled",
  "Defeated",
  "Succeeded",
  "Queued",
  "Expired",
  "Executed",
] as const;
export type ProposalStateName = (typeof proposalStates)[number];

/** A proposal as its ProposalCreated event states it: all that queue and execute need again. */
export type Proposal = {
  proposalId: bigint;
  proposer: Address;
  targets: readonly Address[];
  values: readonly bigint[];
  calldatas: readonly Hex[];
  voteStart: bigint;
  voteEnd: bigint;
  description: string;
};

/** What queue and execute take again: the proposal's calls and the hash of its description. */
export const proposalOperation = (p: Proposal) =>
  [p.targets, p.values, p.calldatas, keccak256(toBytes(p.description))] as const;

/** castVote's `support`, by the word a voter says (GovernorCountingSimple's VoteType). */
export const voteSupport = { against: 0, for: 1, abstain: 2 } as const;

/** A chain timestamp, with how far it is from the chain's now: `2026-01-02T03:04:05Z (in 1d 2h)`. */
export function when(timestamp: bigint, now: bigint): string {
  const iso = new Date(Number(timestamp) * 1000).toISOString().replace(".000Z", "Z");
  return timestamp > now
    ? `${iso} (in ${readableDuration(timestamp - now)})`
    : `${iso} (${readableDuration(now - timestamp)} ago)`;
}

/** The calls of a proposal in the CLI's words. */
export function decodeProposal(suite: ActionSuite, proposal: Proposal): DecodedAction[] {
  return proposal.targets.map((target, i) =>
    decodeAction(suite, { target, value: proposal.values[i], calldata: proposal.calldatas[i]! }),
  );
}
