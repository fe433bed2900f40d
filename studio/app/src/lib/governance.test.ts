import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeFunctionData, getAddress, type Abi } from "viem";
import { abiOf, contractNames } from "../../../../inference/sdk/abis.ts";
import {
  decodeAction,
  decodeProposal,
  findAction,
  proposalOperation,
} from "../../../../scripts/lib/governedActions.ts";
import {
  actionArgsOf,
  actionSuiteOf,
  delegateSchema,
  executeBlocker,
  formParams,
  proposalOf,
  queueBlocker,
  quorumProgress,
  stateName,
  titleOf,
  voteBlocker,
  voteSchema,
  type IndexedProposal,
} from "./governance.ts";

const OPEN = 10n ** 18n;
const NOW = 1_800_000_000n;
const ACCOUNT = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
const contracts = Object.fromEntries(
  contractNames.map((name, i) => [name, { address: `0x${(i + 1).toString(16).padStart(40, "0")}` }]),
);
const abis = Object.fromEntries(contractNames.map((name) => [name, abiOf(name)])) as Record<
  (typeof contractNames)[number],
  Abi
>;
const suite = actionSuiteOf(contracts, abis, { readContract: () => Promise.reject(new Error("no chain here")) });

const row: IndexedProposal = {
  id: "123456789012345678901234567890",
  proposer: ACCOUNT,
  targets: [contracts.NodeRegistry!.address],
  values: ["0"],
  calldatas: [encodeFunctionData({ abi: abis.NodeRegistry, functionName: "setMinStake", args: [5n * OPEN] })],
  voteStart: String(NOW),
  voteEnd: String(NOW + 600n),
  description: "Lower the minimum stake\n\nOperators asked for it.",
  status: "created",
  etaSeconds: null,
  forVotes: "0",
  againstVotes: "0",
  abstainVotes: "0",
  createdBlock: "7",
};

describe("an indexed proposal", () => {
  it("decodes into the CLI's words with the bundled ABIs", () => {
    const proposal = proposalOf(row);
    assert.equal(proposal.proposalId, 123456789012345678901234567890n);
    assert.equal(proposal.proposer, getAddress(ACCOUNT));
    const [action] = decodeProposal(suite, proposal);
    assert.equal(action!.text, "min-operator-stake 5");
    assert.equal(action!.action?.description, "The bonded OPEN an operator needs to be active");
    assert.equal(proposalOperation(proposal)[2][0], row.calldatas[0]);
  });
  it("is titled by its first line", () => {
    assert.equal(titleOf(row.description), "Lower the minimum stake");
    assert.equal(titleOf(""), "(no description)");
  });
  it("has its state by name", () => {
    assert.equal(stateName(1), "Active");
    assert.equal(stateName(5), "Queued");
    assert.equal(stateName(undefined), undefined);
  });
});

describe("quorumProgress", () => {
  it("counts for and abstain votes against the quorum", () => {
    assert.deepEqual(quorumProgress({ for: 3n, against: 9n, abstain: 1n }, 5n), {
      counted: 4n,
      reached: false,
      short: 1n,
    });
    assert.deepEqual(quorumProgress({ for: 5n, against: 0n, abstain: 0n }, 5n), {
      counted: 5n,
      reached: true,
      short: 0n,
    });
    assert.equal(quorumProgress({ for: 5n, against: 0n, abstain: 0n }, undefined).short, undefined);
  });
});

describe("what the Governor would refuse", () => {
  const proposal = proposalOf(row);
  it("a vote before it opens, after it closes, twice, or without votes at the snapshot", () => {
    const vote = { proposal, now: NOW - 60n, hasVoted: false, weight: OPEN };
    assert.match(voteBlocker({ ...vote, state: "Pending" })!, /^Voting opens .*\(in 1m 1s\)\.$/);
    assert.match(voteBlocker({ ...vote, state: "Defeated" })!, /^The proposal is Defeated: voting closed/);
    assert.equal(voteBlocker({ ...vote, state: "Active", hasVoted: true }), "You have voted on this proposal already.");
    assert.match(voteBlocker({ ...vote, state: "Active", weight: 0n })!, /no votes at the snapshot/);
    assert.equal(voteBlocker({ ...vote, state: "Active" }), undefined);
  });
  it("a queue unless it succeeded", () => {
    assert.equal(queueBlocker("Succeeded", proposal, NOW), undefined);
    assert.match(queueBlocker("Active", proposal, NOW)!, /^Voting closes .*\(in 10m\)\.$/);
    assert.equal(queueBlocker("Queued", proposal, NOW), "Queued already.");
  });
  it("an execution before its ETA or unless queued", () => {
    assert.equal(executeBlocker("Succeeded", 0n, NOW), "Queue it first.");
    assert.match(executeBlocker("Queued", NOW + 300n, NOW)!, /^Executable from .*\(in 5m\)\.$/);
    assert.equal(executeBlocker("Queued", NOW, NOW), undefined);
    assert.equal(executeBlocker("Executed", NOW, NOW), "The proposal is Executed: it cannot be executed.");
  });
});

describe("forms", () => {
  it("delegates to oneself when no address is given", () => {
    const self = getAddress(ACCOUNT);
    assert.equal(delegateSchema(self).parse(" "), self);
    assert.equal(
      delegateSchema(self).parse("0x000000000000000000000000000000000000f00d"),
      getAddress("0x000000000000000000000000000000000000f00d"),
    );
    assert.equal(delegateSchema(self).safeParse("0x12").success, false);
  });
  it("votes for, against or abstain, with an optional reason", () => {
    assert.deepEqual(voteSchema.parse({ support: "for", reason: " because " }), { support: "for", reason: "because" });
    assert.equal(voteSchema.safeParse({ support: "maybe", reason: "" }).success, false);
  });
});

describe("actionArgsOf", () => {
  it("writes a form's fields as the action's arguments, the CLI's way", async () => {
    const slash = findAction("slash")!;
    const args = actionArgsOf(slash, { operator: ` ${ACCOUNT} `, amount: "2.5" });
    assert.deepEqual(args, { positionals: [ACCOUNT, "2.5"], flags: {} });
    const call = await slash.build(suite, args);
    assert.equal(decodeAction(suite, call).text, `slash ${getAddress(ACCOUNT)} 2.5`);
  });
  it("leaves out empty optional flags and files", () => {
    const policy = findAction("attribution-policy")!;
    assert.ok(!formParams(policy).some((param) => param.name === "spec"));
    const args = actionArgsOf(policy, { version: "2", "rarity-exponent": "1", "spec-uri": "" });
    assert.deepEqual(args.positionals, ["2"]);
    assert.equal(args.flags["rarity-exponent"], "1");
    assert.equal(args.flags["spec-uri"], undefined);
    assert.ok(!("spec" in args.flags));
  });
  it("keeps a missing positional for the action to name", async () => {
    const slash = findAction("slash")!;
    await assert.rejects(slash.build(suite, actionArgsOf(slash, { operator: ACCOUNT })), /Missing slash amount/);
  });
});
