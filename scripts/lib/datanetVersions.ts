/** Datanet versions rebuilt from DatanetRegistry events, as anyone can: the accepted contributions in order. */
import type { Address, Hex, PublicClient } from "viem";
import type { Contribution, DatanetVersion } from "../../attribution/src/index.ts";
import { abiOf, type Suite } from "./contracts.ts";
import { getContractEventsInChunks } from "./logs.ts";

type Submitted = { contributionId: bigint; contributor: Address; contentHash: Hex; uri: string };
type Accepted = { contributionId: bigint; weight: bigint; acceptedIndex: bigint };

export type AcceptedContribution = Contribution & { uri: string };
/** Where to read: the registry's address and the block it was deployed at. */
export type RegistryLocation = { registry: Address; fromBlock: bigint };

export function registryLocation(suite: Suite): RegistryLocation {
  return {
    registry: suite.address("DatanetRegistry"),
    fromBlock: BigInt(suite.deployment.contracts.DatanetRegistry!.startBlock),
  };
}

/** Every contribution accepted into `datanetId` so far, in acceptance order, with its URI. */
export async function readAcceptedContributions(
  client: PublicClient,
  location: RegistryLocation & { datanetId: bigint },
): Promise<AcceptedContribution[]> {
  return (await readContributions(client, location)).accepted;
}

/**
 * The datanet's contributions from its events: those accepted, in acceptance order, and those still pending
 * (neither accepted, rejected nor withdrawn), in submission order.
 */
export async function readContributions(
  client: PublicClient,
  { registry, fromBlock, datanetId }: RegistryLocation & { datanetId: bigint },
): Promise<{ accepted: AcceptedContribution[]; pending: (Submitted & { weight: 0n })[] }> {
  const abi = abiOf("DatanetRegistry");
  // One head for the four reads, so that none sees an acceptance whose submission another has not read.
  const toBlock = await client.getBlockNumber({ cacheTime: 0 });
  const query = (eventName: string) =>
    getContractEventsInChunks(client, { address: registry, abi, eventName, args: { datanetId }, fromBlock, toBlock });
  const [submitted, accepted, rejected, withdrawn] = await Promise.all(
    ["ContributionSubmitted", "ContributionAccepted", "ContributionRejected", "ContributionWithdrawn"].map(query),
  );
  const argsOf = <T>(log: unknown) => (log as { args: T }).args;
  const byId = new Map(submitted.map((log) => [argsOf<Submitted>(log).contributionId, argsOf<Submitted>(log)]));
  const settled = new Set(
    [...accepted, ...rejected, ...withdrawn].map((log) => argsOf<{ contributionId: bigint }>(log).contributionId),
  );
  return {
    accepted: accepted
      .map((log) => argsOf<Accepted>(log))
      .sort((a, b) => (a.acceptedIndex < b.acceptedIndex ? -1 : 1))
      .map(({ contributionId, weight }) => {
        const { contributor, contentHash, uri } = byId.get(contributionId)!;
        return { contributionId, contributor, contentHash, weight, uri };
      }),
    pending: [...byId.values()]
      .filter(({ contributionId }) => !settled.has(contributionId))
      .sort((a, b) => (a.contributionId < b.contributionId ? -1 : 1))
      .map((c) => ({ ...c, weight: 0n as const })),
  };
}

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
