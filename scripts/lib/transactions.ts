/**
 * Sending contract transactions with viem: simulate first (so a revert is decoded into its custom error before
 * anything is signed), then sign, send once (inference/sdk/rpc.ts) and wait for the receipt.
 */
import {
  BaseError,
  ContractFunctionRevertedError,
  type Hex,
  parseEventLogs,
  type Abi,
  type Account,
  type Chain,
  type Log,
  type TransactionReceipt,
  type Transport,
  type WalletClient,
} from "viem";
import { decodeRevert as decodeSuiteRevert, type DecodedRevert } from "../../inference/sdk/reverts.ts";
import { writeContractOnce } from "../../inference/sdk/rpc.ts";
import { abiOf, contractNames, type ContractName, type Suite } from "./contracts.ts";
import { withProgress } from "./progress.ts";

type Wallet = WalletClient<Transport, Chain | undefined, Account>;

/** A contract call reverted; `errorName` and `errorArgs` are the decoded custom error, when an ABI knows it. */
export class ContractRevertedError extends Error {
  readonly errorName?: string;
  readonly errorArgs?: readonly unknown[];
  constructor(call: string, revert: DecodedRevert | { reason: string }, options?: { cause?: unknown }) {
    super(`${call} reverted: ${"text" in revert ? revert.text : revert.reason}`, options);
    this.name = "ContractRevertedError";
    if ("text" in revert) {
      this.errorName = revert.errorName;
      this.errorArgs = revert.args;
    }
  }
}

export class NoSignerError extends Error {
  constructor() {
    super("This command sends a transaction: set OPENPOA_PRIVATE_KEY");
    this.name = "NoSignerError";
  }
}

/**
 * Every ABI of the suite: a revert bubbled up from another contract (the token, say) is not in the called one's.
 * Read from the build output on the first revert, not when this module loads.
 */
let suiteAbis: Abi[] | undefined;

/** Turns viem's revert errors into ContractRevertedError; rethrows anything else. */
export function decodeRevert(call: string, error: unknown): never {
  if (error instanceof BaseError) {
    const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
    if (reverted instanceof ContractFunctionRevertedError) {
      suiteAbis ??= contractNames.map(abiOf);
      const revert = decodeSuiteRevert(error, suiteAbis) ?? { reason: reverted.reason ?? reverted.shortMessage };
      throw new ContractRevertedError(call, revert, { cause: error });
    }
  }
  throw error;
}

export type Sent = { hash: `0x${string}`; receipt: TransactionReceipt };

/**
 * Sends `contract.functionName(...args)`. `simulateAt: "pending"` simulates in the next block rather than the latest
 * one, for calls that depend on an earlier block (a commitment's reveal).
 */
export async function send(
  suite: Suite,
  {
    contract,
    functionName,
    args = [],
    simulateAt,
  }: { contract: ContractName; functionName: string; args?: readonly unknown[]; simulateAt?: "pending" },
): Promise<Sent> {
  if (!suite.walletClient || !suite.account) throw new NoSignerError();
  const call = `${contract}.${functionName}`;
  const address = suite.address(contract);
  const abi = suite.abi(contract);
  try {
    await suite.publicClient.simulateContract({
      address,
      abi,
      functionName,
      args,
      account: suite.account,
      blockTag: simulateAt,
    });
  } catch (error) {
    decodeRevert(call, error);
  }
  // Signed here and sent once: a send whose answer a provider dropped is found by its hash, never sent anew.
  const receipt = await writeContractOnce(suite.walletClient as Wallet, suite.publicClient, {
    address,
    abi,
    functionName,
    args,
    wait: (hash) => waitForReceipt(suite, hash),
  });
  const hash = receipt.transactionHash;
  suite.sent.push(hash);
  if (receipt.status !== "success") throw new ContractRevertedError(call, { reason: `transaction ${hash} failed` });
  return { hash, receipt };
}

/** The receipt of `hash`, with progress on stderr while it takes long (scripts/lib/progress.ts). */
export function waitForReceipt(suite: Suite, hash: Hex): Promise<TransactionReceipt> {
  return withProgress(suite.publicClient.waitForTransactionReceipt({ hash }), {
    label: () => hash,
    blockNumber: () => suite.publicClient.getBlockNumber({ cacheTime: 0 }),
    enabled: suite.progress,
  });
}

export async function read<T>(
  suite: Suite,
  { contract, functionName, args = [] }: { contract: ContractName; functionName: string; args?: readonly unknown[] },
): Promise<T> {
  try {
    return (await suite.publicClient.readContract({
      address: suite.address(contract),
      abi: suite.abi(contract),
      functionName,
      args,
    })) as T;
  } catch (error) {
    decodeRevert(`${contract}.${functionName}`, error);
  }
}

/** The decoded arguments of every `eventName` log that `contract` emitted in a receipt. */
export function eventsIn<T = Record<string, unknown>>(
  suite: Suite,
  { contract, eventName, logs }: { contract: ContractName; eventName: string; logs: Log[] },
): T[] {
  const address = suite.address(contract).toLowerCase();
  const abi: Abi = suite.abi(contract);
  return parseEventLogs({ abi, logs: logs.filter((log) => log.address.toLowerCase() === address), eventName }).map(
    (log) => (log as unknown as { args: T }).args,
  );
}
