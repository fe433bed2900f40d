/**
 * Every page of the Studio and where it is in the navigation. A page is a component in pages/ registered here with
 * its path (wouter patterns: `/datanets/:id`); `nav` puts it in the top navigation. Pages are loaded on first visit
 * (their own chunk, `lazy`), so adding one costs the first load nothing.
 */
import type { QueryClient } from "@tanstack/react-query";
import { lazy, type ComponentType } from "react";
import type { StudioConfig } from "./config.ts";
import { graphqlPageQuery } from "./data.ts";
import Datanets, { datanetsRequest } from "./pages/Datanets.tsx";

export type Route = {
  path: string;
  page: ComponentType;
  /** The navigation label; pages without one are reached by links (details). */
  nav?: string;
  /** Starts the page's first query while the app renders, when the app is opened on it (the landing page). */
  prefetch?: (queryClient: QueryClient, config: StudioConfig) => void;
};

export const routes: Route[] = [
  // The landing page is in the first chunk: no second round trip before the first screen.
  {
    path: "/datanets",
    nav: "Datanets",
    page: Datanets,
    prefetch: (queryClient, config) =>
      void queryClient.prefetchQuery(graphqlPageQuery(config.indexerUrl, datanetsRequest(""))),
  },
  { path: "/datanets/:id", page: lazy(() => import("./pages/Datanet.tsx")) },
  { path: "/earnings", nav: "Earnings", page: lazy(() => import("./pages/Earnings.tsx")) },
  { path: "/earnings/:account", page: lazy(() => import("./pages/Earnings.tsx")) },
  { path: "/contributions/:id", page: lazy(() => import("./pages/Contribution.tsx")) },
  { path: "/factory", nav: "Model Factory", page: lazy(() => import("./pages/ModelFactory.tsx")) },
  { path: "/adapters", nav: "Adapters", page: lazy(() => import("./pages/Adapters.tsx")) },
  { path: "/adapters/:id", page: lazy(() => import("./pages/Adapter.tsx")) },
  { path: "/operators", nav: "Operators", page: lazy(() => import("./pages/Operators.tsx")) },
  { path: "/operators/:address", page: lazy(() => import("./pages/Operator.tsx")) },
  { path: "/governance", nav: "Governance", page: lazy(() => import("./pages/Governance.tsx")) },
  { path: "/governance/:id", page: lazy(() => import("./pages/Proposal.tsx")) },
];
