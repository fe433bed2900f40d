// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";

/// @title NodeRegistry
/// @notice Registered, staked inference operators.
/// @dev The owner (the Timelock) sets the minimum stake, the unbonding and freeze periods, the treasury and the
/// guardian, and slashes; the guardian freezes.
contract NodeRegistry is INodeRegistry, Ownable {
    using SafeERC20 for IERC20;

    uint64 public constant MAX_UNBONDING_PERIOD = 90 days;
    /// @notice A freeze must outlast a governance vote and is bounded so that a guardian cannot lock stake for long.
    uint64 public constant MIN_FREEZE_PERIOD = 1 days;
    uint64 public constant MAX_FREEZE_PERIOD = 30 days;

    IERC20 public immutable token;

    uint128 public minStake;
    uint64 public unbondingPeriod;
    uint64 public freezePeriod;
    address public treasury;
    address public guardian;
    /// @notice Bonded plus unbonding stake of every operator: what this contract holds.
    uint256 public totalStaked;

    mapping(address operator => Operator) internal _operators;

    constructor(
        IERC20 token_,
        address governance,
        address treasury_,
        address guardian_,
        uint128 minStake_,
        uint64 unbondingPeriod_,
        uint64 freezePeriod_
    ) Ownable(governance) {
        if (address(token_) == address(0)) revert ZeroAddress();
        token = token_;
        _setTreasury(treasury_);
        _setGuardian(guardian_);
        _setMinStake(minStake_);
        _setUnbondingPeriod(unbondingPeriod_);
        _setFreezePeriod(freezePeriod_);
    }

    /// @inheritdoc INodeRegistry
    function register(
        string calldata endpoint,
        uint256[] calldata baseModelIds,
        address signingKey,
        uint128 stake
    ) external {
        Operator storage operator = _operators[msg.sender];
        if (operator.registered) revert AlreadyRegistered(msg.sender);
        _checkProfile(endpoint, baseModelIds, signingKey);

        operator.registered = true;
        operator.signingKey = signingKey;
        operator.endpoint = endpoint;
        operator.baseModelIds = baseModelIds;
        emit OperatorRegistered(msg.sender, signingKey, endpoint, baseModelIds);

        if (stake != 0) _bond(operator, stake);
    }

    /// @inheritdoc INodeRegistry
    function update(string calldata endpoint, uint256[] calldata baseModelIds, address signingKey) external {
        Operator storage operator = _registered(msg.sender);
        _checkProfile(endpoint, baseModelIds, signingKey);
        operator.signingKey = signingKey;
        operator.endpoint = endpoint;
        operator.baseModelIds = baseModelIds;
        emit OperatorUpdated(msg.sender, signingKey, endpoint, baseModelIds);
    }

    /// @inheritdoc INodeRegistry
    function addStake(uint128 amount) external {
        if (amount == 0) revert ZeroAmount();
        _bond(_registered(msg.sender), amount);
    }

    /// @inheritdoc INodeRegistry
    function requestUnbond(uint128 amount) external {
        Operator storage operator = _registered(msg.sender);
        if (amount == 0) revert ZeroAmount();
        if (amount > operator.bonded) revert InsufficientBond(msg.sender, amount, operator.bonded);

        operator.bonded -= amount;
        operator.unbonding += amount;
        // Timestamps fit in 64 bits for the next 500 billion years.
        uint64 releaseTime = uint64(block.timestamp) + unbondingPeriod;
        // The whole sum releases together, never before the time already fixed for what was unbonding: a shorter
        // period set by governance meanwhile must not pull earlier unbonds forward (they were fixed when made).
        uint64 previousReleaseTime = operator.unbondingReleaseTime;
        if (operator.unbonding != amount && releaseTime < previousReleaseTime) releaseTime = previousReleaseTime;
        operator.unbondingReleaseTime = releaseTime;
        emit UnbondRequested(msg.sender, amount, operator.unbonding, releaseTime);
    }

    /// @inheritdoc INodeRegistry
    function withdrawUnbonded() external {
        Operator storage operator = _registered(msg.sender);
        uint256 amount = operator.unbonding;
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        if (block.timestamp < operator.unbondingReleaseTime) {
            revert StakeStillUnbonding(msg.sender, operator.unbondingReleaseTime);
        }
        if (block.timestamp < operator.frozenUntil) revert OperatorIsFrozen(msg.sender, operator.frozenUntil);

        operator.unbonding = 0;
        totalStaked -= amount;
        emit StakeWithdrawn(msg.sender, amount);

        token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc INodeRegistry
    function slash(address operatorAddress, uint128 amount) external onlyOwner {
        Operator storage operator = _registered(operatorAddress);
        if (amount == 0) revert ZeroAmount();
        uint128 fromBonded = amount < operator.bonded ? amount : operator.bonded;
        uint128 rest = amount - fromBonded;
        uint128 fromUnbonding = rest < operator.unbonding ? rest : operator.unbonding;

        operator.bonded -= fromBonded;
        operator.unbonding -= fromUnbonding;
        uint256 slashed = uint256(fromBonded) + fromUnbonding;
        totalStaked -= slashed;
        emit OperatorSlashed(operatorAddress, fromBonded, fromUnbonding, treasury);

        if (slashed != 0) token.safeTransfer(treasury, slashed);
    }

    /// @inheritdoc INodeRegistry
    function freeze(address operatorAddress) external {
        if (msg.sender != owner() && msg.sender != guardian) revert NotGovernanceOrGuardian(msg.sender);
        Operator storage operator = _registered(operatorAddress);
        // One freeze at a time: renewing it is governance's call (a vote that slashes, or a new guardian).
        if (block.timestamp < operator.frozenUntil) revert AlreadyFrozen(operatorAddress, operator.frozenUntil);

        // Timestamps fit in 64 bits for the next 500 billion years.
        uint64 frozenUntil = uint64(block.timestamp) + freezePeriod;
        operator.frozenUntil = frozenUntil;
        emit OperatorFrozen(operatorAddress, frozenUntil, msg.sender);
    }

    /// @inheritdoc INodeRegistry
    function unfreeze(address operatorAddress) external onlyOwner {
        Operator storage operator = _registered(operatorAddress);
        if (block.timestamp >= operator.frozenUntil) revert NotFrozen(operatorAddress);
        operator.frozenUntil = 0;
        emit OperatorUnfrozen(operatorAddress);
    }

    function setMinStake(uint128 minStake_) external onlyOwner {
        _setMinStake(minStake_);
    }

    function setUnbondingPeriod(uint64 unbondingPeriod_) external onlyOwner {
        _setUnbondingPeriod(unbondingPeriod_);
    }

    function setTreasury(address treasury_) external onlyOwner {
        _setTreasury(treasury_);
    }

    function setGuardian(address guardian_) external onlyOwner {
        _setGuardian(guardian_);
    }

    function setFreezePeriod(uint64 freezePeriod_) external onlyOwner {
        _setFreezePeriod(freezePeriod_);
    }

    /// @inheritdoc INodeRegistry
    function isActive(address operator) external view returns (bool) {
        Operator storage record = _operators[operator];
        return record.registered && record.bonded >= minStake && block.timestamp >= record.frozenUntil;
    }

    /// @inheritdoc INodeRegistry
    function getOperator(address operator) external view returns (Operator memory) {
        return _registered(operator);
    }

    /// @inheritdoc INodeRegistry
    function signingKeyOf(address operator) external view returns (address) {
        return _registered(operator).signingKey;
    }

    function _bond(Operator storage operator, uint128 amount) internal {
        operator.bonded += amount;
        totalStaked += amount;
        emit StakeAdded(msg.sender, amount, operator.bonded);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    function _registered(address operator) internal view returns (Operator storage record) {
        record = _operators[operator];
        if (!record.registered) revert NotRegistered(operator);
    }

    function _checkProfile(
        string calldata endpoint,
        uint256[] calldata baseModelIds,
        address signingKey
    ) internal pure {
        if (bytes(endpoint).length == 0) revert EmptyEndpoint();
        if (baseModelIds.length == 0) revert NoBaseModels();
        if (signingKey == address(0)) revert ZeroAddress();
    }

    function _setMinStake(uint128 minStake_) internal {
        minStake = minStake_;
        emit MinStakeSet(minStake_);
    }

    function _setUnbondingPeriod(uint64 unbondingPeriod_) internal {
        if (unbondingPeriod_ > MAX_UNBONDING_PERIOD) {
            revert UnbondingPeriodTooLong(unbondingPeriod_, MAX_UNBONDING_PERIOD);
        }
        unbondingPeriod = unbondingPeriod_;
        emit UnbondingPeriodSet(unbondingPeriod_);
    }

    function _setTreasury(address treasury_) internal {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    function _setGuardian(address guardian_) internal {
        if (guardian_ == address(0)) revert ZeroAddress();
        guardian = guardian_;
        emit GuardianSet(guardian_);
    }

    function _setFreezePeriod(uint64 freezePeriod_) internal {
        if (freezePeriod_ < MIN_FREEZE_PERIOD || freezePeriod_ > MAX_FREEZE_PERIOD) {
            revert FreezePeriodOutOfRange(freezePeriod_, MIN_FREEZE_PERIOD, MAX_FREEZE_PERIOD);
        }
        freezePeriod = freezePeriod_;
        emit FreezePeriodSet(freezePeriod_);
    }
}
