/** Payment channels: open, top up, close, withdraw. */
import { zeroAddress } from "viem";
import { send } from "../../lib/transactions.ts";
import { parseAddress, parseId, parseOpen } from "../args.ts";
import { ensureAllowance, firstEvent, open, str, type Command } from "../shared.ts";

export const channelCommands: Record<string, Command> = {
  "channel open": {
    summary: "Open a payment channel to an operator",
    usage: "channel open --operator addr --deposit OPEN [--voucher-signer addr]",
    options: {
      operator: { type: "string", description: "the operator (an active node) the channel pays" },
      deposit: { type: "string", description: "OPEN to escrow, e.g. 50" },
      "voucher-signer": {
        type: "string",
        description: "the key that signs vouchers, required when the payer is a contract (default: the payer)",
      },
    },
    async run(suite, _positionals, values) {
      const operator = parseAddress(str(values, "operator"), "--operator");
      const deposit = parseOpen(str(values, "deposit"), "--deposit");
      // The key that signs the channel's vouchers, for good: the signer itself unless another is named.
      const voucherSigner = values["voucher-signer"]
        ? parseAddress(str(values, "voucher-signer"), "--voucher-signer")
        : zeroAddress;
      await ensureAllowance(suite, "InferencePayments", deposit);
      const sent = await send(suite, {
        contract: "InferencePayments",
        functionName: "openChannel",
        args: [operator, deposit, voucherSigner],
      });
      const { channelId } = firstEvent<{ channelId: bigint }>(suite, sent, "InferencePayments", "ChannelOpened");
      return { text: `Opened channel ${channelId} to ${operator} with ${open(deposit)}`, data: { channelId, deposit } };
    },
  },

  "channel top-up": {
    summary: "Add to a channel's deposit",
    usage: "channel top-up <channelId> <OPEN>",
    async run(suite, [id, amountText]) {
      const channelId = parseId(id, "channelId");
      const amount = parseOpen(amountText, "amount");
      await ensureAllowance(suite, "InferencePayments", amount);
      const sent = await send(suite, {
        contract: "InferencePayments",
        functionName: "topUp",
        args: [channelId, amount],
      });
      const { deposit } = firstEvent<{ deposit: bigint }>(suite, sent, "InferencePayments", "ChannelToppedUp");
      return { text: `Channel ${channelId} deposit is now ${open(deposit)}`, data: { channelId, deposit } };
    },
  },

  "channel close": {
    summary: "Request to close a channel (the operator may settle during the challenge window)",
    usage: "channel close <channelId>",
    async run(suite, [id]) {
      const channelId = parseId(id, "channelId");
      const sent = await send(suite, {
        contract: "InferencePayments",
        functionName: "requestClose",
        args: [channelId],
      });
      const { closesAt } = firstEvent<{ closesAt: bigint }>(suite, sent, "InferencePayments", "CloseRequested");
      return {
        text: `Channel ${channelId} closes at ${new Date(Number(closesAt) * 1000).toISOString()}; then run \`channel withdraw ${channelId}\``,
        data: { channelId, closesAt },
      };
    },
  },

  "channel withdraw": {
    summary: "Withdraw the unsettled deposit of a closed channel",
    usage: "channel withdraw <channelId>",
    async run(suite, [id]) {
      const channelId = parseId(id, "channelId");
      const sent = await send(suite, {
        contract: "InferencePayments",
        functionName: "withdrawChannel",
        args: [channelId],
      });
      const { refund } = firstEvent<{ refund: bigint }>(suite, sent, "InferencePayments", "ChannelFinalized");
      return { text: `Channel ${channelId} finalized; refunded ${open(refund)}`, data: { channelId, refund } };
    },
  },
};
