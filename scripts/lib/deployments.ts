import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

export type DeployedContract = { address: string; startBlock: number };
export type Deployment = { chainId: number; contracts: Record<string, DeployedContract> };

/**
 * deployments/ at the repository root: the one place every consumer reads addresses from.
 * OPENPOA_DEPLOYMENTS_DIR moves it (tests use a temporary folder).
 */
export const deploymentsDir = (): string =>
  process.env.OPENPOA_DEPLOYMENTS_DIR ??
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../deployments");

export class DeploymentNotFoundError extends Error {
  constructor(networkName: string, options?: { cause?: unknown }) {
    super(
      `No deployment for network "${networkName}": run \`npm run deploy -- --network ${networkName}\` first`,
      options,
    );
    this.name = "DeploymentNotFoundError";
  }
}

export async function writeDeployment(networkName: string, deployment: Deployment): Promise<string> {
  await mkdir(deploymentsDir(), { recursive: true });
  const file = path.join(deploymentsDir(), `${networkName}.json`);
  await writeFile(file, JSON.stringify(deployment, null, 2) + "\n");
  return file;
}

export async function readDeployment(networkName: string): Promise<Deployment> {
  const file = path.join(deploymentsDir(), `${networkName}.json`);
  try {
    return JSON.parse(await readFile(file, "utf8")) as Deployment;
  } catch (error) {
    throw new DeploymentNotFoundError(networkName, { cause: error });
  }
}

type CodeReader = {
  getCode(address: string, blockTag?: number): Promise<string>;
  getBlockNumber(): Promise<number>;
};

/**
 * The first block at which `address` holds code: the block of its deployment, where indexers start.
 * Binary search over eth_getCode, O(log head) calls.
 */
export async function findDeploymentBlock(provider: CodeReader, address: string): Promise<number> {
  let high = await provider.getBlockNumber();
  if ((await provider.getCode(address, high)) === "0x") throw new Error(`No code at ${address}`);
  let low = 0;
  while (low < high) {
    const mid = Math.floor((low + high) / 2);
    if ((await provider.getCode(address, mid)) === "0x") low = mid + 1;
    else high = mid;
  }
  return low;
}
