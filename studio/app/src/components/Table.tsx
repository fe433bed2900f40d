import type { ReactNode } from "react";

/**
 * A table that scrolls sideways inside its own box on a narrow screen (the page never does), reachable with the
 * keyboard: a labelled, focusable region, as axe's scrollable-region-focusable asks.
 */
export function Table({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-wrap" role="region" aria-label={label} tabIndex={0}>
      <table>{children}</table>
    </div>
  );
}
