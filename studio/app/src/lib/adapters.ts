/**
 * What the adapter pages show of what the indexer holds: usage per day as chart points, and the modules an adapter
 * targets. (How it was trained: lib/artifacts.ts.)
 */
import { formatUnits } from "viem";
import { TARGET_MODULES } from "../../../../inference/artifacts/targets.ts";
import type { Point } from "../components/Chart.tsx";
import { OPEN_DECIMALS } from "./format.ts";

/** One row of the indexer's adapter_usage_daily (GraphQL: bigints as decimal strings). */
export type UsageDay = { day: string; settlements: number; revenue: string; estimatedTokens: string | null };

const DAY_MS = 86_400_000;

/** A UTC day `YYYY-MM-DD` as days since 1970-01-01 (a chart's x). */
export function dayNumber(day: string): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new RangeError(`not a day: ${day}`);
  return Date.parse(`${day}T00:00:00Z`) / DAY_MS;
}

/** The inverse of dayNumber: `YYYY-MM-DD`. */
export const dayLabel = (x: number) => new Date(x * DAY_MS).toISOString().slice(0, 10);

/** Days in chart order (oldest first; the indexer pages them newest first), y picked from each. */
function points(days: readonly UsageDay[], y: (day: UsageDay) => number): Point[] {
  return days.map((day) => ({ x: dayNumber(day.day), y: y(day) })).sort((a, b) => a.x - b.x);
}

/** Revenue per day in OPEN (a float is enough to draw; the exact wei are shown beside the chart). */
export const revenuePoints = (days: readonly UsageDay[]) =>
  points(days, (day) => Number(formatUnits(BigInt(day.revenue), OPEN_DECIMALS)));

const UNITS = [
  { scale: 1, name: "OPEN" },
  { scale: 1e3, name: "thousandths of OPEN" },
  { scale: 1e6, name: "millionths of OPEN" },
] as const;

/**
 * Revenue points in the largest unit in which the best day is at least 1 (a chart labels its maximum in a few
 * characters: 3.4 thousandths reads, 0.0034 does not fit).
 */
export function revenueChart(days: readonly UsageDay[]): { points: Point[]; unit: string } {
  const points = revenuePoints(days);
  const top = Math.max(0, ...points.map((p) => p.y));
  const unit = UNITS.find((u) => top * u.scale >= 1) ?? UNITS[0];
  return { points: points.map((p) => ({ x: p.x, y: p.y * unit.scale })), unit: unit.name };
}

/** A chart figure in at most a few characters: 3.4, 12K, 1.2M. */
export const compactNumber = (y: number) =>
  new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 }).format(y);

/** Estimated tokens served per day; days without an estimate (price zero) are left out. */
export const tokenPoints = (days: readonly UsageDay[]) =>
  points(
    days.filter((day) => day.estimatedTokens !== null),
    (day) => Number(day.estimatedTokens),
  );

/** ModelRegistry's `targetModules` mask as module names (`q, v`). */
export const targetModuleNames = (mask: number) => TARGET_MODULES.filter((_, bit) => mask & (1 << bit)).join(", ");
