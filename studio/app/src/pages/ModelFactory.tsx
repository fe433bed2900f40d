/**
 * Model Factory: train a LoRA adapter on published datanet versions without code. The job runs on the Studio's
 * backend (studio/server/jobs.ts); this page starts it, follows it live (Server-Sent Events: a reload reconnects and
 * gets the whole state first), cancels it, shows the held-out evaluation, then publishes the adapter (one wallet
 * signature over the store write session) and registers it (commit, then reveal: two wallet confirmations).
 */
import { keepPreviousData, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { parseEventLogs } from "viem";
import { Link, useSearchParams } from "wouter";
import { z } from "zod/v4";
import en from "zod/v4/locales/en.js";
import { storeWriteSessionMessage } from "../../../../attribution/src/storeAuth.ts";
import { TARGET_MODULES } from "../../../../inference/artifacts/targets.ts";
import type { TrainingProgress } from "../../../../scripts/lib/trainingParams.ts";
import {
  formatSeconds,
  hyperparameterHelp,
  splitEvenly,
  trainingDefaults,
} from "../../../../scripts/lib/trainingParams.ts";
import { jobRequestSchema, terminalStates, type Job } from "../../../server/jobRequest.ts";
import { Chart } from "../components/Chart.tsx";
import { Pager } from "../components/Pager.tsx";
import { TxButton } from "../components/TxButton.tsx";
import { contractOf } from "../contracts.ts";
import { useGraphqlPage, type Pager as PagerState } from "../data.ts";
import {
  cancelJob,
  JobApiError,
  jobEventsUrl,
  linkAdapter,
  listJobs,
  perplexity,
  publishJob,
  startJob,
  withProgress,
  type JobIssue,
} from "../lib/factory.ts";
import { formatBps, parseOpen } from "../lib/format.ts";
import { useStudio } from "../studio.tsx";
import "./ModelFactory.css";
import { Table } from "../components/Table.tsx";

const TOTAL_BPS = 10_000;

// zod declares itself free of side effects, so the bundle drops the English messages it sets up on import; without
// them every refusal reads "Invalid input".
z.config(en());

export default function ModelFactory() {
  const [search, setSearch] = useSearchParams();
  const jobId = search.get("job") ?? undefined;
  // The job followed is in the address, so a reload (or a shared link) resumes it.
  const follow = (id: string) => setSearch({ job: id });
  const queryClient = useQueryClient();
  // A new job is listed at once, not at the list's next poll.
  const started = (id: string) => {
    void queryClient.invalidateQueries({ queryKey: ["factory-jobs"] });
    follow(id);
  };
  return (
    <section>
      <h1>Model Factory</h1>
      <p className="muted">
        Fine-tune a LoRA adapter on published datanet versions: the Studio fetches their contributions from the content
        store, checks them against the versions&apos; on-chain roots, trains, evaluates on held-out text, and your
        wallet publishes and registers the adapter with its lineage.
      </p>
      {jobId && <JobView key={jobId} id={jobId} />}
      <NewJob onStarted={started} />
      <JobList selected={jobId} onSelect={follow} />
    </section>
  );
}

type BaseModelRow = { id: string; name: string };
type VersionRow = { datanetId: string; version: string; contributionCount: string };
type Choice = { datanetId: string; version: string; weightBps: string };

const issueFor = (issues: JobIssue[], path: string) =>
  issues.find((i) => i.path === path || i.path.startsWith(`${path}.`))?.message;

function FieldError({ id, message }: { id: string; message?: string }) {
  return message ? (
    <span id={id} className="error">
      {message}
    </span>
  ) : null;
}

function NewJob({ onStarted }: { onStarted: (id: string) => void }) {
  const models = useGraphqlPage<BaseModelRow>({
    field: "baseModels",
    fields: "id name",
    where: { deprecated: false },
    orderBy: "id",
    orderDirection: "asc",
    limit: 50,
  });
  const versions = useGraphqlPage<VersionRow>({
    field: "datanetVersions",
    fields: "datanetId version contributionCount",
    orderBy: "publishedBlock",
    orderDirection: "desc",
    limit: 10,
  });
  const [baseModelId, setBaseModelId] = useState("");
  const [chosen, setChosen] = useState<Choice[]>([]);
  const [rank, setRank] = useState(String(trainingDefaults.rank));
  const [targets, setTargets] = useState<string[]>([...trainingDefaults.targets]);
  const [steps, setSteps] = useState(String(trainingDefaults.steps));
  const [lr, setLr] = useState(String(trainingDefaults.lr));
  const [seed, setSeed] = useState(String(trainingDefaults.seed));
  const [holdout, setHoldout] = useState(String(trainingDefaults.holdout));
  const [issues, setIssues] = useState<JobIssue[]>([]);
  const [status, setStatus] = useState("");
  const [busy, setBusy] = useState(false);

  const model = baseModelId || models.items?.[0]?.id || "";
  const key = (c: { datanetId: string; version: string }) => `${c.datanetId}:${c.version}`;
  const isChosen = (row: VersionRow) => chosen.some((c) => key(c) === key(row));
  /** Choosing or dropping a version splits the weights evenly again; each can then be edited. */
  const evenly = (list: Choice[]) => {
    const shares = splitEvenly(TOTAL_BPS, list.length);
    return list.map((c, i) => ({ ...c, weightBps: String(shares[i]) }));
  };
  const toggle = (row: VersionRow) =>
    setChosen((list) =>
      evenly(isChosen(row) ? list.filter((c) => key(c) !== key(row)) : [...list, { ...row, weightBps: "0" }]),
    );
  const setWeight = (row: Choice, weightBps: string) =>
    setChosen((list) => list.map((c) => (key(c) === key(row) ? { ...c, weightBps } : c)));
  const weightSum = chosen.reduce((sum, c) => sum + (Number(c.weightBps) || 0), 0);

  const request = () => ({
    baseModelId: model,
    datanets: chosen.map((c) => ({ datanetId: c.datanetId, version: c.version, weightBps: Number(c.weightBps) })),
    rank: Number(rank),
    targets,
    steps: Number(steps),
    lr: Number(lr),
    seed: Number(seed),
    holdout: Number(holdout),
  });

  async function start() {
    setStatus("");
    // The backend's own schema: nothing is sent while the form is invalid.
    const parsed = jobRequestSchema.safeParse(request());
    if (!parsed.success) {
      const found = parsed.error.issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message }));
      setIssues(found);
      setStatus(`Correct the fields marked above (${[...new Set(found.map((i) => i.path || "form"))].join(", ")}).`);
      return;
    }
    setIssues([]);
    setBusy(true);
    try {
      const job = await startJob(parsed.data);
      setStatus(`Job ${job.id} started.`);
      onStarted(job.id);
    } catch (error) {
      if (error instanceof JobApiError) setIssues(error.issues);
      setStatus(error instanceof Error ? error.message : String(error));
    } finally {
      setBusy(false);
    }
  }

  const number = (
    name: "rank" | "steps" | "lr" | "seed" | "holdout",
    label: string,
    value: string,
    set: (v: string) => void,
    step = "1",
  ) => (
    <div className="field">
      <label>
        {label}
        <input
          type="number"
          inputMode="decimal"
          step={step}
          min="0"
          value={value}
          onChange={(e) => set(e.target.value)}
          aria-describedby={`help-${name}${issueFor(issues, name) ? ` error-${name}` : ""}`}
          aria-invalid={issueFor(issues, name) ? true : undefined}
        />
      </label>
      <span id={`help-${name}`} className="muted help">
        {hyperparameterHelp[name]}
      </span>
      <FieldError id={`error-${name}`} message={issueFor(issues, name)} />
    </div>
  );

  return (
    <>
      <h2>Train a new adapter</h2>
      <div className="form factory-form">
        <div className="field">
          <label>
            Base model
            <select
              value={model}
              onChange={(e) => setBaseModelId(e.target.value)}
              aria-describedby="help-base"
              aria-invalid={issueFor(issues, "baseModelId") ? true : undefined}
            >
              {models.items?.length === 0 && <option value="">No base model is registered</option>}
              {models.items?.map((m) => (
                <option key={m.id} value={m.id}>
                  #{m.id} {m.name}
                </option>
              ))}
            </select>
          </label>
          <span id="help-base" className="muted help">
            The registered model the adapter is trained for; workers serving it can serve the adapter.
          </span>
          <FieldError id="error-base" message={issueFor(issues, "baseModelId")} />
        </div>
        {models.pager.hasNext || models.pager.hasPrevious ? <Pager pager={models.pager} label="Base models" /> : null}
      </div>

      <h3>Datanet versions and their lineage weights</h3>
      <p className="muted help">
        The adapter is trained on every contribution of the versions you choose; the weights (basis points, adding up to
        10,000) are its lineage on chain: how the datanets share the adapter&apos;s data revenue.
      </p>
      <Table label="Datanet versions to train on">
        <thead>
          <tr>
            <th scope="col">Train on</th>
            <th scope="col">Contributions</th>
            <th scope="col">Weight (bps)</th>
          </tr>
        </thead>
        <tbody>
          {versions.items?.length === 0 && (
            <tr>
              <td colSpan={3} className="muted">
                No datanet has published a version yet.
              </td>
            </tr>
          )}
          {versions.items?.map((row) => {
            const choice = chosen.find((c) => key(c) === key(row));
            return (
              <tr key={key(row)}>
                <td>
                  <label className="inline">
                    <input type="checkbox" checked={Boolean(choice)} onChange={() => toggle(row)} />
                    Datanet {row.datanetId} version {row.version}
                  </label>
                </td>
                <td>{row.contributionCount}</td>
                <td>
                  {choice ? (
                    <label className="inline">
                      <span className="visually-hidden">
                        Weight of datanet {row.datanetId} version {row.version} in bps
                      </span>
                      <input
                        type="number"
                        min="1"
                        max={TOTAL_BPS}
                        step="1"
                        value={choice.weightBps}
                        onChange={(e) => setWeight(choice, e.target.value)}
                      />
                    </label>
                  ) : (
                    <span className="muted">—</span>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </Table>
      <Pager pager={versions.pager} label="Datanet versions" />
      <p>
        {chosen.length} version{chosen.length === 1 ? "" : "s"} chosen; weights add up to {weightSum} of {TOTAL_BPS}{" "}
        bps.{" "}
        {chosen.length > 1 && (
          <button type="button" onClick={() => setChosen(evenly)}>
            Split evenly
          </button>
        )}
      </p>
      <FieldError id="error-datanets" message={issueFor(issues, "datanets")} />

      <h3>Training</h3>
      <div className="form factory-form">
        {number("rank", "LoRA rank", rank, setRank)}
        {number("steps", "Steps", steps, setSteps)}
        {number("lr", "Learning rate", lr, setLr, "any")}
        {number("seed", "Seed", seed, setSeed)}
        {number("holdout", "Held-out share", holdout, setHoldout, "0.05")}
      </div>
      <fieldset aria-describedby="help-targets">
        <legend>Target modules</legend>
        {TARGET_MODULES.map((t) => (
          <label key={t} className="inline">
            <input
              type="checkbox"
              checked={targets.includes(t)}
              onChange={() =>
                setTargets((list) =>
                  list.includes(t)
                    ? list.filter((x) => x !== t)
                    : TARGET_MODULES.filter((x) => x === t || list.includes(x)),
                )
              }
            />
            {t}
          </label>
        ))}
        <span id="help-targets" className="muted help">
          {hyperparameterHelp.targets}
        </span>
        <FieldError id="error-targets" message={issueFor(issues, "targets")} />
      </fieldset>
      <div className="tx">
        <button type="button" onClick={start} disabled={busy}>
          Start training
        </button>
        <div role="status" aria-live="polite" className="tx-status">
          {status}
        </div>
      </div>
    </>
  );
}

const stageText = {
  model: "fetching the base model",
  data: "fetching and checking the datanets' contributions",
  training: "training",
};

/** The job's state from its event stream: the whole state on every (re)connection, then progress as it comes. */
function useJobEvents(id: string) {
  const [job, setJob] = useState<Job>();
  const [lost, setLost] = useState(false);
  useEffect(() => {
    const source = new EventSource(jobEventsUrl(id));
    source.addEventListener("state", (event) => {
      setLost(false);
      const next = JSON.parse((event as MessageEvent<string>).data) as Job;
      setJob(next);
      // The server ends the stream once the job has ended; EventSource would otherwise reconnect again and again.
      if (terminalStates.has(next.state)) source.close();
    });
    source.addEventListener("progress", (event) => {
      const report = JSON.parse((event as MessageEvent<string>).data) as TrainingProgress;
      setJob((current) => current && { ...current, progress: withProgress(current.progress, report) });
    });
    // EventSource reconnects by itself; the first event after it is the whole state again.
    source.onerror = () => setLost(true);
    return () => source.close();
  }, [id]);
  return { job, setJob, lost };
}

const lossText = (loss: number | null) =>
  loss === null ? "—" : `${loss.toFixed(3)} (perplexity ${perplexity(loss).toFixed(2)})`;

function JobView({ id }: { id: string }) {
  const { job, setJob, lost } = useJobEvents(id);
  const [cancelError, setCancelError] = useState("");
  if (!job)
    return (
      <p className="muted" role="status">
        {lost ? `Job ${id} cannot be reached.` : `Loading job ${id}…`}
      </p>
    );
  const latest = job.progress.at(-1);
  const result = job.result;
  const cancel = async () => {
    setCancelError("");
    try {
      setJob(await cancelJob(id));
    } catch (error) {
      setCancelError(error instanceof Error ? error.message : String(error));
    }
  };
  const curve = result
    ? result.training.losses.map((y, i) => ({ x: i + 1, y }))
    : job.progress.map((p) => ({ x: p.step, y: p.loss }));
  return (
    <article aria-labelledby="job-title" className="job">
      <h2 id="job-title">Job {job.id}</h2>
      <p role="status" aria-live="polite">
        <strong className={`state-${job.state}`}>{job.state}</strong>
        {job.state === "running" && job.stage ? `: ${stageText[job.stage]}` : ""}
        {job.state === "queued" ? ": waiting for the device" : ""}
        {job.error ? `: ${job.error.message}` : ""}
        {lost && !terminalStates.has(job.state) ? " (connection lost, reconnecting…)" : ""}
      </p>
      {latest && (
        <>
          <label className="progress">
            Step {latest.step} of {latest.steps}
            <progress max={latest.steps} value={latest.step} />
          </label>
          <dl className="facts">
            <dt>Loss</dt>
            <dd>{latest.loss.toFixed(4)}</dd>
            <dt>Speed</dt>
            <dd>{Math.round(latest.tokensPerSec)} tokens/s</dd>
            {job.state === "running" && (
              <>
                <dt>Time left</dt>
                <dd>{formatSeconds(latest.etaSeconds)}</dd>
              </>
            )}
          </dl>
        </>
      )}
      <Chart points={curve} label="Training loss by step" formatY={(y) => y.toFixed(2)} />
      {!terminalStates.has(job.state) && (
        <div className="tx">
          <button type="button" onClick={cancel}>
            Cancel job {job.id}
          </button>
          {cancelError && (
            <p className="error" role="alert">
              {cancelError}
            </p>
          )}
        </div>
      )}
      {result && <Outcome job={job} onChange={setJob} />}
    </article>
  );
}

function Outcome({ job, onChange }: { job: Job; onChange: (job: Job) => void }) {
  const result = job.result!;
  const { training } = result;
  return (
    <>
      <h3>Evaluation</h3>
      <dl className="facts">
        <dt>Held-out loss</dt>
        <dd>
          {training.heldOutLoss.before === null
            ? "none: a datanet version needs two or more documents to hold one out"
            : `${lossText(training.heldOutLoss.before)} before → ${lossText(training.heldOutLoss.after)} after`}
        </dd>
        <dt>Training loss</dt>
        <dd>
          {training.losses[0]?.toFixed(3)} → {training.losses.at(-1)?.toFixed(3)}
        </dd>
        <dt>Data</dt>
        <dd>
          {training.datasets
            .map((d) => `${d.name}: ${d.documents} documents (${d.heldOut} held out), ${formatBps(d.weightBps)}`)
            .join("; ")}
          ; {training.tokens} tokens
        </dd>
        <dt>Trained in</dt>
        <dd>
          {training.trainSeconds < 60 ? `${training.trainSeconds.toFixed(1)} s` : formatSeconds(training.trainSeconds)}
        </dd>
        <dt>Artifact hash</dt>
        <dd className="mono">{result.artifactHash}</dd>
      </dl>
      <Publish job={job} onChange={onChange} />
    </>
  );
}

function Publish({ job, onChange }: { job: Job; onChange: (job: Job) => void }) {
  const result = job.result!;
  if (job.published)
    return (
      <>
        <h3>Published</h3>
        <p>
          The adapter and its training manifest are in the content store at{" "}
          <span className="mono">{job.published.uri}</span>.
        </p>
        {job.adapterId ? (
          <p>
            Registered as <Link href={`/adapters/${job.adapterId}`}>adapter {job.adapterId}</Link>.
          </p>
        ) : (
          <Register job={job} onChange={onChange} />
        )}
      </>
    );
  return (
    <>
      <h3>Publish</h3>
      <p className="muted">
        One signature lets the Studio upload the adapter&apos;s {result.writes.length} files (its weights,
        configuration, training manifest and artifact manifest) to the content store in your name; the Studio never
        holds your key.
      </p>
      <TxButton
        label="Sign and publish"
        steps={1}
        action={async (tx) => {
          const time = Math.floor(Date.now() / 1000);
          const signature = await tx.sign("Sign the upload", storeWriteSessionMessage({ writes: result.writes, time }));
          tx.note("Uploading to the content store…");
          const published = await publishJob(job.id, { signer: tx.account, time, signature });
          onChange(published);
          return published;
        }}
      />
    </>
  );
}

const registrationSchema = z
  .object({
    price: z.string().refine((p) => {
      try {
        parseOpen(p);
        return true;
      } catch {
        return false;
      }
    }, "the price is an amount of OPEN, like 0.01"),
    ownerShareBps: z.int().min(0).max(TOTAL_BPS),
    dataShareBps: z.int().min(0).max(TOTAL_BPS),
  })
  .refine(
    (r) => r.ownerShareBps + r.dataShareBps === TOTAL_BPS,
    "the owner's and the data's shares add up to 10000 bps",
  );

function Register({ job, onChange }: { job: Job; onChange: (job: Job) => void }) {
  const { config } = useStudio();
  const result = job.result!;
  const [price, setPrice] = useState("0.01");
  const [ownerShare, setOwnerShare] = useState("7000");
  const [dataShare, setDataShare] = useState("3000");
  const terms = { price, ownerShareBps: Number(ownerShare), dataShareBps: Number(dataShare) };
  const registry = contractOf(config, "ModelRegistry");
  return (
    <>
      <h3>Register</h3>
      <div className="form">
        <label>
          Price (OPEN per 1,000 tokens)
          <input value={price} onChange={(e) => setPrice(e.target.value)} inputMode="decimal" />
        </label>
        <label>
          Owner&apos;s share (bps)
          <input
            type="number"
            min="0"
            max={TOTAL_BPS}
            value={ownerShare}
            onChange={(e) => setOwnerShare(e.target.value)}
          />
        </label>
        <label>
          Datanets&apos; share (bps)
          <input
            type="number"
            min="0"
            max={TOTAL_BPS}
            value={dataShare}
            onChange={(e) => setDataShare(e.target.value)}
          />
        </label>
      </div>
      <p className="muted">
        Lineage:{" "}
        {result.lineage.map((l) => `datanet ${l.datanetId} v${l.version} (${formatBps(l.weightBps)})`).join(", ")}
      </p>
      <TxButton
        label="Register the adapter"
        steps={2}
        validate={() => {
          const parsed = registrationSchema.safeParse(terms);
          return parsed.success ? undefined : parsed.error.issues[0]!.message;
        }}
        action={async (tx) => {
          const receipt = await tx.writeRevealing("Register the adapter", {
            ...registry,
            functionName: "registerAdapter",
            hash: result.artifactHash,
            args: [
              {
                baseModelId: BigInt(result.baseModel.baseModelId),
                artifactHash: result.artifactHash,
                uri: job.published!.uri,
                rank: result.rank,
                targetModules: result.targetModules,
                pricePer1kTokens: parseOpen(price),
                ownerShareBps: terms.ownerShareBps,
                dataShareBps: terms.dataShareBps,
                lineage: result.lineage.map((l) => ({
                  datanetId: BigInt(l.datanetId),
                  version: BigInt(l.version),
                  weightBps: l.weightBps,
                })),
              },
            ],
          });
          const [registered] = parseEventLogs({
            abi: registry.abi,
            eventName: "AdapterRegistered",
            logs: receipt.logs,
          }) as unknown as { args: { adapterId: bigint } }[];
          const linked = await linkAdapter(job.id, registered!.args.adapterId);
          onChange(linked);
          return linked;
        }}
        done={(linked) => (
          <>
            Registered as <Link href={`/adapters/${linked.adapterId}`}>adapter {linked.adapterId}</Link>.
          </>
        )}
      />
    </>
  );
}

const PAGE = 10;

function JobList({ selected, onSelect }: { selected?: string; onSelect: (id: string) => void }) {
  // Cursors of the pages read so far: page i starts before cursors[i] (undefined: the newest).
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const index = cursors.length - 1;
  const page = useQuery({
    queryKey: ["factory-jobs", cursors[index]],
    queryFn: () => listJobs(PAGE, cursors[index]),
    placeholderData: keepPreviousData,
    // Queued and running jobs change state on their own.
    refetchInterval: 5_000,
  });
  const pager: PagerState = {
    index,
    pageSize: PAGE,
    total: undefined,
    hasNext: Boolean(page.data?.next),
    hasPrevious: index > 0,
    next: () => page.data?.next && setCursors((list) => [...list, page.data!.next!]),
    previous: () => setCursors((list) => (list.length > 1 ? list.slice(0, -1) : list)),
  };
  return (
    <>
      <h2>Jobs</h2>
      {page.error && (
        <p className="error" role="alert">
          {page.error.message}
        </p>
      )}
      <Table label="Jobs">
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col">State</th>
            <th scope="col">Trained on</th>
            <th scope="col">Steps</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {page.data?.jobs.length === 0 && (
            <tr>
              <td colSpan={5} className="muted">
                No jobs yet.
              </td>
            </tr>
          )}
          {page.data?.jobs.map((j) => (
            <tr key={j.id} aria-current={j.id === selected ? "true" : undefined}>
              <td>
                <button type="button" className="link" onClick={() => onSelect(j.id)}>
                  Job {j.id}
                </button>
              </td>
              <td>
                {j.state}
                {j.adapterId ? (
                  <>
                    {" "}
                    · <Link href={`/adapters/${j.adapterId}`}>adapter {j.adapterId}</Link>
                  </>
                ) : null}
              </td>
              <td>
                base #{j.request.baseModelId};{" "}
                {j.request.datanets.map((d) => `datanet ${d.datanetId} v${d.version}`).join(", ")}
              </td>
              <td>{j.request.steps}</td>
              <td>{new Date(j.createdAt).toLocaleString()}</td>
            </tr>
          ))}
        </tbody>
      </Table>
      <Pager pager={pager} label="Jobs" />
    </>
  );
}
