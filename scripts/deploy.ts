/**
 * Deploys the whole suite with Hardhat Ignition and writes deployments/<network>.json:
 * `{ "chainId": n, "contracts": { "<ContractName>": { "address": "0x…", "startBlock": n } } }`.
 *
 * Usage: `npm run deploy -- --network <name> [--parameters <file>] [--dry-run]`. Ignition parameters, when present,
 * are read from the `--parameters` file, else from ignition/parameters/<network>.json (documented in
 * ignition/parameters/example.json), and checked before anything is sent: off the local chain, the deploy refuses to
 * start unless they name distinct genesis recipient, attestor and guardian, none of them the deployer.
 *
 * Start blocks come from the deployment's own transaction receipts, as Ignition journals them, never from
 * historical state (which a provider prunes). An interrupted deploy resumes from that journal when run again, and
 * writes the same file. `--dry-run` deploys the same module with the same parameters to an in-process chain with the
 * target's chain id, prints what would be deployed and who holds which role, and writes nothing.
 *
 * While it waits, the deploy shows progress on stderr (on a terminal, or with OPENPOA_PROGRESS=1); its summary links
 * each contract to the network's explorer where one is configured (scripts/lib/explorers.ts).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { trackTransaction } from "@nomicfoundation/ignition-core";
import hre from "hardhat";
import OpenPoAModule from "../ignition/modules/OpenPoA.ts";
import { checkDeployParameters, DeployParametersError, moduleParameters } from "./lib/deployParameters.ts";
import { deploymentBlocks, writeDeployment, type Deployment } from "./lib/deployments.ts";
import { addressLink } from "./lib/explorers.ts";
import { findTransactionByNonce, lostTransactionOf } from "./lib/lostTransactions.ts";
import { writeAtomically } from "./lib/atomicWrite.ts";
import { withProgress } from "./lib/progress.ts";
import { describeRoles } from "./lib/roles.ts";
import { startRetryingRelay } from "./lib/rpc.ts";
import { withoutUnsentTransaction, withoutUnstartedFutures } from "./lib/journalRepairs.ts";

const { values } = parseArgs({
  options: {
    network: { type: "string" },
    parameters: { type: "string" },
    "dry-run": { type: "boolean", default: false },
  },
  strict: true,
});
const networkName = values.network ?? "localhost";
const dryRun = values["dry-run"];
const target = hre.config.networks[networkName];
if (target === undefined) {
  console.error(`--network: no network "${networkName}" in hardhat.config.ts`);
  process.exit(2);
}

const parametersFile = values.parameters ?? path.join("ignition", "parameters", `${networkName}.json`);
if (values.parameters !== undefined && !existsSync(parametersFile)) {
  console.error(`--parameters: no file ${parametersFile}`);
  process.exit(2);
}
const moduleParams = moduleParameters(
  existsSync(parametersFile) ? JSON.parse(await readFile(parametersFile, "utf8")) : {},
);

// A dry run rehearses on an in-process chain that carries the target's chain id, so the same checks apply.
// A public provider drops and rate-limits requests, and Hardhat's provider gives up on the first: a network whose
// deployer key is ours (signed locally, so asking again is safe) is reached through a local relay that retries.
const signsLocally = target.type === "http" && Array.isArray(target.accounts);
const relay = dryRun || !signsLocally ? undefined : await startRetryingRelay(await target.url.get());
const connection = dryRun
  ? await hre.network.create({ network: "hardhat", override: { chainId: target.chainId ?? 31337 } })
  : await hre.network.create({ network: networkName, override: relay ? { url: relay.url } : {} });
const { ignition, ethers } = connection;
const chainId = Number((await ethers.provider.getNetwork()).chainId);
const [deployer] = await ethers.getSigners();
try {
  checkDeployParameters(moduleParams, chainId, deployer!.address);
} catch (error) {
  if (!(error instanceof DeployParametersError)) throw error;
  console.error(`${parametersFile}: ${error.message}`);
  process.exit(2);
}
const parameters = { OpenPoA: moduleParams };
// Ignition keeps a journal per deployment id. A local chain restarts from scratch with the same chain id, so
// key the journal by the genesis block too: a fresh chain gets a fresh deployment, a resumed one resumes.
const genesis = await ethers.provider.getBlock(0);
const deploymentId = `${networkName}-${chainId}-${genesis!.hash!.slice(2, 10)}`;
const deploymentDir = path.join(hre.config.paths.ignition, "deployments", deploymentId);
const journal = path.join(deploymentDir, "journal.jsonl");
const deployed = await withProgress(deployResuming(), {
  // Ignition journals each contract once its receipt is in: how far the deploy got.
  label: async () => {
    if (dryRun) return "the dry run";
    const confirmed = existsSync(journal) ? deploymentBlocks(await readFile(journal, "utf8")).size : 0;
    return `the deploy, ${confirmed} contracts confirmed`;
  },
  blockNumber: () => ethers.provider.getBlockNumber(),
});

/**
 * The deploy, resumed past what a stopped run left half journalled (journalRepairs.ts, lostTransactions.ts): futures
 * it started without sending anything start again; a transaction it prepared is found on chain and given to Ignition
 * when it went out, or prepared and sent again when it never did. Then the deploy runs again from its journal.
 */
async function deployResuming() {
  if (!dryRun && existsSync(journal)) {
    const repaired = withoutUnstartedFutures(await readFile(journal, "utf8"));
    for (const futureId of repaired.futureIds) {
      console.log(`Resuming: starting ${futureId} again, started by a stopped run that sent nothing for it`);
    }
    // Atomically: a deploy stopped again while it repairs keeps a whole journal.
    if (repaired.futureIds.length > 0) await writeAtomically(journal, repaired.journal);
  }
  for (let recovered = 0; ; recovered++) {
    try {
      return await ignition.deploy(OpenPoAModule, {
        parameters,
        // In memory for a dry run: nothing is journalled, nothing resumes.
        deploymentId: dryRun ? undefined : deploymentId,
      });
    } catch (error) {
      const lost = lostTransactionOf(error);
      // One lost transaction per stopped run at most; more means something else is wrong.
      if (lost === undefined || dryRun || recovered >= 3) throw error;
      const txHash = await findTransactionByNonce(ethers.provider, lost);
      if (txHash === undefined) {
        console.log(`Resuming: sending ${lost.futureId} again (nonce ${lost.nonce}), never sent by a stopped run`);
        await writeAtomically(journal, withoutUnsentTransaction(await readFile(journal, "utf8"), lost));
      } else {
        console.log(`Resuming: journalling ${txHash} (nonce ${lost.nonce}), sent by a run stopped before it noted it`);
        await trackTransaction(deploymentDir, txHash, connection.provider);
      }
    }
  }
}

const addresses = new Map<string, string>();
for (const [key, future] of Object.entries(OpenPoAModule.results)) {
  addresses.set(future.id, await deployed[key as keyof typeof deployed].getAddress());
}
if (dryRun) {
  console.log(`Dry run of the deploy to ${networkName} (chain ${chainId}), on an in-process chain: nothing was sent.`);
  for (const future of Object.values(OpenPoAModule.results)) {
    console.log(`  ${future.contractName.padEnd(18)} would be deployed (here at ${addresses.get(future.id)})`);
  }
  console.log("Roles after the deploy:");
  const contracts = Object.fromEntries(
    Object.values(OpenPoAModule.results).map((future) => [future.contractName, addresses.get(future.id)!]),
  );
  for (const line of await describeRoles(ethers.provider, { contracts, deployer: deployer!.address })) {
    console.log(`  ${line}`);
  }
  process.exit(0);
}

const blocks = deploymentBlocks(await readFile(journal, "utf8"));
const deployment: Deployment = { chainId, contracts: {} };
for (const future of Object.values(OpenPoAModule.results)) {
  const startBlock = blocks.get(future.id);
  if (startBlock === undefined) throw new Error(`${journal} has no confirmed deployment of ${future.id}`);
  deployment.contracts[future.contractName] = { address: addresses.get(future.id)!, startBlock };
}
await relay?.close();
const file = await writeDeployment(networkName, deployment);
console.log(`Deployed OpenPoA to ${networkName} (chain ${chainId}); wrote ${file}`);
for (const [name, { address, startBlock }] of Object.entries(deployment.contracts)) {
  const link = addressLink(chainId, address);
  console.log(`  ${name.padEnd(18)} ${address}  block ${startBlock}${link ? `  ${link}` : ""}`);
}
