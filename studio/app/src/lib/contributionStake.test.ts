import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ContributionStatus, stakeActionOf, type ContributionStake } from "./contributionStake.ts";

const contributor = "0x00000000000000000000000000000000000000C1";
const stranger = "0x00000000000000000000000000000000000000D2";
const OPEN = 10n ** 18n;
const of = (status: number, stake = 10n * OPEN, unlocksAt = 0n): ContributionStake => ({
  contributor,
  status,
  stake,
  unlocksAt,
});

describe("stakeActionOf", () => {
  it("test_stakeActionOf_pendingIsWithdrawnByItsContributorOnly", () => {
    const pending = of(ContributionStatus.Pending);
    assert.deepEqual(
      [stakeActionOf(pending, 0n, contributor.toLowerCase() as never)].map(({ action, blocker }) => [action, blocker]),
      [["withdraw", undefined]],
    );
    assert.equal(stakeActionOf(pending, 0n, stranger).blocker, "Only its contributor can withdraw it.");
    assert.equal(stakeActionOf(pending, 0n, undefined).blocker, "Connect the contributor's wallet.");
  });

  it("test_stakeActionOf_acceptedIsReleasedByAnyoneOnceUnlocked", () => {
    const accepted = of(ContributionStatus.Accepted, 10n * OPEN, 1_000n);
    const locked = stakeActionOf(accepted, 999n, stranger);
    assert.equal(locked.action, "release");
    assert.match(locked.blocker!, /^Locked until 1970-01-01T00:16:40Z \(in 1 ?s/);
    // The registry's check is `block.timestamp < unlocksAt`: releasable from unlocksAt on, by anyone.
    assert.deepEqual(
      [stakeActionOf(accepted, 1_000n, stranger), stakeActionOf(accepted, 1_000n, undefined)].map((a) => [
        a.action,
        a.blocker,
      ]),
      [
        ["release", undefined],
        ["release", undefined],
      ],
    );
    const released = stakeActionOf(of(ContributionStatus.Accepted, 0n, 1_000n), 2_000n, contributor);
    assert.equal(released.action, undefined);
    assert.match(released.note, /released to the contributor/);
  });

  it("test_stakeActionOf_offersNothingForARejectedOrWithdrawnContribution", () => {
    for (const status of [ContributionStatus.Rejected, ContributionStatus.Withdrawn, ContributionStatus.None]) {
      assert.equal(stakeActionOf(of(status, 0n), 5n, contributor).action, undefined, `status ${status}`);
    }
    assert.match(stakeActionOf(of(ContributionStatus.Rejected, 0n), 5n, contributor).note, /treasury/);
  });
});
