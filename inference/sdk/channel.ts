import {
  parseEventLogs,
  zeroAddress,
  type Account,
  type Address,
  type Chain,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { abiOf } from "./abis.ts";
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
