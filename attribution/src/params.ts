/**
 * The attribution params: every number that decides a record, in one object
 * that the governed attribution policy pins (policy.ts; records carry it,
 * checks compare it).
 */
import type { Hex } from "viem";
import { InvalidParamsError } from "./errors.ts";
import type { NearDuplicateParams } from "./nearDuplicates.ts";

export const ppmTotal = 1_000_000;
export const bpsTotal = 10_000;

export type AttributionParams = NearDuplicateParams & {
  /** Shortest span (tokens) that counts as evidence. */
  minSpanTokens: number;
  /** Part (bps) of each matched datanet's budget assigned by span evidence; the rest is pro rata. */
  matchWeightBps: number;
  /** Spans occurring more often than this are treated as common text and earn nothing. */
  maxSpanOccurrences: number;
  /** sha256 of the rarity table file that weighs span words (see rarity.ts). */
  rarityTable: Hex;
  /**
   * Version 2 only: a span's credit is divided by |sources|^(1 + rarityExponent), not |sources|, so text held by many of the
   * lineage earns less than text one contribution holds. 0 under version 1 (see policy.ts).
   */
  rarityExponent: number;
};

/** Largest rarityExponent a policy may set: at 3 a span held twice already earns an eighth. */
export const maxRarityExponent = 3;

export const defaultAttributionParams: AttributionParams = {
  minSpanTokens: 24,
  matchWeightBps: 8_000,
  maxSpanOccurrences: 64,
  rarityTable: "0x03f775f1f1740fa1f07b470bb5dc4dbf710b41c198da3c6dd2690eaaa7e5d696",
  duplicateShingleTokens: 16,
  duplicateSampling: 4,
  duplicateCoverageBps: 8_000,
  rarityExponent: 0,
};

/** The params alone, field by field, so stray properties never reach a hashed encoding. */
export function pickAttributionParams(params: AttributionParams): AttributionParams {
  return {
    minSpanTokens: params.minSpanTokens,
    matchWeightBps: params.matchWeightBps,
    maxSpanOccurrences: params.maxSpanOccurrences,
    rarityTable: params.rarityTable,
    duplicateShingleTokens: params.duplicateShingleTokens,
    duplicateSampling: params.duplicateSampling,
    duplicateCoverageBps: params.duplicateCoverageBps,
    rarityExponent: params.rarityExponent,
  };
}

/** The near-duplicate part of the params, which an index is built with. */
export function pickNearDuplicateParams(params: NearDuplicateParams): NearDuplicateParams {
  return {
    duplicateShingleTokens: params.duplicateShingleTokens,
    duplicateSampling: params.duplicateSampling,
    duplicateCoverageBps: params.duplicateCoverageBps,
    maxSpanOccurrences: params.maxSpanOccurrences,
  };
}

/** Names of the fields where `a` and `b` differ. */
export function differingParams<T extends object>(a: T, b: T): string[] {
  return (Object.keys(a) as (keyof T)[]).filter((key) => a[key] !== b[key]).map(String);
}

export function assertAttributionParams(params: AttributionParams): void {
  const integerIn = (name: keyof AttributionParams, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const value = params[name];
    if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max)
      throw new InvalidParamsError({ reason: `${name} must be an integer in [${min}, ${max}]` });
  };
  integerIn("minSpanTokens", 1);
  integerIn("matchWeightBps", 0, bpsTotal);
  integerIn("maxSpanOccurrences", 1);
  integerIn("duplicateShingleTokens", 1);
  integerIn("duplicateSampling", 1);
  integerIn("duplicateCoverageBps", 1, bpsTotal);
  integerIn("rarityExponent", 0, maxRarityExponent);
  if (!/^0x[0-9a-f]{64}$/.test(params.rarityTable))
    throw new InvalidParamsError({ reason: "rarityTable must be a lowercase bytes32 hex sha256" });
}
