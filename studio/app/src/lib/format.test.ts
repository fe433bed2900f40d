import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatBps, formatOpen, formatWei, InvalidAmountError, parseOpen, shortAddress } from "./format.ts";

const OPEN = 10n ** 18n;

describe("formatOpen", () => {
  it("groups thousands and keeps up to four decimals, rounding toward zero", () => {
    assert.equal(formatOpen(1_234_567n * OPEN + 891_239n * 10n ** 12n), "1,234,567.8912 OPEN");
    assert.equal(formatOpen(20n * OPEN), "20 OPEN");
    assert.equal(formatOpen(0n), "0 OPEN");
    assert.equal(formatOpen(OPEN / 2n, { unit: false }), "0.5");
  });
  it("never shows a non-zero amount as zero", () => {
    assert.equal(formatOpen(1n), "< 0.0001 OPEN");
    assert.equal(formatOpen(-1n), "> -0.0001 OPEN");
    assert.equal(formatOpen(1n, { decimals: 18 }), "0.000000000000000001 OPEN");
  });
  it("keeps the sign", () => assert.equal(formatOpen(-1_500n * OPEN), "-1,500 OPEN"));
});

describe("formatWei", () => {
  it("shows every digit, grouped", () =>
    assert.equal(formatWei(1_000_000_000_000_000_001n), "1,000,000,000,000,000,001 wei"));
});

describe("parseOpen", () => {
  it("reads decimals exactly", () => {
    assert.equal(parseOpen("12.5"), 12n * OPEN + OPEN / 2n);
    assert.equal(parseOpen(" 10 "), 10n * OPEN);
    assert.equal(parseOpen("0.000000000000000001"), 1n);
  });
  for (const bad of ["", "-1", "1e3", "1.", ".5", "1,000", "0x10", "1.0000000000000000001"]) {
    it(`refuses ${JSON.stringify(bad)}`, () => assert.throws(() => parseOpen(bad), InvalidAmountError));
  }
});

describe("shortAddress and formatBps", () => {
  it("shorten and scale", () => {
    assert.equal(shortAddress("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"), "0xf39F…2266");
    assert.equal(formatBps(3_333), "33.33 %");
    assert.equal(formatBps(4_000), "40 %");
    assert.equal(formatBps(5n), "0.05 %");
  });
});
