import type { Pager as PagerState } from "../data.ts";

/** Previous / next through a cursor-paginated list, with where the reader is. */
export function Pager({ pager, label }: { pager: PagerState; label: string }) {
  const pages = pager.total === undefined ? undefined : Math.max(1, Math.ceil(pager.total / pager.pageSize));
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" onClick={pager.previous} disabled={!pager.hasPrevious}>
        Previous
      </button>
      <span aria-live="polite">
        Page {pager.index + 1}
        {pages === undefined ? "" : ` of ${pages}`}
        {pager.total === undefined ? "" : ` (${pager.total} in all)`}
      </span>
      <button type="button" onClick={pager.next} disabled={!pager.hasNext}>
        Next
      </button>
    </nav>
  );
}
