import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { withoutUnstartedFutures } from "./unstartedFutures.ts";

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
