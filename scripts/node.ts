/**
 * `npm run node -- [--port N] [--hostname H] [other `hardhat node` options]`: Hardhat's node, on 127.0.0.1:8545
 * unless told otherwise, so that two stacks can run side by side (`npm run node -- --port 8546`).
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { repoRoot } from "./lib/localChain.ts";

const args = process.argv.slice(2);
const given = (flag: string) => args.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
const defaults = [
  ...(given("--hostname") ? [] : ["--hostname", "127.0.0.1"]),
  ...(given("--port") ? [] : ["--port", "8545"]),
];
const node = spawn(path.join(repoRoot, "node_modules", ".bin", "hardhat"), ["node", ...defaults, ...args], {
  cwd: repoRoot,
  stdio: "inherit",
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => node.kill(signal));
node.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
