// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IAttributionRewards} from "../interfaces/IAttributionRewards.sol";

/// @title ClaimFloor
/// @notice Benchmark reference, never deployed by the protocol: the least a Merkle claim against OPEN can do. One
/// root slot, a claimed-flag word shared by eight indices, one event, one transfer; no claim delay, no revocation,
/// no cumulative amounts, no bound on what a root pays. bench/gas.ts measures its gas beside AttributionRewards'
/// so that the claim target can be judged against what any claim costs with this token.
contract ClaimFloor {
    using SafeERC20 for IERC20;

    IERC20 public immutable token;
    mapping(uint256 epoch => bytes32 root) public roots;
    mapping(uint256 word => uint256 claimedEpochs) public claimedWords;

    error InvalidProof(uint256 epoch, uint256 index);
    error AlreadyClaimed(uint256 index);

    constructor(IERC20 token_) {
        token = token_;
    }

    /// @dev Unrestricted: a benchmark fixture holds only what the benchmark sends it.
    function setRoot(uint256 epoch, bytes32 root) external {
        roots[epoch] = root;
    }

    function claim(uint256 epoch, uint256 index, address account, uint256 amount, bytes32[] calldata proof) external {
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(index, account, amount))));
        if (!MerkleProof.verifyCalldata(proof, roots[epoch], leaf)) revert InvalidProof(epoch, index);
        uint256 wordIndex = index >> 3;
        uint256 word = claimedWords[wordIndex];
        uint256 shift = (index & 7) << 5;
        if ((word >> shift) & 0xffffffff != 0) revert AlreadyClaimed(index);
        claimedWords[wordIndex] = word | (epoch << shift);
        emit IAttributionRewards.Claimed(epoch, account, index, amount, amount);
        token.safeTransfer(account, amount);
    }
}
