import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { sha256Hex } from "./contentStore.ts";
import { InvalidAttributionPolicyError, InvalidParamsError, UnsupportedAttributionPolicyError } from "./errors.ts";
import { defaultAttributionParams } from "./params.ts";
import {
  assertAttributionPolicy,
  attributionPolicyFromChain,
  attributionPolicyToChain,
  attributionSpecs,
  defaultAttributionPolicy,
  recordPolicyIssues,
  type AttributionPolicy,
  type OnChainAttributionPolicy,
} from "./policy.ts";
import { attributionSpecPath } from "./policySpec.ts";
import { asVersion2, withParams } from "./testing.ts";

test("each version's specHash is the sha256 of its specification, and specUri its content address", () => {
  for (const version of [1, 2] as const) {
    const hash = sha256Hex(readFileSync(attributionSpecPath(version)));
    assert.equal(attributionSpecs[version].specHash, hash, `version ${version}: update attributionSpecs`);
    assert.equal(attributionSpecs[version].specUri, `openpoa://content/${hash.slice(2)}`);
  }
  // Version 2 is written as a change to version 1, which it names by hash.
  assert.ok(readFileSync(attributionSpecPath(2), "utf8").includes(attributionSpecs[1].specHash));
  assert.deepEqual(defaultAttributionPolicy, {
    id: 1n,
    algorithm: "openpoa-span-match",
    version: 1,
    params: { ...defaultAttributionParams, rarityExponent: 0 },
    ...attributionSpecs[1],
  });
  assertAttributionPolicy(defaultAttributionPolicy);
  assertAttributionPolicy(asVersion2({ rarityExponent: 3 }));
});

test("assertAttributionPolicy: unknown algorithms and versions are unsupported, out-of-range values invalid", () => {
  const unsupported = (policy: Parameters<typeof assertAttributionPolicy>[0], named: RegExp) =>
    assert.throws(
      () => assertAttributionPolicy(policy),
      (error) => error instanceof UnsupportedAttributionPolicyError && named.test(error.message),
    );
  unsupported({ ...defaultAttributionPolicy, algorithm: "fuzzy-match" }, /algorithm fuzzy-match version 1 is not/);
  unsupported({ ...defaultAttributionPolicy, version: 3 }, /openpoa-span-match version 3 is not supported/);
  unsupported({ ...defaultAttributionPolicy, version: 0 }, /version 0/);

  const invalid = (policy: AttributionPolicy, reason: RegExp) =>
    assert.throws(
      () => assertAttributionPolicy(policy),
      (error) => error instanceof InvalidAttributionPolicyError && reason.test(error.message),
    );
  invalid(withParams({ rarityExponent: 1 }), /policy 1: rarityExponent must be 0 under version 1, not 1/);
  invalid(asVersion2({ rarityExponent: 0 }), /policy 2: rarityExponent must be in 1\.\.3 under version 2, not 0/);
  invalid({ ...defaultAttributionPolicy, id: 0n }, /numbered from 1/);
  invalid({ ...defaultAttributionPolicy, specHash: "0x1234" }, /specHash/);
  invalid({ ...defaultAttributionPolicy, specUri: "" }, /specUri/);
  invalid(asVersion2({ rarityExponent: 4 }), /rarityExponent must be in 1\.\.3 under version 2, not 4/);
  assert.throws(() => assertAttributionPolicy(withParams({ minSpanTokens: 0 })), InvalidParamsError);
});

test("a policy read from AttributionRewards converts without hand-mapping, and back", () => {
  const policy = asVersion2({ rarityExponent: 2, id: 7n });
  // As viem returns the struct: uint8..uint32 as numbers; as other clients may, bigints; hex in any case.
  const read = {
    algorithm: "openpoa-span-match",
    version: 2,
    params: {
      ...defaultAttributionParams,
      rarityTable: defaultAttributionParams.rarityTable.toUpperCase().replace("0X", "0x") as `0x${string}`,
      rarityExponent: 2,
    },
    specHash: attributionSpecs[2].specHash,
    specUri: attributionSpecs[2].specUri,
  };
  assert.deepEqual(attributionPolicyFromChain({ id: 7n, policy: read }), policy);
  const { rarityTable, ...numbers } = read.params;
  const asBigints: OnChainAttributionPolicy = {
    ...read,
    version: 2n,
    params: {
      rarityTable,
      ...(Object.fromEntries(Object.entries(numbers).map(([key, value]) => [key, BigInt(value)])) as Record<
        keyof typeof numbers,
        bigint
      >),
    },
  };
  assert.deepEqual(attributionPolicyFromChain({ id: 7n, policy: asBigints }), policy);
  assert.deepEqual(attributionPolicyFromChain({ id: 7n, policy: attributionPolicyToChain(policy) }), policy);
  assert.throws(
    () => attributionPolicyFromChain({ id: 7n, policy: { ...read, version: 3 } }),
    UnsupportedAttributionPolicyError,
  );
});

test("recordPolicyIssues names the record's value and the policy's for every field that differs", () => {
  const policy2 = asVersion2({ rarityExponent: 1 });
  const made = {
    policy: { id: 1n, algorithm: "openpoa-span-match", version: 1 } as const,
    params: defaultAttributionParams,
  };
  assert.deepEqual(recordPolicyIssues(made, defaultAttributionPolicy), []);
  assert.deepEqual(recordPolicyIssues(made, policy2), [
    "policy.id is 1, the epoch policy's is 2",
    "policy.version is 1, the epoch policy's is 2",
    "params.rarityExponent is 0, the policy's is 1",
  ]);
});
