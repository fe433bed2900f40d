/**
 * How the adapter was trained: the training manifest its artifact manifest names (lib/artifacts.ts, every object
 * checked against its sha256 from the URI the chain holds), linked, with its datanet versions, hyperparameters,
 * held-out loss before and after, and loss curve.
 */
import { useQuery } from "@tanstack/react-query";
import { Link } from "wouter";
import { Chart } from "../../components/Chart.tsx";
import { Table } from "../../components/Table.tsx";
import { trainingManifestAt } from "../../lib/artifacts.ts";
import { compactNumber } from "../../lib/adapters.ts";
import { formatBps } from "../../lib/format.ts";
import { useStudio } from "../../studio.tsx";

const loss = (value: number | null) => (value === null ? "—" : value.toFixed(3));

export function Training({ uri }: { uri: string }) {
  const { config } = useStudio();
  const training = useQuery({
    queryKey: ["training-manifest", uri],
    staleTime: Infinity,
    queryFn: async ({ signal }) => (await trainingManifestAt(config.contentUrl, uri, signal)) ?? null,
  });
  const found = training.data;
  return (
    <>
      <h2>Training</h2>
      {training.error && <p role="alert">Could not read the training manifest: {training.error.message}</p>}
      {found === null && (
        <p className="muted">
          No training manifest: the artifact is not in the content store, or its manifest names none (trained
          elsewhere).
        </p>
      )}
      {found && (
        <>
          <p>
            <a href={`${config.contentUrl.replace(/\/+$/, "")}/${found.name}`} target="_blank" rel="noreferrer">
              Training manifest
            </a>{" "}
            <span className="muted">(its sha256 is in the artifact manifest the registration commits to)</span>
          </p>
          <dl className="facts">
            <dt>Trained on</dt>
            <dd>
              {found.manifest.baseModel.name}, {found.manifest.tokens.toLocaleString()} tokens in{" "}
              {Math.round(found.manifest.trainSeconds)} s
            </dd>
            <dt>Hyperparameters</dt>
            <dd>
              rank {found.manifest.hyperparameters.rank} (alpha {found.manifest.hyperparameters.loraAlpha}),{" "}
              {found.manifest.hyperparameters.steps} steps at learning rate {found.manifest.hyperparameters.lr}, seed{" "}
              {found.manifest.hyperparameters.seed}, {found.manifest.hyperparameters.seqLen} tokens a sequence; targets{" "}
              {found.manifest.hyperparameters.targets.join(", ")}
            </dd>
            <dt>Held-out loss</dt>
            <dd>
              {loss(found.manifest.heldOutLoss.before)} before, {loss(found.manifest.heldOutLoss.after)} after
            </dd>
          </dl>
          <Table label="Training data">
            <caption className="muted">Training data</caption>
            <thead>
              <tr>
                <th scope="col">Datanet version</th>
                <th scope="col">Weight</th>
                <th scope="col">Documents (held out)</th>
              </tr>
            </thead>
            <tbody>
              {found.manifest.datasets.map((d) => (
                <tr key={`${d.datanetId}:${d.version}`}>
                  <td>
                    <Link href={`/datanets/${d.datanetId}`}>
                      Datanet {d.datanetId} version {d.version}
                    </Link>
                  </td>
                  <td>{formatBps(d.weightBps)}</td>
                  <td>
                    {d.documents} ({d.heldOut})
                  </td>
                </tr>
              ))}
            </tbody>
          </Table>
          <Chart
            points={found.manifest.losses.map((y, i) => ({ x: i + 1, y }))}
            label="Training loss per step"
            formatY={compactNumber}
          />
        </>
      )}
    </>
  );
}
