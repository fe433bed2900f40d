// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ICommitments} from "../interfaces/ICommitments.sol";

/// @title Commitments
/// @notice The commit-reveal step of ICommitments, shared by the registries.
abstract contract Commitments is ICommitments {
    /// @inheritdoc ICommitments
    mapping(bytes32 commitment => uint256 blockNumber) public commitments;

    /// @inheritdoc ICommitments
    function commit(bytes32 commitment) external {
        // An existing commitment keeps its block: nobody can make another's commitment younger.
        if (commitments[commitment] == 0) commitments[commitment] = block.number;
        emit Committed(commitment);
    }

    /// @inheritdoc ICommitments
    function commitmentOf(address submitter, bytes32 hash, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(submitter, hash, salt));
    }

    /// @dev Uses up the caller's commitment to `hash`; reverts unless it was made in an earlier block.
    function _reveal(bytes32 hash, bytes32 salt) internal {
        bytes32 commitment = commitmentOf(msg.sender, hash, salt);
        uint256 committedAt = commitments[commitment];
        if (committedAt == 0) revert CommitmentNotFound(commitment);
        if (committedAt >= block.number) revert CommitmentTooRecent(commitment, committedAt);
        delete commitments[commitment];
    }
}
