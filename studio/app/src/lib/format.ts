/** OPEN amounts (18 decimals) and addresses as the Studio shows them. */
import { formatUnits, parseUnits } from "viem";

export const OPEN_DECIMALS = 18;

/** A typed amount is not a number of OPEN the chain can hold. */
export class InvalidAmountError extends Error {
  constructor(text: string, why: string) {
    super(`"${text}" is not an amount of OPEN: ${why}`);
    this.name = "InvalidAmountError";
  }
}

/**
 * `wei` as OPEN with at most `decimals` decimals (rounded toward zero), digits grouped in thousands, e.g.
 * `1,234.5678 OPEN`; an amount that is not zero but rounds to it shows as `< 0.0001 OPEN`.
 */
export function formatOpen(wei: bigint, { decimals = 4, unit = true }: { decimals?: number; unit?: boolean } = {}) {
  const negative = wei < 0n;
  const magnitude = negative ? -wei : wei;
  const step = 10n ** BigInt(OPEN_DECIMALS - decimals);
  const rounded = (magnitude / step) * step;
  const suffix = unit ? " OPEN" : "";
  if (rounded === 0n && magnitude !== 0n)
    return `${negative ? "> -" : "< "}${formatUnits(step, OPEN_DECIMALS)}${suffix}`;
  const [whole, fraction] = formatUnits(rounded, OPEN_DECIMALS).split(".");
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "-" : ""}${grouped}${fraction ? `.${fraction}` : ""}${suffix}`;
}

/** The exact amount in wei, grouped, for a title attribute: `1,000,000,000,000,000,000 wei`. */
export const formatWei = (wei: bigint) => `${wei.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",")} wei`;

/** A decimal amount of OPEN as typed (e.g. `12.5`) in wei; throws InvalidAmountError naming what is wrong. */
export function parseOpen(text: string): bigint {
  const trimmed = text.trim();
  if (!/^\d+(\.\d+)?$/.test(trimmed)) throw new InvalidAmountError(text, "use digits and at most one decimal point");
  const fraction = trimmed.split(".")[1] ?? "";
  if (fraction.length > OPEN_DECIMALS) throw new InvalidAmountError(text, `at most ${OPEN_DECIMALS} decimals`);
  return parseUnits(trimmed, OPEN_DECIMALS);
}

/** `0x1234…abcd`: enough of an address to recognise it; the whole one goes in a title attribute. */
export const shortAddress = (address: string) => `${address.slice(0, 6)}…${address.slice(-4)}`;

/** A basis-point figure as a percentage: 3333 → `33.33 %`. */
export const formatBps = (bps: number | bigint) => `${(Number(bps) / 100).toFixed(2).replace(/\.?0+$/, "")} %`;

/** A unix time (seconds) as a local date and time. */
export const formatTime = (seconds: bigint | number) => new Date(Number(seconds) * 1000).toLocaleString();
