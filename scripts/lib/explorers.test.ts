import assert from "node:assert/strict";
import { afterEach, it } from "node:test";
import { addressLink, blockscoutOf, explorerLines, explorerUrlOf, transactionLink } from "./explorers.ts";

const variables = ["OPENLEDGER_TESTNET_EXPLORER_URL", "OPENLEDGER_TESTNET_EXPLORER_API_URL"];
const saved = variables.map((name) => process.env[name]);
afterEach(() =>
  variables.forEach((name, i) => (saved[i] === undefined ? delete process.env[name] : (process.env[name] = saved[i]))),
);
const hash = `0x${"ab".repeat(32)}` as const;

it("test_explorers_linkWhereAnExplorerIsConfiguredAndNowhereElse", () => {
  variables.forEach((name) => delete process.env[name]);
  // A local chain, and OpenLedger's testnet before its explorer is set: no links.
  assert.equal(explorerUrlOf(31337), undefined);
  assert.equal(transactionLink(161201, hash), undefined);
  assert.deepEqual(explorerLines(31337, [hash]), []);
  assert.deepEqual(blockscoutOf(161201), {});

  assert.equal(transactionLink(11155111, hash), `https://sepolia.etherscan.io/tx/${hash}`);
  process.env.OPENLEDGER_TESTNET_EXPLORER_URL = "https://testnet.openledger.example/";
  assert.equal(addressLink(161201, "0x1234"), "https://testnet.openledger.example/address/0x1234");
  assert.deepEqual(explorerLines(161201, [hash, hash]), [
    `explorer: https://testnet.openledger.example/tx/${hash}`,
    `explorer: https://testnet.openledger.example/tx/${hash}`,
  ]);
  // Verification needs the API as well.
  assert.deepEqual(blockscoutOf(161201), {});
  process.env.OPENLEDGER_TESTNET_EXPLORER_API_URL = "https://testnet.openledger.example/api";
  assert.deepEqual(blockscoutOf(161201), {
    blockscout: {
      name: "OPENLEDGER_TESTNET explorer",
      url: "https://testnet.openledger.example/",
      apiUrl: "https://testnet.openledger.example/api",
    },
  });
  process.env.OPENLEDGER_TESTNET_EXPLORER_URL = "testnet.openledger.example";
  assert.throws(() => explorerUrlOf(161201), /^ConfigurationError: OPENLEDGER_TESTNET_EXPLORER_URL must be an http/);
});
