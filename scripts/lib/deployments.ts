import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { writeAtomically } from "./atomicWrite.ts";

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
  await writeAtomically(file, JSON.stringify(deployment, null, 2) + "\n");
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

/**
 * The block each contract future was deployed in, from an Ignition journal (journal.jsonl): the receipt of the
 * transaction that created it. Providers prune historical state, so the start block an indexer needs is taken from
 * the deployment's own receipts, never searched for with eth_getCode at old blocks.
 */
export function deploymentBlocks(journal: string): Map<string, number> {
  const blocks = new Map<string, number>();
  for (const line of journal.split("\n")) {
    if (line.trim() === "") continue;
    const entry = JSON.parse(line) as {
      type: string;
      futureId?: string;
      receipt?: { blockNumber: number; contractAddress?: string | null };
    };
    if (entry.type === "TRANSACTION_CONFIRM" && entry.futureId && entry.receipt?.contractAddress) {
      blocks.set(entry.futureId, entry.receipt.blockNumber);
    }
  }
  return blocks;
}
