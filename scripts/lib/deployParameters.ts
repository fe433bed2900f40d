import { getAddress, isAddress } from "ethers";
import { DEFAULT_PARAMETERS } from "../../ignition/modules/OpenPoA.ts";
import { slashEscape } from "./slashWindow.ts";

/** Chain id of Hardhat's local chains: the only ones where the deployer may keep the roles and the supply. */
export const LOCAL_CHAIN_ID = 31337;

const ROLE_PARAMETERS = ["genesisRecipient", "attestor", "guardian"] as const;
const KNOWN_PARAMETERS = new Set<string>([...ROLE_PARAMETERS, ...Object.keys(DEFAULT_PARAMETERS)]);

export type DeployParameters = Record<string, unknown>;

/** A parameters file that would deploy an unsafe or inconsistent suite; the message names the parameter. */
export class DeployParametersError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeployParametersError";
  }
}

/**
 * The Ignition parameters of ignition/parameters/<network>.json: documentation keys (starting with "$", as in
 * example.json) dropped, and big numbers written as Ignition's parameter files write them ("1000n") made bigints.
 */
export function moduleParameters(file: DeployParameters): DeployParameters {
  return Object.fromEntries(
    Object.entries(file)
      .filter(([key]) => !key.startsWith("$"))
      .map(([key, value]) => [
        key,
        typeof value === "string" && /^\d+n$/.test(value) ? BigInt(value.slice(0, -1)) : value,
      ]),
  );
}

/**
 * Refuses parameters that would hand the deployer everything or leave slashing unreachable:
 * - unknown names (a typo would silently deploy the default);
 * - on any chain but a local one: genesisRecipient, attestor and guardian must be named, distinct from each other
 *   and from the deployer;
 * - everywhere: an operator's unbonding and the guardian's freeze must both outlast the governance path (voting
 *   delay + voting period + timelock delay), or an operator escapes a slash by unbonding.
 */
export function checkDeployParameters(params: DeployParameters, chainId: number, deployer: string): void {
  for (const name of Object.keys(params)) {
    if (!KNOWN_PARAMETERS.has(name)) throw new DeployParametersError(`Unknown deploy parameter "${name}"`);
  }
  if (chainId !== LOCAL_CHAIN_ID) checkRoles(params, deployer);

  const seconds = (name: keyof typeof DEFAULT_PARAMETERS): bigint => {
    const value = params[name] ?? DEFAULT_PARAMETERS[name];
    if (!(typeof value === "bigint" || (typeof value === "number" && Number.isSafeInteger(value) && value >= 0))) {
      throw new DeployParametersError(`Deploy parameter "${name}" must be a whole number of seconds, got ${value}`);
    }
    return BigInt(value);
  };
  const escape = slashEscape({
    votingDelay: seconds("votingDelaySeconds"),
    votingPeriod: seconds("votingPeriodSeconds"),
    timelockDelay: seconds("timelockDelaySeconds"),
    unbondingPeriod: seconds("unbondingPeriodSeconds"),
    freezePeriod: seconds("freezePeriodSeconds"),
  });
  if (escape) {
    const name = `${escape.period}Seconds`;
    throw new DeployParametersError(
      `Deploy parameter "${name}" (${escape.seconds} s) must exceed the governance path ` +
        `votingDelaySeconds + votingPeriodSeconds + timelockDelaySeconds (${escape.governancePath} s), ` +
        `or an operator escapes a slash`,
    );
  }
}

function checkRoles(params: DeployParameters, deployer: string): void {
  const holders = new Map<string, string>([["deployer", getAddress(deployer)]]);
  for (const name of ROLE_PARAMETERS) {
    const value = params[name];
    if (typeof value !== "string" || !isAddress(value)) {
      throw new DeployParametersError(
        `Deploy parameter "${name}" must name an address on this network (see ignition/parameters/example.json)`,
      );
    }
    const address = getAddress(value);
    for (const [holder, held] of holders) {
      if (held === address) throw new DeployParametersError(`Deploy parameter "${name}" is the ${holder}'s address`);
    }
    holders.set(name, address);
  }
}
