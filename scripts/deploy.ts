/**
 * Deploys the whole suite with Hardhat Ignition and writes deployments/<network>.json:
 * `{ "chainId": n, "contracts": { "<ContractName>": { "address": "0x…", "startBlock": n } } }`.
 *
 * Usage: `npm run deploy -- --network <name>`. Ignition parameters, when present, are read from
 * ignition/parameters/<network>.json (documented in ignition/parameters/example.json) and checked before anything is
 * sent: off the local chain, the deploy refuses to start unless they name distinct genesis recipient, attestor and
 * guardian, none of them the deployer.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { network } from "hardhat";
import OpenPoAModule from "../ignition/modules/OpenPoA.ts";
import { checkDeployParameters, DeployParametersError, moduleParameters } from "./lib/deployParameters.ts";
import { findDeploymentBlock, writeDeployment, type Deployment } from "./lib/deployments.ts";

const connection = await network.create();
const { ignition, ethers, networkName } = connection;

const parametersFile = path.join("ignition", "parameters", `${networkName}.json`);
const moduleParams = moduleParameters(
  existsSync(parametersFile) ? JSON.parse(await readFile(parametersFile, "utf8")) : {},
);

const chainId = Number((await ethers.provider.getNetwork()).chainId);
const [deployer] = await ethers.getSigners();
try {
  checkDeployParameters(moduleParams, chainId, deployer.address);
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
const deployed = await ignition.deploy(OpenPoAModule, { parameters, deploymentId });

const deployment: Deployment = { chainId, contracts: {} };
for (const [key, future] of Object.entries(OpenPoAModule.results)) {
  const address = await deployed[key as keyof typeof deployed].getAddress();
  deployment.contracts[future.contractName] = {
    address,
    startBlock: await findDeploymentBlock(ethers.provider, address),
  };
}
const file = await writeDeployment(networkName, deployment);
console.log(`Deployed OpenPoA to ${networkName} (chain ${chainId}); wrote ${file}`);
for (const [name, { address, startBlock }] of Object.entries(deployment.contracts)) {
  console.log(`  ${name.padEnd(18)} ${address}  block ${startBlock}`);
}
