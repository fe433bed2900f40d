/** Datanets: create, contribute, curate, publish, find duplicates, list. */
import { readFile } from "node:fs/promises";
import type { Address, Hex } from "viem";
import {
  buildDatanetIndex,
  byteTokenizer,
  contentUri,
  datanetVersionTree,
  getContent,
  nearDuplicateContributions,
  putContent,
  sha256Hex,
} from "../../../attribution/src/index.ts";
import { sendRevealing } from "../../lib/commitments.ts";
import { readAcceptedContributions, readContributions, registryLocation } from "../../lib/datanetVersions.ts";
import { openContentStore, storeWriter } from "../../lib/rewards.ts";
import { eventsIn, read, send } from "../../lib/transactions.ts";
import { parseAddress, parseId, parseOpen, requireValue, UsageError } from "../args.ts";
import {
  contentOption,
  ensureAllowance,
  firstEvent,
  open,
  readNumbered,
  str,
  UINT64,
  type Command,
} from "../shared.ts";

export const datanetCommands: Record<string, Command> = {
  "datanet create": {
    summary: "Create a datanet owned by the signer",
    usage:
      "datanet create --uri <metadataURI> [--license L] [--curated] [--min-stake OPEN] [--treasury addr] [--curator addr]...",
    options: {
      uri: { type: "string", description: "metadata URI describing the datanet" },
      license: { type: "string", description: "licence of the contributions, e.g. CC-BY-4.0 (default none)" },
      curated: {
        type: "boolean",
        description: "contributions wait for a curator (default: accepted at once, weight 1)",
      },
      "min-stake": { type: "string", description: "OPEN a contributor must stake (default 0)" },
      treasury: { type: "string", description: "receives slashed stakes (default: the owner)" },
      curator: { type: "string", multiple: true, description: "a curator besides the owner (repeatable)" },
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
    usage: "datanet contribute <datanetId> --file <path> [--stake OPEN] [--uri U] [--content <dir|url>]",
    options: {
      file: { type: "string", description: "the text to contribute" },
      stake: { type: "string", description: "OPEN to stake, at least the datanet's minimum (default 0)" },
      uri: { type: "string", description: "where the text can be fetched (default openpoa://content/<sha256>)" },
      content: contentOption,
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
      // Stored before anything is sent: a contribution nobody can read earns nobody anything.
      await putContent(openContentStore(str(values, "content"), storeWriter(suite, "contribution")), { content });
      const uri = str(values, "uri") ?? contentUri(contentHash);
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
    options: {
      accept: { type: "boolean", description: "accept the contribution" },
      reject: { type: "boolean", description: "reject it, slashing its stake to the datanet's treasury" },
      weight: { type: "string", description: "weight of an accepted contribution (default its size in tokens)" },
    },
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
    options: { content: contentOption },
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

  "datanet show": {
    summary: "One datanet: its settings, published versions, accepted contributions and the ones pending curation",
    usage: "datanet show <datanetId>",
    async run(suite, [id]) {
      const datanetId = parseId(id, "datanetId");
      const datanet = await read<{
        owner: Address;
        treasury: Address;
        curated: boolean;
        minStake: bigint;
        acceptedCount: bigint;
        versionCount: bigint;
        totalWeight: bigint;
        metadataURI: string;
        license: string;
      }>(suite, { contract: "DatanetRegistry", functionName: "getDatanet", args: [datanetId] });
      const versions = [];
      for (let version = 1n; version <= datanet.versionCount; version++) {
        const v = await read<{ root: Hex; contributionCount: bigint; publishedAt: bigint; totalWeight: bigint }>(
          suite,
          { contract: "DatanetRegistry", functionName: "getVersion", args: [datanetId, version] },
        );
        versions.push({ version, ...v });
      }
      const { accepted, pending } = await readContributions(suite.publicClient, {
        ...registryLocation(suite),
        datanetId,
      });
      const lines = [
        `Datanet ${datanetId}: ${datanet.metadataURI} (${datanet.curated ? "curated" : "open"}, ${datanet.license || "no licence"})`,
        `  owner ${datanet.owner}, treasury ${datanet.treasury}, minimum stake ${open(datanet.minStake)}`,
        `  ${versions.length} version(s):`,
        ...versions.map(
          (v) =>
            `    v${v.version}: ${v.contributionCount} contributions, weight ${v.totalWeight}, root ${v.root}, published ${new Date(Number(v.publishedAt) * 1000).toISOString()}`,
        ),
        `  ${accepted.length} accepted:`,
        ...accepted.map((c) => `    #${c.contributionId} by ${c.contributor}, weight ${c.weight}, ${c.contentHash}`),
        `  ${pending.length} pending curation${datanet.curated ? " (openpoa datanet curate <id> --accept | --reject)" : ""}:`,
        ...pending.map((c) => `    #${c.contributionId} by ${c.contributor}, ${c.contentHash}, ${c.uri}`),
      ];
      return {
        text: lines.join("\n"),
        data: { datanetId, ...datanet, versions, accepted, pending },
      };
    },
  },
};
