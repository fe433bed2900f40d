/**
 * The store's tests and benchmark run against the real suite on a local chain: the gateway's test chain (bob an
 * operator, carol an adapter owner, alice and mallory holding OPEN, the deployer the attestor), read through the
 * same transport the service uses.
 */
import { randomBytes } from "node:crypto";
import { createPublicClient } from "viem";
import { generatedModel, OPEN, startTestChain, type TestChain } from "../inference/gateway/testSupport.ts";
import { rpcTransport } from "../scripts/lib/rpc.ts";
import { chainWritePolicy } from "./policy.ts";

/** The test chain with three adapters registered (their artifact hashes are never fetched). */
export const startStoreTestChain = (port: number) =>
  startTestChain(
    port,
    generatedModel(),
    Array.from({ length: 3 }, () => randomBytes(32).toString("hex")),
  );

/** The chain policy over `tc`, admitting OPEN holders from 1 OPEN; no retries, so an unreachable chain shows at once. */
export function testChainPolicy(tc: TestChain, { rpcUrl = tc.chain.url, cacheMs = 30_000 } = {}) {
  const { OpenToken, ModelRegistry, NodeRegistry, AttributionRewards } = tc.contracts;
  return chainWritePolicy({
    client: createPublicClient({ transport: rpcTransport(rpcUrl, { retryCount: 0 }) }),
    contracts: { OpenToken, ModelRegistry, NodeRegistry, AttributionRewards },
    minBalance: OPEN,
    cacheMs,
  });
}
