/** How far the indexer has read the chain (Ponder's GET /status), so a page can wait for its own transaction. */

/** The newest block the indexer has indexed, over the chains it reads; 0 before it has indexed any. */
export async function indexedBlock(indexerUrl: string): Promise<bigint> {
  const response = await fetch(`${indexerUrl}/status`);
  if (!response.ok) throw new Error(`indexer /status answered ${response.status}`);
  const status = (await response.json()) as Record<string, { block: { number: number } | null }>;
  return BigInt(Math.max(0, ...Object.values(status).map((chain) => chain.block?.number ?? 0)));
}

/**
 * Resolves once the indexer has indexed `blockNumber`, or false after `timeoutMs`: a slow indexer delays what a page
 * shows, it does not fail the transaction that was already mined.
 */
export async function waitForIndexedBlock(
  indexerUrl: string,
  blockNumber: bigint,
  { timeoutMs = 20_000, intervalMs = 250 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await indexedBlock(indexerUrl).catch(() => 0n)) >= blockNumber) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
