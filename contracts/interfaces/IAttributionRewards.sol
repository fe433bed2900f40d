// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IAttributionRewards
/// @notice The reward pool for the data share of inference revenue. For each epoch the attestor proposes the root
/// of a cumulative distribution: an OpenZeppelin StandardMerkleTree with leaves `(address account, uint256
/// cumulativeAmount)`, plus the sha256 and URI of the full distribution file that anyone can recompute. A root
/// becomes claimable `claimDelay` seconds after its proposal; until then governance or the guardian may revoke it.
/// Claims are cumulative: an account receives its leaf amount minus what it already received; claim against the
/// newest claimable root, since all claims together never exceed the total of the root claimed against. Anyone may
/// claim on an account's behalf; the tokens always go to the account. The contract never pays out more than was
/// funded.
interface IAttributionRewards {
    struct EpochRoot {
        bytes32 root;
        // Sum of all leaves' cumulative amounts, as declared by the attestor; at most totalFunded when proposed.
        uint128 total;
        uint64 claimableAt;
        bool revoked;
        bytes32 contentHash;
    }

    event Funded(address indexed funder, uint256 amount, uint256 totalFunded);
    event RootProposed(
        uint256 indexed epoch,
        bytes32 root,
        uint256 total,
        bytes32 contentHash,
        string uri,
        uint256 claimableAt
    );
    event RootRevoked(uint256 indexed epoch, address indexed by);
    event Claimed(uint256 indexed epoch, address indexed account, uint256 amount, uint256 cumulativeAmount);
    event AttestorSet(address attestor);
    event GuardianSet(address guardian);
    event ClaimDelaySet(uint256 claimDelay);

    error ZeroAddress();
    error ZeroAmount();
    error EmptyRoot();
    error NotAttestor(address account);
    error NotGovernanceOrGuardian(address account);
    error EpochOutOfOrder(uint256 epoch, uint256 expectedEpoch);
    error TotalDecreased(uint256 total, uint256 previousTotal);
    error TotalExceedsFunded(uint256 total, uint256 totalFunded);
    error EpochNotFound(uint256 epoch);
    error RootNotPending(uint256 epoch);
    error NotLatestEpoch(uint256 epoch, uint256 lastEpoch);
    error FundingOverflow(uint256 amount, uint256 totalFunded);
    error RootNotClaimable(uint256 epoch, uint256 claimableAt);
    error RootIsRevoked(uint256 epoch);
    error InvalidProof(uint256 epoch, address account, uint256 cumulativeAmount);
    error NothingToClaim(address account, uint256 cumulativeAmount, uint256 claimed);
    error ClaimExceedsRootTotal(uint256 epoch, uint256 totalClaimed, uint256 rootTotal);
    error LengthMismatch(uint256 accounts, uint256 amounts, uint256 proofs);
    error ClaimDelayTooLong(uint256 claimDelay, uint256 maxClaimDelay);

    /// @notice Adds `amount` OPEN from the caller to the pool (InferencePayments funds the data share here).
    function fund(uint256 amount) external;

    /// @notice Proposes the root of epoch `epoch`, which must follow the last proposed (unrevoked) epoch. Only the
    /// attestor. `total` may not decrease across epochs nor exceed what has been funded.
    function proposeRoot(uint256 epoch, bytes32 root, uint256 total, bytes32 contentHash, string calldata uri) external;

    /// @notice Revokes the newest root while it is not yet claimable; the attestor may then propose that epoch again.
    /// Only governance (the Timelock) or the guardian.
    function revokeRoot(uint256 epoch) external;

    /// @notice Pays `account` the difference between its cumulative amount in epoch `epoch`'s tree and what it has
    /// received so far. Anyone may call.
    function claim(uint256 epoch, address account, uint256 cumulativeAmount, bytes32[] calldata proof) external;

    /// @notice `claim` for several accounts against one epoch's root.
    function claimBatch(
        uint256 epoch,
        address[] calldata accounts,
        uint256[] calldata cumulativeAmounts,
        bytes32[][] calldata proofs
    ) external;

    function setAttestor(address attestor) external;
    function setGuardian(address guardian) external;
    function setClaimDelay(uint64 claimDelay) external;

    function getEpochRoot(uint256 epoch) external view returns (EpochRoot memory);
    function claimed(address account) external view returns (uint256);
    function totalFunded() external view returns (uint128);
    function totalClaimed() external view returns (uint128);
    function lastEpoch() external view returns (uint256);
    function attestor() external view returns (address);
    function guardian() external view returns (address);
    function claimDelay() external view returns (uint64);
}
