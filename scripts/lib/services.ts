import { spawn, type ChildProcess } from "node:child_process";

export type Service = { name: string; process: ChildProcess; output(): string; stop(): Promise<void> };

export class ServiceStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ServiceStartError";
  }
}

/**
 * Spawns a long-running process and resolves once `ready()` says it serves. Keeps its output for error messages;
 * `stop()` sends SIGTERM and waits for the exit.
 */
export async function startService({
  name,
  command,
  args,
  cwd,
  env,
  ready,
  timeoutMs = 60_000,
}: {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  ready: () => Promise<boolean>;
  timeoutMs?: number;
}): Promise<Service> {
  const child = spawn(command, args, { cwd, env: env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk: Buffer) => {
    // The tail is what explains a failure; don't grow without bound on a chatty process.
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new ServiceStartError(`${name} exited early (code ${child.exitCode}):\n${output}`);
    if (await ready().catch(() => false)) return { name, process: child, output: () => output, stop };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await stop();
  throw new ServiceStartError(`${name} was not ready within ${timeoutMs} ms:\n${output}`);
}

/** A TCP port free on 127.0.0.1 now (the system's pick), for a service about to be started on it. */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
