// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IServingRules
/// @notice The rules every worker follows when it serves inference, set by governance (the owner, the Timelock) and
/// numbered in versions 1, 2, ...; version 1 comes from the constructor. A new version applies at once: workers read
/// `currentRules()` and apply its limits to the requests they accept from then on, and each usage receipt names the
/// version it was served under, so earlier versions stay readable by number.
interface IServingRules {
    struct Rules {
        // Most completion tokens a worker may produce per request.
        uint32 maxOutputTokens;
        // The usage-receipt schema workers must sign (3: receipts carry rulesVersion).
        uint16 receiptSchemaVersion;
        // Least engine protocol version a worker must run.
        uint16 minEngineProtocolVersion;
        // Every receipt of an adapter's response must carry a non-zero attribution hash (the base model alone has no
        // datanets to attribute to).
        bool requireAttributionHash;
    }

    /// @notice Version `version` of the rules is `rules`, in force from now.
    event RulesSet(uint256 indexed version, Rules rules);

    /// @notice The rules break the rule `reason` states (a field out of range).
    error InvalidRules(string reason);
    error RulesVersionNotFound(uint256 version);

    /// @notice Makes `rules` the next version, in force at once. Only the owner (governance). Reverts `InvalidRules`
    /// unless `maxOutputTokens >= 1` and `receiptSchemaVersion >= 1`.
    function setRules(Rules calldata rules) external returns (uint256 version);

    /// @notice The version in force: the newest one set.
    function currentVersion() external view returns (uint256);

    /// @notice The version in force and its rules.
    function currentRules() external view returns (uint256 version, Rules memory rules);

    /// @notice Version `version` of the rules; reverts `RulesVersionNotFound` unless 1 <= version <= currentVersion().
    function getRules(uint256 version) external view returns (Rules memory);
}
