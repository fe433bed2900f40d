/**
 * One line for whatever stopped a command: viem's errors carry the request body, call arguments, docs links and
 * versions over a dozen lines (and a signed transaction, for a send), which a user cannot act on. This names the
 * cause instead.
 */
import { BaseError, HttpRequestError, InsufficientFundsError, RpcRequestError, TimeoutError } from "viem";

export function explainFailure(error: unknown, { account }: { account?: string } = {}): string {
  // Our own errors say what they mean (an epoch's issues take several lines on purpose).
  if (!(error instanceof BaseError)) return error instanceof Error ? error.message : String(error);
  const found = <T>(type: abstract new (...args: never[]) => T) => error.walk((e) => e instanceof type) as T | null;
  const http = found(HttpRequestError);
  if (http) {
    const why = http.status ? `HTTP ${http.status}` : firstLine(http.details || "no answer");
    return `cannot reach the RPC at ${http.url}: ${why}`;
  }
  const timeout = found(TimeoutError);
  if (timeout) return `the RPC at ${timeout.url} did not answer in time`;
  const refused = found(RpcRequestError);
  // Nodes word it differently ("insufficient funds", Hardhat's "doesn't have enough funds to send tx").
  if (found(InsufficientFundsError) || /insufficient funds|enough funds/i.test(refused?.details ?? "")) {
    return `${account ?? "the signer"} has not enough ETH to pay for gas`;
  }
  if (refused) return `the RPC refused the request: ${firstLine(refused.details || refused.shortMessage)}`;
  return firstLine(error.shortMessage);
}

const firstLine = (text: string) => text.split("\n")[0]!.trim();
