/**
 * An app that knows no operator: the Router finds the operators that serve a base model (discovery.ts), sends each
 * request to the cheapest healthy one through a channel of its own with it, and when one stops answering, sends the
 * same request to the next, never paying for one request twice.
 */
import type { Address, Chain, PublicClient, Transport, WalletClient } from "viem";
import { findOpenChannel, openChannel, topUp } from "./channel.ts";
import {
  discoverOperators,
  probeOperators,
  rankOperators,
  type DiscoverOperatorsParameters,
  type OperatorOffer,
} from "./discovery.ts";
import { checkpoint, Payer, type PayerOptions, type SigningAccount } from "./payer.ts";
import { apiOfPath } from "./requests.ts";

/**
 * What `new OpenAI({ baseURL })` is given: the Router's fetch sends what is asked under it to the chosen operator's
 * endpoint, same path. The `.invalid` name never resolves, so a client that was not given `router.fetch` fails at
 * once instead of reaching anyone.
 */
export const routerBaseURL = "http://openpoa-router.invalid/v1";
const routerOrigin = new URL(routerBaseURL).origin;

export type DepositPolicy = {
  /** What each channel the Router opens is funded with, and what each top-up adds. */
  amount: bigint;
  /**
   * Before a request, a channel whose deposit minus what its receipts billed is below this is topped up by
   * `amount`. Default: a tenth of `amount`.
   */
  topUpBelow?: bigint;
};

export type RouterOptions = {
  /** The payer: opens and tops up channels; its account (a local one) signs every voucher. */
  wallet: WalletClient<Transport, Chain | undefined, SigningAccount>;
  client: PublicClient;
  /** InferencePayments and OpenToken. */
  payments: Address;
  token: Address;
  deposit: DepositPolicy;
  /** Which operators: NodeRegistry, the base model, optionally an indexer; `fromBlock` also starts channel reads. */
  discovery: DiscoverOperatorsParameters;
  /**
   * How long an operator may take to answer a request (a whole response; a stream's headers) before the Router
   * gives up on it and asks the next. Default 120 s.
   */
  timeoutMs?: number;
  /** How long a gateway may take to answer each probe (/health, /v1/models). Default 2 s. */
  probeTimeoutMs?: number;
  /** How long an operator that stopped answering is passed over. Default 60 s. */
  downForMs?: number;
  /** How old the list of operators may grow before it is discovered and probed again. Default 5 min. */
  refreshMs?: number;
  /** For every Payer the Router builds. */
  payer?: Pick<PayerOptions, "records" | "tokenizer" | "voucherLifetimeSec">;
};

/**
 * Why an attempt on an operator failed. unreachable: the request never reached it (connection refused, no route).
 * unavailable: it (or a proxy before it) answered 502, 503 or 504, or its channel could not be opened, resumed or
 * topped up. lost: it took the request, but the connection broke or the answer did not come in time. interrupted:
 * a stream that had started broke.
 */
export type FailureKind = "unreachable" | "unavailable" | "lost" | "interrupted";
export type OperatorFailure = { operator: Address; endpoint: string; kind: FailureKind; error: unknown };

/** A request no operator answered (each attempt in `failures`), or one that could not be sent again. */
export class RouterError extends Error {
  readonly failures: OperatorFailure[];
  constructor(message: string, failures: OperatorFailure[], options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RouterError";
    this.failures = failures;
  }
}

/** One channel with one operator, and the Payer that pays on it. */
export type Lane = {
  readonly operator: Address;
  /** Where the operator's gateway is: its registered endpoint as last discovered. */
  endpoint: string;
  readonly channelId: bigint;
  readonly payer: Payer;
  /** The Payer's prices: kept equal to what the operator lists, so that covers and receipts check at its prices. */
  readonly prices: Map<string, bigint>;
  /** The channel's deposit, as read on chain or topped up since. */
  deposit: bigint;
  /**
   * A request on this channel was lost (and sent to another operator): the operator may have issued its receipt
   * nonetheless, so no request goes to this channel again (its Payer, resuming from the operator, would take that
   * receipt over and pay it). `checkpoint` disputes it.
   */
  retired: boolean;
};

export type CheckpointResult =
  | { operator: Address; channelId: bigint; billed: Record<string, string> }
  | { operator: Address; channelId: bigint; error: unknown };

/** HTTP statuses that say the operator did not serve the request: the answer carries no receipt. */
const unavailableStatuses: ReadonlySet<number> = new Set([502, 503, 504]);
/** Connection errors (Node's and undici's codes) before the request reached the gateway. */
const unreachableCodes: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);
/** Connection errors after the request may have reached the gateway. */
const lostCodes: ReadonlySet<string> = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED"]);

/** What a connection error (fetch's TypeError and its causes) says about the request, if it is one. */
function connectionFailureOf(error: unknown): "unreachable" | "lost" | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const codes = [e, ...(e instanceof AggregateError ? e.errors : [])].map((x) => (x as { code?: unknown }).code);
    if (codes.some((code) => unreachableCodes.has(code as string))) return "unreachable";
    if (codes.some((code) => lostCodes.has(code as string))) return "lost";
  }
  return undefined;
}

/**
 * The payer's side of a market of operators. `fetch` (for `new OpenAI({ baseURL: router.baseURL, fetch:
 * router.fetch })`) sends each request to the healthy operator that lists the request's model cheapest (then the
 * most stake), through a Payer on a channel with that operator: the newest open one the payer has (resumed) or a
 * new one. When the operator stops answering, it is passed over for `downForMs` and the same request goes to the
 * next; see `fetch` for when. `lanes` and `payers` hold every channel's receipts; `checkpoint` settles them all.
 */
export class Router {
  readonly baseURL = routerBaseURL;
  readonly options: RouterOptions;
  private readonly allLanes: Lane[] = [];
  /** The lane each operator's requests go to (absent: none yet, or the last one retired). */
  private readonly current = new Map<Address, Promise<Lane>>();
  private readonly downUntil = new Map<Address, number>();
  /** The top-up under way on each channel, if any: one at a time. */
  private readonly funding = new Map<bigint, Promise<void>>();
  private offers: { list: OperatorOffer[]; at: number } | undefined;
  private refreshing: Promise<OperatorOffer[]> | undefined;
  private chainId: Promise<number> | undefined;

  constructor(options: RouterOptions) {
    this.options = options;
  }

  /** Every channel the Router paid on, in the order it took them up (retired ones included). */
  get lanes(): readonly Readonly<Lane>[] {
    return this.allLanes;
  }

  get payers(): Payer[] {
    return this.allLanes.map((lane) => lane.payer);
  }

  /** What the accepted receipts of every channel add up to. */
  get billedTotal(): bigint {
    return this.allLanes.reduce((sum, lane) => sum + lane.payer.billedTotal, 0n);
  }

  /** Discovers the operators again and probes each: the healthy ones, with their prices. */
  refresh(): Promise<OperatorOffer[]> {
    const { client, discovery, probeTimeoutMs } = this.options;
    this.refreshing ??= discoverOperators(client, discovery)
      .then((operators) => probeOperators(operators, { timeoutMs: probeTimeoutMs }))
      .then((list) => {
        this.offers = { list, at: Date.now() };
        return list;
      })
      .finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /**
   * Sends a request meant for `router.baseURL` to an operator, paid by that operator's Payer. The same request goes
   * to the next operator (each at most once) when this one does not serve it and has issued no receipt for it:
   *
   * - unreachable (connection refused, no route) or unavailable (502, 503, 504; a channel that cannot be opened):
   *   it never served it;
   * - lost (connection reset, no answer within `timeoutMs`, for a stream: before its headers): it may have served
   *   it and logged a receipt that never arrived. That receipt can only be paid by a usage voucher over it, which
   *   only a Payer holding it signs: the channel is retired, so its Payer never resumes to take it over
   *   (`checkpoint` disputes it).
   *
   * Anything else is the answer (a 402 or 400 included) or is thrown as it came (a receipt the Payer refused, the
   * app's own abort). A stream that started is never sent again: when it breaks, the operator is passed over and
   * the stream errors with a RouterError. A body that cannot be sent twice (a stream) gets one attempt. When no
   * operator is left, a RouterError lists every attempt; discovery's own failure is a DiscoveryError.
   */
  fetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    if (input instanceof Request) {
      const body = input.body ? await input.text() : undefined;
      init = { method: input.method, headers: input.headers, body, signal: input.signal, ...init };
    }
    const url = new URL(input instanceof Request ? input.url : input);
    if (url.origin !== routerOrigin)
      throw new RouterError(`${url.href} is not under the router's base URL ${routerBaseURL}`, []);
    const path = `${url.pathname}${url.search}`;
    // Only completions are paid: anything else (the model list, say) needs no channel.
    const paid = apiOfPath(url.pathname) !== undefined;
    const model = modelOf(init.body);
    const once = init.body instanceof ReadableStream;
    const failures: OperatorFailure[] = [];
    for (let refreshed = false; ;) {
      const offer = await this.choose(model, failures);
      if (!offer && !refreshed) {
        // Everyone left is down or tried: who is registered and healthy may have changed since.
        refreshed = true;
        await this.refresh();
        continue;
      }
      if (!offer) {
        const tried = failures.length ? `; tried ${failures.map((f) => `${f.endpoint} (${f.kind})`).join(", ")}` : "";
        throw new RouterError(`no operator answered for model ${model}${tried}`, failures, {
          cause: failures.at(-1)?.error,
        });
      }
      const outcome = await this.attempt(offer, path, init, paid);
      if (outcome instanceof Response) return outcome;
      failures.push(outcome);
      this.markDown(offer.address);
      if (once)
        throw new RouterError(`${offer.endpoint} failed (${outcome.kind}): the body cannot be sent again`, failures, {
          cause: outcome.error,
        });
    }
  };

  /**
   * Posts every channel's usage voucher to its operator, so that each can settle all the Payer accepted. A retired
   * channel first resumes from its operator disputing what it never received (receipts of requests another
   * operator answered). Each channel's result, or why it failed (its operator down, say); call it with no request
   * in flight.
   */
  async checkpoint(): Promise<CheckpointResult[]> {
    return Promise.all(
      this.allLanes.map(async ({ operator, channelId, payer, endpoint, retired, deposit }) => {
        try {
          if (retired) await payer.resume(endpoint, { deposit, disputeNew: true });
          return { operator, channelId, ...(await checkpoint(payer, endpoint)) };
        } catch (error) {
          return { operator, channelId, error };
        }
      }),
    );
  }

  /** The best offer for `model` among operators neither down nor tried for this request. */
  private async choose(model: string, failures: OperatorFailure[]): Promise<OperatorOffer | undefined> {
    const { refreshMs = 300_000 } = this.options;
    const { offers } = this;
    const list =
      offers && Date.now() - offers.at < refreshMs
        ? offers.list
        : // A chain or indexer briefly unreachable does not stop the operators known already.
          await this.refresh().catch((error: unknown) => {
            if (!offers) throw error;
            return offers.list;
          });
    const now = Date.now();
    return rankOperators(list, model).find(
      (offer) => (this.downUntil.get(offer.address) ?? 0) <= now && !failures.some((f) => f.operator === offer.address),
    );
  }

  /** One attempt on one operator (through its lane's Payer when `paid`): its answer, or why it did not serve it. */
  private async attempt(
    offer: OperatorOffer,
    path: string,
    init: RequestInit,
    paid: boolean,
  ): Promise<Response | OperatorFailure> {
    const failure = (kind: FailureKind, error: unknown): OperatorFailure => ({
      operator: offer.address,
      endpoint: offer.endpoint,
      kind,
      error,
    });
    let lane: Lane | undefined;
    try {
      if (paid) {
        lane = await this.laneFor(offer);
        await this.fund(lane);
      }
    } catch (error) {
      return failure("unavailable", error);
    }
    const { timeoutMs = 120_000 } = this.options;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    try {
      const send = lane?.payer.fetch ?? fetch;
      const response = await send(`${offer.endpoint}${path}`, {
        ...init,
        signal: init.signal ? AbortSignal.any([init.signal, timeout.signal]) : timeout.signal,
      });
      if (unavailableStatuses.has(response.status))
        return failure("unavailable", new Error(`HTTP ${response.status}: ${(await response.text()).slice(0, 500)}`));
      return this.watched(offer, response);
    } catch (error) {
      if (init.signal?.aborted) throw error;
      const kind = timeout.signal.aborted ? "lost" : connectionFailureOf(error);
      if (!kind) throw error;
      if (kind === "lost" && lane) this.retire(lane);
      return failure(kind, error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A stream whose connection breaks errors with a RouterError, and its operator is passed over meanwhile. */
  private watched(offer: OperatorOffer, response: Response): Response {
    if (!response.body || !(response.headers.get("content-type") ?? "").includes("text/event-stream")) return response;
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        } catch (error) {
          if (!connectionFailureOf(error)) return controller.error(error);
          this.markDown(offer.address);
          const failure: OperatorFailure = {
            operator: offer.address,
            endpoint: offer.endpoint,
            kind: "interrupted",
            error,
          };
          const message = `${offer.endpoint} broke off a stream that had started, which is not sent again`;
          controller.error(new RouterError(message, [failure], { cause: error }));
        }
      },
      cancel: (reason) => reader.cancel(reason),
    });
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  }

  /** The operator's current lane, taken up (an open channel of the payer's, resumed, or a new one) if it has none. */
  private laneFor(offer: OperatorOffer): Promise<Lane> {
    let lane = this.current.get(offer.address);
    if (!lane) {
      lane = this.takeUp(offer);
      this.current.set(offer.address, lane);
      // A failure is not kept: the next attempt on this operator tries again.
      lane.catch(() => {
        if (this.current.get(offer.address) === lane) this.current.delete(offer.address);
      });
    }
    return lane.then((taken) => {
      taken.endpoint = offer.endpoint;
      for (const [model, price] of offer.prices) taken.prices.set(model, price);
      return taken;
    });
  }

  private async takeUp(offer: OperatorOffer): Promise<Lane> {
    const { wallet, client, payments, token, deposit, discovery, payer: payerOptions } = this.options;
    const account = wallet.account;
    // A channel retired here is passed over: its Payer must never resume (see Lane.retired).
    const existing = await findOpenChannel(client, {
      payments,
      payer: account.address,
      operator: offer.address,
      fromBlock: discovery.fromBlock,
      exclude: this.allLanes.map((lane) => lane.channelId),
    });
    const channelId =
      existing?.channelId ??
      (await openChannel(wallet, client, { payments, token, operator: offer.address, deposit: deposit.amount }));
    const prices = new Map(offer.prices);
    const payer = new Payer({
      ...payerOptions,
      account,
      chainId: await (this.chainId ??= client.getChainId()),
      payments,
      channelId,
      operatorSigningKey: offer.signingKey,
      prices,
    });
    // Paid on before (an earlier run of the app): take over what it billed, so that new vouchers cover it.
    if (existing) await payer.resume(offer.endpoint, { deposit: existing.deposit });
    const lane: Lane = {
      operator: offer.address,
      endpoint: offer.endpoint,
      channelId,
      payer,
      prices,
      deposit: existing?.deposit ?? deposit.amount,
      retired: false,
    };
    this.allLanes.push(lane);
    return lane;
  }

  /** Tops the channel up when what is left of its deposit falls below the policy's floor. */
  private async fund(lane: Lane) {
    const { wallet, client, payments, token, deposit } = this.options;
    const { amount, topUpBelow = amount / 10n } = deposit;
    if (lane.deposit - lane.payer.billedTotal >= topUpBelow) return;
    let funding = this.funding.get(lane.channelId);
    if (!funding) {
      funding = topUp(wallet, client, { payments, token, channelId: lane.channelId, amount })
        .then(() => {
          lane.deposit += amount;
        })
        .finally(() => this.funding.delete(lane.channelId));
      this.funding.set(lane.channelId, funding);
    }
    await funding;
  }

  private markDown(operator: Address) {
    this.downUntil.set(operator, Date.now() + (this.options.downForMs ?? 60_000));
  }

  private retire(lane: Lane) {
    // Retired once: by then another lane may be the operator's current one.
    if (lane.retired) return;
    lane.retired = true;
    this.current.delete(lane.operator);
  }
}

/** The model a request body names (an adapter id), or the base model "0" for one that names none. */
function modelOf(body: RequestInit["body"]): string {
  if (typeof body !== "string") return "0";
  try {
    const { model } = JSON.parse(body) as { model?: unknown };
    return typeof model === "string" ? model : "0";
  } catch {
    return "0";
  }
}
