/**
 * A throwaway PostgreSQL cluster on 127.0.0.1 (Debian's postgresql package: /usr/lib/postgresql/<v>/bin). Runs the
 * server as the `postgres` user when this process is root (postgres refuses to run as root), as ourselves otherwise.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export type Postgres = { url: string; stop(): Promise<void> };

export function findPostgresBin(): string | null {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(root, versions[0]!, "bin") : null;
}

export async function startPostgres(port: number): Promise<Postgres> {
  const bin = findPostgresBin();
  if (!bin) throw new Error("PostgreSQL not installed: apt-get install postgresql (scripts/setup.sh does)");
  const dir = await mkdtemp(path.join(tmpdir(), "openpoa-pg-"));
  const asRoot = process.getuid?.() === 0;
  const as = async (command: string, args: string[]) =>
    asRoot ? run("runuser", ["-u", "postgres", "--", command, ...args]) : run(command, args);
  if (asRoot) {
    await run("chown", ["postgres:postgres", dir]);
    await chmod(dir, 0o700);
  }
  const data = path.join(dir, "data");
  await as(path.join(bin, "initdb"), ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  await as(path.join(bin, "pg_ctl"), ["-D", data, "-o", options, "-l", path.join(dir, "log"), "-w", "start"]);
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      await as(path.join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
