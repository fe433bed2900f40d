/**
 * Why a transaction failed, in words a user can act on: a revert decoded by name with its arguments against every
 * ABI of the suite (the SDK's reverts.ts), a rejection in the wallet, or the transport's own short message.
 */
import { BaseError, UserRejectedRequestError, type Abi } from "viem";
import { decodeRevert, revertDataOf } from "../../../../inference/sdk/reverts.ts";

/** One line saying why `error` happened, for the place the user acted. */
export function describeError(error: unknown, abis: readonly Abi[]): string {
  const revert = decodeRevert(error, abis);
  if (revert) return `Reverted: ${revert.text}`;
  if (error instanceof BaseError) {
    if (error.walk((e) => e instanceof UserRejectedRequestError)) return "Rejected in the wallet.";
    const data = revertDataOf(error);
    if (data) return `Reverted with unknown error data ${data.slice(0, 10)}…`;
    // A store's or a node's own words (its error code and message) are in the details.
    return error.details && !error.shortMessage.includes(error.details)
      ? `${error.shortMessage} ${error.details}`
      : error.shortMessage;
  }
  return error instanceof Error ? error.message : String(error);
}
