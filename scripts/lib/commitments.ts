/**
 * The client side of ICommitments: registrations whose hash must be unique (contributions, base models, adapters)
 * are committed in one block and revealed in a later one, so that copying a pending registration gains nothing.
 */
import type { Hex } from "viem";
import { commitmentOf, newSalt } from "./commitmentOf.ts";
import type { ContractName, Suite } from "./contracts.ts";
import { ContractRevertedError, NoSignerError, send, type Sent } from "./transactions.ts";

export { commitmentOf, newSalt } from "./commitmentOf.ts";

/** How long to wait for the block after a commitment before giving up. */
const NEXT_BLOCK_TIMEOUT_MS = 120_000;

/**
 * Sends `functionName(...args, salt)` on `contract` after committing to `hash` in an earlier block. The reveal is
 * simulated in the pending block; a node whose pending block is its latest answers CommitmentTooRecent, and then it
 * waits for the next block.
 */
export async function sendRevealing(
  suite: Suite,
  call: { contract: ContractName; functionName: string; hash: Hex; args: readonly unknown[] },
): Promise<Sent> {
  if (!suite.account) throw new NoSignerError();
  const salt = newSalt();
  const committed = await send(suite, {
    contract: call.contract,
    functionName: "commit",
    args: [commitmentOf(suite.account.address, call.hash, salt)],
  });
  const reveal = {
    contract: call.contract,
    functionName: call.functionName,
    args: [...call.args, salt],
    simulateAt: "pending" as const,
  };
  const deadline = Date.now() + NEXT_BLOCK_TIMEOUT_MS;
  for (;;) {
    try {
      return await send(suite, reveal);
    } catch (error) {
      const tooRecent = error instanceof ContractRevertedError && error.errorName === "CommitmentTooRecent";
      if (!tooRecent || Date.now() > deadline) throw error;
      await waitForBlockAfter(suite, committed.receipt.blockNumber);
    }
  }
}

async function waitForBlockAfter(suite: Suite, blockNumber: bigint): Promise<void> {
  while ((await suite.publicClient.getBlockNumber({ cacheTime: 0 })) <= blockNumber) {
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
