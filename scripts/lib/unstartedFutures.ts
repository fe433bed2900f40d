/**
 * Ignition journals a future as started (its `…_EXECUTION_STATE_INITIALIZE` line) before it journals the request for
 * its first transaction. A deploy stopped between the two leaves a started future with no network interaction, and
 * every later run stops in Ignition's nonce check ("HHE10000: Unable to find network interaction for …"). Such a
 * future has sent nothing: without its line, the journal is the one a run stopped a moment earlier would have left,
 * and the next run starts the future again.
 */

/** The execution states that go on to network interactions; the others are complete in their one line. */
const INTERACTING_STATES = new Set([
  "DEPLOYMENT_EXECUTION_STATE_INITIALIZE",
  "CALL_EXECUTION_STATE_INITIALIZE",
  "SEND_DATA_EXECUTION_STATE_INITIALIZE",
  "STATIC_CALL_EXECUTION_STATE_INITIALIZE",
]);

type JournalMessage = { type: string; futureId?: string };

/**
 * The journal (journal.jsonl's text) without the start of any future that a stopped run started and that nothing
 * followed: no network interaction, no completion. Every other line is kept as it was.
 */
export function withoutUnstartedFutures(journal: string): { journal: string; futureIds: string[] } {
  const lines = journal.split("\n");
  const messages = lines.map((line) => (line.trim() === "" ? undefined : (JSON.parse(line) as JournalMessage)));
  const lineCountByFuture = new Map<string, number>();
  for (const message of messages) {
    if (message?.futureId !== undefined) {
      lineCountByFuture.set(message.futureId, (lineCountByFuture.get(message.futureId) ?? 0) + 1);
    }
  }
  const unstarted = (message: JournalMessage | undefined) =>
    message?.futureId !== undefined &&
    INTERACTING_STATES.has(message.type) &&
    lineCountByFuture.get(message.futureId) === 1;
  return {
    journal: lines.filter((_, index) => !unstarted(messages[index])).join("\n"),
    futureIds: messages.filter(unstarted).map((message) => message!.futureId!),
  };
}
