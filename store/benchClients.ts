/**
 * The store benchmark's clients (store/bench.ts), in a worker thread: their work runs beside the servers' event
 * loop, not on it. Each job runs `clients` concurrent clients over keep-alive connections and reports what it
 * measured; the bench posts one job at a time.
 */
import { Agent, request, type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import { parentPort } from "node:worker_threads";

export type Put = { url: string; headers: OutgoingHttpHeaders; body: Uint8Array[] };

export type Job =
  /** Each client GETs `url` `perClient` times in a row: every request's milliseconds. */
  | { job: "getLatencies"; url: string; clients: number; perClient: number }
  /** Each client GETs `url` once: bytes received and the milliseconds from first request to last byte. */
  | { job: "getThroughput"; url: string; clients: number }
  /** Client i sends puts[i] in a row: every request's milliseconds and status. */
  | { job: "putLatencies"; puts: Put[][] }
  /** Every put at once: bytes sent, milliseconds from first request to last answer, statuses. */
  | { job: "putThroughput"; puts: Put[] };

export type Result = { ms: number[]; bytes: number; elapsedMs: number; statuses: number[] };

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/** One request; resolves with its status and body size once the response has ended. */
function send(url: string, method: string, headers: OutgoingHttpHeaders = {}, body: Uint8Array[] = []) {
  return new Promise<{ status: number; bytes: number }>((resolve, reject) => {
    const outgoing = request(url, { method, headers, agent }, (response: IncomingMessage) => {
      let bytes = 0;
      response.on("data", (chunk: Buffer) => (bytes += chunk.length));
      response.on("end", () => resolve({ status: response.statusCode!, bytes }));
      response.on("error", reject);
    });
    outgoing.on("error", reject);
    // Large bodies are many views on one shared buffer: written as they drain, never copied whole.
    const writeFrom = (index: number): void => {
      if (index === body.length) return void outgoing.end();
      if (outgoing.write(body[index])) writeFrom(index + 1);
      else outgoing.once("drain", () => writeFrom(index + 1));
    };
    writeFrom(0);
  });
}

/** Runs `action`, noting its milliseconds and status; returns the bytes it received. */
async function timed(action: () => Promise<{ status: number; bytes: number }>, result: Result): Promise<number> {
  const started = performance.now();
  const { status, bytes } = await action();
  result.ms.push(performance.now() - started);
  result.statuses.push(status);
  return bytes;
}

async function run(job: Job): Promise<Result> {
  const result: Result = { ms: [], bytes: 0, elapsedMs: 0, statuses: [] };
  const started = performance.now();
  switch (job.job) {
    case "getLatencies":
    case "getThroughput": {
      const perClient = job.job === "getLatencies" ? job.perClient : 1;
      await Promise.all(
        Array.from({ length: job.clients }, async () => {
          for (let i = 0; i < perClient; i++) {
            const bytes = await timed(() => send(job.url, "GET"), result);
            result.bytes += bytes;
          }
        }),
      );
      break;
    }
    case "putLatencies":
      await Promise.all(
        job.puts.map(async (puts) => {
          for (const put of puts) await timed(() => send(put.url, "PUT", put.headers, put.body), result);
        }),
      );
      break;
    case "putThroughput":
      await Promise.all(
        job.puts.map(async (put) => {
          await timed(() => send(put.url, "PUT", put.headers, put.body), result);
          result.bytes += put.body.reduce((sum, part) => sum + part.length, 0);
        }),
      );
      break;
  }
  result.elapsedMs = performance.now() - started;
  return result;
}

parentPort?.on("message", (job: Job) => {
  run(job).then(
    (result) => parentPort!.postMessage({ result }),
    (error: unknown) => parentPort!.postMessage({ error: String(error) }),
  );
});
