/**
 * The `openpoa` commands: each takes the connected suite and its parsed arguments and returns what to print, as
 * text for people and as data for `--json`.
 */
import { readFile } from "node:fs/promises";
import { formatUnits, zeroAddress, type Address, type Hex } from "viem";
import {
  aggregateEpoch,
  buildDatanetIndex,
  byteTokenizer,
  createDirectoryContentStore,
  datanetVersionTree,
  getContent,
  nearDuplicateContributions,
  putContent,
  sha256Hex,
  verifyEpoch,
  type VerificationIssue,
} from "../../attribution/src/index.ts";
import type { ContractName, Suite } from "../lib/contracts.ts";
import { sendRevealing } from "../lib/commitments.ts";
import { readAcceptedContributions, readContributions, registryLocation } from "../lib/datanetVersions.ts";
import { epochStartBlock, previousDistribution, readEpochInputs } from "../lib/epochs.ts";
import { loadDistribution, openContentStore, readEpochRoot, rewardStatus } from "../lib/rewards.ts";
import { eventsIn, read, send, type Sent } from "../lib/transactions.ts";
import {
  parseAddress,
  parseBounded,
  parseBytes32,
  parseId,
  parseList,
  parseOpen,
  requireValue,
  UsageError,
} from "./args.ts";

export type Values = Record<string, string | boolean | string[] | undefined>;
export type Output = { text: string; data: unknown };
export type Command = {
  summary: string;
  usage: string;
  options?: Record<string, { type: "string" | "boolean"; multiple?: boolean }>;
  run(suite: Suite, positionals: string[], values: Values): Promise<Output>;
};

const TARGET_MODULES = ["q", "k", "v", "o", "gate", "up", "down"] as const;
const UINT16 = 65_535n;
const UINT64 = 2n ** 64n - 1n;
const UINT128 = 2n ** 128n - 1n;

const open = (wei: bigint) => `${formatUnits(wei, 18)} OPEN`;
const str = (values: Values, name: string) => values[name] as string | undefined;
/** Where datanet indexes are built and cached for checking attribution records. */
const indexDirOf = (values: Values) => str(values, "index-dir") ?? process.env.OPENPOA_INDEX_DIR ?? "openpoa-indexes";

function firstEvent<T>(suite: Suite, sent: Sent, contract: ContractName, eventName: string): T {
  const [event] = eventsIn<T>(suite, { contract, eventName, logs: sent.receipt.logs });
  if (!event) throw new Error(`${contract} emitted no ${eventName} in ${sent.hash}`);
  return event;
}

/** Approves `spender` for `amount` OPEN when the current allowance falls short. */
async function ensureAllowance(suite: Suite, spender: ContractName, amount: bigint): Promise<void> {
  if (amount === 0n) return;
  const allowance = await read<bigint>(suite, {
    contract: "OpenToken",
    functionName: "allowance",
    args: [suite.account!.address, suite.address(spender)],
  });
  if (allowance < amount) {
    await send(suite, { contract: "OpenToken", functionName: "approve", args: [suite.address(spender), amount] });
  }
}

/** An epoch did not verify; the message lists every issue. */
export class EpochVerificationError extends Error {
  readonly issues: VerificationIssue[];
  constructor(epoch: bigint, issues: VerificationIssue[]) {
    super(
      `Epoch ${epoch} does not verify (${issues.length} issue${issues.length === 1 ? "" : "s"}):\n` +
        issues.map((i) => `  ${i.kind}: ${i.reason}${i.account ? ` [${i.account}]` : ""}`).join("\n"),
    );
    this.name = "EpochVerificationError";
    this.issues = issues;
  }
}

function requireSigner(suite: Suite): Address {
  if (!suite.account) throw new UsageError("Name an account, or set OPENPOA_PRIVATE_KEY");
  return suite.account.address;
}

/** Every record of a registry that numbers them 1..count, read one by one. */
async function readNumbered<T>(
  suite: Suite,
  contract: ContractName,
  countFunction: string,
  readOne: (id: bigint) => Promise<T>,
): Promise<T[]> {
  const count = await read<bigint>(suite, { contract, functionName: countFunction });
  const records: T[] = [];
  for (let id = 1n; id <= count; id++) records.push(await readOne(id));
  return records;
}

function parseTargets(value: string | undefined): number {
  let mask = 0;
  for (const name of parseList(value, "--targets", (item) => item)) {
    const bit = TARGET_MODULES.indexOf(name as (typeof TARGET_MODULES)[number]);
    if (bit < 0) throw new UsageError(`--targets: unknown module "${name}" (use ${TARGET_MODULES.join(",")})`);
    mask |= 1 << bit;
  }
  return mask;
}

function parseLineage(value: string | undefined) {
  return parseList(value, "--lineage", (item) => {
    const parts = item.split(":");
    if (parts.length !== 3) throw new UsageError(`--lineage entries are datanetId:version:weightBps, got "${item}"`);
    return {
      datanetId: parseId(parts[0], "--lineage datanetId"),
      version: parseBounded(parts[1], "--lineage version", UINT64),
      weightBps: Number(parseBounded(parts[2], "--lineage weightBps", 10_000n)),
    };
  });
}

export const commands: Record<string, Command> = {
  "datanet create": {
    summary: "Create a datanet owned by the signer",
    usage:
      "datanet create --uri <metadataURI> [--license L] [--curated] [--min-stake OPEN] [--treasury addr] [--curator addr]...",
    options: {
      uri: { type: "string" },
      license: { type: "string" },
      curated: { type: "boolean" },
      "min-stake": { type: "string" },
      treasury: { type: "string" },
      curator: { type: "string", multiple: true },
    },
    async run(suite, _positionals, values) {
      const params = {
        metadataURI: requireValue(str(values, "uri"), "--uri"),
        license: str(values, "license") ?? "",
        curated: values.curated === true,
        minStake: values["min-stake"] ? parseOpen(str(values, "min-stake"), "--min-stake") : 0n,
        treasury: values.treasury
          ? parseAddress(str(values, "treasury"), "--treasury")
          : "0x0000000000000000000000000000000000000000",
        curators: ((values.curator as string[] | undefined) ?? []).map((c) => parseAddress(c, "--curator")),
      };
      const sent = await send(suite, { contract: "DatanetRegistry", functionName: "createDatanet", args: [params] });
      const { datanetId } = firstEvent<{ datanetId: bigint }>(suite, sent, "DatanetRegistry", "DatanetCreated");
      return {
        text: `Created datanet ${datanetId} (${params.curated ? "curated" : "open"}) in ${sent.hash}`,
        data: { datanetId, transactionHash: sent.hash },
      };
    },
  },

  "datanet contribute": {
    summary: "Contribute a file to a datanet, staking OPEN",
    usage: "datanet contribute <datanetId> --file <path> [--stake OPEN] [--uri U] [--content-dir DIR]",
    options: {
      file: { type: "string" },
      stake: { type: "string" },
      uri: { type: "string" },
      "content-dir": { type: "string" },
    },
    async run(suite, [id], values) {
      const datanetId = parseId(id, "datanetId");
      const stake = values.stake ? parseOpen(str(values, "stake"), "--stake") : 0n;
      const file = requireValue(str(values, "file"), "--file");
      let content: Uint8Array;
      try {
        content = new Uint8Array(await readFile(file));
      } catch (error) {
        throw new UsageError(`--file: cannot read ${file} (${(error as Error).message})`);
      }
      if (content.length === 0) throw new UsageError("--file is empty");
      // The byte-level tokenizer of our models: one token per byte.
      const sizeTokens = BigInt(content.length);
      if (sizeTokens > UINT64) throw new UsageError("--file is too large");
      const contentHash = sha256Hex(content);
      if (values["content-dir"]) {
        await putContent(createDirectoryContentStore({ dir: str(values, "content-dir")! }), { content });
      }
      const uri = str(values, "uri") ?? `openpoa://content/${contentHash.slice(2)}`;
      await ensureAllowance(suite, "DatanetRegistry", stake);
      const sent = await sendRevealing(suite, {
        contract: "DatanetRegistry",
        functionName: "contribute",
        hash: contentHash,
        args: [datanetId, contentHash, uri, sizeTokens, stake],
      });
      const { contributionId } = firstEvent<{ contributionId: bigint }>(
        suite,
        sent,
        "DatanetRegistry",
        "ContributionSubmitted",
      );
      const accepted = eventsIn(suite, {
        contract: "DatanetRegistry",
        eventName: "ContributionAccepted",
        logs: sent.receipt.logs,
      });
      return {
        text: `Contribution ${contributionId} (${contentHash}, ${sizeTokens} tokens, stake ${open(stake)}) ${accepted.length ? "accepted" : "pending curation"}`,
        data: {
          contributionId,
          contentHash,
          sizeTokens,
          stake,
          accepted: accepted.length > 0,
          transactionHash: sent.hash,
        },
      };
    },
  },

  "datanet curate": {
    summary: "Accept (with a weight) or reject a pending contribution",
    usage: "datanet curate <contributionId> (--accept [--weight N] | --reject)",
    options: { accept: { type: "boolean" }, reject: { type: "boolean" }, weight: { type: "string" } },
    async run(suite, [id], values) {
      const contributionId = parseId(id, "contributionId");
      if (values.accept === values.reject) throw new UsageError("Give exactly one of --accept or --reject");
      if (values.reject) {
        const sent = await send(suite, { contract: "DatanetRegistry", functionName: "reject", args: [contributionId] });
        const { slashedStake } = firstEvent<{ slashedStake: bigint }>(
          suite,
          sent,
          "DatanetRegistry",
          "ContributionRejected",
        );
        return {
          text: `Rejected contribution ${contributionId}; slashed ${open(slashedStake)}`,
          data: { contributionId, slashedStake },
        };
      }
      const contribution = await read<{ sizeTokens: bigint }>(suite, {
        contract: "DatanetRegistry",
        functionName: "getContribution",
        args: [contributionId],
      });
      const weight = values.weight ? parseId(str(values, "weight"), "--weight") : contribution.sizeTokens;
      await send(suite, { contract: "DatanetRegistry", functionName: "accept", args: [contributionId, weight] });
      return {
        text: `Accepted contribution ${contributionId} with weight ${weight}`,
        data: { contributionId, weight },
      };
    },
  },

  "datanet publish": {
    summary: "Publish the next version: the Merkle root over every accepted contribution, rebuilt from events",
    usage: "datanet publish <datanetId>",
    async run(suite, [id]) {
      const datanetId = parseId(id, "datanetId");
      const contributions = await readAcceptedContributions(suite.publicClient, {
        ...registryLocation(suite),
        datanetId,
      });
      if (contributions.length === 0)
        throw new UsageError(`Datanet ${datanetId} has no accepted contribution to publish`);
      const root = datanetVersionTree(contributions).root as Hex;
      const sent = await send(suite, {
        contract: "DatanetRegistry",
        functionName: "publishVersion",
        args: [datanetId, root],
      });
      const { version } = firstEvent<{ version: bigint }>(suite, sent, "DatanetRegistry", "VersionPublished");
      return {
        text: `Published datanet ${datanetId} version ${version}: ${contributions.length} contributions, root ${root}`,
        data: { datanetId, version, root, contributionCount: contributions.length },
      };
    },
  },

  "datanet duplicates": {
    summary:
      "Near-duplicate contributions, accepted and pending: a later one mostly covered by an earlier one earns nothing of its own",
    usage: "datanet duplicates <datanetId> [--content <dir|url>]",
    options: { content: { type: "string" } },
    async run(suite, [id], values) {
      const datanetId = parseId(id, "datanetId");
      const store = openContentStore(str(values, "content"));
      const { accepted, pending } = await readContributions(suite.publicClient, {
        ...registryLocation(suite),
        datanetId,
      });
      // Pending ones come after every accepted one, as they would if accepted now, in submission order.
      const candidates = [...accepted, ...pending];
      if (candidates.length === 0) return { text: `Datanet ${datanetId} has no contributions`, data: [] };
      const contents = await Promise.all(candidates.map(({ contentHash }) => getContent(store, { contentHash })));
      const index = buildDatanetIndex({
        datanet: {
          datanetId,
          version: 0n,
          root: datanetVersionTree(candidates).root as Hex,
          contributions: candidates,
        },
        contents,
        tokenizer: byteTokenizer,
      });
      const pendingIds = new Set(pending.map((c) => c.contributionId));
      const found = nearDuplicateContributions(index).map((d) => ({
        ...d,
        status: pendingIds.has(d.contributionId) ? ("pending" as const) : ("accepted" as const),
      }));
      return {
        text: found.length
          ? found
              .map(
                (d) =>
                  `Contribution ${d.contributionId} (${d.status}) repeats contribution ${d.duplicateOf}: ${d.coverageBps / 100}% of it is covered; it earns nothing of its own`,
              )
              .join("\n")
          : `No near-duplicates among the ${candidates.length} contributions of datanet ${datanetId}`,
        data: found,
      };
    },
  },

  "datanet list": {
    summary: "List datanets",
    usage: "datanet list",
    async run(suite) {
      const datanets = await readNumbered(suite, "DatanetRegistry", "datanetCount", async (datanetId) => {
        const d = await read<{
          owner: Address;
          curated: boolean;
          acceptedCount: bigint;
          versionCount: bigint;
          totalWeight: bigint;
          metadataURI: string;
          license: string;
        }>(suite, { contract: "DatanetRegistry", functionName: "getDatanet", args: [datanetId] });
        return { datanetId, ...d };
      });
      const text = datanets.length
        ? datanets
            .map(
              (d) =>
                `#${d.datanetId} ${d.metadataURI} (${d.curated ? "curated" : "open"}, ${d.license || "no licence"}) owner ${d.owner}: ${d.acceptedCount} accepted, ${d.versionCount} versions`,
            )
            .join("\n")
        : "No datanets";
      return { text, data: datanets };
    },
  },

  "model register": {
    summary: "Register a base model",
    usage: "model register --name N --artifact-hash 0x… --uri U",
    options: { name: { type: "string" }, "artifact-hash": { type: "string" }, uri: { type: "string" } },
    async run(suite, _positionals, values) {
      const name = requireValue(str(values, "name"), "--name");
      const artifactHash = parseBytes32(str(values, "artifact-hash"), "--artifact-hash");
      const uri = requireValue(str(values, "uri"), "--uri");
      const sent = await sendRevealing(suite, {
        contract: "ModelRegistry",
        functionName: "registerBaseModel",
        hash: artifactHash,
        args: [name, artifactHash, uri],
      });
      const { baseModelId } = firstEvent<{ baseModelId: bigint }>(suite, sent, "ModelRegistry", "BaseModelRegistered");
      return { text: `Registered base model ${baseModelId} (${name})`, data: { baseModelId } };
    },
  },

  "adapter register": {
    summary: "Register a LoRA adapter (an ERC-721 minted to the signer) with its data lineage",
    usage:
      "adapter register --base <id> --artifact-hash 0x… --uri U --rank R --targets q,k,v,o,gate,up,down --price OPEN-per-1k --owner-share bps --data-share bps --lineage datanetId:version:bps[,…]",
    options: {
      base: { type: "string" },
      "artifact-hash": { type: "string" },
      uri: { type: "string" },
      rank: { type: "string" },
      targets: { type: "string" },
      price: { type: "string" },
      "owner-share": { type: "string" },
      "data-share": { type: "string" },
      lineage: { type: "string" },
    },
    async run(suite, _positionals, values) {
      const pricePer1kTokens = parseOpen(str(values, "price"), "--price");
      if (pricePer1kTokens > UINT128) throw new UsageError("--price is too large");
      const params = {
        baseModelId: parseId(str(values, "base"), "--base"),
        artifactHash: parseBytes32(str(values, "artifact-hash"), "--artifact-hash"),
        uri: requireValue(str(values, "uri"), "--uri"),
        rank: Number(parseBounded(str(values, "rank"), "--rank", UINT16)),
        targetModules: parseTargets(str(values, "targets")),
        pricePer1kTokens,
        ownerShareBps: Number(parseBounded(str(values, "owner-share"), "--owner-share", 10_000n)),
        dataShareBps: Number(parseBounded(str(values, "data-share"), "--data-share", 10_000n)),
        lineage: parseLineage(str(values, "lineage")),
      };
      const sent = await sendRevealing(suite, {
        contract: "ModelRegistry",
        functionName: "registerAdapter",
        hash: params.artifactHash,
        args: [params],
      });
      const { adapterId } = firstEvent<{ adapterId: bigint }>(suite, sent, "ModelRegistry", "AdapterRegistered");
      return {
        text: `Registered adapter ${adapterId} at ${open(pricePer1kTokens)} per 1k tokens`,
        data: { adapterId },
      };
    },
  },

  "adapter list": {
    summary: "List adapters with their terms and lineage",
    usage: "adapter list",
    async run(suite) {
      const adapters = await readNumbered(suite, "ModelRegistry", "adapterCount", async (adapterId) => {
        const a = await read<{
          baseModelId: bigint;
          artifactHash: Hex;
          pricePer1kTokens: bigint;
          rank: number;
          ownerShareBps: number;
          dataShareBps: number;
          deprecated: boolean;
          uri: string;
        }>(suite, { contract: "ModelRegistry", functionName: "getAdapter", args: [adapterId] });
        const owner = await read<Address>(suite, {
          contract: "ModelRegistry",
          functionName: "ownerOf",
          args: [adapterId],
        });
        const lineage = await read<{ datanetId: bigint; version: bigint; weightBps: number }[]>(suite, {
          contract: "ModelRegistry",
          functionName: "getLineage",
          args: [adapterId],
        });
        return { adapterId, owner, ...a, lineage: lineage.map((e) => ({ ...e })) };
      });
      const text = adapters.length
        ? adapters
            .map(
              (a) =>
                `#${a.adapterId} base ${a.baseModelId} r${a.rank} ${open(a.pricePer1kTokens)}/1k owner ${a.owner} data ${a.dataShareBps / 100}%${a.deprecated ? " DEPRECATED" : ""}\n` +
                `    lineage ${a.lineage.map((e) => `datanet ${e.datanetId} v${e.version} (${e.weightBps / 100}%)`).join(", ")}`,
            )
            .join("\n")
        : "No adapters";
      return { text, data: adapters };
    },
  },

  "adapter deprecate": {
    summary: "Deprecate an adapter you own (final)",
    usage: "adapter deprecate <adapterId>",
    async run(suite, [id]) {
      const adapterId = parseId(id, "adapterId");
      await send(suite, { contract: "ModelRegistry", functionName: "deprecate", args: [adapterId] });
      return { text: `Deprecated adapter ${adapterId}`, data: { adapterId } };
    },
  },

  "node register": {
    summary: "Register the signer as an inference operator and bond OPEN",
    usage: "node register --endpoint URL --base-models 1[,2…] [--signing-key addr] [--stake OPEN]",
    options: {
      endpoint: { type: "string" },
      "base-models": { type: "string" },
      "signing-key": { type: "string" },
      stake: { type: "string" },
    },
    async run(suite, _positionals, values) {
      const endpoint = requireValue(str(values, "endpoint"), "--endpoint");
      const baseModelIds = parseList(str(values, "base-models"), "--base-models", parseId);
      const signingKey = values["signing-key"]
        ? parseAddress(str(values, "signing-key"), "--signing-key")
        : suite.account!.address;
      const stake = values.stake ? parseOpen(str(values, "stake"), "--stake") : 0n;
      await ensureAllowance(suite, "NodeRegistry", stake);
      await send(suite, {
        contract: "NodeRegistry",
        functionName: "register",
        args: [endpoint, baseModelIds, signingKey, stake],
      });
      const active = await read<boolean>(suite, {
        contract: "NodeRegistry",
        functionName: "isActive",
        args: [suite.account!.address],
      });
      return {
        text: `Registered operator ${suite.account!.address} (${endpoint}), bonded ${open(stake)}, ${active ? "active" : "not active yet (below the minimum stake)"}`,
        data: { operator: suite.account!.address, stake, active },
      };
    },
  },

  "node update": {
    summary: "Change the signer's endpoint, served base models or receipt signing key",
    usage: "node update --endpoint URL --base-models 1[,2…] --signing-key addr",
    options: { endpoint: { type: "string" }, "base-models": { type: "string" }, "signing-key": { type: "string" } },
    async run(suite, _positionals, values) {
      const endpoint = requireValue(str(values, "endpoint"), "--endpoint");
      const baseModelIds = parseList(str(values, "base-models"), "--base-models", parseId);
      const signingKey = parseAddress(str(values, "signing-key"), "--signing-key");
      await send(suite, {
        contract: "NodeRegistry",
        functionName: "update",
        args: [endpoint, baseModelIds, signingKey],
      });
      return {
        text: `Operator ${requireSigner(suite)} now serves ${endpoint} and signs receipts with ${signingKey}`,
        data: { endpoint, signingKey },
      };
    },
  },

  "node stake": {
    summary: "Bond more OPEN",
    usage: "node stake <OPEN>",
    async run(suite, [amountText]) {
      const amount = parseOpen(amountText, "amount");
      await ensureAllowance(suite, "NodeRegistry", amount);
      await send(suite, { contract: "NodeRegistry", functionName: "addStake", args: [amount] });
      return { text: `Bonded ${open(amount)} more`, data: { amount } };
    },
  },

  "node unbond": {
    summary: "Start unbonding OPEN (released after the unbonding period)",
    usage: "node unbond <OPEN>",
    async run(suite, [amountText]) {
      const amount = parseOpen(amountText, "amount");
      const sent = await send(suite, { contract: "NodeRegistry", functionName: "requestUnbond", args: [amount] });
      const { releaseTime } = firstEvent<{ releaseTime: bigint }>(suite, sent, "NodeRegistry", "UnbondRequested");
      return {
        text: `Unbonding ${open(amount)}; withdraw after ${new Date(Number(releaseTime) * 1000).toISOString()}`,
        data: { amount, releaseTime },
      };
    },
  },

  "node withdraw": {
    summary: "Withdraw unbonded OPEN once released",
    usage: "node withdraw",
    async run(suite) {
      const sent = await send(suite, { contract: "NodeRegistry", functionName: "withdrawUnbonded" });
      const { amount } = firstEvent<{ amount: bigint }>(suite, sent, "NodeRegistry", "StakeWithdrawn");
      return { text: `Withdrew ${open(amount)}`, data: { amount } };
    },
  },

  "channel open": {
    summary: "Open a payment channel to an operator",
    usage: "channel open --operator addr --deposit OPEN [--voucher-signer addr]",
    options: { operator: { type: "string" }, deposit: { type: "string" }, "voucher-signer": { type: "string" } },
    async run(suite, _positionals, values) {
      const operator = parseAddress(str(values, "operator"), "--operator");
      const deposit = parseOpen(str(values, "deposit"), "--deposit");
      // The key that signs the channel's vouchers, for good: the signer itself unless another is named.
      const voucherSigner = values["voucher-signer"]
        ? parseAddress(str(values, "voucher-signer"), "--voucher-signer")
        : zeroAddress;
      await ensureAllowance(suite, "InferencePayments", deposit);
      const sent = await send(suite, {
        contract: "InferencePayments",
        functionName: "openChannel",
        args: [operator, deposit, voucherSigner],
      });
      const { channelId } = firstEvent<{ channelId: bigint }>(suite, sent, "InferencePayments", "ChannelOpened");
      return { text: `Opened channel ${channelId} to ${operator} with ${open(deposit)}`, data: { channelId, deposit } };
    },
  },

  "channel top-up": {
    summary: "Add to a channel's deposit",
    usage: "channel top-up <channelId> <OPEN>",
    async run(suite, [id, amountText]) {
      const channelId = parseId(id, "channelId");
      const amount = parseOpen(amountText, "amount");
      await ensureAllowance(suite, "InferencePayments", amount);
      const sent = await send(suite, {
        contract: "InferencePayments",
        functionName: "topUp",
        args: [channelId, amount],
      });
      const { deposit } = firstEvent<{ deposit: bigint }>(suite, sent, "InferencePayments", "ChannelToppedUp");
      return { text: `Channel ${channelId} deposit is now ${open(deposit)}`, data: { channelId, deposit } };
    },
  },

  "channel close": {
    summary: "Request to close a channel (the operator may settle during the challenge window)",
    usage: "channel close <channelId>",
    async run(suite, [id]) {
      const channelId = parseId(id, "channelId");
      const sent = await send(suite, {
        contract: "InferencePayments",
        functionName: "requestClose",
        args: [channelId],
      });
      const { closesAt } = firstEvent<{ closesAt: bigint }>(suite, sent, "InferencePayments", "CloseRequested");
      return {
        text: `Channel ${channelId} closes at ${new Date(Number(closesAt) * 1000).toISOString()}; then run \`channel withdraw ${channelId}\``,
        data: { channelId, closesAt },
      };
    },
  },

  "channel withdraw": {
    summary: "Withdraw the unsettled deposit of a closed channel",
    usage: "channel withdraw <channelId>",
    async run(suite, [id]) {
      const channelId = parseId(id, "channelId");
      const sent = await send(suite, {
        contract: "InferencePayments",
        functionName: "withdrawChannel",
        args: [channelId],
      });
      const { refund } = firstEvent<{ refund: bigint }>(suite, sent, "InferencePayments", "ChannelFinalized");
      return { text: `Channel ${channelId} finalized; refunded ${open(refund)}`, data: { channelId, refund } };
    },
  },

  "rewards show": {
    summary: "Show an account's reward under the newest claimable root",
    usage: "rewards show [account] [--content <dir|url>]",
    options: { content: { type: "string" } },
    async run(suite, [accountText], values) {
      const account = accountText ? parseAddress(accountText, "account") : requireSigner(suite);
      const status = await rewardStatus(suite, openContentStore(str(values, "content")), account);
      if (!status) return { text: `${account} has no reward in a claimable epoch yet`, data: null };
      return {
        text: `${account} (index ${status.index}), epoch ${status.epoch}: entitled ${open(status.cumulativeAmount)}, claimed ${open(status.claimed)}, claimable ${open(status.claimable)}`,
        data: status,
      };
    },
  },

  "rewards claim": {
    summary: "Claim an account's reward (anyone may claim; the OPEN goes to the account)",
    usage: "rewards claim [account] [--content <dir|url>]",
    options: { content: { type: "string" } },
    async run(suite, [accountText], values) {
      const account = accountText ? parseAddress(accountText, "account") : requireSigner(suite);
      const status = await rewardStatus(suite, openContentStore(str(values, "content")), account);
      if (!status || status.claimable === 0n) throw new UsageError(`${account} has nothing to claim`);
      const sent = await send(suite, {
        contract: "AttributionRewards",
        functionName: "claim",
        args: [status.epoch, status.claim],
      });
      const { amount } = firstEvent<{ amount: bigint }>(suite, sent, "AttributionRewards", "Claimed");
      return {
        text: `Claimed ${open(amount)} for ${account} (epoch ${status.epoch})`,
        data: { account, epoch: status.epoch, amount },
      };
    },
  },

  "epoch run": {
    summary: "Aggregate the next reward epoch from public data, publish its distribution file and propose its root",
    usage: "epoch run <epoch> [--content <dir|url>] [--index-dir <dir>] [--dry-run]",
    options: { content: { type: "string" }, "index-dir": { type: "string" }, "dry-run": { type: "boolean" } },
    async run(suite, [epochText], values) {
      const epoch = parseId(epochText, "epoch");
      const lastEpoch = await read<bigint>(suite, { contract: "AttributionRewards", functionName: "lastEpoch" });
      if (epoch !== lastEpoch + 1n) throw new UsageError(`The next epoch to run is ${lastEpoch + 1n}, not ${epoch}`);
      const store = openContentStore(str(values, "content"));
      const fromBlock = epochStartBlock(suite, await previousDistribution(suite, store, epoch));
      const toBlock = await suite.publicClient.getBlockNumber();
      const inputs = await readEpochInputs(suite, store, {
        epoch,
        blocks: { fromBlock, toBlock },
        indexDir: indexDirOf(values),
      });
      if (inputs.settlements.length === 0 && inputs.previous.length === 0) {
        throw new UsageError(`No data share was settled in blocks ${fromBlock}..${toBlock}: nothing to distribute`);
      }
      const { file, json, fileHash } = aggregateEpoch(inputs);
      await putContent(store, { content: new TextEncoder().encode(json) });
      const total = file.leaves.reduce((sum, leaf) => sum + leaf.cumulativeAmount, 0n);
      const summary = {
        epoch,
        root: file.root,
        fileHash,
        blocks: file.blocks,
        epochTotal: file.total,
        cumulativeTotal: total,
        accounts: file.leaves.length,
        proposed: !values["dry-run"],
      };
      if (!values["dry-run"]) {
        await send(suite, {
          contract: "AttributionRewards",
          functionName: "proposeRoot",
          args: [epoch, file.root, total, fileHash, `openpoa://content/${fileHash.slice(2)}`],
        });
      }
      return {
        text:
          `Epoch ${epoch} (blocks ${fromBlock}..${toBlock}): ${open(file.total)} over ${file.leaves.length} accounts, ` +
          `root ${file.root}, file ${fileHash}${values["dry-run"] ? " (dry run: not proposed)" : ", proposed"}`,
        data: summary,
      };
    },
  },

  "epoch verify": {
    summary: "Recompute an epoch from public data and report every leaf that does not follow (exit 1 on mismatch)",
    usage: "epoch verify <epoch> [--content <dir|url>] [--index-dir <dir>]",
    options: { content: { type: "string" }, "index-dir": { type: "string" } },
    async run(suite, [epochText], values) {
      const epoch = parseId(epochText, "epoch");
      const store = openContentStore(str(values, "content"));
      const root = await readEpochRoot(suite, epoch);
      const file = await loadDistribution(store, root);
      const issues: VerificationIssue[] = [];
      const expectedFrom = epochStartBlock(suite, await previousDistribution(suite, store, epoch));
      if (file.blocks.fromBlock !== expectedFrom) {
        issues.push({
          kind: "evidence-mismatch",
          reason: `the epoch starts at block ${file.blocks.fromBlock}, not right after the previous epoch (${expectedFrom})`,
        });
      }
      const total = file.leaves.reduce((sum, leaf) => sum + leaf.cumulativeAmount, 0n);
      if (total !== root.total) {
        issues.push({
          kind: "wrong-total",
          reason: `the on-chain total ${root.total} is not the leaves' sum ${total}`,
        });
      }
      const inputs = await readEpochInputs(suite, store, { epoch, blocks: file.blocks, indexDir: indexDirOf(values) });
      issues.push(...verifyEpoch(inputs, { distribution: file, root: root.root }).issues);
      if (issues.length > 0) throw new EpochVerificationError(epoch, issues);
      return {
        text: `Epoch ${epoch} verifies: ${file.leaves.length} leaves, ${open(file.total)} this epoch, root ${root.root}`,
        data: { epoch, ok: true, root: root.root, leaves: file.leaves.length },
      };
    },
  },
};
