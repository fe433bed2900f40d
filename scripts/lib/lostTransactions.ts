/**
 * A deploy stopped between journalling a transaction's nonce and journalling the transaction leaves Ignition a nonce
 * it cannot account for (HHE10410, TRANSACTION_LOST), and every later run stops there. Either the transaction went
 * out (it is on chain, or on its way): find it by sender and nonce among the recent blocks and hand it to Ignition's
 * own `trackTransaction`, which journals it as the one that was sent. Or it never left: the nonce stays unused with
 * nothing pending, and the journal's preparation of it is dropped (journalRepairs.ts) so that it is sent again.
 */
import type { Provider } from "ethers";

export type LostTransaction = { futureId: string; account: string; nonce: number };

/** The future, sender and nonce Ignition names in a TRANSACTION_LOST error; undefined for any other error. */
export function lostTransactionOf(error: unknown): LostTransaction | undefined {
  const message = error instanceof Error ? error.message : "";
  if (!message.includes("HHE10410")) return undefined;
  const future = /for future (\S+?)\.\s/.exec(message);
  const found = /nonce (\d+) sent from account (0x[0-9a-fA-F]{40})/.exec(message);
  return future && found ? { futureId: future[1]!, nonce: Number(found[1]), account: found[2]! } : undefined;
}

export class LostTransactionNotFoundError extends Error {
  constructor(lost: Pick<LostTransaction, "account" | "nonce">, searched: number) {
    super(
      `the transaction with nonce ${lost.nonce} from ${lost.account} is not in the last ${searched} blocks: find it with a block explorer and run \`npx hardhat ignition track-tx <txHash> <deploymentId> --network <name>\``,
    );
    this.name = "LostTransactionNotFoundError";
  }
}

/**
 * The hash of `account`'s transaction with `nonce`, mined within the last `depth` blocks; a transaction still pending
 * is waited for (up to `waitMs`), since the nonce is only spent once it is mined. Undefined when it was never sent:
 * for `unsentAfterMs` the nonce stayed unused with nothing pending from `account` at it.
 */
export async function findTransactionByNonce(
  provider: Provider,
  { account, nonce }: Pick<LostTransaction, "account" | "nonce">,
  { depth = 1_000, waitMs = 120_000, pollMs = 1_000, unsentAfterMs = 10_000 } = {},
): Promise<string | undefined> {
  const start = Date.now();
  while ((await provider.getTransactionCount(account, "latest")) <= nonce) {
    const pending = (await provider.getTransactionCount(account, "pending")) > nonce;
    if (!pending && Date.now() - start >= unsentAfterMs) return undefined;
    if (Date.now() - start > waitMs) throw new LostTransactionNotFoundError({ account, nonce }, 0);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  const latest = await provider.getBlockNumber();
  // Newest first: the lost transaction is one of the deploy's last.
  for (let number = latest; number >= Math.max(0, latest - depth + 1); number--) {
    const block = await provider.getBlock(number, true);
    const found = block?.prefetchedTransactions.find(
      (tx) => tx.from.toLowerCase() === account.toLowerCase() && tx.nonce === nonce,
    );
    if (found) return found.hash;
  }
  throw new LostTransactionNotFoundError({ account, nonce }, Math.min(depth, latest + 1));
}
