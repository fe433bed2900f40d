import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { DEFAULT_PARAMETERS } from "../../ignition/modules/OpenPoA.ts";
import { checkDeployParameters, DeployParametersError, LOCAL_CHAIN_ID, moduleParameters } from "./deployParameters.ts";

const DEPLOYER = "0x00000000000000000000000000000000000000d0";
const TESTNET = 161201;
const roles = {
  genesisRecipient: "0x0000000000000000000000000000000000000001",
  attestor: "0x0000000000000000000000000000000000000002",
  guardian: "0x0000000000000000000000000000000000000003",
};
const refuses = (params: Record<string, unknown>, chainId: number, pattern: RegExp) =>
  assert.throws(
    () => checkDeployParameters(params, chainId, DEPLOYER),
    (error: unknown) => {
      assert.ok(error instanceof DeployParametersError);
      assert.match(error.message, pattern);
      return true;
    },
  );

describe("deploy parameters", () => {
  it("test_checkDeployParameters_localChainKeepsDeployerDefaults", () => {
    checkDeployParameters({}, LOCAL_CHAIN_ID, DEPLOYER);
  });

  it("test_checkDeployParameters_refusesMissingRolesOffTheLocalChain", () => {
    refuses({}, TESTNET, /"genesisRecipient" must name an address/);
    refuses({ genesisRecipient: roles.genesisRecipient }, TESTNET, /"attestor" must name an address/);
    refuses({ genesisRecipient: roles.genesisRecipient, attestor: roles.attestor }, TESTNET, /"guardian"/);
    refuses({ ...roles, guardian: "not an address" }, TESTNET, /"guardian" must name an address/);
    checkDeployParameters(roles, TESTNET, DEPLOYER);
  });

  it("test_checkDeployParameters_refusesSharedRoles", () => {
    refuses({ ...roles, genesisRecipient: DEPLOYER }, TESTNET, /"genesisRecipient" is the deployer's address/);
    refuses({ ...roles, attestor: DEPLOYER }, TESTNET, /"attestor" is the deployer's address/);
    refuses({ ...roles, guardian: roles.attestor }, TESTNET, /"guardian" is the attestor's address/);
    // Case does not hide a shared address.
    refuses({ ...roles, guardian: roles.attestor.toUpperCase().replace("0X", "0x") }, TESTNET, /attestor's/);
  });

  it("test_checkDeployParameters_refusesUnbondingOrFreezeWithinTheGovernancePath", () => {
    const path = DEFAULT_PARAMETERS.votingDelaySeconds + DEFAULT_PARAMETERS.votingPeriodSeconds;
    const governancePath = path + DEFAULT_PARAMETERS.timelockDelaySeconds;
    refuses({ unbondingPeriodSeconds: governancePath }, LOCAL_CHAIN_ID, /"unbondingPeriodSeconds" .* must exceed/);
    refuses({ freezePeriodSeconds: 7 * 86_400 }, LOCAL_CHAIN_ID, /"freezePeriodSeconds" .* must exceed/);
    // A longer vote needs a longer unbonding, whichever is set.
    refuses({ votingPeriodSeconds: 14 * 86_400 }, LOCAL_CHAIN_ID, /"unbondingPeriodSeconds"/);
    const justLonger = { unbondingPeriodSeconds: governancePath + 1, freezePeriodSeconds: governancePath + 1 };
    checkDeployParameters({ ...roles, ...justLonger }, TESTNET, DEPLOYER);
  });

  it("test_checkDeployParameters_refusesUnknownNamesAndNonNumbers", () => {
    refuses({ unbondingPeriod: 100 }, LOCAL_CHAIN_ID, /Unknown deploy parameter "unbondingPeriod"/);
    refuses({ unbondingPeriodSeconds: "14 days" }, LOCAL_CHAIN_ID, /whole number of seconds/);
    refuses({ unbondingPeriodSeconds: -1 }, LOCAL_CHAIN_ID, /whole number of seconds/);
  });

  it("test_exampleParameters_documentEveryParameterAndPassTheChecks", () => {
    const file = JSON.parse(readFileSync(new URL("../../ignition/parameters/example.json", import.meta.url), "utf8"));
    const params = moduleParameters(file);
    const names = [...Object.keys(DEFAULT_PARAMETERS), "genesisRecipient", "attestor", "guardian"].sort();
    assert.deepEqual(Object.keys(params).sort(), names);
    assert.deepEqual(
      Object.keys(file.$doc)
        .filter((key) => key !== "about")
        .sort(),
      names,
    );
    assert.equal(params.proposalThresholdVotes, DEFAULT_PARAMETERS.proposalThresholdVotes);
    // The example shows the defaults, the specification's hash included: a new specification is pinned here too.
    assert.deepEqual(params.initialAttributionPolicy, DEFAULT_PARAMETERS.initialAttributionPolicy);
    assert.deepEqual(params.initialServingRules, DEFAULT_PARAMETERS.initialServingRules);
    checkDeployParameters(params, TESTNET, DEPLOYER);
  });
});
