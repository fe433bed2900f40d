import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BaseError, encodeErrorResult, UserRejectedRequestError } from "viem";
import { abiOf, contractNames } from "../../../../inference/sdk/abis.ts";
import { describeError } from "./errors.ts";

const abis = contractNames.map(abiOf);

describe("describeError", () => {
  it("says what happened in one line", () => {
    const data = encodeErrorResult({ abi: abiOf("DatanetRegistry"), errorName: "EmptyRoot" });
    assert.equal(describeError({ cause: { data } }, abis), "Reverted: EmptyRoot()");
    assert.equal(
      describeError(new BaseError("x", { cause: new UserRejectedRequestError(new Error("denied")) }), abis),
      "Rejected in the wallet.",
    );
    assert.equal(
      describeError(new BaseError("x", { cause: { data: "0xdeadbeef" } as never }), abis),
      "Reverted with unknown error data 0xdeadbeef…",
    );
    assert.equal(describeError(new Error("plain"), abis), "plain");
    assert.equal(
      describeError(new BaseError("Upload failed.", { details: "not_admitted: hold 1 OPEN" }), abis),
      "Upload failed. not_admitted: hold 1 OPEN",
    );
  });
});
