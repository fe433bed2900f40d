/** How the Governance pages read the chain: the suite proposals are decoded against, and reads that follow blocks. */
import { keepPreviousData } from "@tanstack/react-query";
import { useMemo } from "react";
import { usePublicClient } from "wagmi";
import type { ActionSuite } from "../../../../../scripts/lib/governedActions.ts";
import { abis } from "../../contracts.ts";
import { actionSuiteOf } from "../../lib/governance.ts";
import { useStudio } from "../../studio.tsx";

export function useActionSuite(): ActionSuite {
  const { config } = useStudio();
  const client = usePublicClient();
  return useMemo(
    () =>
      actionSuiteOf(config.contracts, abis, {
        readContract: (parameters: never) => {
          if (!client) throw new Error("no connection to the chain");
          return client.readContract(parameters);
        },
      }),
    [config.contracts, client],
  );
}

/**
 * Read options that read at `blockNumber` and again at each new block, showing the last answer meanwhile: a proposal's
 * state moves with the chain's clock, not only with transactions.
 */
export function readsAtBlock(blockNumber: bigint | undefined) {
  return {
    blockNumber,
    query: { enabled: blockNumber !== undefined, placeholderData: keepPreviousData },
  } as const;
}
