/** The Studio's entry: load the backend's configuration, then providers (wagmi, React Query), router and layout. */
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { Redirect, Route, Switch } from "wouter";
import { WagmiProvider } from "wagmi";
import { Layout } from "./components/Layout.tsx";
import { loadConfig, rpcUrlOf } from "./config.ts";
import { routes } from "./routes.tsx";
import { StudioContext, type Studio } from "./studio.tsx";
import "./styles.css";
import { chainOf, createDevProvider, wagmiConfigOf } from "./wallet.ts";

const queryClient = new QueryClient({
  defaultOptions: { queries: { staleTime: 5_000, retry: 1, refetchOnWindowFocus: false } },
});

function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        No page here. <a href="/datanets">Go to the datanets.</a>
      </p>
    </section>
  );
}

async function start() {
  const root = createRoot(document.getElementById("root")!);
  try {
    const config = await loadConfig();
    const devProvider = config.devWallet ? createDevProvider(rpcUrlOf(config)) : undefined;
    const studio: Studio = { config, chain: chainOf(config), devProvider };
    const path = window.location.pathname === "/" ? "/datanets" : window.location.pathname;
    routes.find((route) => route.path === path)?.prefetch?.(queryClient, config);
    root.render(
      <StrictMode>
        <StudioContext value={studio}>
          <WagmiProvider config={wagmiConfigOf(config, devProvider)}>
            <QueryClientProvider client={queryClient}>
              <Layout>
                <Switch>
                  <Route path="/">
                    <Redirect to="/datanets" replace />
                  </Route>
                  {routes.map(({ path, page: Page }) => (
                    <Route key={path} path={path} component={Page} />
                  ))}
                  <Route component={NotFound} />
                </Switch>
              </Layout>
            </QueryClientProvider>
          </WagmiProvider>
        </StudioContext>
      </StrictMode>,
    );
  } catch (error) {
    root.render(
      <main id="main">
        <h1>OpenPoA Studio</h1>
        <p role="alert">The Studio could not start: {error instanceof Error ? error.message : String(error)}</p>
      </main>,
    );
  }
}

void start();
