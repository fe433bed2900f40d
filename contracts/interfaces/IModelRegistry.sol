// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ICommitments} from "./ICommitments.sol";

/// @title IModelRegistry
/// @notice Base models and LoRA adapters. Each adapter is an ERC-721 token whose owner is paid the adapter's
/// owner share; the adapter's data share is paid to the datanet versions of its lineage, which never changes.
/// @dev Base models are registered by anyone: a base model record is a content-addressed pointer (the sha256 of
/// its weights) that confers no privilege. Duplicates by artifact hash are refused, and governance may deprecate a
/// base model (a licence problem, say); no new adapter may then build on it. Base models and adapters are registered by
/// commit-reveal over their artifact hash (ICommitments), so that copying a pending registration gains nothing.
interface IModelRegistry is ICommitments {
    struct BaseModel {
        address registrant;
        bool deprecated;
        bytes32 artifactHash;
        string name;
        string uri;
    }

    /// @notice One datanet version that an adapter was trained on, with its share of the adapter's data share.
    struct LineageEntry {
        uint256 datanetId;
        uint64 version;
        uint16 weightBps;
    }

    struct Adapter {
        uint256 baseModelId;
        bytes32 artifactHash;
        uint128 pricePer1kTokens;
        uint16 rank;
        // Bit i set: the adapter targets TARGET_MODULE i (q, k, v, o, gate, up, down for i = 0..6).
        uint16 targetModules;
        uint16 ownerShareBps;
        uint16 dataShareBps;
        bool deprecated;
        string uri;
    }

    struct AdapterParams {
        uint256 baseModelId;
        // sha256 of the PEFT adapter artifact, as defined in inference/README.md.
        bytes32 artifactHash;
        string uri;
        uint16 rank;
        uint16 targetModules;
        // Price in OPEN wei per 1,000 tokens (prompt and completion).
        uint128 pricePer1kTokens;
        uint16 ownerShareBps;
        uint16 dataShareBps;
        LineageEntry[] lineage;
    }

    event BaseModelRegistered(
        uint256 indexed baseModelId,
        address indexed registrant,
        bytes32 artifactHash,
        string name,
        string uri
    );
    event BaseModelDeprecated(uint256 indexed baseModelId);
    event AdapterRegistered(
        uint256 indexed adapterId,
        uint256 indexed baseModelId,
        address indexed owner,
        bytes32 artifactHash,
        string uri,
        uint256 rank,
        uint256 targetModules,
        uint256 pricePer1kTokens,
        uint256 ownerShareBps,
        uint256 dataShareBps
    );
    /// @notice Emitted once per lineage entry, right after AdapterRegistered.
    event AdapterLineage(
        uint256 indexed adapterId,
        uint256 indexed datanetId,
        uint256 indexed version,
        uint256 weightBps
    );
    event AdapterPriceSet(uint256 indexed adapterId, uint256 pricePer1kTokens);
    event AdapterURISet(uint256 indexed adapterId, string uri);
    event AdapterDeprecated(uint256 indexed adapterId);
    event MinDataShareSet(uint256 minDataShareBps);

    error ZeroAddress();
    error EmptyArtifactHash();
    error EmptyURI();
    error EmptyName();
    error BaseModelNotFound(uint256 baseModelId);
    error BaseModelIsDeprecated(uint256 baseModelId);
    error DuplicateBaseModel(bytes32 artifactHash, uint256 existingBaseModelId);
    error DuplicateAdapter(bytes32 artifactHash, uint256 existingAdapterId);
    error AdapterNotFound(uint256 adapterId);
    error AdapterIsDeprecated(uint256 adapterId);
    error NotAdapterOwner(uint256 adapterId, address account);
    error InvalidRank(uint256 rank);
    error InvalidTargetModules(uint256 targetModules);
    error SharesNotWhole(uint256 ownerShareBps, uint256 dataShareBps);
    error DataShareBelowMinimum(uint256 dataShareBps, uint256 minDataShareBps);
    error MinDataShareTooHigh(uint256 minDataShareBps);
    error LineageLength(uint256 length, uint256 maxLength);
    error LineageVersionNotPublished(uint256 datanetId, uint256 version);
    error LineageDuplicate(uint256 datanetId, uint256 version);
    error LineageZeroWeight(uint256 datanetId, uint256 version);
    error LineageWeightsNotWhole(uint256 totalWeightBps);

    /// @notice Registers a base model and returns its id (1-based). Anyone may register, revealing a commitment to
    /// `commitmentOf(caller, artifactHash, salt)` made in an earlier block.
    function registerBaseModel(
        string calldata name,
        bytes32 artifactHash,
        string calldata uri,
        bytes32 salt
    ) external returns (uint256 baseModelId);

    /// @notice Deprecates a base model. Only governance (the Timelock).
    function deprecateBaseModel(uint256 baseModelId) external;

    /// @notice Registers an adapter and mints its token to the caller, revealing a commitment to
    /// `commitmentOf(caller, params.artifactHash, salt)` made in an earlier block. The lineage must point only to
    /// published datanet versions, without repeats, with weights summing to 10,000 bps.
    function registerAdapter(AdapterParams calldata params, bytes32 salt) external returns (uint256 adapterId);

    /// @notice Sets the adapter's price. Only the adapter's owner; a deprecated adapter cannot change.
    function setPrice(uint256 adapterId, uint128 pricePer1kTokens) external;

    /// @notice Sets the adapter's URI. Only the adapter's owner; a deprecated adapter cannot change.
    function setURI(uint256 adapterId, string calldata uri) external;

    /// @notice Deprecates the adapter for good: operators stop serving it. Only the adapter's owner.
    function deprecate(uint256 adapterId) external;

    /// @notice Sets the smallest data share an adapter may declare. Only governance (the Timelock).
    function setMinDataShareBps(uint256 minDataShareBps) external;

    function getBaseModel(uint256 baseModelId) external view returns (BaseModel memory);
    function getAdapter(uint256 adapterId) external view returns (Adapter memory);
    function getLineage(uint256 adapterId) external view returns (LineageEntry[] memory);
    /// @notice What a settlement needs of an adapter: who is paid its owner share, and its data share.
    function revenueTerms(uint256 adapterId) external view returns (address owner, uint256 dataShareBps);
    function baseModelCount() external view returns (uint256);
    function adapterCount() external view returns (uint256);
    function minDataShareBps() external view returns (uint256);
}
