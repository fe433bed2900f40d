/**
 * Talking to a public provider, which rate-limits and drops requests: which errors are worth asking again, and
 * sending a transaction exactly once. A dropped answer to eth_sendRawTransaction says nothing about whether the
 * transaction went out; signing first gives its hash before sending, so the hash (not a second transaction with the
 * next nonce) tells.
 */
import {
  BaseError,
  encodeFunctionData,
  HttpRequestError,
  keccak256,
  RpcRequestError,
  TimeoutError,
  type Abi,
  type Account,
  type Address,
  type Chain,
  type Hex,
  type PublicClient,
  type TransactionReceipt,
  type Transport,
  type WalletClient,
} from "viem";

/** HTTP statuses a provider answers when it is busy or briefly down. */
export const transientStatuses: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** A JSON-RPC error that says "slow down" rather than "no": 429 in the body, QuickNode's -32007, or the words. */
export function isRateLimitError({ code, message }: { code?: unknown; message?: unknown }): boolean {
  return (
    code === 429 ||
    code === -32007 ||
    /rate limit|too many requests|request rate|requests per second|capacity/i.test(String(message ?? ""))
  );
}

/**
 * Whether asking again may succeed: a dropped connection, a timeout, a busy provider (408/429/5xx) or a rate limit.
 * Anything else (a revert, an invalid parameter, a capped log query) gets the same answer again.
 */
export function isTransientRpcError(error: unknown): boolean {
  if (!(error instanceof BaseError)) return error instanceof TypeError; // fetch's "fetch failed"
  const cause = error.walk(
    (e) => e instanceof HttpRequestError || e instanceof RpcRequestError || e instanceof TimeoutError,
  );
  if (cause instanceof TimeoutError) return true;
  if (cause instanceof RpcRequestError) return isRateLimitError(cause);
  if (cause instanceof HttpRequestError) return cause.status === undefined || transientStatuses.has(cause.status);
  return false;
}

/**
 * How long to wait before retry `attempt` (0-based): what Retry-After asks (seconds or an HTTP date) plus up to a
 * tenth more, else a uniform draw below retryDelayMs·2^attempt; never more than maxRetryDelayMs.
 */
export function backoffDelay({
  attempt,
  retryAfter,
  retryDelayMs,
  maxRetryDelayMs,
  random,
  now = Date.now(),
}: {
  attempt: number;
  retryAfter?: string | null;
  retryDelayMs: number;
  maxRetryDelayMs: number;
  random: () => number;
  now?: number;
}): number {
  if (retryAfter) {
    const seconds = Number(retryAfter);
    const asked = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - now;
    if (asked > 0) return Math.min(maxRetryDelayMs, asked * (1 + random() / 10));
  }
  return Math.min(maxRetryDelayMs, random() * retryDelayMs * 2 ** attempt);
}

/** Another transaction took this one's nonce: it can never land. */
export class NonceTakenError extends Error {
  readonly hash: Hex;
  constructor(hash: Hex, options?: { cause?: unknown }) {
    super(`Transaction ${hash} can never land: another transaction took its nonce`, options);
    this.name = "NonceTakenError";
    this.hash = hash;
  }
}

/** Whether the node has seen the transaction (pending or mined); undefined when it could not be asked. */
async function isKnown(client: PublicClient, hash: Hex): Promise<boolean | undefined> {
  try {
    await client.getTransaction({ hash });
    return true;
  } catch (error) {
    return isTransientRpcError(error) ? undefined : false;
  }
}

/**
 * Broadcasts signed bytes and returns their hash once the node has them. After an error it asks the node for the
 * hash first: the send may have gone out although its answer was lost (or a retry of it answered "already known"
 * or "nonce too low"). A transient error re-sends the same bytes, which can only ever be one transaction; a nonce
 * taken by another transaction is a NonceTakenError; any other refusal is thrown as it came.
 */
export async function sendRawTransactionOnce(
  client: PublicClient,
  { serializedTransaction, retryCount = 3 }: { serializedTransaction: Hex; retryCount?: number },
): Promise<Hex> {
  const hash = keccak256(serializedTransaction);
  for (let attempt = 0; ; attempt++) {
    try {
      await client.sendRawTransaction({ serializedTransaction });
      return hash;
    } catch (error) {
      const known = await isKnown(client, hash);
      const message = error instanceof BaseError ? `${error.message} ${error.details}` : String(error);
      if (known || /already known|known transaction|already imported|alreadyknown/i.test(message)) return hash;
      if (known === false && /nonce too low|nonce has already been used/i.test(message))
        throw new NonceTakenError(hash, { cause: error });
      if (attempt >= retryCount || !(isTransientRpcError(error) || known === undefined)) throw error;
    }
  }
}

/**
 * Calls `functionName` on `address` in a transaction signed here and sent once (sendRawTransactionOnce); resolves
 * with its receipt, which `wait` waits for (default: the client's waitForTransactionReceipt). A wallet whose account
 * signs elsewhere (a browser wallet) sends through it as usual.
 */
export async function writeContractOnce(
  wallet: WalletClient<Transport, Chain | undefined, Account>,
  client: PublicClient,
  {
    address,
    abi,
    functionName,
    args = [],
    wait = (hash) => client.waitForTransactionReceipt({ hash }),
  }: {
    address: Address;
    abi: Abi;
    functionName: string;
    args?: readonly unknown[];
    wait?: (hash: Hex) => Promise<TransactionReceipt>;
  },
): Promise<TransactionReceipt> {
  const call = { abi, functionName, args } as Parameters<typeof encodeFunctionData>[0];
  let hash: Hex;
  if (wallet.account.type === "local") {
    const request = await wallet.prepareTransactionRequest({
      to: address,
      data: encodeFunctionData(call),
      chain: wallet.chain,
    });
    const serializedTransaction = await wallet.signTransaction(request as never);
    hash = await sendRawTransactionOnce(client, { serializedTransaction });
  } else {
    hash = await wallet.writeContract({ ...call, address, chain: wallet.chain } as never);
  }
  return wait(hash);
}
