import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createWalletClient, encodeFunctionData, http, type Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { connectSuite, HARDHAT_ACCOUNT_0_KEY, type ContractName, type Suite } from "../lib/contracts.ts";
import { attributionSpecPath, attributionSpecs } from "../../attribution/src/index.ts";
import { decodeAction, governedActions } from "../lib/governance.ts";
import { rpc, type LocalChain } from "../lib/localChain.ts";
import { read } from "../lib/transactions.ts";
import { parseActionText } from "./commands/gov.ts";
import { jsonOutput, runCli, startDeployedChain, type DeployedChain } from "./testing.ts";

const ACCOUNT_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/** Hardhat's account 1: holds a little OPEN, not enough votes to propose. */
const HARDHAT_ACCOUNT_1_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const OPEN = 10n ** 18n;
const DAY = 86_400n;

/** Short governance, so that a proposal's whole path is minutes of chain time (jumped over with evm_increaseTime). */
const governance = { votingDelaySeconds: 60, votingPeriodSeconds: 600, timelockDelaySeconds: 300 };

/** A getter of the suite, and what it returns once the action has executed. */
type Expected = { contract: ContractName; functionName: string; args?: unknown[]; field?: string; value: unknown };

/**
 * Every governed action, as proposed on the command line (and as `gov show` writes it back, unless `shown` differs),
 * with the parameter it changes. Two proposals carry them: the second holds what would change the first's path
 * (the Governor's and the Timelock's settings) and what undoes the first (unfreeze).
 */
const first: Array<{ text: string; shown?: string; expect: Expected }> = [
  {
    text: "fees --protocol-bps 600",
    shown: "fees --protocol-bps 600 --operator-bps 1000",
    expect: { contract: "InferencePayments", functionName: "protocolFeeBps", value: 600 },
  },
  {
    text: "challenge-period 2h",
    expect: { contract: "InferencePayments", functionName: "challengePeriod", value: 7_200n },
  },
  {
    text: "fee-treasury 0x000000000000000000000000000000000000F00D",
    expect: {
      contract: "InferencePayments",
      functionName: "treasury",
      value: "0x000000000000000000000000000000000000F00D",
    },
  },
  {
    text: `freeze ${ACCOUNT_0}`,
    expect: { contract: "NodeRegistry", functionName: "isActive", args: [ACCOUNT_0], value: false },
  },
  {
    text: `slash ${ACCOUNT_0} 500.5`,
    expect: {
      contract: "NodeRegistry",
      functionName: "getOperator",
      args: [ACCOUNT_0],
      field: "bonded",
      value: 30_000n * OPEN - 500n * OPEN - OPEN / 2n,
    },
  },
  {
    text: "min-operator-stake 20000",
    expect: { contract: "NodeRegistry", functionName: "minStake", value: 20_000n * OPEN },
  },
  {
    text: "unbonding-period 20d",
    expect: { contract: "NodeRegistry", functionName: "unbondingPeriod", value: 20n * DAY },
  },
  {
    text: "freeze-period 15d",
    expect: { contract: "NodeRegistry", functionName: "freezePeriod", value: 15n * DAY },
  },
  {
    text: "slash-treasury 0x000000000000000000000000000000000000bEEF",
    expect: { contract: "NodeRegistry", functionName: "treasury", value: "0x000000000000000000000000000000000000bEEF" },
  },
  {
    text: "node-guardian 0x0000000000000000000000000000000000000a11",
    expect: { contract: "NodeRegistry", functionName: "guardian", value: "0x0000000000000000000000000000000000000a11" },
  },
  {
    text: "attestor 0x0000000000000000000000000000000000000B0b",
    expect: {
      contract: "AttributionRewards",
      functionName: "attestor",
      value: "0x0000000000000000000000000000000000000B0b",
    },
  },
  {
    text: "rewards-guardian 0x000000000000000000000000000000000000cafE",
    expect: {
      contract: "AttributionRewards",
      functionName: "guardian",
      value: "0x000000000000000000000000000000000000cafE",
    },
  },
  {
    text: "claim-delay 3d",
    expect: { contract: "AttributionRewards", functionName: "claimDelay", value: 3n * DAY },
  },
  {
    text: "revoke-root 1",
    expect: { contract: "AttributionRewards", functionName: "lastEpoch", value: 0n },
  },
  {
    // Epoch 1 revoked just before: the policy governs from epoch 2, the epoch after the one collecting usage now.
    text: "attribution-policy 2 --rarity-exponent 1",
    shown: [
      "attribution-policy 2 --algorithm openpoa-span-match --min-span-tokens 24 --match-weight-bps 8000",
      "--max-span-occurrences 64 --rarity-table 0x03f775f1f1740fa1f07b470bb5dc4dbf710b41c198da3c6dd2690eaaa7e5d696",
      "--duplicate-shingle-tokens 16 --duplicate-sampling 4 --duplicate-coverage-bps 8000 --rarity-exponent 1",
      `--spec-hash ${attributionSpecs[2].specHash} --spec-uri ${attributionSpecs[2].specUri}`,
    ].join(" "),
    expect: { contract: "AttributionRewards", functionName: "attributionPolicyForEpoch", args: [2n], value: 2n },
  },
  {
    text: "serving-rules --max-output-tokens 1024 --require-attribution-hash false",
    shown: [
      "serving-rules --max-output-tokens 1024 --receipt-schema-version 3 --min-engine-protocol-version 1",
      "--require-attribution-hash false",
    ].join(" "),
    expect: { contract: "ServingRules", functionName: "getRules", args: [2n], field: "maxOutputTokens", value: 1024 },
  },
  {
    text: "stake-lock-period 36h",
    expect: { contract: "DatanetRegistry", functionName: "stakeLockPeriod", value: 36n * 3600n },
  },
  {
    text: "min-data-share 2500",
    expect: { contract: "ModelRegistry", functionName: "minDataShareBps", value: 2_500n },
  },
  {
    text: "deprecate-base-model 1",
    expect: { contract: "ModelRegistry", functionName: "getBaseModel", args: [1n], field: "deprecated", value: true },
  },
  {
    text: "transfer 0x000000000000000000000000000000000000dEaD 7.25",
    expect: {
      contract: "OpenToken",
      functionName: "balanceOf",
      args: ["0x000000000000000000000000000000000000dEaD"],
      value: 7_250_000_000_000_000_000n,
    },
  },
];
const second: Array<{ text: string; shown?: string; expect: Expected }> = [
  {
    text: `unfreeze ${ACCOUNT_0}`,
    expect: {
      contract: "NodeRegistry",
      functionName: "getOperator",
      args: [ACCOUNT_0],
      field: "frozenUntil",
      value: 0n,
    },
  },
  { text: "voting-delay 2m", expect: { contract: "OpenGovernor", functionName: "votingDelay", value: 120n } },
  { text: "voting-period 20m", expect: { contract: "OpenGovernor", functionName: "votingPeriod", value: 1_200n } },
  {
    text: "proposal-threshold 2500000",
    expect: { contract: "OpenGovernor", functionName: "proposalThreshold", value: 2_500_000n * OPEN },
  },
  { text: "quorum 5", expect: { contract: "OpenGovernor", functionName: "quorumNumerator", value: 5n } },
  { text: "timelock-delay 10m", expect: { contract: "OpenTimelock", functionName: "getMinDelay", value: 600n } },
];

describe("openpoa gov", () => {
  let chain: LocalChain;
  let env: NodeJS.ProcessEnv;
  let suite: Suite;

  let deployed: DeployedChain | undefined;

  before(async () => {
    deployed = await startDeployedChain({ port: 18549, parameters: governance });
    ({ chain, env } = deployed);
    // The library calls of this file read the same deployment as the CLI.
    process.env.OPENPOA_RPC_URL = chain.url;
    process.env.OPENPOA_DEPLOYMENTS_DIR = deployed.work;
    suite = await connectSuite({ network: "localhost", privateKey: HARDHAT_ACCOUNT_0_KEY });
  });
  after(() => deployed?.stop());

  const openpoaWith = (extra: NodeJS.ProcessEnv, ...args: string[]) => runCli({ ...env, ...extra }, args);
  const openpoa = (...args: string[]) => openpoaWith({}, ...args);
  const json = async (...args: string[]) => jsonOutput(await openpoa(...args, "--json"));
  async function passTime(seconds: number) {
    await rpc(chain.url, "evm_increaseTime", [seconds]);
    await rpc(chain.url, "evm_mine");
  }
  async function readBack({ contract, functionName, args = [], field }: Expected) {
    const value = await read<Record<string, unknown>>(suite, { contract, functionName, args });
    return field ? value[field] : value;
  }
  /** `gov propose` with these actions (the first on the command line, the rest as --action). */
  function proposeArgs(texts: string[], description: string) {
    const [head, ...rest] = texts;
    return [
      "gov",
      "propose",
      ...head!.split(" "),
      ...rest.flatMap((text) => ["--action", text]),
      "--description",
      description,
    ];
  }

  it("test_actions_everyActionRoundTripsThroughItsCalldata", async () => {
    const examples = [...first, ...second];
    assert.deepEqual(
      new Set(examples.map((e) => e.text.split(" ")[0])),
      new Set(governedActions.map((a) => a.name)),
      "every governed action has an example",
    );
    for (const { text, shown } of examples) {
      const { action, args } = parseActionText(text);
      const call = await action.build(suite, args);
      assert.equal(call.target, suite.address(action.contract));
      const decoded = decodeAction(suite, call);
      assert.equal(decoded.action?.name, action.name);
      assert.equal(decoded.text, shown ?? text);
      // What `gov show` writes is itself an action: it builds the same calldata.
      const again = parseActionText(decoded.text);
      assert.equal((await again.action.build(suite, again.args)).calldata, call.calldata);
    }
    // A specification given as a file stands for its sha256: version 2's file is the one the library implements.
    const fromFile = parseActionText(`attribution-policy 2 --spec ${attributionSpecPath(2)} --rarity-exponent 1`);
    const byDefault = parseActionText("attribution-policy 2 --rarity-exponent 1");
    assert.equal(
      (await fromFile.action.build(suite, fromFile.args)).calldata,
      (await byDefault.action.build(suite, byDefault.args)).calldata,
    );

    // A call no action makes is still shown, by contract and function.
    const approve = decodeAction(suite, {
      target: suite.address("OpenToken"),
      calldata: encodeFunctionData({
        abi: suite.abi("OpenToken"),
        functionName: "approve",
        args: ["0x000000000000000000000000000000000000F00D", 5n],
      }),
    });
    assert.equal(approve.text, 'OpenToken.approve("0x000000000000000000000000000000000000F00D", 5)');
    assert.equal(decodeAction(suite, { target: ACCOUNT_0, calldata: "0x1234" }).text, `call ${ACCOUNT_0} 0x1234`);
  });

  it("test_gov_proposeVoteQueueExecute_everyActionChangesItsParameter", async () => {
    // The holder delegates to itself; an operator (itself) with a stake, a base model, a pending reward root, and
    // OPEN in the treasury give the actions something to act on.
    await json("token", "delegate");
    await json("model", "register", "--name", "tiny", "--artifact-hash", `0x${"ab".repeat(32)}`, "--uri", "file://x");
    await json("node", "register", "--endpoint", "http://127.0.0.1:9/v1", "--base-models", "1", "--stake", "30000");
    await json("token", "transfer", suite.address("OpenTimelock"), "10");
    const wallet = createWalletClient({ chain: suite.chain, transport: http(chain.url), account: suite.account! });
    const proposeRoot = await wallet.writeContract({
      address: suite.address("AttributionRewards"),
      abi: suite.abi("AttributionRewards"),
      functionName: "proposeRoot",
      args: [1n, `0x${"11".repeat(32)}`, 0n, `0x${"22".repeat(32)}`, "openpoa://content/x", 1n],
    });
    await suite.publicClient.waitForTransactionReceipt({ hash: proposeRoot });

    const proposed = await json(
      ...proposeArgs(
        first.map((e) => e.text),
        "Tune every contract\n\nWhy: a test.",
      ),
    );
    const id = proposed.proposalId as string;
    assert.deepEqual(
      proposed.actions.map((a: { text: string }) => a.text),
      first.map((e) => e.shown ?? e.text),
    );

    const shown = await json("gov", "show", id);
    assert.equal(shown.state, "Pending");
    assert.deepEqual(
      shown.actions.map((a: { text: string; action: string }) => a.text),
      first.map((e) => e.shown ?? e.text),
    );
    assert.equal(shown.description, "Tune every contract\n\nWhy: a test.");
    assert.equal(shown.quorum, undefined, "fixed at the snapshot, still ahead");
    assert.equal(BigInt(shown.deadline) - BigInt(shown.snapshot), 600n);
    const human = await openpoa("gov", "show", id);
    assert.match(human.stdout, /: Pending; voting opens \d{4}-\d\d-\d\dT[\d:]+Z \(in 1m 1s\)\n/);
    assert.match(human.stdout, /\n {2}1\. fees --protocol-bps 600 --operator-bps 1000\n {2}2\. challenge-period 2h\n/);

    // Too early to vote: the state by name and when it changes.
    const early = await openpoa("gov", "vote", id, "for");
    assert.equal(early.code, 1);
    assert.match(early.stderr, new RegExp(`^openpoa: Proposal ${id} is Pending: voting opens .*\\(in 1m 1s\\)\\n$`));

    await passTime(61);
    const voted = await json("gov", "vote", id, "for", "--reason", "sound");
    assert.equal(voted.weight, String(1_000_000_000n * OPEN - 30_010n * OPEN));
    const again = await openpoa("gov", "vote", id, "against");
    assert.equal(again.code, 2);
    assert.match(again.stderr, /has voted on proposal \d+ already/);
    const tooSoon = await openpoa("gov", "queue", id);
    assert.equal(tooSoon.code, 1);
    assert.match(tooSoon.stderr, new RegExp(`Proposal ${id} is Active: voting closes .*\\(in [\\dms ]+\\)\\n$`));

    await passTime(600);
    const counted = await json("gov", "show", id);
    assert.equal(counted.state, "Succeeded");
    assert.deepEqual(counted.votes, { for: voted.weight, against: "0", abstain: "0" });
    assert.equal(counted.quorum, String(40_000_000n * OPEN), "4% of the supply");
    const notQueued = await openpoa("gov", "execute", id);
    assert.equal(notQueued.code, 1);
    assert.match(notQueued.stderr, /is Succeeded: queue it first: openpoa gov queue/);

    const queued = await json("gov", "queue", id);
    const beforeEta = await openpoa("gov", "execute", id);
    assert.equal(beforeEta.code, 1);
    assert.match(beforeEta.stderr, /is Queued: executable from .*\(in 5m\)\n$/);
    assert.equal((await json("gov", "show", id)).eta, queued.eta);

    await passTime(300);
    const executed = await json("gov", "execute", id);
    assert.equal(executed.actions.length, first.length);
    for (const { text, expect } of first) assert.deepEqual(await readBack(expect), expect.value, text);
    const policy = await read<{ version: number; params: { rarityExponent: number }; specHash: string }>(suite, {
      contract: "AttributionRewards",
      functionName: "getAttributionPolicy",
      args: [2n],
    });
    assert.deepEqual(
      [policy.version, policy.params.rarityExponent, policy.specHash],
      [2, 1, attributionSpecs[2].specHash],
    );
    const [rulesVersion, rules] = await read<[bigint, Record<string, unknown>]>(suite, {
      contract: "ServingRules",
      functionName: "currentRules",
    });
    assert.deepEqual([rulesVersion, rules.receiptSchemaVersion, rules.requireAttributionHash], [2n, 3, false]);
    assert.equal((await json("gov", "show", id)).state, "Executed");

    // The second proposal changes the Governor's own settings and the Timelock's delay.
    const secondId = (
      await json(
        ...proposeArgs(
          second.map((e) => e.text),
          "Slower, stricter governance",
        ),
      )
    ).proposalId as string;
    await passTime(61);
    await json("gov", "vote", secondId, "for");
    await passTime(600);
    await json("gov", "queue", secondId);
    await passTime(300);
    await json("gov", "execute", secondId);
    for (const { text, expect } of second) assert.deepEqual(await readBack(expect), expect.value, text);

    const params = await json("gov", "params");
    assert.deepEqual(
      [params.votingDelay, params.votingPeriod, params.proposalThreshold, params.quorumNumerator, params.timelockDelay],
      ["120", "1200", String(2_500_000n * OPEN), "5", "600"],
    );
    assert.match(
      (await openpoa("gov", "params")).stdout,
      /Governance path {5}32m: shorter than operators' unbonding \(20d\) and freezes \(15d\), so a slash lands first/,
    );
    const listed = await json("gov", "list");
    assert.deepEqual(
      listed.map((p: { proposalId: string; state: string }) => [p.proposalId, p.state]),
      [
        [id, "Executed"],
        [secondId, "Executed"],
      ],
    );
  });

  it("test_gov_refusesUnknownActionsBadArgumentsAndProposalsThatLetASlashBeEscaped", async () => {
    const unknown = await openpoa("gov", "propose", "frobnicate", "1", "--description", "x");
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Unknown action "frobnicate"; the actions are:\n {2}fees /);
    assert.match(unknown.stderr, /\n {2}transfer <to> <amount> +Send OPEN from the treasury/);

    const badDuration = await openpoa("gov", "propose", "claim-delay", "soon", "--description", "x");
    assert.equal(badDuration.code, 2);
    assert.match(badDuration.stderr, /claim-delay delay must be a duration like 90s, 15m, 36h, 2d or 1w, got "soon"/);
    const badAddress = await openpoa("gov", "propose", "attestor", "0x12", "--description", "x");
    assert.match(badAddress.stderr, /attestor attestor must be an address, got "0x12"/);
    const badFlag = await openpoa(
      "gov",
      "propose",
      "quorum",
      "5",
      "--action",
      "fees --protocol 1",
      "--description",
      "x",
    );
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /--action "fees --protocol 1": Unknown option '--protocol'/);
    const foreignFlag = await openpoa("gov", "propose", "quorum", "5", "--operator-bps", "1", "--description", "x");
    assert.match(foreignFlag.stderr, /quorum has no --operator-bps/);
    const missing = await openpoa("gov", "propose", "slash", ACCOUNT_0, "--description", "x");
    assert.match(missing.stderr, /slash takes 2 arguments, got 1: slash <operator> <amount>/);
    const tooHigh = await openpoa("gov", "propose", "quorum", "101", "--description", "x");
    assert.match(tooHigh.stderr, /quorum percent must be at most 100, got 101/);
    // A policy the attribution library cannot follow would stall every epoch it governs.
    const v1Exponent = await openpoa(
      "gov",
      "propose",
      "attribution-policy",
      "1",
      "--rarity-exponent",
      "2",
      "--description",
      "x",
    );
    assert.equal(v1Exponent.code, 2);
    assert.match(v1Exponent.stderr, /attribution-policy: .*rarityExponent must be 0 under version 1, not 2/);
    const v3 = await openpoa("gov", "propose", "attribution-policy", "3", "--description", "x");
    assert.match(v3.stderr, /name the specification of version 3 with --spec <file>/);
    const v3File = await openpoa(
      ...["gov", "propose", "attribution-policy", "3", "--spec", attributionSpecPath(2), "--description", "x"],
    );
    assert.match(
      v3File.stderr,
      /^openpoa: attribution-policy: Attribution policy algorithm openpoa-span-match version 3 is not supported\. \(this library implements openpoa-span-match versions 1, 2\)\n$/,
    );
    const both = await openpoa(
      ...["gov", "propose", "attribution-policy", "2", "--spec", attributionSpecPath(2)],
      ...["--spec-hash", attributionSpecs[2].specHash, "--description", "x"],
    );
    assert.match(both.stderr, /give --spec or --spec-hash, not both/);
    const noFile = await openpoa(
      "gov",
      "propose",
      "attribution-policy",
      "2",
      "--spec",
      "/nonexistent",
      "--description",
      "x",
    );
    assert.match(noFile.stderr, /attribution-policy --spec: cannot read \/nonexistent/);
    const notBool = await openpoa(
      "gov",
      "propose",
      "serving-rules",
      "--require-attribution-hash",
      "yes",
      "--description",
      "x",
    );
    assert.match(notBool.stderr, /serving-rules --require-attribution-hash must be true or false, got "yes"/);
    const noDescription = await openpoa("gov", "propose", "quorum", "5");
    assert.match(noDescription.stderr, /Missing --description/);

    // Each action runs as the Timelock first: one that would revert now is refused with its decoded error.
    const tooLong = await openpoa("gov", "propose", "quorum", "5", "--action", "claim-delay 31d", "--description", "x");
    assert.equal(tooLong.code, 2);
    assert.match(
      tooLong.stderr,
      /Action 2 \(claim-delay 31d\) would fail if executed now: AttributionRewards\.setClaimDelay reverted: ClaimDelayTooLong\(claimDelay: 2678400, maxClaimDelay: 2592000\)/,
    );

    // Unbonding (20d) must outlast voting delay + voting period + timelock delay.
    const escape = await openpoa("gov", "propose", "voting-period", "25d", "--description", "Long votes");
    assert.equal(escape.code, 2);
    assert.match(escape.stderr, /the unbonding period \(20d\) would not outlast the governance path, .* \(25d 12m\)/);

    // Account 1 holds a little OPEN: not the threshold to propose, and no votes where it delegated after the snapshot.
    const account1 = privateKeyToAccount(HARDHAT_ACCOUNT_1_KEY).address as Address;
    await json("token", "faucet", account1, "--amount", "100");
    const key1 = { OPENPOA_PRIVATE_KEY: HARDHAT_ACCOUNT_1_KEY };
    const poor = await openpoaWith(key1, "gov", "propose", "quorum", "6", "--description", "More quorum");
    assert.equal(poor.code, 2);
    assert.match(poor.stderr, /has 0 OPEN of votes; proposing takes 2500000 OPEN \(.*openpoa token delegate/);
    const id = (await json("gov", "propose", "quorum", "6", "--description", "More quorum")).proposalId as string;
    // Delegated once voting opened: too late for this proposal.
    await passTime(121);
    assert.equal((await openpoaWith(key1, "token", "delegate")).code, 0);
    const noVotes = await openpoaWith(key1, "gov", "vote", id, "for");
    assert.equal(noVotes.code, 2);
    assert.match(noVotes.stderr, /had no votes at the snapshot/);
    const badSupport = await openpoa("gov", "vote", id, "yes");
    assert.match(badSupport.stderr, /Vote for, against or abstain, not "yes"/);
    const noProposal = await openpoa("gov", "show", "12345");
    assert.equal(noProposal.code, 2);
    assert.match(noProposal.stderr, /No proposal 12345/);

    // Voted down: queueing says why.
    await json("gov", "vote", id, "against");
    await passTime(1_200);
    const defeated = await openpoa("gov", "queue", id);
    assert.equal(defeated.code, 1);
    assert.match(defeated.stderr, /is Defeated: for 0 OPEN, against \d+ OPEN, abstain 0 OPEN; quorum \d+ OPEN/);
  });

  it("test_gov_actionsListsEveryAction", async () => {
    const listed = await json("gov", "actions");
    assert.deepEqual(
      listed.map((a: { name: string }) => a.name),
      governedActions.map((a) => a.name),
    );
    const help = await openpoa("gov", "propose", "--help");
    assert.match(help.stdout, /--protocol-bps <value> +fees: the protocol's fee \(default: in force\)/);
  });
});
