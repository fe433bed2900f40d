/** What every page reads: the backend's configuration, the chain, the development wallet when there is one. */
import { createContext, useContext } from "react";
import type { Chain } from "viem";
import type { StudioConfig } from "./config.ts";
import type { DevProvider } from "./wallet.ts";

export type Studio = { config: StudioConfig; chain: Chain; devProvider?: DevProvider };

export const StudioContext = createContext<Studio | undefined>(undefined);

export function useStudio(): Studio {
  const studio = useContext(StudioContext);
  if (!studio) throw new Error("useStudio outside <StudioContext>");
  return studio;
}
