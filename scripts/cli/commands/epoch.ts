/** Reward epochs: run (aggregate and propose) and verify. */
import {
  aggregateEpoch,
  contentUri,
  putContent,
  verifyEpoch,
  type VerificationIssue,
} from "../../../attribution/src/index.ts";
import {
  attributionPolicyOfEpoch,
  epochStartBlock,
  previousDistribution,
  readAttributionPolicy,
  readEpochInputs,
} from "../../lib/epochs.ts";
import { loadDistribution, openContentStore, readEpochRoot, storeWriter } from "../../lib/rewards.ts";
import { read, send } from "../../lib/transactions.ts";
import { parseId, UsageError } from "../args.ts";
import { contentOption, open, str, type Command, type OptionSpec, type Values } from "../shared.ts";

const indexDirOption: OptionSpec = {
  type: "string",
  description: "where datanet indexes are built and cached (default OPENPOA_INDEX_DIR or openpoa-indexes)",
};

/** Where datanet indexes are built and cached for checking attribution records. */
const indexDirOf = (values: Values) => str(values, "index-dir") ?? process.env.OPENPOA_INDEX_DIR ?? "openpoa-indexes";

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

export const epochCommands: Record<string, Command> = {
  "epoch run": {
    summary: "Aggregate the next reward epoch from public data, publish its distribution file and propose its root",
    usage: "epoch run <epoch> [--content <dir|url>] [--index-dir <dir>] [--dry-run]",
    options: {
      content: contentOption,
      "index-dir": indexDirOption,
      "dry-run": { type: "boolean", description: "aggregate and publish the file, but propose no root" },
    },
    async run(suite, [epochText], values) {
      const epoch = parseId(epochText, "epoch");
      const lastEpoch = await read<bigint>(suite, { contract: "AttributionRewards", functionName: "lastEpoch" });
      if (epoch !== lastEpoch + 1n) throw new UsageError(`The next epoch to run is ${lastEpoch + 1n}, not ${epoch}`);
      const store = openContentStore(str(values, "content"), storeWriter(suite, "distribution"));
      const fromBlock = epochStartBlock(suite, await previousDistribution(suite, store, epoch));
      const toBlock = await suite.publicClient.getBlockNumber();
      // The policy AttributionRewards' schedule gives this epoch: the only one its root is accepted under.
      const policy = await attributionPolicyOfEpoch(suite, epoch);
      const inputs = await readEpochInputs(suite, store, {
        epoch,
        blocks: { fromBlock, toBlock },
        indexDir: indexDirOf(values),
        policy,
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
        policyId: policy.id,
        proposed: !values["dry-run"],
      };
      if (!values["dry-run"]) {
        await send(suite, {
          contract: "AttributionRewards",
          functionName: "proposeRoot",
          args: [epoch, file.root, total, fileHash, contentUri(fileHash), file.policyId],
        });
      }
      return {
        text:
          `Epoch ${epoch} (blocks ${fromBlock}..${toBlock}, attribution policy ${policy.id}: ${policy.algorithm} ` +
          `v${policy.version}): ${open(file.total)} over ${file.leaves.length} accounts, root ${file.root}, ` +
          `file ${fileHash}${values["dry-run"] ? " (dry run: not proposed)" : ", proposed"}`,
        data: summary,
      };
    },
  },

  "epoch verify": {
    summary: "Recompute an epoch from public data and report every leaf that does not follow (exit 1 on mismatch)",
    usage: "epoch verify <epoch> [--content <dir|url>] [--index-dir <dir>]",
    options: { content: contentOption, "index-dir": indexDirOption },
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
      // Recomputed with the policy the root names; a root naming another than the schedule's could not have been
      // proposed, and a file naming another than its root is a mismatch verifyEpoch reports.
      const policy = await readAttributionPolicy(suite, BigInt(root.policyId));
      const inputs = await readEpochInputs(suite, store, {
        epoch,
        blocks: file.blocks,
        indexDir: indexDirOf(values),
        policy,
      });
      issues.push(...verifyEpoch(inputs, { distribution: file, root: root.root }).issues);
      if (issues.length > 0) throw new EpochVerificationError(epoch, issues);
      return {
        text:
          `Epoch ${epoch} verifies under attribution policy ${policy.id} (${policy.algorithm} v${policy.version}): ` +
          `${file.leaves.length} leaves, ${open(file.total)} this epoch, root ${root.root}`,
        data: { epoch, ok: true, root: root.root, leaves: file.leaves.length, policyId: policy.id },
      };
    },
  },
};
