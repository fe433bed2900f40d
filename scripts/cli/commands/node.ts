/** Operators: register, update, stake, unbond, withdraw. */
import { read, send } from "../../lib/transactions.ts";
import { parseAddress, parseId, parseList, parseOpen, requireValue } from "../args.ts";
import { ensureAllowance, firstEvent, open, requireSigner, str, type Command } from "../shared.ts";

export const nodeCommands: Record<string, Command> = {
  "node register": {
    summary: "Register the signer as an inference operator and bond OPEN",
    usage: "node register --endpoint URL --base-models 1[,2…] [--signing-key addr] [--stake OPEN]",
    options: {
      endpoint: { type: "string", description: "the gateway's public URL" },
      "base-models": { type: "string", description: "ids of the base models served, comma-separated" },
      "signing-key": { type: "string", description: "the key that signs receipts (default: the operator)" },
      stake: { type: "string", description: "OPEN to bond now (default 0)" },
    },
    async run(suite, _positionals, values) {
      const endpoint = requireValue(str(values, "endpoint"), "--endpoint");
      const baseModelIds = parseList(str(values, "base-models"), "--base-models", parseId);
      const signingKey = values["signing-key"]
        ? parseAddress(str(values, "signing-key"), "--signing-key")
        : suite.account!.address;
      const stake = values.stake ? parseOpen(str(values, "stake"), "--stake") : 0n;
      await ensureAllowance(suite, "NodeRegistry", stake);
      await send(suite, {
        contract: "NodeRegistry",
        functionName: "register",
        args: [endpoint, baseModelIds, signingKey, stake],
      });
      const active = await read<boolean>(suite, {
        contract: "NodeRegistry",
        functionName: "isActive",
        args: [suite.account!.address],
      });
      return {
        text: `Registered operator ${suite.account!.address} (${endpoint}), bonded ${open(stake)}, ${active ? "active" : "not active yet (below the minimum stake)"}`,
        data: { operator: suite.account!.address, stake, active },
      };
    },
  },

  "node update": {
    summary: "Change the signer's endpoint, served base models or receipt signing key",
    usage: "node update --endpoint URL --base-models 1[,2…] --signing-key addr",
    options: {
      endpoint: { type: "string", description: "the gateway's public URL" },
      "base-models": { type: "string", description: "ids of the base models served, comma-separated" },
      "signing-key": { type: "string", description: "the key that signs receipts" },
    },
    async run(suite, _positionals, values) {
      const endpoint = requireValue(str(values, "endpoint"), "--endpoint");
      const baseModelIds = parseList(str(values, "base-models"), "--base-models", parseId);
      const signingKey = parseAddress(str(values, "signing-key"), "--signing-key");
      await send(suite, {
        contract: "NodeRegistry",
        functionName: "update",
        args: [endpoint, baseModelIds, signingKey],
      });
      return {
        text: `Operator ${requireSigner(suite)} now serves ${endpoint} and signs receipts with ${signingKey}`,
        data: { endpoint, signingKey },
      };
    },
  },

  "node stake": {
    summary: "Bond more OPEN",
    usage: "node stake <OPEN>",
    async run(suite, [amountText]) {
      const amount = parseOpen(amountText, "amount");
      await ensureAllowance(suite, "NodeRegistry", amount);
      await send(suite, { contract: "NodeRegistry", functionName: "addStake", args: [amount] });
      return { text: `Bonded ${open(amount)} more`, data: { amount } };
    },
  },

  "node unbond": {
    summary: "Start unbonding OPEN (released after the unbonding period)",
    usage: "node unbond <OPEN>",
    async run(suite, [amountText]) {
      const amount = parseOpen(amountText, "amount");
      const sent = await send(suite, { contract: "NodeRegistry", functionName: "requestUnbond", args: [amount] });
      const { releaseTime } = firstEvent<{ releaseTime: bigint }>(suite, sent, "NodeRegistry", "UnbondRequested");
      return {
        text: `Unbonding ${open(amount)}; withdraw after ${new Date(Number(releaseTime) * 1000).toISOString()}`,
        data: { amount, releaseTime },
      };
    },
  },

  "node withdraw": {
    summary: "Withdraw unbonded OPEN once released",
    usage: "node withdraw",
    async run(suite) {
      const sent = await send(suite, { contract: "NodeRegistry", functionName: "withdrawUnbonded" });
      const { amount } = firstEvent<{ amount: bigint }>(suite, sent, "NodeRegistry", "StakeWithdrawn");
      return { text: `Withdrew ${open(amount)}`, data: { amount } };
    },
  },
};
