// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAttributionRewards} from "../../../contracts/interfaces/IAttributionRewards.sol";

/// @notice Attribution policies for tests and handlers: the deployment's policy 1 and valid later ones.
library Policies {
    /// @dev Policy 1 as ignition/modules/OpenPoA.ts deploys it, with a stand-in specification hash.
    function initial() internal pure returns (IAttributionRewards.AttributionPolicy memory policy) {
        policy.algorithm = "openpoa-span-match";
        policy.version = 1;
        policy.params = IAttributionRewards.AttributionParams({
            minSpanTokens: 24,
            matchWeightBps: 8_000,
            maxSpanOccurrences: 64,
            rarityTable: 0x03f775f1f1740fa1f07b470bb5dc4dbf710b41c198da3c6dd2690eaaa7e5d696,
            duplicateShingleTokens: 16,
            duplicateSampling: 4,
            duplicateCoverageBps: 8_000,
            rarityExponent: 0
        });
        policy.specHash = keccak256("openpoa-span-match v1 specification");
        policy.specUri = "openpoa://content/spec-v1";
    }

    /// @dev A valid version-2 policy told apart by `specHash` (non-zero), with a rarity exponent from `seed`.
    function version2(
        bytes32 specHash,
        uint256 seed
    ) internal pure returns (IAttributionRewards.AttributionPolicy memory policy) {
        policy = initial();
        policy.version = 2;
        policy.params.rarityExponent = uint8(seed % 4);
        policy.params.matchWeightBps = uint16(seed % 10_001);
        policy.specHash = specHash;
        policy.specUri = "openpoa://content/spec-v2";
    }
}
