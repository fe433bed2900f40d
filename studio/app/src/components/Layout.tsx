import { Suspense, type ReactNode } from "react";
import { Link, useRoute } from "wouter";
import { routes } from "../routes.tsx";
import { useStudio } from "../studio.tsx";
import { Wallet } from "./Wallet.tsx";

function NavLink({ path, label }: { path: string; label: string }) {
  const [active] = useRoute(`${path}/*?`);
  return (
    <Link href={path} aria-current={active ? "page" : undefined}>
      {label}
    </Link>
  );
}

/** The frame of every page: the name, the navigation, the wallet, and the page. */
export function Layout({ children }: { children: ReactNode }) {
  const { config } = useStudio();
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header>
        <div className="brand">
          OpenPoA Studio <span className="muted">· {config.network}</span>
        </div>
        <nav aria-label="Main">
          {routes
            .filter((r) => r.nav)
            .map((r) => (
              <NavLink key={r.path} path={r.path} label={r.nav!} />
            ))}
        </nav>
        <Wallet />
      </header>
      <main id="main">
        <Suspense fallback={<p className="muted">Loading…</p>}>{children}</Suspense>
      </main>
    </>
  );
}
