// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IDatanetRegistry} from "./interfaces/IDatanetRegistry.sol";
import {Commitments} from "./utils/Commitments.sol";

/// @title DatanetRegistry
/// @notice Community datasets: staked contributions, curation, and immutable Merkle-rooted versions.
/// @dev The owner (the Timelock) controls `stakeLockPeriod` only; datanets belong to their creators.
contract DatanetRegistry is IDatanetRegistry, Commitments, Ownable {
    using SafeERC20 for IERC20;

    /// @notice Upper bound on `stakeLockPeriod`, so governance cannot trap stakes indefinitely.
    uint256 public constant MAX_STAKE_LOCK_PERIOD = 365 days;
    /// @notice The weight of every contribution to an open datanet. Contributors declare sizes, but a declared
    /// weight would let one contribution take a datanet's whole pro-rata share; each contribution is staked instead,
    /// and attribution credits what a contribution's content actually adds.
    uint256 public constant OPEN_DATANET_WEIGHT = 1;

    IERC20 public immutable token;

    uint256 public stakeLockPeriod;
    uint256 public totalPendingStake;
    uint256 public totalLockedStake;
    uint256 public datanetCount;
    uint256 public contributionCount;

    mapping(uint256 datanetId => Datanet) internal _datanets;
    mapping(uint256 contributionId => Contribution) internal _contributions;
    mapping(uint256 datanetId => mapping(uint256 version => Version)) internal _versions;
    mapping(uint256 datanetId => uint256[]) internal _acceptedIds;
    mapping(uint256 datanetId => mapping(address account => bool)) public isCurator;
    /// @notice The live (pending or accepted) contribution with this content hash, to refuse duplicates.
    mapping(uint256 datanetId => mapping(bytes32 contentHash => uint256 contributionId)) public contributionByHash;

    modifier onlyDatanetOwner(uint256 datanetId) {
        address datanetOwner = _datanets[datanetId].owner;
        if (datanetOwner == address(0)) revert DatanetNotFound(datanetId);
        if (datanetOwner != msg.sender) revert NotDatanetOwner(datanetId, msg.sender);
        _;
    }

    constructor(IERC20 token_, address governance, uint256 stakeLockPeriod_) Ownable(governance) {
        if (address(token_) == address(0)) revert ZeroAddress();
        if (stakeLockPeriod_ > MAX_STAKE_LOCK_PERIOD) {
            revert StakeLockPeriodTooLong(stakeLockPeriod_, MAX_STAKE_LOCK_PERIOD);
        }
        token = token_;
        stakeLockPeriod = stakeLockPeriod_;
        emit StakeLockPeriodSet(stakeLockPeriod_);
    }

    /// @inheritdoc IDatanetRegistry
    function createDatanet(CreateDatanetParams calldata params) external returns (uint256 datanetId) {
        if (bytes(params.metadataURI).length == 0) revert EmptyURI();
        address treasury = params.treasury == address(0) ? msg.sender : params.treasury;

        datanetId = ++datanetCount;
        Datanet storage datanet = _datanets[datanetId];
        datanet.owner = msg.sender;
        datanet.treasury = treasury;
        datanet.curated = params.curated;
        datanet.minStake = params.minStake;
        datanet.metadataURI = params.metadataURI;
        datanet.license = params.license;
        emit DatanetCreated(
            datanetId,
            msg.sender,
            treasury,
            params.curated,
            params.minStake,
            params.metadataURI,
            params.license
        );

        for (uint256 i; i < params.curators.length; ++i) {
            _setCurator(datanetId, params.curators[i], true);
        }
    }

    /// @inheritdoc IDatanetRegistry
    function setMetadataURI(uint256 datanetId, string calldata metadataURI) external onlyDatanetOwner(datanetId) {
        if (bytes(metadataURI).length == 0) revert EmptyURI();
        _datanets[datanetId].metadataURI = metadataURI;
        emit DatanetMetadataUpdated(datanetId, metadataURI);
    }

    /// @inheritdoc IDatanetRegistry
    function setCurator(uint256 datanetId, address curator, bool enabled) external onlyDatanetOwner(datanetId) {
        _setCurator(datanetId, curator, enabled);
    }

    /// @inheritdoc IDatanetRegistry
    function contribute(
        uint256 datanetId,
        bytes32 contentHash,
        string calldata uri,
        uint64 sizeTokens,
        uint128 stake,
        bytes32 salt
    ) external returns (uint256) {
        return _contribute(datanetId, contentHash, uri, sizeTokens, stake, salt);
    }

    /// @inheritdoc IDatanetRegistry
    function contributeWithPermit(
        uint256 datanetId,
        bytes32 contentHash,
        string calldata uri,
        uint64 sizeTokens,
        uint128 stake,
        bytes32 salt,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (uint256) {
        // A front-run permit makes this call revert but has already set the allowance: ignore the failure and
        // let the transferFrom below decide.
        try IERC20Permit(address(token)).permit(msg.sender, address(this), stake, deadline, v, r, s) {} catch {}
        return _contribute(datanetId, contentHash, uri, sizeTokens, stake, salt);
    }

    /// @inheritdoc IDatanetRegistry
    function accept(uint256 contributionId, uint256 weight) external {
        Contribution storage contribution = _pendingContribution(contributionId);
        uint256 datanetId = contribution.datanetId;
        _checkCurator(datanetId);
        if (weight == 0) revert ZeroWeight(contributionId);
        _accept(contributionId, contribution, weight);
    }

    /// @inheritdoc IDatanetRegistry
    function reject(uint256 contributionId) external {
        Contribution storage contribution = _pendingContribution(contributionId);
        uint256 datanetId = contribution.datanetId;
        _checkCurator(datanetId);

        uint256 slashed = contribution.stake;
        contribution.status = ContributionStatus.Rejected;
        contribution.stake = 0;
        totalPendingStake -= slashed;
        delete contributionByHash[datanetId][contribution.contentHash];
        emit ContributionRejected(contributionId, datanetId, msg.sender, slashed);

        if (slashed != 0) token.safeTransfer(_datanets[datanetId].treasury, slashed);
    }

    /// @inheritdoc IDatanetRegistry
    function withdraw(uint256 contributionId) external {
        Contribution storage contribution = _pendingContribution(contributionId);
        if (contribution.contributor != msg.sender) revert NotContributor(contributionId, msg.sender);
        uint256 datanetId = contribution.datanetId;

        uint256 refund = contribution.stake;
        contribution.status = ContributionStatus.Withdrawn;
        contribution.stake = 0;
        totalPendingStake -= refund;
        delete contributionByHash[datanetId][contribution.contentHash];
        emit ContributionWithdrawn(contributionId, datanetId, refund);

        if (refund != 0) token.safeTransfer(msg.sender, refund);
    }

    /// @inheritdoc IDatanetRegistry
    function releaseStake(uint256 contributionId) external {
        Contribution storage contribution = _contributions[contributionId];
        ContributionStatus status = contribution.status;
        if (status == ContributionStatus.None) revert ContributionNotFound(contributionId);
        uint256 amount = contribution.stake;
        if (status != ContributionStatus.Accepted || amount == 0) {
            revert StakeNotReleasable(contributionId, status, amount);
        }
        // Fixed at acceptance: a later change of stakeLockPeriod never moves it.
        uint256 unlockTime = contribution.unlocksAt;
        if (block.timestamp < unlockTime) revert StakeLocked(contributionId, unlockTime);

        address contributor = contribution.contributor;
        contribution.stake = 0;
        totalLockedStake -= amount;
        emit StakeReleased(contributionId, contributor, amount);

        token.safeTransfer(contributor, amount);
    }

    /// @inheritdoc IDatanetRegistry
    function publishVersion(uint256 datanetId, bytes32 root) external returns (uint256 version) {
        Datanet storage datanet = _existingDatanet(datanetId);
        _checkCurator(datanetId);
        if (root == bytes32(0)) revert EmptyRoot();
        uint64 acceptedCount = datanet.acceptedCount;
        uint64 previousCount =
            datanet.versionCount == 0 ? 0 : _versions[datanetId][datanet.versionCount].contributionCount;
        if (acceptedCount == previousCount) revert NothingToPublish(datanetId, acceptedCount);

        version = ++datanet.versionCount;
        uint256 totalWeight = datanet.totalWeight;
        _versions[datanetId][version] = Version({
            root: root,
            contributionCount: acceptedCount,
            // Timestamps fit in 64 bits for the next 500 billion years.
            publishedAt: uint64(block.timestamp),
            totalWeight: totalWeight
        });
        emit VersionPublished(datanetId, version, root, acceptedCount, totalWeight, msg.sender);
    }

    /// @inheritdoc IDatanetRegistry
    function setStakeLockPeriod(uint256 stakeLockPeriod_) external onlyOwner {
        if (stakeLockPeriod_ > MAX_STAKE_LOCK_PERIOD) {
            revert StakeLockPeriodTooLong(stakeLockPeriod_, MAX_STAKE_LOCK_PERIOD);
        }
        stakeLockPeriod = stakeLockPeriod_;
        emit StakeLockPeriodSet(stakeLockPeriod_);
    }

    /// @inheritdoc IDatanetRegistry
    function getDatanet(uint256 datanetId) external view returns (Datanet memory) {
        return _existingDatanet(datanetId);
    }

    /// @inheritdoc IDatanetRegistry
    function getContribution(uint256 contributionId) external view returns (Contribution memory contribution) {
        contribution = _contributions[contributionId];
        if (contribution.status == ContributionStatus.None) revert ContributionNotFound(contributionId);
    }

    /// @inheritdoc IDatanetRegistry
    function getVersion(uint256 datanetId, uint256 version) external view returns (Version memory) {
        if (!isPublishedVersion(datanetId, version)) revert VersionNotFound(datanetId, version);
        return _versions[datanetId][version];
    }

    /// @inheritdoc IDatanetRegistry
    function isPublishedVersion(uint256 datanetId, uint256 version) public view returns (bool) {
        return version != 0 && version <= _datanets[datanetId].versionCount;
    }

    /// @inheritdoc IDatanetRegistry
    function getAcceptedContributions(
        uint256 datanetId,
        uint256 offset,
        uint256 limit
    ) external view returns (uint256[] memory ids) {
        uint256[] storage accepted = _acceptedIds[datanetId];
        uint256 length = accepted.length;
        if (offset >= length) return ids;
        // Compared, not added, so that a huge limit ("all") clamps instead of overflowing.
        uint256 end = limit > length - offset ? length : offset + limit;
        ids = new uint256[](end - offset);
        for (uint256 i = offset; i < end; ++i) {
            ids[i - offset] = accepted[i];
        }
    }

    function _contribute(
        uint256 datanetId,
        bytes32 contentHash,
        string calldata uri,
        uint64 sizeTokens,
        uint128 stake,
        bytes32 salt
    ) internal returns (uint256 contributionId) {
        Datanet storage datanet = _existingDatanet(datanetId);
        if (contentHash == bytes32(0)) revert EmptyContentHash();
        if (bytes(uri).length == 0) revert EmptyURI();
        if (sizeTokens == 0) revert ZeroSize();
        if (stake < datanet.minStake) revert StakeBelowMinimum(datanetId, stake, datanet.minStake);
        uint256 existing = contributionByHash[datanetId][contentHash];
        if (existing != 0) revert DuplicateContribution(datanetId, contentHash, existing);
        _reveal(contentHash, salt);

        contributionId = ++contributionCount;
        Contribution storage contribution = _contributions[contributionId];
        contribution.datanetId = datanetId;
        contribution.contributor = msg.sender;
        contribution.status = ContributionStatus.Pending;
        contribution.sizeTokens = sizeTokens;
        contribution.stake = stake;
        contribution.contentHash = contentHash;
        contribution.uri = uri;
        contributionByHash[datanetId][contentHash] = contributionId;
        totalPendingStake += stake;
        emit ContributionSubmitted(contributionId, datanetId, msg.sender, contentHash, uri, sizeTokens, stake);

        // Open datanets accept on submission, at the fixed weight: a declared one could not be trusted.
        if (!datanet.curated) _accept(contributionId, contribution, OPEN_DATANET_WEIGHT);

        if (stake != 0) token.safeTransferFrom(msg.sender, address(this), stake);
    }

    function _accept(uint256 contributionId, Contribution storage contribution, uint256 weight) internal {
        uint256 datanetId = contribution.datanetId;
        Datanet storage datanet = _datanets[datanetId];
        uint256 stake = contribution.stake;

        contribution.status = ContributionStatus.Accepted;
        contribution.weight = weight;
        // Timestamps fit in 64 bits for the next 500 billion years, and stakeLockPeriod is at most a year.
        contribution.acceptedAt = uint64(block.timestamp);
        contribution.unlocksAt = uint64(block.timestamp + stakeLockPeriod);
        totalPendingStake -= stake;
        totalLockedStake += stake;
        uint256 acceptedIndex = datanet.acceptedCount++;
        datanet.totalWeight += weight;
        _acceptedIds[datanetId].push(contributionId);
        emit ContributionAccepted(contributionId, datanetId, msg.sender, weight, acceptedIndex);
    }

    function _setCurator(uint256 datanetId, address curator, bool enabled) internal {
        if (curator == address(0)) revert ZeroAddress();
        isCurator[datanetId][curator] = enabled;
        emit CuratorSet(datanetId, curator, enabled);
    }

    function _existingDatanet(uint256 datanetId) internal view returns (Datanet storage datanet) {
        datanet = _datanets[datanetId];
        if (datanet.owner == address(0)) revert DatanetNotFound(datanetId);
    }

    function _pendingContribution(uint256 contributionId) internal view returns (Contribution storage contribution) {
        contribution = _contributions[contributionId];
        ContributionStatus status = contribution.status;
        if (status == ContributionStatus.None) revert ContributionNotFound(contributionId);
        if (status != ContributionStatus.Pending) revert ContributionNotPending(contributionId, status);
    }

    /// @dev The datanet owner is always a curator.
    function _checkCurator(uint256 datanetId) internal view {
        if (!isCurator[datanetId][msg.sender] && _datanets[datanetId].owner != msg.sender) {
            revert NotCurator(datanetId, msg.sender);
        }
    }
}
