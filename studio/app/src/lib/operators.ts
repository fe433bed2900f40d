/**
 * An operator's stake as the Operators page checks it before asking for a signature: amounts typed in OPEN, and why
 * NodeRegistry would refuse a withdrawal now (in words, with the time it becomes possible).
 */
import { when } from "../../../../scripts/lib/governedActions.ts";
import { openText, UINT128_MAX } from "./amounts.ts";
import { formatOpen } from "./format.ts";

/** INodeRegistry.Operator, as getOperator returns it. */
export type OperatorStake = {
  registered: boolean;
  bonded: bigint;
  unbonding: bigint;
  unbondingReleaseTime: bigint;
  frozenUntil: bigint;
};

/** A typed amount of OPEN: more than zero and at most `max`, which `maxLabel` names in the message. */
export function openAmountSchema(max: bigint, maxLabel: string) {
  return openText()
    .refine((amount) => amount > 0n, "Enter an amount more than zero.")
    .refine((amount) => amount <= max, `That is more than ${maxLabel} (${formatOpen(max)}).`);
}

/** More stake: at most the OPEN the operator holds. */
export const stakeSchema = (balance: bigint) =>
  openAmountSchema(balance < UINT128_MAX ? balance : UINT128_MAX, "your balance");

/** An unbond: at most the bonded stake. */
export const unbondSchema = (bonded: bigint) => openAmountSchema(bonded, "your bonded stake");

/** Wallet confirmations to bond `amount` more: an approval first when the registry's allowance is short. */
export const stakeSteps = (allowance: bigint, amount: bigint) => (allowance < amount ? 2 : 1);

/**
 * When the whole unbonding sum releases after unbonding more now: `now + unbondingPeriod`, or the time already fixed
 * for what is unbonding if that is later (NodeRegistry.requestUnbond).
 */
export function releaseTimeAfterUnbond(operator: OperatorStake, now: bigint, unbondingPeriod: bigint): bigint {
  const release = now + unbondingPeriod;
  return operator.unbonding > 0n && operator.unbondingReleaseTime > release ? operator.unbondingReleaseTime : release;
}

/** Why withdrawUnbonded would revert at chain time `now`, or undefined when the unbonded stake can be withdrawn. */
export function withdrawBlocker(operator: OperatorStake, now: bigint): string | undefined {
  if (!operator.registered) return "Not a registered operator.";
  if (operator.unbonding === 0n) return "Nothing is unbonding.";
  if (now < operator.unbondingReleaseTime) return `Unbonding until ${when(operator.unbondingReleaseTime, now)}.`;
  if (now < operator.frozenUntil) return `Frozen until ${when(operator.frozenUntil, now)}: nothing can be withdrawn.`;
  return undefined;
}
