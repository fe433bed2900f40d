/**
 * A datanet's contributions rebuilt from DatanetRegistry events, as anyone can: the accepted ones in acceptance order
 * (what a version's Merkle root covers) and the pending ones. Browser-safe: the ABI comes in with the registry's
 * location (the Studio bundles it; datanetVersions.ts reads it from the build output).
 */
import type { Abi, Address, Hex, PublicClient } from "viem";
import type { Contribution } from "../../attribution/src/datanet.ts";
import { getContractEventsInChunks } from "../../inference/sdk/logs.ts";

type Submitted = { contributionId: bigint; contributor: Address; contentHash: Hex; uri: string };
type Accepted = { contributionId: bigint; weight: bigint; acceptedIndex: bigint };

export type AcceptedContribution = Contribution & { uri: string };
/** Where to read: the registry's address and the block it was deployed at. */
export type RegistryLocation = { registry: Address; fromBlock: bigint };
/** The registry's location and its ABI. */
export type RegistryEvents = RegistryLocation & { abi: Abi };

/** Every contribution accepted into `datanetId` so far, in acceptance order, with its URI. */
export async function readAcceptedContributions(
  client: PublicClient,
  location: RegistryEvents & { datanetId: bigint },
): Promise<AcceptedContribution[]> {
  return (await readContributions(client, location)).accepted;
}

/**
 * The datanet's contributions from its events: those accepted, in acceptance order, and those still pending
 * (neither accepted, rejected nor withdrawn), in submission order.
 */
export async function readContributions(
  client: PublicClient,
  { registry, fromBlock, datanetId, abi }: RegistryEvents & { datanetId: bigint },
): Promise<{ accepted: AcceptedContribution[]; pending: (Submitted & { weight: 0n })[] }> {
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
