/**
 * The Model Factory page's calls to the backend's job API (studio/server/jobs.ts) and its pure helpers. Types and
 * the request schema come from studio/server/jobRequest.ts, so the form validates exactly as the backend does.
 */
import type { Address, Hex } from "viem";
import type { Job, JobRequest } from "../../../server/jobRequest.ts";
import type { TrainingProgress } from "../../../../scripts/lib/trainingParams.ts";

export type JobIssue = { path: string; message: string };

/** The backend refused a request: its code, message and the fields at fault. */
export class JobApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly issues: JobIssue[];
  constructor(status: number, code: string, message: string, issues: JobIssue[] = []) {
    super(message);
    this.name = "JobApiError";
    this.status = status;
    this.code = code;
    this.issues = issues;
  }
}

async function call<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(`/api/jobs${path}`, {
    ...init,
    headers: init?.body ? { "content-type": "application/json" } : undefined,
  });
  const body = (await response.json().catch(() => undefined)) as
    (T & { error?: { code: string; message: string; issues?: JobIssue[] } }) | undefined;
  if (!response.ok || body === undefined) {
    const error = body?.error;
    throw new JobApiError(
      response.status,
      error?.code ?? "unknown",
      error?.message ?? `the Studio backend answered ${response.status}`,
      error?.issues,
    );
  }
  return body;
}

const post = <T>(path: string, body: unknown) => call<T>(path, { method: "POST", body: JSON.stringify(body) });

export const startJob = (request: JobRequest) => post<Job>("", request);
export const cancelJob = (id: string) => call<Job>(`/${id}`, { method: "DELETE" });
export const listJobs = (limit: number, before?: string) =>
  call<{ jobs: (Job & { latestProgress?: TrainingProgress })[]; next: string | null }>(
    `?limit=${limit}${before ? `&before=${encodeURIComponent(before)}` : ""}`,
  );
export const publishJob = (id: string, session: { signer: Address; time: number; signature: Hex }) =>
  post<Job>(`/${id}/publish`, session);
export const linkAdapter = (id: string, adapterId: bigint) =>
  post<Job>(`/${id}/adapter`, { adapterId: String(adapterId) });
export const jobEventsUrl = (id: string) => `/api/jobs/${encodeURIComponent(id)}/events`;

/** `progress` with `report` added in step order; a report already there (a reconnect's replay) is not repeated. */
export function withProgress(progress: readonly TrainingProgress[], report: TrainingProgress): TrainingProgress[] {
  if (progress.some((p) => p.step === report.step)) return [...progress];
  return [...progress, report].sort((a, b) => a.step - b.step);
}

/** Perplexity of a mean next-token loss (nats): how many tokens the model hesitates between, on average. */
export const perplexity = (loss: number) => Math.exp(loss);
