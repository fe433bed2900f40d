import { formatOpen, formatWei } from "../lib/format.ts";

/** An amount of OPEN; the exact wei on hover (title attribute). */
export function Amount({ wei, decimals }: { wei: bigint | string | null | undefined; decimals?: number }) {
  if (wei === null || wei === undefined) return <span>…</span>;
  const value = BigInt(wei);
  return (
    <span className="amount" title={formatWei(value)}>
      {formatOpen(value, { decimals })}
    </span>
  );
}
