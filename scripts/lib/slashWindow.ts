/**
 * A slash is voted on while the operator watches: it must execute before the operator's stake can leave. Checked on
 * deploy parameters (deployParameters.ts) and on proposals that change these periods (`openpoa gov propose`).
 */

/** The periods, in seconds, that decide whether a slash voted on reaches an operator's stake. */
export type SlashWindow = {
  votingDelay: bigint;
  votingPeriod: bigint;
  timelockDelay: bigint;
  unbondingPeriod: bigint;
  freezePeriod: bigint;
};

/**
 * The first of the unbonding and freeze periods that does not outlast the governance path (voting delay + voting
 * period + timelock delay), if any: through it an operator who sees a slash proposed withdraws before it executes.
 */
export function slashEscape(
  window: SlashWindow,
): { period: "unbondingPeriod" | "freezePeriod"; seconds: bigint; governancePath: bigint } | undefined {
  const governancePath = window.votingDelay + window.votingPeriod + window.timelockDelay;
  for (const period of ["unbondingPeriod", "freezePeriod"] as const) {
    if (window[period] <= governancePath) return { period, seconds: window[period], governancePath };
  }
  return undefined;
}
