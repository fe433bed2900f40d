import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ContractFunctionExecutionError,
  ContractFunctionRevertedError,
  encodeErrorResult,
  toFunctionSelector,
  type Abi,
  type AbiParameter,
} from "viem";
import { abiOf, contractNames } from "./abis.ts";
import { decodeRevert, revertDataOf } from "./reverts.ts";

type AbiError = Extract<Abi[number], { type: "error" }>;

const abis = contractNames.map(abiOf);
const errorsOf = (abi: Abi) => abi.filter((item): item is AbiError => item.type === "error");

/** A value of ABI type `parameter`, distinct enough that a decoded one shows it came through. */
function sample(parameter: AbiParameter): unknown {
  const array = /^(.*)\[(\d*)\]$/.exec(parameter.type);
  if (array) return Array.from({ length: Number(array[2] || 1) }, () => sample({ ...parameter, type: array[1]! }));
  if (parameter.type === "tuple")
    return Object.fromEntries(
      (parameter as { components: readonly AbiParameter[] }).components.map((c) => [c.name, sample(c)]),
    );
  if (/^u?int/.test(parameter.type)) return 7n;
  if (parameter.type === "address") return "0x00000000000000000000000000000000000000A1";
  if (parameter.type === "bool") return true;
  if (parameter.type === "string") return "why";
  if (parameter.type === "bytes") return "0x01";
  const fixed = /^bytes(\d+)$/.exec(parameter.type);
  if (fixed) return `0x${"ab".repeat(Number(fixed[1]))}`;
  throw new Error(`no sample for ${parameter.type}`);
}

describe("decodeRevert", () => {
  it("decodes every custom error of every contract of the suite by name, with its arguments", () => {
    let decoded = 0;
    for (const abi of abis) {
      for (const item of errorsOf(abi)) {
        const args = item.inputs.map(sample);
        const data = encodeErrorResult({ abi: [item], errorName: item.name, args });
        // Raised where the calling contract's ABI does not know it: only the suite's ABIs together do.
        const error = new ContractFunctionExecutionError(
          new ContractFunctionRevertedError({ abi: [], data, functionName: "call" }),
          { abi: [], functionName: "call" },
        );
        const revert = decodeRevert(error, abis);
        assert.ok(revert !== undefined, `${item.name} was not decoded`);
        assert.equal(revert.errorName, item.name);
        assert.equal(revert.args.length, item.inputs.length);
        decoded++;
      }
    }
    assert.ok(decoded > 50, `only ${decoded} errors in the suite's ABIs`);
  });

  it("never finds two errors of the suite under one selector with different signatures", () => {
    const bySelector = new Map<string, string>();
    for (const abi of abis) {
      for (const item of errorsOf(abi)) {
        const signature = `${item.name}(${item.inputs.map((i) => i.type).join(",")})`;
        const selector = toFunctionSelector(signature);
        const seen = bySelector.get(selector);
        assert.ok(seen === undefined || seen === signature, `${selector}: ${seen} and ${signature}`);
        bySelector.set(selector, signature);
      }
    }
  });

  it("names the arguments: StakeBelowMinimum(datanetId: 1, stake: 5, minStake: 10)", () => {
    const abi = abiOf("DatanetRegistry");
    const data = encodeErrorResult({ abi, errorName: "StakeBelowMinimum", args: [1n, 5n, 10n] });
    assert.equal(
      decodeRevert({ cause: { data } }, abis)?.text,
      "StakeBelowMinimum(datanetId: 1, stake: 5, minStake: 10)",
    );
  });

  it("decodes Error(string) and Panic(uint256) whatever the ABIs", () => {
    const message = encodeErrorResult({
      abi: [{ type: "error", name: "Error", inputs: [{ name: "message", type: "string" }] }],
      errorName: "Error",
      args: ["no"],
    });
    assert.equal(decodeRevert({ data: message }, [])?.text, 'Error(message: "no")');
    const panic = encodeErrorResult({
      abi: [{ type: "error", name: "Panic", inputs: [{ name: "reason", type: "uint256" }] }],
      errorName: "Panic",
      args: [0x11n],
    });
    assert.equal(decodeRevert({ data: panic }, abis)?.errorName, "Panic");
  });

  it("finds revert data a wallet nests as data.data, and none in an error without it", () => {
    assert.equal(revertDataOf({ cause: { data: { data: "0x12345678" } } }), "0x12345678");
    assert.equal(revertDataOf(new Error("network down")), undefined);
    assert.equal(revertDataOf({ data: "0x1234" }), undefined);
  });
});
