/** The suite proposals are decoded and built against in the browser: the deployment, the bundled ABIs, the chain. */
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
