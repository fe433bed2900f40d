import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  releaseTimeAfterUnbond,
  stakeSchema,
  stakeSteps,
  unbondSchema,
  withdrawBlocker,
  type OperatorStake,
} from "./operators.ts";

const OPEN = 10n ** 18n;
const NOW = 1_800_000_000n;
const operator: OperatorStake = {
  registered: true,
  bonded: 100n * OPEN,
  unbonding: 0n,
  unbondingReleaseTime: 0n,
  frozenUntil: 0n,
};

describe("stake and unbond amounts", () => {
  it("accepts an amount up to the limit, in OPEN", () => {
    assert.equal(stakeSchema(10n * OPEN).parse("2.5"), 2n * OPEN + OPEN / 2n);
    assert.equal(unbondSchema(100n * OPEN).parse("100"), 100n * OPEN);
  });
  it("names what is wrong", () => {
    const message = (result: { success: boolean; error?: { issues: { message: string }[] } }) =>
      result.error?.issues[0]?.message;
    assert.match(message(stakeSchema(10n * OPEN).safeParse("11"))!, /more than your balance \(10 OPEN\)/);
    assert.match(message(unbondSchema(OPEN).safeParse("0"))!, /more than zero/);
    assert.match(message(unbondSchema(OPEN).safeParse("1,5"))!, /not an amount of OPEN/);
  });
  it("asks for an approval only when the allowance is short", () => {
    assert.equal(stakeSteps(OPEN, 2n * OPEN), 2);
    assert.equal(stakeSteps(2n * OPEN, 2n * OPEN), 1);
  });
});

describe("releaseTimeAfterUnbond", () => {
  it("is the unbonding period from now, or the later time already fixed", () => {
    assert.equal(releaseTimeAfterUnbond(operator, NOW, 600n), NOW + 600n);
    const unbonding = { ...operator, unbonding: OPEN, unbondingReleaseTime: NOW + 9_000n };
    assert.equal(releaseTimeAfterUnbond(unbonding, NOW, 600n), NOW + 9_000n);
    assert.equal(releaseTimeAfterUnbond({ ...unbonding, unbondingReleaseTime: NOW }, NOW, 600n), NOW + 600n);
  });
});

describe("withdrawBlocker", () => {
  it("says why a withdrawal would revert, and when it stops", () => {
    assert.equal(withdrawBlocker({ ...operator, registered: false }, NOW), "Not a registered operator.");
    assert.equal(withdrawBlocker(operator, NOW), "Nothing is unbonding.");
    const unbonding = { ...operator, unbonding: OPEN, unbondingReleaseTime: NOW + 3_600n };
    assert.match(withdrawBlocker(unbonding, NOW)!, /^Unbonding until .*\(in 1h\)\.$/);
    assert.equal(withdrawBlocker(unbonding, NOW + 3_600n), undefined);
    assert.match(withdrawBlocker({ ...unbonding, frozenUntil: NOW + 7_200n }, NOW + 3_600n)!, /^Frozen until/);
  });
});
