/**
 * Hardhat keystores for tests, written without a terminal by the plugin's own `keystore set` task: its prompts
 * (password, confirmation, value) are answered through Hardhat's user-interruption hook.
 */
import { createHardhatRuntimeEnvironment } from "hardhat/hre";
import hardhatKeystore from "@nomicfoundation/hardhat-keystore";
import { repoRoot } from "./localChain.ts";

/**
 * Stores `value` under `key` in the keystores of `configHome` (Hardhat's global folder is
 * `$XDG_CONFIG_HOME/hardhat-nodejs`): the production keystore, locked with `password`, or without one the
 * development keystore (`--dev`), whose password Hardhat keeps in a file beside it.
 */
export async function setInKeystore({
  configHome,
  key,
  value,
  password,
}: {
  configHome: string;
  key: string;
  value: string;
  password?: string;
}): Promise<void> {
  const saved = process.env.XDG_CONFIG_HOME;
  process.env.XDG_CONFIG_HOME = configHome;
  try {
    const hre = await createHardhatRuntimeEnvironment({ plugins: [hardhatKeystore] }, {}, repoRoot);
    // A new keystore asks for a password twice, an existing one once; the value comes last.
    hre.hooks.registerHandlers("userInterruptions", {
      requestSecretInput: async (_context, _interruptor, description) =>
        /secret/i.test(description) ? value : password!,
    });
    await hre.tasks.getTask(["keystore", "set"]).run({ key, dev: password === undefined, force: true });
  } finally {
    if (saved === undefined) delete process.env.XDG_CONFIG_HOME;
    else process.env.XDG_CONFIG_HOME = saved;
  }
}

/**
 * `env` for a process that reads the keystores of `configHome`. Hardhat's keystore plugin reads none in CI (it
 * looks for CI's variables), so those are left out: the tests then take the same path on CI as on a desk.
 */
export function keystoreEnvironment(env: NodeJS.ProcessEnv, configHome: string): NodeJS.ProcessEnv {
  const ci =
    /^(CI|CONTINUOUS_INTEGRATION|GITHUB_ACTIONS|BUILD_NUMBER|RUN_ID|CODEBUILD_BUILD_NUMBER|NOW|DEPLOYMENT_ID)$/;
  return {
    ...Object.fromEntries(Object.entries(env).filter(([name]) => !ci.test(name))),
    XDG_CONFIG_HOME: configHome,
  };
}
