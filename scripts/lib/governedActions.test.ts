import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { encodeFunctionData, keccak256, sha256, toBytes, type Address } from "viem";
import { attributionPolicyToChain, attributionSpecs, defaultAttributionPolicy } from "../../attribution/src/policy.ts";
import { attributionSpecPath } from "../../attribution/src/policySpec.ts";
import { abiOf, contractNames } from "../../inference/sdk/abis.ts";
import { UsageError } from "../cli/args.ts";
import {
  decodeAction,
  decodeProposal,
  findAction,
  proposalOperation,
  when,
  type ActionSuite,
} from "./governedActions.ts";

/**
 * A deployment on paper: each contract at an address of its own, whose only state is the first attribution policy
 * (what `attribution-policy` reads for the flags left out). The chain itself is gov.test.ts's.
 */
const addresses = Object.fromEntries(
  contractNames.map((name, i) => [name, `0x${(i + 1).toString(16).padStart(40, "0")}` as Address]),
);
const suite: ActionSuite = {
  deployment: { contracts: Object.fromEntries(contractNames.map((name) => [name, { address: addresses[name]! }])) },
  address: (name) => addresses[name]!,
  abi: abiOf,
  publicClient: {
    async readContract(parameters: never) {
      const { functionName } = parameters as { functionName: string };
      if (functionName === "attributionPolicyCount") return 1n;
      if (functionName === "getAttributionPolicy") return attributionPolicyToChain(defaultAttributionPolicy);
      throw new Error(`no ${functionName} in this test`);
    },
  },
};
const TREASURY = "0x000000000000000000000000000000000000F00D";

test("test_build_thenDecode_givesTheActionBackInItsWords", async () => {
  const action = findAction("slash")!;
  const call = await action.build(suite, { positionals: [TREASURY, "500.5"], flags: {} });
  assert.equal(call.target, addresses.NodeRegistry);
  const decoded = decodeAction(suite, call);
  assert.equal(decoded.action, action);
  assert.equal(decoded.functionName, "slash");
  assert.deepEqual(decoded.values, { operator: TREASURY, amount: 500_500_000_000_000_000_000n });
  assert.equal(decoded.text, `slash ${TREASURY} 500.5`);
});

test("test_decodeProposal_namesCallsNoActionMakes", () => {
  const approve = encodeFunctionData({ abi: abiOf("OpenToken"), functionName: "approve", args: [TREASURY, 5n] });
  const [known, unknown] = decodeProposal(suite, {
    proposalId: 1n,
    proposer: TREASURY,
    targets: [addresses.OpenToken!, TREASURY],
    values: [0n, 7n],
    calldatas: [approve, "0x1234"],
    voteStart: 0n,
    voteEnd: 0n,
    description: "",
  });
  assert.equal(known!.text, `OpenToken.approve("${TREASURY}", 5)`);
  assert.equal(known!.action, undefined);
  assert.equal(unknown!.text, `call ${TREASURY} 0x1234`);
  assert.equal(unknown!.value, 7n);
});

test("test_build_specFile_readsItWhereAReaderIsGiven_elseAsksForTheHash", async () => {
  const action = findAction("attribution-policy")!;
  const flags = { "rarity-exponent": "1" };
  const file = attributionSpecPath(2);
  const fromFile = await action.build(suite, {
    positionals: ["2"],
    flags: { ...flags, spec: file },
    readFile: (path) => readFileSync(path),
  });
  assert.equal(fromFile.values.spec, sha256(readFileSync(file)));
  assert.equal(fromFile.values.spec, attributionSpecs[2].specHash);
  const byHash = await action.build(suite, {
    positionals: ["2"],
    flags: { ...flags, "spec-hash": attributionSpecs[2].specHash },
  });
  assert.equal(byHash.calldata, fromFile.calldata);
  await assert.rejects(
    action.build(suite, { positionals: ["2"], flags: { ...flags, spec: file } }),
    (error) => error instanceof UsageError && /no file can be read here/.test(error.message),
  );
});

test("test_when_saysHowFarFromTheChainsNow", () => {
  const at = BigInt(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000);
  assert.equal(when(at, at - 93_600n), "2026-01-02T03:04:05Z (in 1d 2h)");
  assert.equal(when(at, at + 70n), "2026-01-02T03:04:05Z (1m 10s ago)");
});

test("test_proposalOperation_isWhatQueueAndExecuteTakeAgain", () => {
  const proposal = {
    proposalId: 1n,
    proposer: TREASURY,
    targets: [TREASURY],
    values: [0n],
    calldatas: ["0x1234"],
    voteStart: 0n,
    voteEnd: 0n,
    description: "Why",
  } as const;
  assert.deepEqual(proposalOperation(proposal), [[TREASURY], [0n], ["0x1234"], keccak256(toBytes("Why"))]);
});
