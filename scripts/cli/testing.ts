/**
 * What the CLI's tests share: a local chain with the suite deployed by `npm run deploy`, as a user deploys it, and
 * the CLI run as a user runs it (a process of its own, its exit code and output).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { repoRoot, rpc, startLocalChain, type LocalChain } from "../lib/localChain.ts";

const run = promisify(execFile);
export const cliPath = path.join(repoRoot, "scripts", "cli", "openpoa.ts");

export type DeployedChain = {
  chain: LocalChain;
  /** A temporary folder holding deployments/localhost.json (OPENPOA_DEPLOYMENTS_DIR) and whatever a test keeps. */
  work: string;
  /** The environment the CLI runs with: `environment`, this chain and this deployment. */
  env: NodeJS.ProcessEnv;
  /** Stops the chain and removes the folder and the deploy's Ignition journal. */
  stop(): Promise<void>;
};

export async function startDeployedChain({
  port,
  environment = () => process.env,
  parameters,
}: {
  port: number;
  /** The environment of the deploy and the CLI, given the work folder (default: this process's). */
  environment?: (work: string) => NodeJS.ProcessEnv;
  /** Ignition parameters deployed with (`npm run deploy -- --parameters`). */
  parameters?: Record<string, unknown>;
}): Promise<DeployedChain> {
  const chain = await startLocalChain({ port });
  const work = await mkdtemp(path.join(tmpdir(), "openpoa-cli-"));
  const stop = async () => {
    // The deploy's Ignition journal is keyed by the genesis hash: read it while the chain still answers.
    const genesis = await rpc<{ hash: string }>(chain.url, "eth_getBlockByNumber", ["0x0", false]).catch(() => null);
    await chain.stop();
    await rm(work, { recursive: true, force: true });
    if (genesis) {
      await rm(path.join(repoRoot, "ignition", "deployments", `localhost-31337-${genesis.hash.slice(2, 10)}`), {
        recursive: true,
        force: true,
      });
    }
  };
  try {
    const deployEnv = { ...environment(work), OPENPOA_RPC_URL: chain.url, OPENPOA_DEPLOYMENTS_DIR: work };
    const deployArgs = ["run", "deploy", "--", "--network", "localhost"];
    if (parameters) {
      const file = path.join(work, "parameters.json");
      await writeFile(file, JSON.stringify(parameters));
      deployArgs.push("--parameters", file);
    }
    await run("npm", deployArgs, { cwd: repoRoot, env: deployEnv });
    return { chain, work, env: deployEnv, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export type CliResult = { code: number; stdout: string; stderr: string };

/** Runs `openpoa <args>` with `env`; resolves with its exit code and output instead of throwing. */
export async function runCli(env: NodeJS.ProcessEnv, args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cliPath, ...args], { cwd: repoRoot, env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** The `--json` output of a run that must have succeeded. */
export function jsonOutput(result: CliResult) {
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}
