import { shortAddress } from "../lib/format.ts";

/** An address shortened for reading, the whole one on hover. */
export function Address({ address }: { address: string | null | undefined }) {
  if (!address) return <span>—</span>;
  return (
    <span className="address" title={address}>
      {shortAddress(address)}
    </span>
  );
}
