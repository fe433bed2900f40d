/**
 * Repairs of an Ignition journal (journal.jsonl) that a stopped deploy left between two of its lines, where Ignition
 * alone cannot resume. Each drops lines that recorded an intention nothing acted on, so the journal becomes the one a
 * run stopped a moment earlier would have left, and the next run does that step again.
 */

/** The execution states that go on to network interactions; the others are complete in their one line. */
const INTERACTING_STATES = new Set([
  "DEPLOYMENT_EXECUTION_STATE_INITIALIZE",
  "CALL_EXECUTION_STATE_INITIALIZE",
  "SEND_DATA_EXECUTION_STATE_INITIALIZE",
  "STATIC_CALL_EXECUTION_STATE_INITIALIZE",
]);

type JournalMessage = { type: string; futureId?: string; networkInteractionId?: number; nonce?: number };

/** The journal's lines, each with its message (undefined for the blank ones Ignition's leading newlines make). */
function parse(journal: string) {
  return journal
    .split("\n")
    .map((line) => ({ line, message: line.trim() === "" ? undefined : (JSON.parse(line) as JournalMessage) }));
}

/**
 * Ignition journals a future as started (its `…_EXECUTION_STATE_INITIALIZE` line) before it journals the request for
 * its first transaction. A run stopped between the two leaves a started future with no network interaction, and
 * every later run stops in Ignition's nonce check ("HHE10000: Unable to find network interaction for …"). Such a
 * future has sent nothing: without its line, the next run starts it again. Every other line is kept as it was.
 */
export function withoutUnstartedFutures(journal: string): { journal: string; futureIds: string[] } {
  const entries = parse(journal);
  const lineCountByFuture = new Map<string, number>();
  for (const { message } of entries) {
    if (message?.futureId !== undefined) {
      lineCountByFuture.set(message.futureId, (lineCountByFuture.get(message.futureId) ?? 0) + 1);
    }
  }
  const unstarted = (message: JournalMessage | undefined) =>
    message?.futureId !== undefined &&
    INTERACTING_STATES.has(message.type) &&
    lineCountByFuture.get(message.futureId) === 1;
  return {
    journal: entries
      .filter(({ message }) => !unstarted(message))
      .map(({ line }) => line)
      .join("\n"),
    futureIds: entries.filter(({ message }) => unstarted(message)).map(({ message }) => message!.futureId!),
  };
}

/**
 * Ignition journals the nonce a transaction will use (TRANSACTION_PREPARE_SEND) before it signs and sends it, and the
 * transaction once sent (TRANSACTION_SEND). A run stopped between the two leaves a nonce the chain never saw (when it
 * did see it, lostTransactions.ts finds that transaction instead), and every later run stops on HHE10410. Without the
 * preparation, the next run prepares and sends that transaction again. Refuses (throws) when the journal holds no such
 * preparation for `futureId` and `nonce`, or one a send followed.
 */
export function withoutUnsentTransaction(journal: string, { futureId, nonce }: { futureId: string; nonce: number }) {
  const entries = parse(journal);
  const prepared = entries.findLastIndex(
    ({ message }) =>
      message?.type === "TRANSACTION_PREPARE_SEND" && message.futureId === futureId && message.nonce === nonce,
  );
  if (prepared < 0) throw new Error(`the journal prepared no transaction of ${futureId} with nonce ${nonce}`);
  const { networkInteractionId } = entries[prepared]!.message!;
  const sent = entries
    .slice(prepared + 1)
    .some(
      ({ message }) =>
        message?.type === "TRANSACTION_SEND" &&
        message.futureId === futureId &&
        message.networkInteractionId === networkInteractionId,
    );
  if (sent) throw new Error(`the journal sent ${futureId}'s transaction with nonce ${nonce}`);
  return entries
    .filter((_, index) => index !== prepared)
    .map(({ line }) => line)
    .join("\n");
}
