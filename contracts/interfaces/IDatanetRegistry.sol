// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ICommitments} from "./ICommitments.sol";

/// @title IDatanetRegistry
/// @notice Datanets are community datasets. Contributors stake OPEN on each contribution (a content hash plus a
/// URI); in a curated datanet curators accept or reject it, in an open datanet it is accepted on submission.
/// A contribution is registered by commit-reveal (ICommitments), so that copying a pending `contribute` gains nothing.
/// Weights: a curator sets each contribution's weight when accepting it; in an open datanet every contribution weighs
/// OPEN_DATANET_WEIGHT, never what the contributor declares. Owners and curators publish numbered, immutable
/// versions: the root of an OpenZeppelin StandardMerkleTree over every accepted contribution so far, in acceptance
/// order, with leaves
/// `(uint256 contributionId, address contributor, bytes32 contentHash, uint256 weight)`, which anyone can rebuild
/// from the ContributionSubmitted and ContributionAccepted events.
/// @dev Stakes: a pending stake is refunded on withdrawal or slashed to the datanet's treasury on rejection; an
/// accepted stake stays locked for the `stakeLockPeriod` in force at acceptance (so a contributor cannot spam and exit
/// at once; a later change of the period does not move its unlock time), then anyone may release it to its
/// contributor. The registry always holds exactly
/// `totalPendingStake + totalLockedStake` (tokens sent to it directly aside).
interface IDatanetRegistry is ICommitments {
    enum ContributionStatus {
        None,
        Pending,
        Accepted,
        Rejected,
        Withdrawn
    }

    struct Datanet {
        address owner;
        // Receives slashed stakes.
        address treasury;
        bool curated;
        uint128 minStake;
        uint64 acceptedCount;
        uint64 versionCount;
        uint256 totalWeight;
        string metadataURI;
        string license;
    }

    struct Contribution {
        uint256 datanetId;
        address contributor;
        ContributionStatus status;
        // As declared by the contributor; informational only, never a weight.
        uint64 sizeTokens;
        uint64 acceptedAt;
        // Stake still held by the registry for this contribution (zero once refunded, slashed or released).
        uint128 stake;
        // When an accepted stake may be released: acceptedAt plus the stakeLockPeriod in force at acceptance.
        uint64 unlocksAt;
        uint256 weight;
        bytes32 contentHash;
        string uri;
    }

    struct Version {
        bytes32 root;
        uint64 contributionCount;
        uint64 publishedAt;
        uint256 totalWeight;
    }

    struct CreateDatanetParams {
        string metadataURI;
        string license;
        bool curated;
        uint128 minStake;
        // Receives slashed stakes; the zero address means the creator.
        address treasury;
        address[] curators;
    }

    event DatanetCreated(
        uint256 indexed datanetId,
        address indexed owner,
        address treasury,
        bool curated,
        uint256 minStake,
        string metadataURI,
        string license
    );
    event DatanetMetadataUpdated(uint256 indexed datanetId, string metadataURI);
    event CuratorSet(uint256 indexed datanetId, address indexed curator, bool enabled);
    event ContributionSubmitted(
        uint256 indexed contributionId,
        uint256 indexed datanetId,
        address indexed contributor,
        bytes32 contentHash,
        string uri,
        uint256 sizeTokens,
        uint256 stake
    );
    /// @param acceptedIndex The contribution's position in the datanet's acceptance order (0-based).
    event ContributionAccepted(
        uint256 indexed contributionId,
        uint256 indexed datanetId,
        address indexed curator,
        uint256 weight,
        uint256 acceptedIndex
    );
    event ContributionRejected(
        uint256 indexed contributionId,
        uint256 indexed datanetId,
        address indexed curator,
        uint256 slashedStake
    );
    event ContributionWithdrawn(uint256 indexed contributionId, uint256 indexed datanetId, uint256 refundedStake);
    event StakeReleased(uint256 indexed contributionId, address indexed contributor, uint256 amount);
    event VersionPublished(
        uint256 indexed datanetId,
        uint256 indexed version,
        bytes32 root,
        uint256 contributionCount,
        uint256 totalWeight,
        address indexed publisher
    );
    event StakeLockPeriodSet(uint256 stakeLockPeriod);

    error ZeroAddress();
    error DatanetNotFound(uint256 datanetId);
    error NotDatanetOwner(uint256 datanetId, address account);
    error NotCurator(uint256 datanetId, address account);
    error EmptyContentHash();
    error EmptyURI();
    error ZeroSize();
    error ZeroWeight(uint256 contributionId);
    error StakeBelowMinimum(uint256 datanetId, uint256 stake, uint256 minStake);
    error DuplicateContribution(uint256 datanetId, bytes32 contentHash, uint256 existingContributionId);
    error ContributionNotFound(uint256 contributionId);
    error ContributionNotPending(uint256 contributionId, ContributionStatus status);
    error NotContributor(uint256 contributionId, address account);
    error StakeNotReleasable(uint256 contributionId, ContributionStatus status, uint256 stake);
    error StakeLocked(uint256 contributionId, uint256 unlockTime);
    error EmptyRoot();
    error NothingToPublish(uint256 datanetId, uint256 acceptedCount);
    error VersionNotFound(uint256 datanetId, uint256 version);
    error StakeLockPeriodTooLong(uint256 stakeLockPeriod, uint256 maxStakeLockPeriod);

    /// @notice Creates a datanet owned by the caller and returns its id (1-based).
    function createDatanet(CreateDatanetParams calldata params) external returns (uint256 datanetId);

    /// @notice Replaces a datanet's metadata URI. Only the datanet owner.
    function setMetadataURI(uint256 datanetId, string calldata metadataURI) external;

    /// @notice Adds or removes a curator. Only the datanet owner.
    function setCurator(uint256 datanetId, address curator, bool enabled) external;

    /// @notice Submits a contribution, taking `stake` OPEN from the caller (approved beforehand). The caller must
    /// have committed to `commitmentOf(caller, contentHash, salt)` in an earlier block; the commitment is used up.
    /// @param contentHash sha256 of the raw contribution bytes.
    /// @param sizeTokens Size in base-model tokens as the contributor declares it; informational, never a weight.
    /// @param salt The secret of the caller's commitment.
    function contribute(
        uint256 datanetId,
        bytes32 contentHash,
        string calldata uri,
        uint64 sizeTokens,
        uint128 stake,
        bytes32 salt
    ) external returns (uint256 contributionId);

    /// @notice `contribute`, with the stake approved by an EIP-2612 permit in the same transaction. A permit that
    /// was already used (front-run) is ignored; the allowance it set is what matters.
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
    ) external returns (uint256 contributionId);

    /// @notice Accepts a pending contribution with a weight. Only a curator or the datanet owner.
    function accept(uint256 contributionId, uint256 weight) external;

    /// @notice Rejects a pending contribution and slashes its stake to the datanet's treasury.
    /// Only a curator or the datanet owner.
    function reject(uint256 contributionId) external;

    /// @notice Withdraws the caller's own pending contribution and refunds its stake.
    function withdraw(uint256 contributionId) external;

    /// @notice Returns an accepted contribution's stake to its contributor once its lock has passed. Anyone may
    /// call; the funds always go to the contributor.
    function releaseStake(uint256 contributionId) external;

    /// @notice Publishes the next version: `root` over all contributions accepted so far. Only a curator or the
    /// datanet owner; at least one contribution must have been accepted since the previous version.
    function publishVersion(uint256 datanetId, bytes32 root) external returns (uint256 version);

    /// @notice Sets how long stakes accepted from now on stay locked. Only governance (the Timelock). Stakes accepted
    /// before keep the unlock time fixed at their acceptance; the period never exceeds MAX_STAKE_LOCK_PERIOD.
    function setStakeLockPeriod(uint256 stakeLockPeriod) external;

    function getDatanet(uint256 datanetId) external view returns (Datanet memory);
    function getContribution(uint256 contributionId) external view returns (Contribution memory);
    function getVersion(uint256 datanetId, uint256 version) external view returns (Version memory);
    function isPublishedVersion(uint256 datanetId, uint256 version) external view returns (bool);
    function isCurator(uint256 datanetId, address account) external view returns (bool);
    /// @notice The ids of accepted contributions in acceptance order, `offset` to `offset + limit` (clamped).
    function getAcceptedContributions(
        uint256 datanetId,
        uint256 offset,
        uint256 limit
    ) external view returns (uint256[] memory);
    function datanetCount() external view returns (uint256);
    function contributionCount() external view returns (uint256);
    function stakeLockPeriod() external view returns (uint256);
    function totalPendingStake() external view returns (uint256);
    function totalLockedStake() external view returns (uint256);
}
