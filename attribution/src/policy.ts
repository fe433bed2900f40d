/**
 * The attribution policy: the algorithm, its version and the params that
 * attribute a completion. AttributionRewards keeps the schedule on chain (a
 * policy set while lastEpoch == L governs from epoch L + 2) and every root
 * names the policy it was computed with; records name the policy they were
 * made under, distribution files the policy they were computed with, and the
 * checks compare both with the epoch's.
 *
 * Versions of openpoa-span-match (attribution/spec/openpoa-span-match-v<n>.md):
 *   1: a span's credit is its rarity weight, split equally among its sources;
 *   2: the same, divided by |sources|^(1 + rarityExponent) instead of |sources|.
 *
 * Browser-safe (the Studio decodes and builds governance proposals with it); the specification files on disk are
 * policySpec.ts's.
 */
import type { Hex } from "viem";
import { InvalidAttributionPolicyError, UnsupportedAttributionPolicyError } from "./errors.ts";
import {
  assertAttributionParams,
  defaultAttributionParams,
  differingParams,
  maxRarityExponent,
  pickAttributionParams,
  type AttributionParams,
} from "./params.ts";

export const spanMatchAlgorithm = "openpoa-span-match";

export type AttributionPolicyVersion = 1 | 2;

export type AttributionPolicy = {
  /** Its number in AttributionRewards: 1, 2, ... */
  id: bigint;
  algorithm: typeof spanMatchAlgorithm;
  version: AttributionPolicyVersion;
  params: AttributionParams;
  /** sha256 of the specification document of the algorithm's version. */
  specHash: Hex;
  /** Where to read that document, e.g. openpoa://content/<sha256 hex>. */
  specUri: string;
};

/** How a record names the policy it was made under. */
export type AttributionPolicyRef = Pick<AttributionPolicy, "id" | "algorithm" | "version">;

/** The specification of each version this library implements: its sha256 and content address. */
export const attributionSpecs = {
  1: {
    specHash: "0x1630d455801a39a59fdac5a7be64b7088cf948484d4e5d48d56a298ccd9ba6bb",
    specUri: "openpoa://content/1630d455801a39a59fdac5a7be64b7088cf948484d4e5d48d56a298ccd9ba6bb",
  },
  2: {
    specHash: "0x65909c40fe0f20be605f602e26e7b28b1abc90c8c540ab9d7764ebe52fa93a84",
    specUri: "openpoa://content/65909c40fe0f20be605f602e26e7b28b1abc90c8c540ab9d7764ebe52fa93a84",
  },
} as const satisfies Record<AttributionPolicyVersion, { specHash: Hex; specUri: string }>;

/** Policy 1, set by AttributionRewards' constructor: version 1 with the default params. */
export const defaultAttributionPolicy: AttributionPolicy = {
  id: 1n,
  algorithm: spanMatchAlgorithm,
  version: 1,
  params: defaultAttributionParams,
  ...attributionSpecs[1],
};

/**
 * Throws UnsupportedAttributionPolicyError for an algorithm or version this library does not implement,
 * InvalidAttributionPolicyError or InvalidParamsError for values the version does not allow.
 */
export function assertAttributionPolicy(policy: {
  id: bigint;
  algorithm: string;
  version: number;
  params: AttributionParams;
  specHash: string;
  specUri: string;
}): asserts policy is AttributionPolicy {
  if (policy.algorithm !== spanMatchAlgorithm || !(policy.version in attributionSpecs)) {
    throw new UnsupportedAttributionPolicyError({
      algorithm: policy.algorithm,
      version: policy.version,
      supported: `${spanMatchAlgorithm} versions ${Object.keys(attributionSpecs).join(", ")}`,
    });
  }
  const invalid = (reason: string) => new InvalidAttributionPolicyError({ id: policy.id, reason });
  if (policy.id < 1n) throw invalid("policies are numbered from 1");
  const { rarityExponent } = policy.params;
  if (policy.version === 1 && rarityExponent !== 0)
    throw invalid(`rarityExponent must be 0 under version 1, not ${rarityExponent}`);
  if (
    policy.version === 2 &&
    !(Number.isInteger(rarityExponent) && rarityExponent >= 1 && rarityExponent <= maxRarityExponent)
  )
    throw invalid(`rarityExponent must be in 1..${maxRarityExponent} under version 2, not ${rarityExponent}`);
  assertAttributionParams(policy.params);
  if (!/^0x[0-9a-f]{64}$/.test(policy.specHash)) throw invalid("specHash must be a lowercase bytes32 hex sha256");
  if (policy.specUri === "") throw invalid("specUri is empty");
}

type Uint = number | bigint;

/** AttributionRewards' AttributionPolicy struct as a client reads or writes it (uint fields as number or bigint). */
export type OnChainAttributionPolicy = {
  algorithm: string;
  version: Uint;
  params: { [K in keyof AttributionParams]: AttributionParams[K] extends number ? Uint : Hex };
  specHash: Hex;
  specUri: string;
};

/** The policy `getAttributionPolicy(id)` returned, checked (assertAttributionPolicy). */
export function attributionPolicyFromChain({
  id,
  policy,
}: {
  id: bigint;
  policy: OnChainAttributionPolicy;
}): AttributionPolicy {
  const { params } = policy;
  const converted = {
    id,
    algorithm: policy.algorithm,
    version: Number(policy.version),
    params: {
      minSpanTokens: Number(params.minSpanTokens),
      matchWeightBps: Number(params.matchWeightBps),
      maxSpanOccurrences: Number(params.maxSpanOccurrences),
      rarityTable: params.rarityTable.toLowerCase() as Hex,
      duplicateShingleTokens: Number(params.duplicateShingleTokens),
      duplicateSampling: Number(params.duplicateSampling),
      duplicateCoverageBps: Number(params.duplicateCoverageBps),
      rarityExponent: Number(params.rarityExponent),
    },
    specHash: policy.specHash.toLowerCase() as Hex,
    specUri: policy.specUri,
  };
  assertAttributionPolicy(converted);
  return converted;
}

/** The struct to pass to setAttributionPolicy (or AttributionRewards' constructor). */
export function attributionPolicyToChain(policy: AttributionPolicy): OnChainAttributionPolicy {
  return {
    algorithm: policy.algorithm,
    version: policy.version,
    params: pickAttributionParams(policy.params),
    specHash: policy.specHash,
    specUri: policy.specUri,
  };
}

/**
 * How what a record says it was made under departs from `policy`: one issue per differing field of the policy's
 * name (id, algorithm, version) and of the params, naming both values; empty when they agree.
 */
export function recordPolicyIssues(
  record: { policy: AttributionPolicyRef; params: AttributionParams },
  policy: AttributionPolicy,
): string[] {
  const issues: string[] = [];
  for (const field of ["id", "algorithm", "version"] as const) {
    if (record.policy[field] !== policy[field])
      issues.push(`policy.${field} is ${String(record.policy[field])}, the epoch policy's is ${String(policy[field])}`);
  }
  const recordParams = pickAttributionParams(record.params);
  for (const field of differingParams(
    recordParams,
    pickAttributionParams(policy.params),
  ) as (keyof AttributionParams)[])
    issues.push(`params.${field} is ${String(recordParams[field])}, the policy's is ${String(policy.params[field])}`);
  return issues;
}
