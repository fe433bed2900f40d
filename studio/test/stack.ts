/**
 * A whole local stack for the Studio's browser tests, on free ports: a Hardhat chain with the suite deployed by
 * `npm run deploy`, Hardhat's test accounts holding OPEN, the content store, the tiny generated model registered as
 * base model 1 by the CLI (published to the store) and served by a worker of an operator staked by the CLI, the
 * indexer (Ponder on PGlite), and the Studio's server. Nothing is mocked. `stop()` stops whatever started, in reverse;
 * a start that fails part-way stops what it had started before rethrowing.
 *
 * The stack's deployment becomes this process's (OPENPOA_RPC_URL, OPENPOA_DEPLOYMENTS_DIR), so that connectSuite and
 * the CLI's helpers read it: one stack per test file (node --test runs each file in a process of its own).
 */
import { cp } from "node:fs/promises";
import path from "node:path";
import { createPublicClient, http, type Address, type PublicClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { generatedModel } from "../../inference/gateway/testSupport.ts";
import { jsonOutput, runCli, startDeployedChain } from "../../scripts/cli/testing.ts";
import { connectSuite } from "../../scripts/lib/contracts.ts";
import type { Deployment } from "../../scripts/lib/deployments.ts";
import { handOutOpen, hardhatKey, startIndexerService, startWorkerService } from "../../scripts/lib/localStack.ts";
import { freePort } from "../../scripts/lib/services.ts";
import { startStoreService } from "../../store/service.ts";
import { waitForIndexedBlock } from "../app/src/lib/indexer.ts";
import { startStudioService } from "../server/service.ts";

export const OPEN = 10n ** 18n;

/** Who each Hardhat test account is in the tests (the development wallet's account picker shows `#index`). */
export const roles = { deployer: 0, operator: 1, app: 2, curator: 3, contributor: 4, contributor2: 5, author: 6 };

export type StudioStack = {
  chainUrl: string;
  deployment: Deployment;
  storeUrl: string;
  indexerUrl: string;
  workerUrl: string;
  studioUrl: string;
  /** Reads chain state directly (tests check what the UI did against it). */
  client: PublicClient;
  addressOf(account: number): Address;
  /** Resolves once the indexer has indexed the chain's newest block (throws after 60 s). */
  indexed(): Promise<void>;
  /** `openpoa <args> --json` signed by Hardhat account `account`; its JSON output (it must succeed). */
  cli(account: number, ...args: string[]): Promise<unknown>;
  stop(): Promise<void>;
};

const started = Date.now();
const log = (what: string) => console.log(`# stack: ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);

export async function startStudioStack(): Promise<StudioStack> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const deployed = await startDeployedChain({ port: await freePort() });
    cleanups.push(deployed.stop);
    const env = deployed.env;
    process.env.OPENPOA_RPC_URL = deployed.chain.url;
    process.env.OPENPOA_DEPLOYMENTS_DIR = deployed.work;
    log("chain deployed");

    const deployer = await connectSuite({ network: "localhost", privateKey: hardhatKey(0), progress: false });
    const addressOf = (account: number) => privateKeyToAccount(hardhatKey(account)).address;
    await handOutOpen(
      deployer,
      Object.values(roles)
        .filter((account) => account !== roles.deployer)
        .map(addressOf),
      20_000n * OPEN,
    );

    const [storePort, indexerPort, workerPort, studioPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const store = await startStoreService({
      port: storePort,
      dir: path.join(deployed.work, "store"),
      network: "localhost",
      env,
    });
    cleanups.push(store.stop);
    const storeUrl = `http://127.0.0.1:${storePort}`;
    log("store up");

    const cli = async (account: number, ...args: string[]) =>
      jsonOutput(await runCli({ ...env, OPENPOA_PRIVATE_KEY: hardhatKey(account) }, [...args, "--json"]));
    const workerUrl = `http://127.0.0.1:${workerPort}`;
    // Hash and name from the files, the URI from publishing them to the store. A copy: registering writes the
    // artifact's manifest into the folder, and the generated model is shared by other suites.
    const modelDir = path.join(deployed.work, "base-model");
    await cp(generatedModel().modelDir, modelDir, { recursive: true });
    await cli(roles.deployer, "model", "register", "--from", modelDir, "--content", storeUrl);
    await cli(roles.operator, "node", "register", "--endpoint", workerUrl, "--base-models", "1", "--stake", "10000");
    log("base model registered, operator staked");

    const indexer = await startIndexerService({
      port: indexerPort,
      pgliteDir: path.join(deployed.work, "pglite"),
      contentUrl: storeUrl,
      env,
    });
    cleanups.push(indexer.stop);
    const indexerUrl = `http://127.0.0.1:${indexerPort}`;
    log("indexer ready");

    const worker = await startWorkerService({
      port: workerPort,
      operatorKey: hardhatKey(roles.operator),
      dir: path.join(deployed.work, "worker"),
      contentUrl: storeUrl,
      env,
    });
    cleanups.push(worker.stop);
    log("worker serving");

    const studio = await startStudioService({
      port: studioPort,
      indexerUrl,
      contentUrl: storeUrl,
      dir: path.join(deployed.work, "studio"),
      env,
    });
    cleanups.push(studio.stop);
    log("studio serving");

    const client = createPublicClient({ transport: http(deployed.chain.url) }) as PublicClient;
    return {
      chainUrl: deployed.chain.url,
      deployment: deployer.deployment,
      storeUrl,
      indexerUrl,
      workerUrl,
      studioUrl: studio.url,
      client,
      addressOf,
      async indexed() {
        const head = await client.getBlockNumber({ cacheTime: 0 });
        if (!(await waitForIndexedBlock(indexerUrl, head, { timeoutMs: 60_000 })))
          throw new Error(`the indexer did not reach block ${head} within 60 s`);
      },
      cli,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
