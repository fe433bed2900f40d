import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { withoutUnsentTransaction, withoutUnstartedFutures } from "./journalRepairs.ts";

// The journal's shape: each message on its own line, after a leading newline (Ignition's FileJournal).
const journalOf = (...messages: object[]) => messages.map((message) => `\n${JSON.stringify(message)}`).join("");

const initialize = { type: "DEPLOYMENT_INITIALIZE", chainId: 31337 };
const started = (futureId: string, type = "DEPLOYMENT_EXECUTION_STATE_INITIALIZE") => ({ type, futureId });
const requested = (futureId: string) => ({ type: "NETWORK_INTERACTION_REQUEST", futureId });

describe("withoutUnstartedFutures", () => {
  it("test_withoutUnstartedFutures_dropsAStartedFutureNothingFollowed", () => {
    const journal = journalOf(initialize, started("M#Token"), requested("M#Token"), started("M#Rewards"));
    const repaired = withoutUnstartedFutures(journal);
    assert.deepEqual(repaired.futureIds, ["M#Rewards"]);
    assert.equal(repaired.journal, journalOf(initialize, started("M#Token"), requested("M#Token")));
  });

  it("test_withoutUnstartedFutures_keepsFuturesThatRequestedOrCompleted", () => {
    const journal = journalOf(
      initialize,
      started("M#Token"),
      started("M#grant", "CALL_EXECUTION_STATE_INITIALIZE"),
      requested("M#grant"),
      requested("M#Token"),
      // Complete in their one line: never a stopped run's leftover.
      started("M#Token.at", "CONTRACT_AT_EXECUTION_STATE_INITIALIZE"),
      started("M#event", "READ_EVENT_ARGUMENT_EXECUTION_STATE_INITIALIZE"),
    );
    assert.deepEqual(withoutUnstartedFutures(journal), { journal, futureIds: [] });
  });

  it("test_withoutUnstartedFutures_dropsEveryUnstartedFutureOfABatch", () => {
    const journal = journalOf(
      initialize,
      started("M#A"),
      started("M#b", "SEND_DATA_EXECUTION_STATE_INITIALIZE"),
      started("M#c", "STATIC_CALL_EXECUTION_STATE_INITIALIZE"),
    );
    const repaired = withoutUnstartedFutures(journal);
    assert.deepEqual(repaired.futureIds, ["M#A", "M#b", "M#c"]);
    assert.equal(repaired.journal, journalOf(initialize));
  });
});

describe("withoutUnsentTransaction", () => {
  const prepared = (futureId: string, nonce: number, networkInteractionId = 1) => ({
    type: "TRANSACTION_PREPARE_SEND",
    futureId,
    networkInteractionId,
    nonce,
  });
  const sent = (futureId: string, networkInteractionId = 1) => ({
    type: "TRANSACTION_SEND",
    futureId,
    networkInteractionId,
    nonce: 0,
    transaction: { hash: "0x01" },
  });

  it("test_withoutUnsentTransaction_dropsThePreparationOfANonceNeverSent", () => {
    const before = [initialize, started("M#Token"), requested("M#Token")];
    const journal = journalOf(...before, prepared("M#Token", 7));
    assert.equal(withoutUnsentTransaction(journal, { futureId: "M#Token", nonce: 7 }), journalOf(...before));
  });

  it("test_withoutUnsentTransaction_refusesATransactionSentOrNeverPrepared", () => {
    const journal = journalOf(
      initialize,
      started("M#Token"),
      requested("M#Token"),
      prepared("M#Token", 7),
      sent("M#Token"),
    );
    assert.throws(
      () => withoutUnsentTransaction(journal, { futureId: "M#Token", nonce: 7 }),
      /the journal sent M#Token's transaction with nonce 7/,
    );
    assert.throws(
      () => withoutUnsentTransaction(journal, { futureId: "M#Token", nonce: 8 }),
      /the journal prepared no transaction of M#Token with nonce 8/,
    );
  });
});
