/**
 * Propose one governed action, written as the CLI writes it (`openpoa gov propose`): the same action table builds the
 * call, and before the wallet is asked the form checks what the CLI checks: the arguments, the call run as the
 * Timelock against the state now, the proposer's votes against the threshold, and that the proposal is new.
 */
import { useState } from "react";
import { keccak256, parseEventLogs, toBytes } from "viem";
import { useConfig } from "wagmi";
import { readContract, simulateContract } from "wagmi/actions";
import { Link } from "wouter";
import { decodeAction, governedActions } from "../../../../../scripts/lib/governedActions.ts";
import { TxButton, type TxRunner } from "../../components/TxButton.tsx";
import { abis, allAbis, contractOf } from "../../contracts.ts";
import { describeError } from "../../lib/errors.ts";
import { formatOpen } from "../../lib/format.ts";
import { actionArgsOf, formParams } from "../../lib/governance.ts";
import { useStudio } from "../../studio.tsx";
import { useActionSuite } from "./suite.ts";

export function ProposeForm() {
  const { config } = useStudio();
  const wagmi = useConfig();
  const suite = useActionSuite();
  const governor = contractOf(config, "OpenGovernor");
  const [name, setName] = useState(governedActions[0]!.name);
  const [fields, setFields] = useState<Record<string, string>>({});
  const [description, setDescription] = useState("");
  const action = governedActions.find((a) => a.name === name)!;

  async function propose(tx: TxRunner) {
    const call = await action.build(suite, actionArgsOf(action, fields));
    const decoded = decodeAction(suite, call);
    // The Governor accepts its own settings only while it relays them, executing a proposal: not run here.
    if (decoded.contract && decoded.contract !== "OpenGovernor") {
      try {
        await simulateContract(wagmi, {
          address: call.target,
          abi: abis[decoded.contract],
          functionName: decoded.functionName!,
          args: decoded.args,
          account: contractOf(config, "OpenTimelock").address,
        } as never);
      } catch (error) {
        throw new Error(`${decoded.text} would fail if executed now: ${describeError(error, allAbis)}`);
      }
    }
    const [threshold, votes] = (await Promise.all([
      readContract(wagmi, { ...governor, functionName: "proposalThreshold" }),
      readContract(wagmi, { ...contractOf(config, "OpenToken"), functionName: "getVotes", args: [tx.account] }),
    ])) as [bigint, bigint];
    if (votes < threshold)
      throw new Error(
        `You have ${formatOpen(votes)} of votes; proposing takes ${formatOpen(threshold)} (delegate your OPEN above).`,
      );
    const calls = [[call.target], [call.value], [call.calldata]] as const;
    const proposalId = (await readContract(wagmi, {
      ...governor,
      functionName: "hashProposal",
      args: [...calls, keccak256(toBytes(description))],
    })) as bigint;
    const snapshot = (await readContract(wagmi, {
      ...governor,
      functionName: "proposalSnapshot",
      args: [proposalId],
    })) as bigint;
    if (snapshot !== 0n) throw new Error(`This proposal exists already: ${proposalId}.`);
    const receipt = await tx.write("Propose", { ...governor, functionName: "propose", args: [...calls, description] });
    const [created] = parseEventLogs({ abi: abis.OpenGovernor, logs: receipt.logs, eventName: "ProposalCreated" });
    return (created as unknown as { args: { proposalId: bigint } }).args.proposalId;
  }

  return (
    <>
      <h2>Propose</h2>
      <p className="muted">
        One action per proposal here; the command line proposes several at once (
        <code>openpoa gov propose … --action …</code>).
      </p>
      <div className="form">
        <label>
          Action
          <select
            value={name}
            onChange={(event) => {
              setName(event.target.value);
              setFields({});
            }}
          >
            {governedActions.map((a) => (
              <option key={a.name} value={a.name}>
                {a.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <p className="muted">{action.description}.</p>
      <div className="form">
        {formParams(action).map((param) => (
          <label key={`${name}-${param.name}`}>
            {param.name} ({param.kind.hint}
            {param.optional ? ", optional" : ""})
            <input
              value={fields[param.name] ?? ""}
              onChange={(event) => setFields({ ...fields, [param.name]: event.target.value })}
              spellCheck={false}
            />
            <span className="muted hint">{param.description}</span>
          </label>
        ))}
      </div>
      <div className="form">
        <label className="wide">
          Description (its first line is the title)
          <textarea rows={3} value={description} onChange={(event) => setDescription(event.target.value)} />
        </label>
      </div>
      <TxButton
        label="Propose"
        steps={1}
        validate={() => (description.trim() === "" ? "Describe what the proposal does and why." : undefined)}
        action={propose}
        done={(proposalId) => (
          <>
            Proposed: <Link href={`/governance/${proposalId}`}>proposal {String(proposalId).slice(0, 12)}…</Link>
          </>
        )}
      />
    </>
  );
}
