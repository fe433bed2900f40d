/** Datanet versions rebuilt from DatanetRegistry events, as anyone can: the accepted contributions in order. */
import type { Hex, PublicClient } from "viem";
import type { DatanetVersion } from "../../attribution/src/index.ts";
import { abiOf, type Suite } from "./contracts.ts";
import {
  readAcceptedContributions as readAcceptedWith,
  readContributions as readContributionsWith,
  type RegistryLocation,
} from "./datanetEvents.ts";

export type { AcceptedContribution, RegistryLocation } from "./datanetEvents.ts";

export function registryLocation(suite: Suite): RegistryLocation {
  return {
    registry: suite.address("DatanetRegistry"),
    fromBlock: BigInt(suite.deployment.contracts.DatanetRegistry!.startBlock),
  };
}

/** Every contribution accepted into `datanetId` so far, in acceptance order, with its URI. */
export const readAcceptedContributions = (client: PublicClient, location: RegistryLocation & { datanetId: bigint }) =>
  readAcceptedWith(client, { ...location, abi: abiOf("DatanetRegistry") });

/**
 * The datanet's contributions from its events: those accepted, in acceptance order, and those still pending
 * (neither accepted, rejected nor withdrawn), in submission order.
 */
export const readContributions = (client: PublicClient, location: RegistryLocation & { datanetId: bigint }) =>
  readContributionsWith(client, { ...location, abi: abiOf("DatanetRegistry") });

/** A published version: its root, and the contributions it covers (the first `contributionCount` accepted). */
export async function readDatanetVersion(
  client: PublicClient,
  { registry, fromBlock, datanetId, version }: RegistryLocation & { datanetId: bigint; version: bigint },
): Promise<DatanetVersion> {
  const published = (await client.readContract({
    address: registry,
    abi: abiOf("DatanetRegistry"),
    functionName: "getVersion",
    args: [datanetId, version],
  })) as { root: Hex; contributionCount: bigint };
  const accepted = await readAcceptedContributions(client, { registry, fromBlock, datanetId });
  return {
    datanetId,
    version,
    root: published.root,
    contributions: accepted.slice(0, Number(published.contributionCount)),
  };
}
