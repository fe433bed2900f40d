// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IServingRules} from "./interfaces/IServingRules.sol";

/// @title ServingRules
/// @notice The versioned rules workers serve under.
/// @dev The owner (the Timelock) sets each new version.
contract ServingRules is IServingRules, Ownable {
    /// @inheritdoc IServingRules
    uint256 public currentVersion;

    /// @dev One slot per version (72 bits of rules).
    mapping(uint256 version => Rules) internal _rules;

    constructor(address governance, Rules memory initialRules) Ownable(governance) {
        _setRules(initialRules);
    }

    /// @inheritdoc IServingRules
    function setRules(Rules calldata rules) external onlyOwner returns (uint256 version) {
        return _setRules(rules);
    }

    /// @inheritdoc IServingRules
    function currentRules() external view returns (uint256 version, Rules memory rules) {
        version = currentVersion;
        rules = _rules[version];
    }

    /// @inheritdoc IServingRules
    function getRules(uint256 version) external view returns (Rules memory) {
        if (version == 0 || version > currentVersion) revert RulesVersionNotFound(version);
        return _rules[version];
    }

    function _setRules(Rules memory rules) internal returns (uint256 version) {
        if (rules.maxOutputTokens == 0) revert InvalidRules("maxOutputTokens is 0");
        if (rules.receiptSchemaVersion == 0) revert InvalidRules("receiptSchemaVersion is 0");
        version = ++currentVersion;
        _rules[version] = rules;
        emit RulesSet(version, rules);
    }
}
