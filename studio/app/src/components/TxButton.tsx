/**
 * The one way pages write: validate → (simulate → sign → wait) per wallet step → wait for the indexer → refetch.
 * Forms validate before any signature; a revert shows by name with its arguments (lib/errors.ts, over the SDK's
 * reverts.ts); a flow of several wallet confirmations says which one the user is at ("Step 1 of 2: Commit …").
 */
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type ReactNode } from "react";
import type { Abi, Address, Hex, TransactionReceipt } from "viem";
import { useConfig, useConnection } from "wagmi";
import { signMessage, simulateContract, waitForTransactionReceipt, writeContract } from "wagmi/actions";
import { commitmentOf, newSalt } from "../../../../scripts/lib/commitmentOf.ts";
import { allAbis } from "../contracts.ts";
import { decodeRevert } from "../../../../inference/sdk/reverts.ts";
import { describeError } from "../lib/errors.ts";
import { waitForIndexedBlock } from "../lib/indexer.ts";
import { useStudio } from "../studio.tsx";

export type ContractCall = {
  address: Address;
  abi: Abi;
  functionName: string;
  args?: readonly unknown[];
  value?: bigint;
};

/** What a TxButton's action does its wallet steps with. */
export type TxRunner = {
  account: Address;
  /** One transaction (one wallet confirmation): simulated first, so a revert shows before anything is signed. */
  write(label: string, call: ContractCall): Promise<TransactionReceipt>;
  /**
   * `functionName(...args, salt)` after committing to `hash` in an earlier block (ICommitments; two wallet
   * confirmations).
   */
  writeRevealing(label: string, call: ContractCall & { hash: Hex }): Promise<TransactionReceipt>;
  /** An EIP-191 signature (personal_sign; one wallet confirmation). */
  sign(label: string, message: string): Promise<Hex>;
  /** Progress of a step that needs no wallet (an upload). */
  note(text: string): void;
};

export class TransactionFailedError extends Error {
  readonly hash: Hex;
  constructor(label: string, hash: Hex) {
    super(`${label}: transaction ${hash} reverted`);
    this.name = "TransactionFailedError";
    this.hash = hash;
  }
}

/** How long to wait for the block after a commitment before giving up on the reveal. */
const NEXT_BLOCK_TIMEOUT_MS = 60_000;

type Status =
  { kind: "idle" } | { kind: "busy"; text: string } | { kind: "done"; text: string } | { kind: "error"; text: string };

export function TxButton<T>({
  label,
  steps,
  validate,
  action,
  done,
  disabled,
}: {
  label: string;
  /** How many wallet confirmations the action asks for (shown as "Step i of n"). */
  steps: number;
  /** A message when the form is not valid yet; nothing is signed then. */
  validate?: () => string | undefined;
  action: (tx: TxRunner) => Promise<T>;
  /** What to say once done (default "Done."). */
  done?: (result: T) => ReactNode;
  disabled?: boolean;
}) {
  const wagmi = useConfig();
  const { address } = useConnection();
  const { config } = useStudio();
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<Status>({ kind: "idle" });
  const [result, setResult] = useState<{ value: T } | undefined>();
  // What was said to one account is not news to the next (the development wallet switches accounts in place).
  useEffect(() => {
    setStatus({ kind: "idle" });
    setResult(undefined);
  }, [address]);

  async function run() {
    setResult(undefined);
    const invalid = validate?.();
    if (invalid) return setStatus({ kind: "error", text: invalid });
    if (!address) return setStatus({ kind: "error", text: "Connect a wallet first." });
    let step = 0;
    let lastBlock = 0n;
    const prefix = (what: string) => (steps > 1 ? `Step ${step} of ${steps}: ${what}` : what);
    const busy = (text: string) => setStatus({ kind: "busy", text });
    const mined = async (label: string, hash: Hex) => {
      busy(prefix(`${label}: waiting for the block…`));
      const receipt = await waitForTransactionReceipt(wagmi, { hash });
      if (receipt.status !== "success") throw new TransactionFailedError(label, hash);
      lastBlock = receipt.blockNumber;
      return receipt;
    };
    const write = async (label: string, call: ContractCall, blockTag?: "pending") => {
      step++;
      busy(prefix(`${label}: checking…`));
      const { request } = await simulateContract(wagmi, { ...call, account: address, blockTag } as never);
      busy(prefix(`${label}: confirm in your wallet…`));
      return mined(label, await writeContract(wagmi, request as never));
    };
    const tx: TxRunner = {
      account: address,
      write: (label, call) => write(label, call),
      async writeRevealing(label, { hash, ...call }) {
        const salt = newSalt();
        const committed = await write(`${label} (commit)`, {
          ...call,
          functionName: "commit",
          args: [commitmentOf(address, hash, salt)],
        });
        const reveal = { ...call, args: [...(call.args ?? []), salt] };
        const deadline = Date.now() + NEXT_BLOCK_TIMEOUT_MS;
        for (;;) {
          try {
            return await write(label, reveal, "pending");
          } catch (error) {
            // A node whose pending block is its latest sees the commitment as too recent: wait for the next block.
            if (decodeRevert(error, allAbis)?.errorName !== "CommitmentTooRecent" || Date.now() > deadline) throw error;
            step--;
            busy(prefix(`${label}: waiting for the block after the commitment (${committed.blockNumber})…`));
            await new Promise((resolve) => setTimeout(resolve, 1_000));
          }
        }
      },
      async sign(label, message) {
        step++;
        busy(prefix(`${label}: sign in your wallet…`));
        return signMessage(wagmi, { account: address, message });
      },
      note: (text) => busy(prefix(text)),
    };
    try {
      const value = await action(tx);
      if (lastBlock > 0n) {
        busy("Waiting for the indexer…");
        await waitForIndexedBlock(config.indexerUrl, lastBlock);
      }
      await queryClient.invalidateQueries();
      setResult({ value });
      setStatus({ kind: "done", text: "Done." });
    } catch (error) {
      setStatus({ kind: "error", text: describeError(error, allAbis) });
    }
  }

  return (
    <div className="tx">
      <button type="button" onClick={run} disabled={disabled || status.kind === "busy"}>
        {label}
      </button>
      {steps > 1 && status.kind === "idle" && <span className="muted"> {steps} wallet confirmations</span>}
      <div role="status" aria-live="polite" className={`tx-status ${status.kind}`}>
        {status.kind === "done" && result && done ? done(result.value) : status.kind === "idle" ? "" : status.text}
      </div>
    </div>
  );
}
