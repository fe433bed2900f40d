import {
  isAddressEqual,
  parseEventLogs,
  zeroAddress,
  type Account,
  type Address,
  type Chain,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { abiOf } from "#sdk/abis";
import { getContractEventsInChunks, type ChunkOptions } from "./logs.ts";
import { writeContractOnce } from "./rpc.ts";

type Wallet = WalletClient<Transport, Chain | undefined, Account>;
export type ChannelParams = { payments: Address; token: Address };

async function approve(wallet: Wallet, client: PublicClient, { payments, token }: ChannelParams, amount: bigint) {
  await writeContractOnce(wallet, client, {
    address: token,
    abi: abiOf("OpenToken"),
    functionName: "approve",
    args: [payments, amount],
  });
}

/**
 * Approves the deposit and opens a channel to `operator`; returns the channel id. `voucherSigner` is the key whose
 * signatures settle the channel, for good: the wallet's own account unless another is named (a smart-wallet payer
 * must name one).
 */
export async function openChannel(
  wallet: Wallet,
  client: PublicClient,
  params: ChannelParams & { operator: Address; deposit: bigint; voucherSigner?: Address },
): Promise<bigint> {
  await approve(wallet, client, params, params.deposit);
  const receipt = await writeContractOnce(wallet, client, {
    address: params.payments,
    abi: abiOf("InferencePayments"),
    functionName: "openChannel",
    args: [params.operator, params.deposit, params.voucherSigner ?? zeroAddress],
  });
  const [opened] = parseEventLogs({ abi: abiOf("InferencePayments"), eventName: "ChannelOpened", logs: receipt.logs });
  return (opened!.args as { channelId: bigint }).channelId;
}

/** Approves and adds `amount` to an open channel's deposit. */
export async function topUp(
  wallet: Wallet,
  client: PublicClient,
  params: ChannelParams & { channelId: bigint; amount: bigint },
) {
  await approve(wallet, client, params, params.amount);
  return writeContractOnce(wallet, client, {
    address: params.payments,
    abi: abiOf("InferencePayments"),
    functionName: "topUp",
    args: [params.channelId, params.amount],
  });
}

/** An open channel, as InferencePayments has it. */
export type OpenChannel = { channelId: bigint; deposit: bigint };

/**
 * The newest channel `payer` opened to `operator` that is still open (no close requested) and whose vouchers the
 * payer signs itself, from InferencePayments' ChannelOpened events since `fromBlock` (its deployment block; default
 * 0) and its current state; undefined if there is none. Channels in `exclude` are passed over.
 */
export async function findOpenChannel(
  client: PublicClient,
  {
    payments,
    payer,
    operator,
    fromBlock = 0n,
    exclude = [],
    ...chunks
  }: ChunkOptions & { payments: Address; payer: Address; operator: Address; fromBlock?: bigint; exclude?: bigint[] },
): Promise<OpenChannel | undefined> {
  const opened = await getContractEventsInChunks(client, {
    ...chunks,
    address: payments,
    abi: abiOf("InferencePayments"),
    eventName: "ChannelOpened",
    args: { payer, operator },
    fromBlock,
  });
  const newestFirst = opened.map((event) => (event.args as { channelId: bigint }).channelId).reverse();
  for (const channelId of newestFirst.filter((id) => !exclude.includes(id))) {
    const channel = (await client.readContract({
      address: payments,
      abi: abiOf("InferencePayments"),
      functionName: "getChannel",
      args: [channelId],
    })) as { closesAt: bigint; finalized: boolean; deposit: bigint; voucherSigner: Address };
    const signsItself = channel.voucherSigner === zeroAddress || isAddressEqual(channel.voucherSigner, payer);
    if (channel.closesAt === 0n && !channel.finalized && signsItself) return { channelId, deposit: channel.deposit };
  }
  return undefined;
}
