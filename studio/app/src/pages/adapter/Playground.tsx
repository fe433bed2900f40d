/**
 * Chat with an adapter, paid as any app pays: pick an operator serving its base model (the SDK's discovery: the
 * chain names them, their gateways say what they charge), open a payment channel with the connected wallet (approve
 * and open), and chat through the operator's OpenAI-compatible API with the SDK's Payer. The wallet signs each
 * voucher (eth_signTypedData_v4); the Payer verifies each receipt (the operator's signature, its price, the
 * completion's hash and its attribution record from the content store) before the page shows it.
 */
import { useQuery } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { parseEventLogs, zeroAddress, type Address as AddressType, type PublicClient } from "viem";
import { useConfig, useConnection, usePublicClient, useReadContract } from "wagmi";
import { getWalletClient } from "wagmi/actions";
import { createHttpContentStore } from "../../../../../attribution/src/httpStore.ts";
import { recordFileName } from "../../../../../attribution/src/recordStore.ts";
import { findOpenChannel } from "../../../../../inference/sdk/channel.ts";
import {
  discoverOperators,
  probeOperators,
  rankOperators,
  type OperatorOffer,
} from "../../../../../inference/sdk/discovery.ts";
import { checkpoint, Payer, walletSigner } from "../../../../../inference/sdk/payer.ts";
import { promptOf, type RequestMessage } from "../../../../../inference/sdk/requests.ts";
import { Address } from "../../components/Address.tsx";
import { Amount } from "../../components/Amount.tsx";
import { Table } from "../../components/Table.tsx";
import { TxButton } from "../../components/TxButton.tsx";
import { addressOf } from "../../config.ts";
import { allAbis, contractOf } from "../../contracts.ts";
import { describeError } from "../../lib/errors.ts";
import { formatOpen, shortAddress } from "../../lib/format.ts";
import {
  chatRequest,
  checkDeposit,
  MAX_ANSWER_TOKENS,
  receiptRows,
  streamedText,
  type ReceiptRow,
} from "../../lib/playground.ts";
import { useStudio } from "../../studio.tsx";
import type { AdapterDetail } from "../Adapter.tsx";

type Session = { channelId: bigint; deposit: bigint; payer: Payer };
type Turn = { question: string; answer: string; receipts: ReceiptRow[]; error?: string };

export default function Playground({ adapter }: { adapter: AdapterDetail }) {
  const { config } = useStudio();
  const { address } = useConnection();
  const client = usePublicClient();
  const [picked, setPicked] = useState<AddressType>();
  const offers = useQuery({
    queryKey: ["offers", adapter.baseModelId, adapter.id],
    enabled: client !== undefined && !adapter.deprecated,
    queryFn: async () => {
      const operators = await discoverOperators(client as PublicClient, {
        registry: addressOf(config, "NodeRegistry"),
        baseModelId: BigInt(adapter.baseModelId),
        indexerUrl: config.indexerUrl,
      });
      return rankOperators(await probeOperators(operators), adapter.id);
    },
  });
  const offer = offers.data?.find((o) => o.address === picked) ?? offers.data?.[0];
  return (
    <>
      <h2>Playground</h2>
      <p className="muted">
        Chat with this adapter through an operator serving its base model, paid from a payment channel your wallet
        opens. Each message asks your wallet to sign a voucher for the most it can cost (and, after the first, one for
        the receipts so far); each answer&apos;s receipt is verified before it is shown.
      </p>
      {adapter.deprecated && <p>Deprecated adapters are no longer served.</p>}
      {offers.error && <p role="alert">Could not find operators: {describeError(offers.error, allAbis)}</p>}
      {offers.isFetching && !offers.data && <p className="muted">Looking for operators…</p>}
      {offers.data?.length === 0 && (
        <p>No operator serving base model #{adapter.baseModelId} offers this adapter now (or its gateway is down).</p>
      )}
      {offers.data && offers.data.length > 0 && (
        <>
          <label style={{ maxWidth: "100%" }}>
            Operator
            <select value={offer?.address} onChange={(event) => setPicked(event.target.value as AddressType)}>
              {offers.data.map((o) => (
                <option key={o.address} value={o.address}>
                  {shortAddress(o.address)} · {formatOpen(o.prices.get(adapter.id)!)} per 1,000 tokens
                </option>
              ))}
            </select>
          </label>
          {offer && (
            <p className="muted">
              <Address address={offer.address} /> at <span className="mono">{offer.endpoint}</span>, staking{" "}
              <Amount wei={offer.bonded} />; its receipts must be signed by <Address address={offer.signingKey} />.
            </p>
          )}
        </>
      )}
      {offer && !address && <p>Connect a wallet to open a channel and chat.</p>}
      {offer && address && (
        <Channel
          key={`${address}:${offer.address}`}
          adapterId={BigInt(adapter.id)}
          price={BigInt(adapter.pricePer1kTokens)}
          offer={offer}
          account={address}
        />
      )}
    </>
  );
}

/** The channel to pay from (one the wallet already has with the operator, or a new one), then the chat. */
function Channel({
  adapterId,
  price,
  offer,
  account,
}: {
  adapterId: bigint;
  /** The adapter's price as ModelRegistry has it. */
  price: bigint;
  offer: OperatorOffer;
  account: AddressType;
}) {
  const { config } = useStudio();
  const wagmi = useConfig();
  const client = usePublicClient();
  const [session, setSession] = useState<Session>();
  const [deposit, setDeposit] = useState("10");
  const [resuming, setResuming] = useState<{ error?: string }>();
  const payments = addressOf(config, "InferencePayments");
  const balance = useReadContract({
    ...contractOf(config, "OpenToken"),
    functionName: "balanceOf",
    args: [account],
  });
  const existing = useQuery({
    queryKey: ["open-channel", account, offer.address],
    enabled: client !== undefined && session === undefined,
    queryFn: async () =>
      (await findOpenChannel(client as PublicClient, {
        payments,
        payer: account,
        operator: offer.address,
        fromBlock: BigInt(config.contracts.InferencePayments?.startBlock ?? 0),
      })) ?? null,
  });

  /** A Payer on `channelId` whose vouchers the connected wallet signs. */
  const payerFor = async (channelId: bigint) =>
    new Payer({
      account: walletSigner(await getWalletClient(wagmi, { account })),
      chainId: config.chainId,
      payments,
      channelId,
      operatorSigningKey: offer.signingKey,
      // The registry's price, not the one the gateway lists: a receipt dearer than its tokens at it is disputed.
      prices: new Map(offer.prices).set(adapterId.toString(), price),
      records: createHttpContentStore({ baseUrl: config.contentUrl }),
    });

  async function takeOver(channelId: bigint, channelDeposit: bigint) {
    setResuming({});
    try {
      const payer = await payerFor(channelId);
      // Paid on before (another tab, an earlier visit): take over what the operator billed, checked by signature.
      await payer.resume(offer.endpoint, { deposit: channelDeposit });
      setSession({ channelId, deposit: channelDeposit, payer });
      setResuming(undefined);
    } catch (error) {
      setResuming({ error: describeError(error, allAbis) });
    }
  }

  if (session) return <Chat adapterId={adapterId} offer={offer} session={session} />;
  const checked = checkDeposit(deposit, balance.data as bigint | undefined);
  return (
    <>
      <h3>Payment channel</h3>
      {existing.data && (
        <p>
          You have channel #{existing.data.channelId.toString()} open with this operator (deposit{" "}
          <Amount wei={existing.data.deposit} />
          ).{" "}
          <button
            type="button"
            disabled={resuming !== undefined && !resuming.error}
            onClick={() => takeOver(existing.data!.channelId, existing.data!.deposit)}
          >
            Use channel #{existing.data.channelId.toString()}
          </button>
        </p>
      )}
      {resuming?.error && <p role="alert">Could not take the channel over: {resuming.error}</p>}
      <div className="form">
        <label>
          Deposit (OPEN)
          <input inputMode="decimal" value={deposit} onChange={(event) => setDeposit(event.target.value)} />
        </label>
        <span className="muted">
          You hold <Amount wei={balance.data as bigint | undefined} />. What the receipts do not use comes back when the
          channel is closed.
        </span>
      </div>
      <TxButton
        label="Open channel"
        steps={2}
        validate={() => ("error" in checked ? checked.error : undefined)}
        action={async (tx) => {
          if ("error" in checked) throw new Error(checked.error);
          await tx.write("Approve the deposit", {
            ...contractOf(config, "OpenToken"),
            functionName: "approve",
            args: [payments, checked.wei],
          });
          const paymentsContract = contractOf(config, "InferencePayments");
          const receipt = await tx.write("Open the channel", {
            ...paymentsContract,
            functionName: "openChannel",
            // No separate voucher signer: the wallet's own account signs the vouchers.
            args: [offer.address, checked.wei, zeroAddress],
          });
          const [opened] = parseEventLogs({
            abi: paymentsContract.abi,
            eventName: "ChannelOpened",
            logs: receipt.logs,
          });
          const { channelId } = opened!.args as unknown as { channelId: bigint };
          setSession({ channelId, deposit: checked.wei, payer: await payerFor(channelId) });
          return channelId;
        }}
      />
    </>
  );
}

function Chat({ adapterId, offer, session }: { adapterId: bigint; offer: OperatorOffer; session: Session }) {
  const { config } = useStudio();
  const { channelId, payer } = session;
  const [message, setMessage] = useState("");
  const [maxTokens, setMaxTokens] = useState("64");
  const [turns, setTurns] = useState<Turn[]>([]);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string>();
  const [vouched, setVouched] = useState<string>();
  const history = useRef<RequestMessage[]>([]);
  const channel = useReadContract({
    ...contractOf(config, "InferencePayments"),
    functionName: "getChannel",
    args: [channelId],
    query: { refetchInterval: 2_000 },
  });
  const onChain = channel.data as { deposit: bigint; settled: bigint } | undefined;
  const rows = receiptRows(payer.receipts, payer.disputes);

  /** The request, or why it cannot go (nothing is signed then). */
  function prepared(): { body: ReturnType<typeof chatRequest> } | { error: string } {
    if (message.trim() === "") return { error: "Type a message first." };
    const tokens = Number(maxTokens);
    if (!Number.isSafeInteger(tokens) || tokens < 1 || tokens > MAX_ANSWER_TOKENS)
      return { error: `The answer's length must be 1 to ${MAX_ANSWER_TOKENS} tokens.` };
    const body = chatRequest({
      adapterId,
      messages: [...history.current, { role: "user", content: message.trim() }],
      maxTokens: tokens,
    });
    const cover = payer.maxCost(body.model, promptOf("chat", body), tokens, "chat");
    const left = (onChain?.deposit ?? session.deposit) - payer.billedTotal;
    if (cover > left)
      return {
        error: `This message may cost up to ${formatOpen(cover)}, more than the ${formatOpen(left)} left in the channel.`,
      };
    return { body };
  }

  async function send() {
    const request = prepared();
    if ("error" in request) return setProblem(request.error);
    setProblem(undefined);
    setBusy(true);
    const question = message.trim();
    const before = payer.receipts.length;
    const turn: Turn = { question, answer: "", receipts: [] };
    const show = () => setTurns((all) => [...all.slice(0, -1), { ...turn }]);
    setTurns((all) => [...all, turn]);
    try {
      const response = await payer.fetch(`${offer.endpoint}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(request.body),
      });
      if (!response.ok) {
        const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
        throw new Error(`the operator answered ${response.status}: ${body?.error?.message ?? response.statusText}`);
      }
      for await (const delta of streamedText(response.body!)) {
        turn.answer += delta;
        show();
      }
      history.current = [...request.body.messages, { role: "assistant", content: turn.answer }];
      setMessage("");
    } catch (error) {
      turn.error = describeError(error, allAbis);
    } finally {
      turn.receipts = receiptRows(payer.receipts.slice(before), payer.disputes);
      show();
      setBusy(false);
    }
  }

  async function sendUsage() {
    setVouched("Sign the usage voucher in your wallet…");
    try {
      const { billed } = await checkpoint(payer, offer.endpoint);
      const total = Object.values(billed).reduce((sum, amount) => sum + BigInt(amount), 0n);
      setVouched(`The operator holds your usage voucher: it can settle ${formatOpen(total)}.`);
    } catch (error) {
      setVouched(`Could not send the usage voucher: ${describeError(error, allAbis)}`);
    }
  }

  return (
    <>
      <h3>Chat</h3>
      <dl className="facts" data-channel={channelId.toString()}>
        <dt>Channel</dt>
        <dd>
          #{channelId.toString()} to <Address address={offer.address} /> ({offer.endpoint})
        </dd>
        <dt>Deposit</dt>
        <dd>
          <Amount wei={onChain?.deposit ?? session.deposit} />
        </dd>
        <dt>Receipts accepted</dt>
        <dd>
          <Amount wei={payer.billedTotal} /> in {rows.filter((row) => row.verified).length} receipts
        </dd>
        <dt>Settled on chain</dt>
        <dd data-settled={onChain?.settled.toString()}>
          <Amount wei={onChain?.settled} />
        </dd>
      </dl>
      <ol aria-label="Conversation">
        {turns.map((turn, i) => (
          <li key={i}>
            <p>
              <strong>You:</strong> {turn.question}
            </p>
            <p aria-live={i === turns.length - 1 ? "polite" : undefined}>
              <strong>Adapter {adapterId.toString()}:</strong> {turn.answer || (busy ? "…" : "")}
            </p>
            {turn.error && (
              <p role="alert" className="error">
                {turn.error}
              </p>
            )}
          </li>
        ))}
      </ol>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          void send();
        }}
      >
        <label>
          Message
          <textarea rows={3} cols={32} value={message} onChange={(event) => setMessage(event.target.value)} />
        </label>
        <label>
          Most tokens in the answer
          <input
            inputMode="numeric"
            size={6}
            value={maxTokens}
            onChange={(event) => setMaxTokens(event.target.value)}
          />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? "Answering…" : "Send"}
        </button>
      </form>
      {problem && (
        <p role="alert" className="error">
          {problem}
        </p>
      )}
      <Receipts rows={rows} channelId={channelId} signingKey={offer.signingKey} />
      <p>
        <button type="button" onClick={sendUsage} disabled={busy || rows.length === 0}>
          Send usage voucher
        </button>{" "}
        <span className="muted">
          Your next message carries it anyway; send it now to let the operator settle every receipt above.
        </span>
      </p>
      {vouched && <p role="status">{vouched}</p>}
    </>
  );
}

function Receipts({
  rows,
  channelId,
  signingKey,
}: {
  rows: readonly ReceiptRow[];
  channelId: bigint;
  signingKey: AddressType;
}) {
  const { config } = useStudio();
  if (rows.length === 0) return null;
  const store = config.contentUrl.replace(/\/+$/, "");
  return (
    <Table label={`Receipts of channel #${channelId}`}>
      <caption>Receipts of channel #{channelId.toString()}</caption>
      <thead>
        <tr>
          <th scope="col">#</th>
          <th scope="col">Amount</th>
          <th scope="col">Tokens (prompt + answer)</th>
          <th scope="col">Attribution record</th>
          <th scope="col">Check</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.requestId} data-receipt-amount={row.amount.toString()} data-verified={row.verified}>
            <td>{row.position.toString()}</td>
            <td>
              <Amount wei={row.amount} decimals={8} />
            </td>
            <td>
              {row.promptTokens.toString()} + {row.completionTokens.toString()}
            </td>
            <td>
              {/^0x0+$/.test(row.attributionHash) ? (
                <span className="muted">none (base model)</span>
              ) : (
                <a
                  className="mono"
                  href={`${store}/${recordFileName(row.attributionHash)}`}
                  target="_blank"
                  rel="noreferrer"
                  title={row.attributionHash}
                >
                  {row.attributionHash.slice(0, 10)}…
                </a>
              )}
            </td>
            <td>
              {row.verified ? (
                <span
                  style={{ color: "var(--ok)" }}
                  title={`Signed by the operator's key ${signingKey}; its price, completion hash and attribution record check against the answer`}
                >
                  ✓ verified
                </span>
              ) : (
                <span className="error">disputed, not paid: {row.disputed}</span>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}
