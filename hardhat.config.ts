import { createRequire } from "node:module";
import path from "node:path";
import hardhatToolboxMochaEthers from "@nomicfoundation/hardhat-toolbox-mocha-ethers";
import { configVariable, defineConfig, overrideTask } from "hardhat/config";
import { blockscoutOf } from "./scripts/lib/explorers.ts";
import { checkHandlerPaths, PATH_LOG, resetPathLog } from "./scripts/lib/fuzzPaths.ts";

const require = createRequire(import.meta.url);

export default defineConfig({
  plugins: [hardhatToolboxMochaEthers],
  solidity: {
    version: "0.8.30",
    // Hardhat downloads native solc from a host this machine cannot reach; the npm `solc` package
    // (pinned to the same version) is run as solc-js instead. The path must be absolute.
    path: require.resolve("solc/soljson.js"),
    settings: {
      optimizer: { enabled: true, runs: 10_000 },
      evmVersion: "cancun",
    },
  },
  paths: {
    tests: { mocha: "test", solidity: "test/solidity" },
  },
  test: {
    // Solidity test profiles: `default` (quick, for local runs) and `deep` (CI: `npm run test:contracts:deep`),
    // selected with `--test-profile deep` or HARDHAT_TEST_PROFILE=deep; both with the same fixed seed.
    solidity: {
      profiles: {
        default: {
          fuzz: { runs: 256, seed: "0x5eed" },
          invariant: { runs: 64, depth: 32, failOnRevert: false },
          // Invariant suites append their handlers' path counts here (test/solidity/utils/Paths.sol).
          fsPermissions: { writeFile: [path.join(import.meta.dirname, PATH_LOG)] },
        },
        deep: {
          fuzz: { runs: 10_000, seed: "0x5eed" },
          invariant: { runs: 1_000, depth: 64, failOnRevert: false },
          fsPermissions: { writeFile: [path.join(import.meta.dirname, PATH_LOG)] },
        },
      },
    },
    mocha: { timeout: 120_000 },
  },
  tasks: [
    // Sums the invariant handlers' path counts after the Solidity tests: reported in the default profile, a path never
    // taken fails the deep profile (scripts/lib/fuzzPaths.ts).
    overrideTask(["test", "solidity"])
      .setInlineAction(async (args, _hre, runSuper) => {
        resetPathLog(import.meta.dirname);
        const result = await runSuper(args);
        const profile = args.testProfile ?? process.env.HARDHAT_TEST_PROFILE ?? "default";
        return checkHandlerPaths(result, { root: import.meta.dirname, profile: String(profile) });
      })
      .build(),
  ],
  typechain: { outDir: "types/ethers-contracts" },
  // Chains Hardhat does not know. The explorer (Blockscout) is what `hardhat ignition verify` and `hardhat verify`
  // submit sources to (and what the CLI and the deploy link to); its URLs come from the environment
  // (OPENLEDGER_TESTNET_EXPLORER_URL and _API_URL), since they are the network's, not ours.
  chainDescriptors: {
    161201: {
      name: "OpenLedger Testnet",
      chainType: "op",
      blockExplorers: blockscoutOf(161201),
    },
  },
  networks: {
    hardhat: { type: "edr-simulated", chainType: "l1", allowUnlimitedContractSize: false },
    // OPENPOA_RPC_URL lets tests point `localhost` at a chain of their own on another port.
    localhost: { type: "http", chainType: "l1", url: process.env.OPENPOA_RPC_URL ?? "http://127.0.0.1:8545" },
    // The local testnet rehearsal: a node with OpenLedger testnet's chain id, chain type and 2-second blocks
    // (`hardhat node --network rehearsalNode`), reached as `rehearsal`, through whatever OPENPOA_RPC_URL names
    // (in the rehearsal test, a provider-like proxy).
    rehearsalNode: {
      type: "edr-simulated",
      chainType: "op",
      chainId: 161201,
      mining: { auto: false, interval: 2_000 },
    },
    rehearsal: {
      type: "http",
      chainType: "op",
      chainId: 161201,
      url: process.env.OPENPOA_RPC_URL ?? "http://127.0.0.1:8545",
      accounts: [configVariable("DEPLOYER_PRIVATE_KEY")],
    },
    // Testnets: RPC URL and deployer key are Hardhat configuration variables, set with
    // `npx hardhat keystore set OPENLEDGER_TESTNET_RPC_URL` (or exported as environment variables).
    openledgerTestnet: {
      type: "http",
      // OpenLedger's chains are OP-stack rollups: L1 fees and the deposit transaction type.
      chainType: "op",
      chainId: 161201,
      url: configVariable("OPENLEDGER_TESTNET_RPC_URL"),
      accounts: [configVariable("DEPLOYER_PRIVATE_KEY")],
    },
    sepolia: {
      type: "http",
      chainType: "l1",
      chainId: 11155111,
      url: configVariable("SEPOLIA_RPC_URL"),
      accounts: [configVariable("DEPLOYER_PRIVATE_KEY")],
    },
  },
});
