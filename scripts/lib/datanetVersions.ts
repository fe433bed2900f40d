/** Datanet versions rebuilt from DatanetRegistry events, as anyone can: the accepted contributions in order. */
import type { Address, Hex } from "viem";
import type { Contribution } from "../../attribution/src/index.ts";
import type { Suite } from "./contracts.ts";

type Submitted = { contributionId: bigint; contributor: Address; contentHash: Hex; uri: string };
type Accepted = { contributionId: bigint; weight: bigint; acceptedIndex: bigint };

export type AcceptedContribution = Contribution & { uri: string };

/** Every contribution accepted into `datanetId` so far, in acceptance order, with its URI. */
export async function readAcceptedContributions(
  suite: Suite,
  { datanetId }: { datanetId: bigint },
): Promise<AcceptedContribution[]> {
  const address = suite.address("DatanetRegistry");
  const abi = suite.abi("DatanetRegistry");
  const fromBlock = BigInt(suite.deployment.contracts.DatanetRegistry.startBlock);
  const query = (eventName: string) =>
    suite.publicClient.getContractEvents({ address, abi, eventName, args: { datanetId }, fromBlock });
  const [submitted, accepted] = await Promise.all([query("ContributionSubmitted"), query("ContributionAccepted")]);
  const byId = new Map(
    submitted.map((log) => {
      const args = (log as unknown as { args: Submitted }).args;
      return [args.contributionId, args] as const;
    }),
  );
  return accepted
    .map((log) => (log as unknown as { args: Accepted }).args)
    .sort((a, b) => (a.acceptedIndex < b.acceptedIndex ? -1 : 1))
    .map(({ contributionId, weight }) => {
      const { contributor, contentHash, uri } = byId.get(contributionId)!;
      return { contributionId, contributor, contentHash, weight, uri };
    });
}
