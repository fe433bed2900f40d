// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {IDatanetRegistry} from "./interfaces/IDatanetRegistry.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {Commitments} from "./utils/Commitments.sol";

/// @title ModelRegistry
/// @notice Base models and LoRA adapters (ERC-721) with their revenue terms and immutable data lineage.
/// @dev The owner (the Timelock) controls `minDataShareBps` and base-model deprecation.
contract ModelRegistry is IModelRegistry, Commitments, ERC721, Ownable {
    uint256 internal constant BPS = 10_000;
    /// @notice Lineage entries per adapter; bounds the settlement loop that splits an adapter's data share.
    uint256 public constant MAX_LINEAGE = 16;
    /// @notice q, k, v, o, gate, up, down.
    uint16 public constant ALL_TARGET_MODULES = 0x7f;

    IDatanetRegistry public immutable datanets;

    uint256 public baseModelCount;
    uint256 public adapterCount;
    uint256 public minDataShareBps;

    mapping(uint256 baseModelId => BaseModel) internal _baseModels;
    mapping(uint256 adapterId => Adapter) internal _adapters;
    mapping(uint256 adapterId => LineageEntry[]) internal _lineage;
    mapping(bytes32 artifactHash => uint256 baseModelId) public baseModelByHash;
    mapping(bytes32 artifactHash => uint256 adapterId) public adapterByHash;

    constructor(
        IDatanetRegistry datanets_,
        address governance,
        uint256 minDataShareBps_
    ) ERC721("OpenPoA Adapter", "OPA") Ownable(governance) {
        if (address(datanets_) == address(0)) revert ZeroAddress();
        if (minDataShareBps_ > BPS) revert MinDataShareTooHigh(minDataShareBps_);
        datanets = datanets_;
        minDataShareBps = minDataShareBps_;
        emit MinDataShareSet(minDataShareBps_);
    }

    /// @inheritdoc IModelRegistry
    function registerBaseModel(
        string calldata name,
        bytes32 artifactHash,
        string calldata uri,
        bytes32 salt
    ) external returns (uint256 baseModelId) {
        if (bytes(name).length == 0) revert EmptyName();
        if (artifactHash == bytes32(0)) revert EmptyArtifactHash();
        if (bytes(uri).length == 0) revert EmptyURI();
        uint256 existing = baseModelByHash[artifactHash];
        if (existing != 0) revert DuplicateBaseModel(artifactHash, existing);
        _reveal(artifactHash, salt);

        baseModelId = ++baseModelCount;
        _baseModels[baseModelId] = BaseModel({
            registrant: msg.sender,
            deprecated: false,
            artifactHash: artifactHash,
            name: name,
            uri: uri
        });
        baseModelByHash[artifactHash] = baseModelId;
        emit BaseModelRegistered(baseModelId, msg.sender, artifactHash, name, uri);
    }

    /// @inheritdoc IModelRegistry
    function deprecateBaseModel(uint256 baseModelId) external onlyOwner {
        BaseModel storage baseModel = _existingBaseModel(baseModelId);
        if (baseModel.deprecated) revert BaseModelIsDeprecated(baseModelId);
        baseModel.deprecated = true;
        emit BaseModelDeprecated(baseModelId);
    }

    /// @inheritdoc IModelRegistry
    function registerAdapter(AdapterParams calldata params, bytes32 salt) external returns (uint256 adapterId) {
        if (_existingBaseModel(params.baseModelId).deprecated) revert BaseModelIsDeprecated(params.baseModelId);
        if (params.artifactHash == bytes32(0)) revert EmptyArtifactHash();
        if (bytes(params.uri).length == 0) revert EmptyURI();
        uint256 existing = adapterByHash[params.artifactHash];
        if (existing != 0) revert DuplicateAdapter(params.artifactHash, existing);
        if (params.rank == 0) revert InvalidRank(params.rank);
        if (params.targetModules == 0 || params.targetModules & ~ALL_TARGET_MODULES != 0) {
            revert InvalidTargetModules(params.targetModules);
        }
        if (uint256(params.ownerShareBps) + params.dataShareBps != BPS) {
            revert SharesNotWhole(params.ownerShareBps, params.dataShareBps);
        }
        if (params.dataShareBps < minDataShareBps) revert DataShareBelowMinimum(params.dataShareBps, minDataShareBps);
        _checkLineage(params.lineage);
        _reveal(params.artifactHash, salt);

        adapterId = ++adapterCount;
        _adapters[adapterId] = Adapter({
            baseModelId: params.baseModelId,
            artifactHash: params.artifactHash,
            pricePer1kTokens: params.pricePer1kTokens,
            rank: params.rank,
            targetModules: params.targetModules,
            ownerShareBps: params.ownerShareBps,
            dataShareBps: params.dataShareBps,
            deprecated: false,
            uri: params.uri
        });
        adapterByHash[params.artifactHash] = adapterId;
        LineageEntry[] storage lineage = _lineage[adapterId];
        emit AdapterRegistered(
            adapterId,
            params.baseModelId,
            msg.sender,
            params.artifactHash,
            params.uri,
            params.rank,
            params.targetModules,
            params.pricePer1kTokens,
            params.ownerShareBps,
            params.dataShareBps
        );
        for (uint256 i; i < params.lineage.length; ++i) {
            LineageEntry calldata entry = params.lineage[i];
            lineage.push(entry);
            emit AdapterLineage(adapterId, entry.datanetId, entry.version, entry.weightBps);
        }

        // Minted last: _safeMint calls into the receiver when it is a contract.
        _safeMint(msg.sender, adapterId);
    }

    /// @inheritdoc IModelRegistry
    function setPrice(uint256 adapterId, uint128 pricePer1kTokens) external {
        _ownedLiveAdapter(adapterId).pricePer1kTokens = pricePer1kTokens;
        emit AdapterPriceSet(adapterId, pricePer1kTokens);
    }

    /// @inheritdoc IModelRegistry
    function setURI(uint256 adapterId, string calldata uri) external {
        if (bytes(uri).length == 0) revert EmptyURI();
        _ownedLiveAdapter(adapterId).uri = uri;
        emit AdapterURISet(adapterId, uri);
    }

    /// @inheritdoc IModelRegistry
    function deprecate(uint256 adapterId) external {
        _ownedLiveAdapter(adapterId).deprecated = true;
        emit AdapterDeprecated(adapterId);
    }

    /// @inheritdoc IModelRegistry
    function setMinDataShareBps(uint256 minDataShareBps_) external onlyOwner {
        if (minDataShareBps_ > BPS) revert MinDataShareTooHigh(minDataShareBps_);
        minDataShareBps = minDataShareBps_;
        emit MinDataShareSet(minDataShareBps_);
    }

    /// @inheritdoc IModelRegistry
    function getBaseModel(uint256 baseModelId) external view returns (BaseModel memory) {
        return _existingBaseModel(baseModelId);
    }

    /// @inheritdoc IModelRegistry
    function getAdapter(uint256 adapterId) external view returns (Adapter memory) {
        return _existingAdapter(adapterId);
    }

    /// @inheritdoc IModelRegistry
    function getLineage(uint256 adapterId) external view returns (LineageEntry[] memory) {
        _existingAdapter(adapterId);
        return _lineage[adapterId];
    }

    /// @inheritdoc IModelRegistry
    function revenueTerms(uint256 adapterId) external view returns (address, uint256) {
        // ownerOf reverts for an unknown id, so no separate existence check is needed.
        return (ownerOf(adapterId), _adapters[adapterId].dataShareBps);
    }

    function _checkLineage(LineageEntry[] calldata lineage) internal view {
        uint256 length = lineage.length;
        if (length == 0 || length > MAX_LINEAGE) revert LineageLength(length, MAX_LINEAGE);
        uint256 totalWeightBps;
        for (uint256 i; i < length; ++i) {
            LineageEntry calldata entry = lineage[i];
            if (!datanets.isPublishedVersion(entry.datanetId, entry.version)) {
                revert LineageVersionNotPublished(entry.datanetId, entry.version);
            }
            if (entry.weightBps == 0) revert LineageZeroWeight(entry.datanetId, entry.version);
            // Quadratic, but over at most MAX_LINEAGE entries.
            for (uint256 j; j < i; ++j) {
                if (lineage[j].datanetId == entry.datanetId && lineage[j].version == entry.version) {
                    revert LineageDuplicate(entry.datanetId, entry.version);
                }
            }
            totalWeightBps += entry.weightBps;
        }
        if (totalWeightBps != BPS) revert LineageWeightsNotWhole(totalWeightBps);
    }

    function _existingBaseModel(uint256 baseModelId) internal view returns (BaseModel storage baseModel) {
        baseModel = _baseModels[baseModelId];
        if (baseModel.registrant == address(0)) revert BaseModelNotFound(baseModelId);
    }

    function _existingAdapter(uint256 adapterId) internal view returns (Adapter storage adapter) {
        adapter = _adapters[adapterId];
        if (adapter.artifactHash == bytes32(0)) revert AdapterNotFound(adapterId);
    }

    function _ownedLiveAdapter(uint256 adapterId) internal view returns (Adapter storage adapter) {
        adapter = _existingAdapter(adapterId);
        if (ownerOf(adapterId) != msg.sender) revert NotAdapterOwner(adapterId, msg.sender);
        if (adapter.deprecated) revert AdapterIsDeprecated(adapterId);
    }
}
