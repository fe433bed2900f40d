// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IAttributionRewards} from "./interfaces/IAttributionRewards.sol";

/// @title AttributionRewards
/// @notice Epoch roots of cumulative reward distributions and the claims against them.
/// @dev The owner (the Timelock) appoints the attestor and the guardian and sets the claim delay.
contract AttributionRewards is IAttributionRewards, Ownable {
    using SafeERC20 for IERC20;

    uint64 public constant MAX_CLAIM_DELAY = 30 days;

    IERC20 public immutable token;

    // One slot: funded and claimed are read and written together on every claim.
    uint128 public totalFunded;
    uint128 public totalClaimed;
    uint256 public lastEpoch;
    address public attestor;
    address public guardian;
    uint64 public claimDelay;

    mapping(uint256 epoch => EpochRoot) internal _roots;
    mapping(address account => uint256) public claimed;

    constructor(
        IERC20 token_,
        address governance,
        address attestor_,
        address guardian_,
        uint64 claimDelay_
    ) Ownable(governance) {
        if (address(token_) == address(0)) revert ZeroAddress();
        token = token_;
        _setAttestor(attestor_);
        _setGuardian(guardian_);
        _setClaimDelay(claimDelay_);
    }

    /// @inheritdoc IAttributionRewards
    function fund(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint256 funded = uint256(totalFunded) + amount;
        // The whole OPEN supply (1e27) fits in 128 bits: only a bogus amount gets here.
        if (funded > type(uint128).max) revert FundingOverflow(amount, totalFunded);
        // The cast is safe: checked just above.
        totalFunded = uint128(funded);
        emit Funded(msg.sender, amount, funded);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IAttributionRewards
    function proposeRoot(
        uint256 epoch,
        bytes32 root,
        uint256 total,
        bytes32 contentHash,
        string calldata uri
    ) external {
        if (msg.sender != attestor) revert NotAttestor(msg.sender);
        if (root == bytes32(0)) revert EmptyRoot();
        uint256 previous = lastEpoch;
        if (epoch != previous + 1) revert EpochOutOfOrder(epoch, previous + 1);
        uint256 previousTotal = previous == 0 ? 0 : _roots[previous].total;
        if (total < previousTotal) revert TotalDecreased(total, previousTotal);
        if (total > totalFunded) revert TotalExceedsFunded(total, totalFunded);

        // Timestamps fit in 64 bits for the next 500 billion years.
        uint64 claimableAt = uint64(block.timestamp) + claimDelay;
        lastEpoch = epoch;
        // The cast is safe: total <= totalFunded, a uint128.
        _roots[epoch] = EpochRoot({
            root: root,
            total: uint128(total),
            claimableAt: claimableAt,
            revoked: false,
            contentHash: contentHash
        });
        emit RootProposed(epoch, root, total, contentHash, uri, claimableAt);
    }

    /// @inheritdoc IAttributionRewards
    function revokeRoot(uint256 epoch) external {
        if (msg.sender != owner() && msg.sender != guardian) revert NotGovernanceOrGuardian(msg.sender);
        EpochRoot storage epochRoot = _roots[epoch];
        if (epochRoot.root == bytes32(0)) revert EpochNotFound(epoch);
        if (epochRoot.revoked || block.timestamp >= epochRoot.claimableAt) revert RootNotPending(epoch);
        // Newest first, so that epochs stay consecutive: a later root builds on the one before it.
        if (epoch != lastEpoch) revert NotLatestEpoch(epoch, lastEpoch);

        epochRoot.revoked = true;
        // The attestor proposes this epoch number again.
        lastEpoch = epoch - 1;
        emit RootRevoked(epoch, msg.sender);
    }

    /// @inheritdoc IAttributionRewards
    function claim(uint256 epoch, address account, uint256 cumulativeAmount, bytes32[] calldata proof) external {
        (bytes32 root, uint256 rootTotal) = _claimableRoot(epoch);
        uint256 amount = _claim(epoch, root, account, cumulativeAmount, proof);
        _addClaimed(epoch, amount, rootTotal);
        token.safeTransfer(account, amount);
    }

    /// @inheritdoc IAttributionRewards
    function claimBatch(
        uint256 epoch,
        address[] calldata accounts,
        uint256[] calldata cumulativeAmounts,
        bytes32[][] calldata proofs
    ) external {
        uint256 count = accounts.length;
        if (cumulativeAmounts.length != count || proofs.length != count) {
            revert LengthMismatch(count, cumulativeAmounts.length, proofs.length);
        }
        (bytes32 root, uint256 rootTotal) = _claimableRoot(epoch);
        uint256 amounts;
        uint256[] memory paid = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            paid[i] = _claim(epoch, root, accounts[i], cumulativeAmounts[i], proofs[i]);
            amounts += paid[i];
        }
        _addClaimed(epoch, amounts, rootTotal);
        for (uint256 i; i < count; ++i) {
            token.safeTransfer(accounts[i], paid[i]);
        }
    }

    function setAttestor(address attestor_) external onlyOwner {
        _setAttestor(attestor_);
    }

    function setGuardian(address guardian_) external onlyOwner {
        _setGuardian(guardian_);
    }

    function setClaimDelay(uint64 claimDelay_) external onlyOwner {
        _setClaimDelay(claimDelay_);
    }

    /// @inheritdoc IAttributionRewards
    function getEpochRoot(uint256 epoch) external view returns (EpochRoot memory epochRoot) {
        epochRoot = _roots[epoch];
        if (epochRoot.root == bytes32(0)) revert EpochNotFound(epoch);
    }

    /// @dev Effects only: records the claim and returns the amount owed; the caller pays it.
    function _claim(
        uint256 epoch,
        bytes32 root,
        address account,
        uint256 cumulativeAmount,
        bytes32[] calldata proof
    ) internal returns (uint256 amount) {
        // StandardMerkleTree leaf: double-hashed so that no inner node can pass for a leaf.
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount))));
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert InvalidProof(epoch, account, cumulativeAmount);
        uint256 already = claimed[account];
        if (cumulativeAmount <= already) revert NothingToClaim(account, cumulativeAmount, already);

        claimed[account] = cumulativeAmount;
        // Cannot underflow: checked just above.
        unchecked {
            amount = cumulativeAmount - already;
        }
        emit Claimed(epoch, account, amount, cumulativeAmount);
    }

    /// @dev Roots are cumulative, so everything ever paid is bounded by the total of the root claimed against; that
    /// total was at most totalFunded when proposed, so a root whose leaves overstate it cannot spend other epochs'
    /// funding.
    function _addClaimed(uint256 epoch, uint256 amount, uint256 rootTotal) internal {
        uint256 claimedTotal = totalClaimed + amount;
        if (claimedTotal > rootTotal) revert ClaimExceedsRootTotal(epoch, claimedTotal, rootTotal);
        // The cast is safe: claimedTotal <= rootTotal, a uint128.
        totalClaimed = uint128(claimedTotal);
    }

    function _claimableRoot(uint256 epoch) internal view returns (bytes32 root, uint256 rootTotal) {
        EpochRoot storage epochRoot = _roots[epoch];
        root = epochRoot.root;
        rootTotal = epochRoot.total;
        if (root == bytes32(0)) revert EpochNotFound(epoch);
        if (epochRoot.revoked) revert RootIsRevoked(epoch);
        if (block.timestamp < epochRoot.claimableAt) revert RootNotClaimable(epoch, epochRoot.claimableAt);
    }

    function _setAttestor(address attestor_) internal {
        if (attestor_ == address(0)) revert ZeroAddress();
        attestor = attestor_;
        emit AttestorSet(attestor_);
    }

    function _setGuardian(address guardian_) internal {
        if (guardian_ == address(0)) revert ZeroAddress();
        guardian = guardian_;
        emit GuardianSet(guardian_);
    }

    function _setClaimDelay(uint64 claimDelay_) internal {
        if (claimDelay_ > MAX_CLAIM_DELAY) revert ClaimDelayTooLong(claimDelay_, MAX_CLAIM_DELAY);
        claimDelay = claimDelay_;
        emit ClaimDelaySet(claimDelay_);
    }
}
