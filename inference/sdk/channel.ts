import {
  parseEventLogs,
  type Account,
  type Address,
  type Chain,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { abiOf } from "./abis.ts";

type Wallet = WalletClient<Transport, Chain | undefined, Account>;
export type ChannelParams = { payments: Address; token: Address };

async function approve(wallet: Wallet, client: PublicClient, { payments, token }: ChannelParams, amount: bigint) {
  const hash = await wallet.writeContract({
    chain: wallet.chain,
    address: token,
    abi: abiOf("OpenToken"),
    functionName: "approve",
    args: [payments, amount],
  });
  await client.waitForTransactionReceipt({ hash });
}

/** Approves the deposit and opens a channel to `operator`; returns the channel id. */
export async function openChannel(
  wallet: Wallet,
  client: PublicClient,
  params: ChannelParams & { operator: Address; deposit: bigint },
): Promise<bigint> {
  await approve(wallet, client, params, params.deposit);
  const hash = await wallet.writeContract({
    chain: wallet.chain,
    address: params.payments,
    abi: abiOf("InferencePayments"),
    functionName: "openChannel",
    args: [params.operator, params.deposit],
  });
  const receipt = await client.waitForTransactionReceipt({ hash });
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
  const hash = await wallet.writeContract({
    chain: wallet.chain,
    address: params.payments,
    abi: abiOf("InferencePayments"),
    functionName: "topUp",
    args: [params.channelId, params.amount],
  });
  return client.waitForTransactionReceipt({ hash });
}
