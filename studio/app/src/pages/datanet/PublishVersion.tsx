/**
 * Publish the next version: the Merkle root over every contribution accepted so far, rebuilt from the registry's
 * events on chain (not from the indexer) with the same code as the CLI and the trainer, so the root verifies.
 */
import { parseEventLogs, type PublicClient } from "viem";
import { usePublicClient } from "wagmi";
import { readAcceptedContributions } from "../../../../../scripts/lib/datanetEvents.ts";
import { TxButton } from "../../components/TxButton.tsx";
import { abis, contractOf } from "../../contracts.ts";
import { useGraphql } from "../../data.ts";
import { useStudio } from "../../studio.tsx";
import type { DatanetFacts } from "../Datanet.tsx";

/** Why the next version cannot be published yet, or undefined: it must add an accepted contribution. */
export function nothingToPublish(
  acceptedCount: number,
  latest: { version: string; contributionCount: string } | undefined,
): string | undefined {
  if (acceptedCount === 0) return "No contribution has been accepted yet.";
  if (latest && BigInt(latest.contributionCount) >= BigInt(acceptedCount))
    return `Nothing was accepted since version ${latest.version}.`;
  return undefined;
}

export function PublishVersion({ datanet }: { datanet: DatanetFacts }) {
  const { config } = useStudio();
  const client = usePublicClient();
  const registry = contractOf(config, "DatanetRegistry");
  const latest = useGraphql<{ datanetVersions: { items: { version: string; contributionCount: string }[] } }>(
    `{ datanetVersions(where: { datanetId: ${JSON.stringify(datanet.id)} }, orderBy: "version", orderDirection: "desc", limit: 1) { items { version contributionCount } } }`,
  );
  const next = datanet.versionCount + 1;
  return (
    <>
      <h2>Publish a version</h2>
      <p className="muted">
        Version {next} will cover the {datanet.acceptedCount} contribution{datanet.acceptedCount === 1 ? "" : "s"}{" "}
        accepted so far; its root is computed here from the chain's events.
      </p>
      <TxButton
        label={`Publish version ${next}`}
        steps={1}
        validate={() => nothingToPublish(datanet.acceptedCount, latest.data?.datanetVersions.items[0])}
        action={async (tx) => {
          const accepted = await readAcceptedContributions(client as PublicClient, {
            registry: registry.address,
            fromBlock: BigInt(config.contracts.DatanetRegistry!.startBlock),
            datanetId: BigInt(datanet.id),
            abi: registry.abi,
          });
          // The Merkle tree library (and its ABI coder) loads only for publishing, not with the page.
          const { datanetVersionTree } = await import("../../../../../attribution/src/datanet.ts");
          const root = datanetVersionTree(accepted).root as `0x${string}`;
          const receipt = await tx.write("Publish", {
            ...registry,
            functionName: "publishVersion",
            args: [BigInt(datanet.id), root],
          });
          const [published] = parseEventLogs({
            abi: abis.DatanetRegistry,
            logs: receipt.logs,
            eventName: "VersionPublished",
          }) as unknown as { args: { version: bigint } }[];
          return { version: published!.args.version, root, count: accepted.length };
        }}
        done={({ version, root, count }) => (
          <>
            Published version {version.toString()} over {count} contributions, root{" "}
            <span className="mono" data-root={root}>
              {root}
            </span>
          </>
        )}
      />
    </>
  );
}
