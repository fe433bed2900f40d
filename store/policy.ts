/**
 * Who may write what, read from the chain: the attestor of AttributionRewards, operators registered in
 * NodeRegistry, owners of an adapter in ModelRegistry, and holders of a minimum OPEN balance (contributors and
 * adapter authors stake OPEN anyway). Distribution files are the attestor's, usage batches and attribution records
 * operators', contributions and artifacts any of them. A chain that does not answer admits no one (503).
 */
import { BaseError, ContractFunctionRevertedError, type Address, type PublicClient } from "viem";
import type { StoreKind } from "../attribution/src/index.ts";
import { abiOf } from "../inference/sdk/abis.ts";
import { StoreError } from "./errors.ts";

export type Role = "attestor" | "operator" | "adapterOwner" | "openHolder";

const anyWriter: readonly Role[] = ["attestor", "operator", "adapterOwner", "openHolder"];

/** The roles that may write each kind. */
export const writersOf: Record<StoreKind, readonly Role[]> = {
  contribution: anyWriter,
  artifact: anyWriter,
  distribution: ["attestor"],
  usage: ["operator"],
  record: ["operator"],
};

export type WritePolicy = {
  /** Resolves when `address` may write `kind`; else a StoreError (403 not admitted, 503 chain unavailable). */
  admit(address: Address, kind: StoreKind): Promise<void>;
};

export type PolicyContracts = Record<"OpenToken" | "ModelRegistry" | "NodeRegistry" | "AttributionRewards", Address>;

/** Whether `error` is NodeRegistry's answer for an address that never registered (not a failed read). */
const isNotRegistered = (error: unknown) =>
  error instanceof BaseError &&
  (error.walk((e) => e instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null)?.data
    ?.errorName === "NotRegistered";

/** One set of chain reads: the roles `address` holds now. */
async function readRoles(
  client: PublicClient,
  contracts: PolicyContracts,
  minBalance: bigint,
  address: Address,
): Promise<Set<Role>> {
  const [attestor, operator, adapters, balance] = await Promise.all([
    client.readContract({
      address: contracts.AttributionRewards,
      abi: abiOf("AttributionRewards"),
      functionName: "attestor",
    }) as Promise<Address>,
    client
      .readContract({
        address: contracts.NodeRegistry,
        abi: abiOf("NodeRegistry"),
        functionName: "getOperator",
        args: [address],
      })
      .then(
        () => true,
        (error: unknown) => {
          if (isNotRegistered(error)) return false;
          throw error;
        },
      ),
    client.readContract({
      address: contracts.ModelRegistry,
      abi: abiOf("ModelRegistry"),
      functionName: "balanceOf",
      args: [address],
    }) as Promise<bigint>,
    client.readContract({
      address: contracts.OpenToken,
      abi: abiOf("OpenToken"),
      functionName: "balanceOf",
      args: [address],
    }) as Promise<bigint>,
  ]);
  const roles = new Set<Role>();
  if (attestor.toLowerCase() === address.toLowerCase()) roles.add("attestor");
  if (operator) roles.add("operator");
  if (adapters > 0n) roles.add("adapterOwner");
  if (balance >= minBalance) roles.add("openHolder");
  return roles;
}

/**
 * The chain's policy. An address's roles are kept `cacheMs`, so a burst of PUTs costs one set of reads; a failed
 * read is not kept, so the next PUT asks again.
 */
export function chainWritePolicy({
  client,
  contracts,
  minBalance,
  cacheMs = 30_000,
}: {
  client: PublicClient;
  contracts: PolicyContracts;
  /** The OPEN balance (wei) that admits an account holding no other role. */
  minBalance: bigint;
  cacheMs?: number;
}): WritePolicy {
  const cache = new Map<string, { until: number; roles: Promise<Set<Role>> }>();
  const forgetExpired = (now: number) => {
    for (const [key, entry] of cache) if (entry.until <= now) cache.delete(key);
  };
  const rolesOf = (address: Address): Promise<Set<Role>> => {
    const key = address.toLowerCase();
    const now = Date.now();
    const cached = cache.get(key);
    if (cached && cached.until > now) return cached.roles;
    // Signers are anyone with a key: without this the map would grow with every address ever seen.
    if (cache.size >= 10_000) forgetExpired(now);
    const roles = readRoles(client, contracts, minBalance, address);
    cache.set(key, { until: now + cacheMs, roles });
    roles.catch(() => {
      if (cache.get(key)?.roles === roles) cache.delete(key);
    });
    return roles;
  };
  return {
    async admit(address, kind) {
      let roles: Set<Role>;
      try {
        roles = await rolesOf(address);
      } catch (cause) {
        throw new StoreError(503, "chain_unavailable", "cannot read the writers' roles from the chain", { cause });
      }
      const needed = writersOf[kind];
      if (!needed.some((role) => roles.has(role)))
        throw new StoreError(
          403,
          "not_admitted",
          `${address} may not write ${kind} objects: that takes one of ${needed.join(", ")}` +
            ` and it holds ${roles.size === 0 ? "none" : [...roles].join(", ")}`,
        );
    },
  };
}
