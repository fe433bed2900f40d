/** One datanet: its facts and licence, versions with their roots, contributions; contribute, curate, publish. */
import { useConnection, useReadContract } from "wagmi";
import { Link, useParams } from "wouter";
import { Address } from "../components/Address.tsx";
import { Amount } from "../components/Amount.tsx";
import { contractOf } from "../contracts.ts";
import { useGraphql } from "../data.ts";
import { useStudio } from "../studio.tsx";
import { Contributions } from "./datanet/Contributions.tsx";
import { ContributeForm } from "./datanet/ContributeForm.tsx";
import { CuratorQueue } from "./datanet/CuratorQueue.tsx";
import { PublishVersion } from "./datanet/PublishVersion.tsx";
import { Versions } from "./datanet/Versions.tsx";

export type DatanetFacts = {
  id: string;
  owner: string;
  treasury: string;
  curated: boolean;
  minStake: string;
  metadataURI: string;
  license: string;
  contributionCount: number;
  acceptedCount: number;
  versionCount: number;
  totalWeight: string;
};

const factsQuery = (id: string) =>
  `{ datanet(id: ${JSON.stringify(id)}) { id owner treasury curated minStake metadataURI license contributionCount acceptedCount versionCount totalWeight } }`;

/** Whether the connected account may curate and publish: the owner or a curator (read from the chain). */
function useCanCurate(datanet: DatanetFacts | undefined) {
  const { config } = useStudio();
  const { address } = useConnection();
  const curator = useReadContract({
    ...contractOf(config, "DatanetRegistry"),
    functionName: "isCurator",
    args: datanet && address ? [BigInt(datanet.id), address] : undefined,
    query: { enabled: Boolean(datanet && address) },
  });
  const owner = Boolean(address && datanet && datanet.owner.toLowerCase() === address.toLowerCase());
  return owner || curator.data === true;
}

export default function Datanet() {
  const { id } = useParams<{ id: string }>();
  const valid = /^\d{1,30}$/.test(id);
  const facts = useGraphql<{ datanet: DatanetFacts | null }>(valid ? factsQuery(id) : undefined);
  const datanet = facts.data?.datanet ?? undefined;
  const canCurate = useCanCurate(datanet);
  const { address } = useConnection();
  if (!valid || facts.data?.datanet === null) {
    return (
      <section>
        <h1>Datanet {id}</h1>
        <p role="alert">
          No datanet {id}. <Link href="/datanets">All datanets</Link>
        </p>
      </section>
    );
  }
  return (
    <section>
      <h1>Datanet {id}</h1>
      {facts.error && <p role="alert">Could not read the datanet: {facts.error.message}</p>}
      {datanet && (
        <>
          <dl className="facts">
            <dt>URI</dt>
            <dd className="mono">{datanet.metadataURI}</dd>
            <dt>Licence</dt>
            <dd>{datanet.license}</dd>
            <dt>Owner</dt>
            <dd>
              <Address address={datanet.owner} />
            </dd>
            <dt>Treasury</dt>
            <dd>
              <Address address={datanet.treasury} />
            </dd>
            <dt>Curation</dt>
            <dd>
              {datanet.curated
                ? "curated: curators accept or reject each contribution"
                : "open: accepted on submission"}
            </dd>
            <dt>Minimum stake</dt>
            <dd>
              <Amount wei={datanet.minStake} />
            </dd>
            <dt>Contributions</dt>
            <dd>
              {datanet.acceptedCount} accepted of {datanet.contributionCount}, total weight {datanet.totalWeight}
            </dd>
          </dl>
          <Versions datanetId={datanet.id} />
          {address ? <ContributeForm datanet={datanet} /> : <p className="muted">Connect a wallet to contribute.</p>}
          {canCurate && datanet.curated && <CuratorQueue datanetId={datanet.id} />}
          {canCurate && <PublishVersion datanet={datanet} />}
          <Contributions datanetId={datanet.id} />
        </>
      )}
    </section>
  );
}
