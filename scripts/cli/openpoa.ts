#!/usr/bin/env node
/**
 * openpoa: the contributor and operator CLI. `openpoa <group> <command> [arguments] [--network name] [--json]`.
 * Exit codes: 0 done, 1 failed (a revert, a network error), 2 bad arguments or configuration.
 */
import { parseArgs } from "node:util";
import { ConfigurationError, connectSuite } from "../lib/contracts.ts";
import { DeploymentNotFoundError } from "../lib/deployments.ts";
import { explorerLines } from "../lib/explorers.ts";
import { progressEnabled } from "../lib/progress.ts";
import { explainFailure } from "./failures.ts";
import { ContractRevertedError } from "../lib/transactions.ts";
import { UsageError } from "./args.ts";
import { commands, type Command } from "./commands.ts";
import type { OptionSpec } from "./shared.ts";

const globalOptions = {
  network: { type: "string", default: "localhost", description: "reads deployments/<name>.json" },
  json: { type: "boolean", default: false, description: "print machine-readable JSON (errors too)" },
  help: { type: "boolean", short: "h", default: false, description: "show this help" },
} as const satisfies Record<string, OptionSpec>;

/** A command's help: usage, summary, and every option with what it means and its default. */
function commandHelp(command: Command): string {
  const specs: Record<string, OptionSpec> = { ...command.options, ...globalOptions };
  const options = Object.entries(specs).map(([name, spec]) => {
    const flag = `--${name}${spec.type === "string" ? " <value>" : ""}`;
    const fallback = spec.default === undefined || spec.default === false ? "" : ` (default ${String(spec.default)})`;
    return [flag, `${spec.description}${fallback}${spec.multiple ? "; repeatable" : ""}`];
  });
  const width = Math.max(...options.map(([flag]) => flag!.length));
  return [
    `Usage: openpoa ${command.usage}`,
    "",
    command.summary,
    "",
    "Options:",
    ...options.map(([flag, text]) => `  ${flag!.padEnd(width)}  ${text}`),
  ].join("\n");
}

function help(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  return [
    "Usage: openpoa <group> <command> [arguments] [--network <name>] [--json]",
    "",
    ...Object.entries(commands).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`),
    "",
    "--network reads deployments/<name>.json (default localhost); the RPC URL comes from OPENPOA_RPC_URL or",
    "<NETWORK>_RPC_URL, the signing key from OPENPOA_PRIVATE_KEY (on the local chain, Hardhat's first account).",
    "Secrets (keys, <NETWORK>_RPC_URL) are read from the environment, else from Hardhat's keystore",
    "(`npx hardhat keystore set OPENPOA_PRIVATE_KEY`). Waits for a transaction show progress on stderr on a",
    "terminal or with OPENPOA_PROGRESS=1; sent transactions link to the network's explorer where one is configured.",
    'Amounts are in OPEN ("12.5"). `openpoa <group> <command> --help` shows a command\'s usage.',
  ].join("\n");
}

/** JSON with bigints as decimal strings. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v), 2);
}

/** The account commands sign with, once connected: failures name it. */
let signer: string | undefined;

async function main(argv: string[]): Promise<number> {
  const name = argv.slice(0, 2).join(" ");
  const command: Command | undefined = commands[name];
  if (!command) {
    const wantsHelp = argv.length === 0 || argv.includes("--help") || argv.includes("-h");
    if (wantsHelp) {
      console.log(help());
      return 0;
    }
    throw new UsageError(`Unknown command "${name}"\n\n${help()}`);
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv.slice(2),
      options: { ...globalOptions, ...command.options },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\nUsage: openpoa ${command.usage}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(commandHelp(command));
    return 0;
  }
  // Progress goes to stderr, where --json puts errors for a script to read: none with --json.
  const suite = await connectSuite({
    network: values.network as string,
    progress: !values.json && progressEnabled(),
  });
  signer = suite.account?.address;
  const output = await command.run(suite, positionals, values);
  if (values.json) console.log(toJson(output.data));
  else console.log([output.text, ...explorerLines(suite.chain.id, suite.sent)].join("\n"));
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  const json = process.argv.includes("--json");
  // Bad arguments and bad configuration are the user's to fix (exit 2); anything else failed on the way (exit 1).
  const usage =
    error instanceof UsageError || error instanceof ConfigurationError || error instanceof DeploymentNotFoundError;
  const kind = usage ? "usage" : error instanceof ContractRevertedError ? "reverted" : "error";
  const message =
    error instanceof UsageError || error instanceof ContractRevertedError || error instanceof ConfigurationError
      ? (error as Error).message
      : explainFailure(error, { account: signer });
  if (json) {
    const revert =
      error instanceof ContractRevertedError ? { errorName: error.errorName, errorArgs: error.errorArgs } : {};
    console.error(toJson({ error: { kind, message, ...revert } }));
  } else {
    console.error(`openpoa: ${message}`);
  }
  process.exitCode = usage ? 2 : 1;
}
