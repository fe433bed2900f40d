// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title INodeRegistry
/// @notice Inference operators: an endpoint, the base models served, the key that signs usage receipts, and an
/// OPEN stake. An operator is active (may receive new payment channels) while its bonded stake is at least the
/// governed minimum. Unbonding moves stake out of the bond at once and releases it after the governed unbonding
/// period; governance may slash bonded and unbonding stake to the treasury.
///
/// A slash takes a governance vote (voting delay, voting period, timelock: about ten days with the deployed defaults),
/// which must be able to land before an unbond completes. Two guards: the deployment refuses an unbonding period not
/// longer than that path, and the guardian may freeze an operator at once, for `freezePeriod`: a frozen operator is
/// not active and cannot withdraw, so its whole stake stays slashable while the vote runs. Only governance unfreezes
/// early; a guardian that abuses freezing is replaced by governance.
interface INodeRegistry {
    struct Operator {
        // The key whose EIP-712 signatures on usage receipts clients accept for this operator.
        address signingKey;
        uint128 bonded;
        uint128 unbonding;
        uint64 unbondingReleaseTime;
        // Zero, or the end of the guardian's freeze.
        uint64 frozenUntil;
        bool registered;
        string endpoint;
        uint256[] baseModelIds;
    }

    event OperatorRegistered(
        address indexed operator,
        address indexed signingKey,
        string endpoint,
        uint256[] baseModelIds
    );
    event OperatorUpdated(
        address indexed operator,
        address indexed signingKey,
        string endpoint,
        uint256[] baseModelIds
    );
    event StakeAdded(address indexed operator, uint256 amount, uint256 bonded);
    event UnbondRequested(address indexed operator, uint256 amount, uint256 unbonding, uint256 releaseTime);
    event StakeWithdrawn(address indexed operator, uint256 amount);
    event OperatorSlashed(address indexed operator, uint256 fromBonded, uint256 fromUnbonding, address treasury);
    event OperatorFrozen(address indexed operator, uint256 frozenUntil, address indexed by);
    event OperatorUnfrozen(address indexed operator);
    event MinStakeSet(uint256 minStake);
    event UnbondingPeriodSet(uint256 unbondingPeriod);
    event TreasurySet(address treasury);
    event GuardianSet(address guardian);
    event FreezePeriodSet(uint256 freezePeriod);

    error ZeroAddress();
    error EmptyEndpoint();
    error NoBaseModels();
    error ZeroAmount();
    error AlreadyRegistered(address operator);
    error NotRegistered(address operator);
    error InsufficientBond(address operator, uint256 requested, uint256 bonded);
    error NothingToWithdraw(address operator);
    error StakeStillUnbonding(address operator, uint256 releaseTime);
    error UnbondingPeriodTooLong(uint256 unbondingPeriod, uint256 maxUnbondingPeriod);
    error NotGovernanceOrGuardian(address account);
    error AlreadyFrozen(address operator, uint256 frozenUntil);
    error NotFrozen(address operator);
    error OperatorIsFrozen(address operator, uint256 frozenUntil);
    error FreezePeriodOutOfRange(uint256 freezePeriod, uint256 minFreezePeriod, uint256 maxFreezePeriod);

    /// @notice Registers the caller as an operator and bonds `stake` OPEN (approved beforehand). The stake may be
    /// below the minimum; the operator is active once it is not.
    function register(
        string calldata endpoint,
        uint256[] calldata baseModelIds,
        address signingKey,
        uint128 stake
    ) external;

    /// @notice Replaces the caller's endpoint, base models and signing key.
    function update(string calldata endpoint, uint256[] calldata baseModelIds, address signingKey) external;

    /// @notice Bonds more OPEN from the caller.
    function addStake(uint128 amount) external;

    /// @notice Moves `amount` from the bond into unbonding; the whole unbonding sum then releases together, at
    /// `now + unbondingPeriod` or at the release time already fixed for it, whichever is later.
    function requestUnbond(uint128 amount) external;

    /// @notice Pays the caller's unbonded stake once its release time has passed and the caller is not frozen.
    function withdrawUnbonded() external;

    /// @notice Freezes `operator` for `freezePeriod`: it is not active and cannot withdraw, pending a governance
    /// vote on a slash. Only the guardian or governance; not while already frozen.
    function freeze(address operator) external;

    /// @notice Lifts a freeze early. Only governance (the Timelock).
    function unfreeze(address operator) external;

    /// @notice Slashes up to `amount`, bonded stake first, to the treasury. Only governance (the Timelock).
    function slash(address operator, uint128 amount) external;

    function setMinStake(uint128 minStake) external;
    function setUnbondingPeriod(uint64 unbondingPeriod) external;
    function setTreasury(address treasury) external;
    function setGuardian(address guardian) external;
    function setFreezePeriod(uint64 freezePeriod) external;

    /// @notice Whether `operator` is registered with a bond of at least `minStake`, and not frozen.
    function isActive(address operator) external view returns (bool);
    function getOperator(address operator) external view returns (Operator memory);
    function signingKeyOf(address operator) external view returns (address);
    function minStake() external view returns (uint128);
    function unbondingPeriod() external view returns (uint64);
    function treasury() external view returns (address);
    function guardian() external view returns (address);
    function freezePeriod() external view returns (uint64);
    function totalStaked() external view returns (uint256);
}
