/** OPEN: balance and votes, transfer, delegate, and a faucet on the local chain. */
import { formatEther, parseEther, type Address } from "viem";
import { read, send } from "../../lib/transactions.ts";
import { parseAddress, parseOpen, UsageError } from "../args.ts";
import { firstEvent, open, requireSigner, str, type Command } from "../shared.ts";

/** Hardhat's local chain, where the faucet may hand out OPEN and gas. */
const LOCAL_CHAIN_ID = 31337;
/** Gas money the faucet tops a local account up to. */
const FAUCET_GAS = parseEther("10");

export const tokenCommands: Record<string, Command> = {
  "token balance": {
    summary: "An account's OPEN, the votes it holds, whom it delegates to, and its gas balance",
    usage: "token balance [account]",
    async run(suite, [accountText]) {
      const account = accountText ? parseAddress(accountText, "account") : requireSigner(suite);
      const [balance, votes, delegate, gas] = await Promise.all([
        read<bigint>(suite, { contract: "OpenToken", functionName: "balanceOf", args: [account] }),
        read<bigint>(suite, { contract: "OpenToken", functionName: "getVotes", args: [account] }),
        read<Address>(suite, { contract: "OpenToken", functionName: "delegates", args: [account] }),
        suite.publicClient.getBalance({ address: account }),
      ]);
      const delegation =
        delegate === "0x0000000000000000000000000000000000000000"
          ? "delegates to nobody (its OPEN does not vote: `openpoa token delegate`)"
          : delegate.toLowerCase() === account.toLowerCase()
            ? "delegates to itself"
            : `delegates to ${delegate}`;
      return {
        text: `${account}: ${open(balance)}, ${open(votes)} of votes, ${delegation}; ${formatEther(gas)} for gas`,
        data: { account, balance, votes, delegate, gas },
      };
    },
  },

  "token transfer": {
    summary: "Send OPEN to an account",
    usage: "token transfer <to> <OPEN>",
    async run(suite, [toText, amountText]) {
      const to = parseAddress(toText, "to");
      const amount = parseOpen(amountText, "amount");
      const sent = await send(suite, { contract: "OpenToken", functionName: "transfer", args: [to, amount] });
      return { text: `Sent ${open(amount)} to ${to} (${sent.hash})`, data: { to, amount, transactionHash: sent.hash } };
    },
  },

  "token delegate": {
    summary: "Delegate the signer's votes (OPEN votes only once delegated, to oneself or another account)",
    usage: "token delegate [delegatee]",
    async run(suite, [delegateeText]) {
      const delegatee = delegateeText ? parseAddress(delegateeText, "delegatee") : requireSigner(suite);
      const sent = await send(suite, { contract: "OpenToken", functionName: "delegate", args: [delegatee] });
      const { toDelegate } = firstEvent<{ toDelegate: Address }>(suite, sent, "OpenToken", "DelegateChanged");
      return { text: `Votes of ${requireSigner(suite)} now go to ${toDelegate}`, data: { delegatee: toDelegate } };
    },
  },

  "token faucet": {
    summary: "On the local chain only: send an account OPEN from the signer, and gas if it has little",
    usage: "token faucet <account> [--amount OPEN]",
    options: { amount: { type: "string", default: "1000", description: "OPEN to send" } },
    async run(suite, [accountText], values) {
      if (suite.chain.id !== LOCAL_CHAIN_ID) {
        throw new UsageError(
          `The faucet exists only on the local chain (${LOCAL_CHAIN_ID}), not on chain ${suite.chain.id}`,
        );
      }
      const account = parseAddress(accountText, "account");
      const amount = parseOpen(str(values, "amount"), "--amount");
      const sent = await send(suite, { contract: "OpenToken", functionName: "transfer", args: [account, amount] });
      let gas = await suite.publicClient.getBalance({ address: account });
      if (gas < FAUCET_GAS) {
        // Hardhat's node sets balances directly: no account has to hold the gas money first.
        await suite.publicClient.request({
          method: "hardhat_setBalance" as never,
          params: [account, `0x${FAUCET_GAS.toString(16)}`] as never,
        });
        gas = FAUCET_GAS;
      }
      return {
        text: `Sent ${open(amount)} to ${account}; it has ${formatEther(gas)} for gas`,
        data: { account, amount, gas, transactionHash: sent.hash },
      };
    },
  },
};
