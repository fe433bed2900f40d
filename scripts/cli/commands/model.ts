/** Base models and adapters: register, list, deprecate. */
import type { Address, Hex } from "viem";
import { sendRevealing } from "../../lib/commitments.ts";
import { read, send } from "../../lib/transactions.ts";
import { parseBounded, parseBytes32, parseId, parseList, parseOpen, requireValue, UsageError } from "../args.ts";
import { firstEvent, open, readNumbered, str, UINT64, type Command } from "../shared.ts";

/** The modules an adapter may target, in the bit order of ModelRegistry's `targetModules` mask. */
const TARGET_MODULES = ["q", "k", "v", "o", "gate", "up", "down"] as const;
/** The same modules by the names PEFT's adapter_config.json uses. */
const PEFT_TARGETS = TARGET_MODULES.map((name) => `${name}_proj`);
const UINT16 = 65_535n;
const UINT128 = 2n ** 128n - 1n;

/** `--targets`: PEFT module names (q_proj, …) or their short forms (q, …), comma-separated, into the mask. */
function parseTargets(value: string | undefined): number {
  let mask = 0;
  for (const name of parseList(value, "--targets", (item) => item)) {
    const bit = Math.max(TARGET_MODULES.indexOf(name as never), PEFT_TARGETS.indexOf(name));
    if (bit < 0) {
      throw new UsageError(
        `--targets: unknown module "${name}" (use ${PEFT_TARGETS.join(",")} or ${TARGET_MODULES.join(",")})`,
      );
    }
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

export const modelCommands: Record<string, Command> = {
  "model register": {
    summary: "Register a base model",
    usage: "model register --name N --artifact-hash 0x… --uri U",
    options: {
      name: { type: "string", description: "the model's name" },
      "artifact-hash": { type: "string", description: "sha256 of the weights, 0x and 64 hex digits" },
      uri: { type: "string", description: "where the weights can be fetched" },
    },
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
      "adapter register --base <id> --artifact-hash 0x… --uri U --rank R --targets q_proj,v_proj,… --price OPEN-per-1k --owner-share bps --data-share bps --lineage datanetId:version:bps[,…]",
    options: {
      base: { type: "string", description: "id of the base model the adapter is for" },
      "artifact-hash": { type: "string", description: "sha256 of the adapter artifact, 0x and 64 hex digits" },
      uri: { type: "string", description: "where the artifact can be fetched" },
      rank: { type: "string", description: "LoRA rank" },
      targets: {
        type: "string",
        description: `adapted modules, comma-separated: PEFT names (${PEFT_TARGETS.join(",")}) or short ones (${TARGET_MODULES.join(",")})`,
      },
      price: { type: "string", description: "OPEN per 1,000 tokens" },
      "owner-share": { type: "string", description: "the owner's part of the adapter's revenue after fees, in bps" },
      "data-share": { type: "string", description: "the datanets' part, in bps (owner + data = 10,000)" },
      lineage: { type: "string", description: "datanetId:version:weightBps,… (weights sum to 10,000)" },
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
};
