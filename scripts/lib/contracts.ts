/**
 * viem clients bound to a deployment: ABIs from build output (artifacts/), addresses from deployments/<network>.json.
 * Shared by the CLI, the demo and tests.
 */
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  type Abi,
  type Account,
  type Address,
  type Chain,
  type Hex,
  type PublicClient,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { readDeployment, type Deployment } from "./deployments.ts";
import { ConfigurationError, optionalFromEnvironment, optionalSecretFromEnvironment } from "./environment.ts";
import { progressEnabled } from "./progress.ts";
import { rpcTransport } from "./rpc.ts";
import { abiOf, type ContractName } from "../../inference/sdk/abis.ts";

export { abiOf, contractNames, type ContractName } from "../../inference/sdk/abis.ts";
export { ConfigurationError } from "./environment.ts";

/** Hardhat's first default account: the local chain's deployer. Used only where the chain id is 31337. */
export const HARDHAT_ACCOUNT_0_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/**
 * The RPC URL of a network: OPENPOA_RPC_URL, else `<NETWORK>_RPC_URL` as hardhat.config.ts names it (a secret: a
 * provider's URL carries its key, so it may be in Hardhat's keystore, as for the deploy).
 */
export async function rpcUrlOf(network: string): Promise<string> {
  const url = optionalFromEnvironment("OPENPOA_RPC_URL", "url");
  if (url) return url;
  if (network === "localhost") return "http://127.0.0.1:8545";
  const variable = `${network.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()}_RPC_URL`;
  const networkUrl = await optionalSecretFromEnvironment(variable, "url");
  if (!networkUrl) {
    throw new ConfigurationError(
      `Set ${variable} (in the environment or Hardhat's keystore) or OPENPOA_RPC_URL to reach network "${network}"`,
    );
  }
  return networkUrl;
}

export type Suite = {
  network: string;
  deployment: Deployment;
  chain: Chain;
  publicClient: PublicClient;
  walletClient?: WalletClient;
  account?: Account;
  /** Whether waits for a transaction show progress on stderr (scripts/lib/progress.ts). */
  progress: boolean;
  /** The hashes of the transactions sent through this suite, in order (the CLI links them to the explorer). */
  sent: Hex[];
  address(name: ContractName): Address;
  abi(name: ContractName): Abi;
};

/**
 * Connects to `network`. The signing key comes from `privateKey`, else OPENPOA_PRIVATE_KEY (in the environment or
 * Hardhat's keystore), else (on the local chain only) Hardhat's first default account; without one the suite is
 * read-only, as it is with `readOnly` (which reads no key at all: a service that only reads never asks for the
 * keystore's password). `progress` defaults to progressEnabled().
 */
export async function connectSuite({
  network,
  privateKey,
  readOnly = false,
  progress = progressEnabled(),
}: {
  network: string;
  privateKey?: `0x${string}`;
  readOnly?: boolean;
  progress?: boolean;
}): Promise<Suite> {
  const deployment = await readDeployment(network);
  const url = await rpcUrlOf(network);
  const chain = defineChain({
    id: deployment.chainId,
    name: network,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [url] } },
  });
  const transport = rpcTransport(url);
  const publicClient = createPublicClient({ chain, transport });
  const key = readOnly
    ? undefined
    : (privateKey ??
      (await optionalSecretFromEnvironment("OPENPOA_PRIVATE_KEY", "privateKey")) ??
      (deployment.chainId === 31337 ? HARDHAT_ACCOUNT_0_KEY : undefined));
  const account = key ? privateKeyToAccount(key) : undefined;
  const walletClient = account ? createWalletClient({ chain, transport, account }) : undefined;
  return {
    network,
    deployment,
    chain,
    publicClient,
    walletClient,
    account,
    progress,
    sent: [],
    address(name) {
      const entry = deployment.contracts[name];
      if (!entry) throw new ConfigurationError(`${name} is not in deployments/${network}.json`);
      return entry.address as Address;
    },
    abi: abiOf,
  };
}
