/**
 * Publish the next version: the Merkle root over every contribution accepted so far, rebuilt from the registry's
 * events on chain (not from the indexer) with the same code as the CLI and the trainer, so the root verifies.
 */
import { parseEventLogs, type PublicClient } from "viem";
import { usePublicClient } from "wagmi";
import { readAcceptedContributions } from "../../../../../scripts/lib/datanetEvents.ts";
import { TxButton } from "../../components/TxButton.tsx";
import { abis, contractOf } from "../../contracts.ts";
import { useStudio } from "../../studio.tsx";
import type { DatanetFacts } from "../Datanet.tsx";

export function PublishVersion({ datanet }: { datanet: DatanetFacts }) {
  const { config } = useStudio();
  const client = usePublicClient();
  const registry = contractOf(config, "DatanetRegistry");
  return (
    <>
      <h2>Publish a version</h2>
      <p className="muted">
        Version {datanet.versionCount + 1} will cover the {datanet.acceptedCount} contributions accepted so far; its
        root is computed here from the chain's events.
      </p>
      <TxButton
        label={`Publish version ${datanet.versionCount + 1}`}
        steps={1}
        validate={() => (datanet.acceptedCount === 0 ? "No contribution has been accepted yet." : undefined)}
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
