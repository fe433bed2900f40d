/**
 * Connect a wallet: any injected EIP-1193 wallet, or on a local chain the development wallet with a picker over the
 * node's accounts (tests and demos switch between contributor, curator, author and operator).
 */
import { useQuery } from "@tanstack/react-query";
import { useId } from "react";
import type { Address as AddressType } from "viem";
import { ProviderNotFoundError, useConnect, useConnection, useConnectors, useDisconnect } from "wagmi";
import { describeError } from "../lib/errors.ts";
import { allAbis } from "../contracts.ts";
import { useStudio } from "../studio.tsx";
import { DEV_WALLET_ID, type DevProvider } from "../wallet.ts";
import { Address } from "./Address.tsx";

export function Wallet() {
  const { address, connector, status } = useConnection();
  const connectors = useConnectors();
  const connect = useConnect();
  const disconnect = useDisconnect();
  const { devProvider } = useStudio();
  if (status === "connected" && address) {
    return (
      <div className="wallet">
        {connector?.id === DEV_WALLET_ID && devProvider ? (
          <DevAccountPicker provider={devProvider} address={address} />
        ) : (
          <span>
            <Address address={address} /> ({connector?.name})
          </span>
        )}
        <button type="button" onClick={() => disconnect.mutate()}>
          Disconnect
        </button>
      </div>
    );
  }
  return (
    <div className="wallet">
      {connectors.map((c) => (
        <button
          type="button"
          key={c.uid}
          disabled={status === "connecting"}
          onClick={() => connect.mutate({ connector: c })}
        >
          {c.id === DEV_WALLET_ID
            ? `Connect: ${c.name}`
            : `Connect ${c.name === "Injected" ? "browser wallet" : c.name}`}
        </button>
      ))}
      {connect.error && (
        <span role="alert" className="error">
          {(connect.error as Error) instanceof ProviderNotFoundError
            ? "No browser wallet found: install one (any EIP-1193 wallet, e.g. a browser extension)."
            : describeError(connect.error, allAbis)}
        </span>
      )}
    </div>
  );
}

function DevAccountPicker({ provider, address }: { provider: DevProvider; address: AddressType }) {
  const id = useId();
  const accounts = useQuery({ queryKey: ["dev-accounts"], queryFn: () => provider.accounts(), staleTime: Infinity });
  return (
    <div className="dev-wallet">
      <span className="badge">Development wallet (Hardhat test accounts, local chain only)</span>
      <label htmlFor={id}>Account</label>
      <select id={id} value={address} onChange={(event) => provider.select(event.target.value as AddressType)}>
        {(accounts.data ?? [address]).map((account, i) => (
          <option key={account} value={account}>
            #{i} {account}
          </option>
        ))}
      </select>
    </div>
  );
}
