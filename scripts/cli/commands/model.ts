/** Base models and adapters: publish, register, list, deprecate. */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Address, Hex } from "viem";
import {
  artifactKindOf,
  hashArtifactDir,
  PEFT_TARGETS,
  readLoraConfig,
  TARGET_MODULES,
  targetMask,
  type ArtifactKind,
} from "../../../inference/artifacts/index.ts";
import { publishArtifact, type PublishedArtifact } from "../../../inference/artifacts/publish.ts";
import { sendRevealing } from "../../lib/commitments.ts";
import type { Suite } from "../../lib/contracts.ts";
import { contentLocation, storeWriter } from "../../lib/rewards.ts";
import { read, send } from "../../lib/transactions.ts";
import { parseBounded, parseBytes32, parseId, parseList, parseOpen, requireValue, UsageError } from "../args.ts";
import { contentOption, firstEvent, open, readNumbered, str, UINT64, type Command, type Values } from "../shared.ts";

const UINT16 = 65_535n;
const UINT128 = 2n ** 128n - 1n;

/** `--targets`: PEFT module names (q_proj, …) or their short forms (q, …), comma-separated, into the mask. */
function parseTargets(value: string | undefined): number {
  const { mask, unknown } = targetMask(parseList(value, "--targets", (item) => item));
  if (unknown.length)
    throw new UsageError(
      `--targets: unknown module "${unknown[0]}" (use ${PEFT_TARGETS.join(",")} or ${TARGET_MODULES.join(",")})`,
    );
  return mask;
}

/** The artifact in `dir`, published to the content store unless `--uri` says where it already is. */
async function artifactFrom(
  suite: Suite,
  dir: string,
  kind: ArtifactKind,
  values: Values,
): Promise<{ artifactHash: Hex; uri: string }> {
  const uri = str(values, "uri");
  if (uri) {
    const hashed = await hashArtifactDir(dir, kind);
    return { artifactHash: `0x${hashed.artifactHash}`, uri };
  }
  const published = await publish(suite, dir, kind, values);
  return { artifactHash: `0x${published.artifactHash}`, uri: published.uri };
}

async function publish(suite: Suite, dir: string, kind: ArtifactKind, values: Values): Promise<PublishedArtifact> {
  // The kind from the files' names: publishing hashes every byte once, and only once.
  const found = await artifactKindOf(dir);
  if (found !== kind)
    throw new UsageError(`${dir} holds a ${found === "lora" ? "LoRA adapter" : "model"}, not a ${kind}`);
  return publishArtifact({
    dir,
    store: contentLocation(str(values, "content")),
    signer: storeWriter(suite, "artifact").signer,
  });
}

const publishCommand = (kind: ArtifactKind): Command => ({
  summary: `Publish a ${kind === "lora" ? "LoRA adapter" : "base model"} directory to the content store: prints the URI and artifact hash to register`,
  usage: `${kind === "lora" ? "adapter" : "model"} publish <dir> [--content <dir|url>]`,
  options: { content: contentOption },
  async run(suite, [dir], values) {
    const published = await publish(suite, requireValue(dir, "<dir>"), kind, values);
    const bytes = published.files.reduce((sum, f) => sum + f.size, 0);
    return {
      text: `Published ${published.files.length} files (${bytes} bytes)\n  uri            ${published.uri}\n  artifact hash  0x${published.artifactHash}`,
      data: { ...published, artifactHash: `0x${published.artifactHash}` },
    };
  },
});

/** Every registered base model, in id order. */
function readBaseModels(suite: Suite) {
  return readNumbered(suite, "ModelRegistry", "baseModelCount", async (baseModelId) => {
    const m = await read<{ registrant: Address; deprecated: boolean; artifactHash: Hex; name: string; uri: string }>(
      suite,
      { contract: "ModelRegistry", functionName: "getBaseModel", args: [baseModelId] },
    );
    return {
      baseModelId,
      name: m.name,
      artifactHash: m.artifactHash,
      uri: m.uri,
      registrant: m.registrant,
      deprecated: m.deprecated,
    };
  });
}

/** The registered base model named `name` (an adapter config's base_model_name_or_path); exactly one must match. */
async function baseModelNamed(suite: Suite, name: string): Promise<bigint> {
  const matches = (await readBaseModels(suite)).filter((m) => m.name === name && !m.deprecated);
  if (matches.length !== 1)
    throw new UsageError(
      `${matches.length ? "Several base models are" : "No base model is"} named "${name}" (the adapter's base_model_name_or_path): name one with --base`,
    );
  return matches[0]!.baseModelId;
}

/** Refuses flags that `--from DIR` replaces, so that a registration never mixes the files' word with another. */
function refuseWithFrom(values: Values, flags: string[]) {
  const given = flags.filter((flag) => values[flag] !== undefined);
  if (given.length) throw new UsageError(`--from reads ${given.map((f) => `--${f}`).join(", ")} from the files`);
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

/** `--from DIR` for an adapter: everything the chain records about the artifact, from its files. */
async function adapterFrom(suite: Suite, dir: string, values: Values) {
  refuseWithFrom(values, ["artifact-hash", "rank", "targets"]);
  const config = await readLoraConfig(dir).catch((error: Error) => {
    throw new UsageError(error.message);
  });
  const baseModelId = str(values, "base")
    ? parseId(str(values, "base"), "--base")
    : await baseModelNamed(suite, requireValue(config.baseModel, "--base (the config names no base model)"));
  return {
    baseModelId,
    ...(await artifactFrom(suite, dir, "lora", values)),
    rank: config.rank,
    targetModules: config.targetModules,
  };
}

/** A model directory's own name for itself: config.json's `_name_or_path`, else undefined. */
async function configuredName(dir: string): Promise<string | undefined> {
  const config = JSON.parse(await readFile(path.join(dir, "config.json"), "utf8").catch(() => "{}")) as {
    _name_or_path?: unknown;
  };
  return typeof config._name_or_path === "string" ? config._name_or_path : undefined;
}

export const modelCommands: Record<string, Command> = {
  "model publish": publishCommand("model"),
  "adapter publish": publishCommand("lora"),

  "model register": {
    summary: "Register a base model",
    usage: "model register (--from DIR [--uri U] | --artifact-hash 0x… --uri U) [--name N]",
    options: {
      from: {
        type: "string",
        description: "the model's directory: hash (and name) from its files, published first unless --uri is given",
      },
      name: { type: "string", description: "the model's name (default with --from: config.json's _name_or_path)" },
      "artifact-hash": { type: "string", description: "the model's artifact hash, 0x and 64 hex digits" },
      uri: { type: "string", description: "where the model can be fetched" },
      content: contentOption,
    },
    async run(suite, _positionals, values) {
      const from = str(values, "from");
      let artifactHash: Hex, uri: string, name: string | undefined;
      if (from) {
        refuseWithFrom(values, ["artifact-hash"]);
        ({ artifactHash, uri } = await artifactFrom(suite, from, "model", values));
        name = str(values, "name") ?? (await configuredName(from));
      } else {
        artifactHash = parseBytes32(str(values, "artifact-hash"), "--artifact-hash");
        uri = requireValue(str(values, "uri"), "--uri");
        name = str(values, "name");
      }
      name = requireValue(name, "--name");
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
      "adapter register (--from DIR [--uri U] [--base <id>] | --base <id> --artifact-hash 0x… --uri U --rank R --targets q_proj,v_proj,…) --price OPEN-per-1k --owner-share bps --data-share bps --lineage datanetId:version:bps[,…]",
    options: {
      from: {
        type: "string",
        description:
          "the PEFT adapter's directory: hash, rank, targets and base model from its files, published first unless --uri is given",
      },
      content: contentOption,
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
      const from = str(values, "from");
      const artifact = from
        ? await adapterFrom(suite, from, values)
        : {
            baseModelId: parseId(str(values, "base"), "--base"),
            artifactHash: parseBytes32(str(values, "artifact-hash"), "--artifact-hash"),
            uri: requireValue(str(values, "uri"), "--uri"),
            rank: Number(parseBounded(str(values, "rank"), "--rank", UINT16)),
            targetModules: parseTargets(str(values, "targets")),
          };
      const params = {
        ...artifact,
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

  "model list": {
    summary: "List base models with their artifact hash and URI",
    usage: "model list",
    async run(suite) {
      const models = await readBaseModels(suite);
      const text = models.length
        ? models
            .map(
              (m) => `#${m.baseModelId} ${m.name}${m.deprecated ? " DEPRECATED" : ""}\n    ${m.artifactHash} ${m.uri}`,
            )
            .join("\n")
        : "No base models";
      return { text, data: models };
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
