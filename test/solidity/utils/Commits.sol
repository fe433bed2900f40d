// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ICommitments} from "../../../contracts/interfaces/ICommitments.sol";
import {vm} from "./Vm.sol";

/// @notice The commit step of the registries' commit-reveal (ICommitments), for tests and handlers: commits for a
/// submitter with a deterministic salt, then rolls one block so that the reveal may follow.
library Commits {
    /// @dev The salt `submitter` uses for `hash`: deterministic, so that a test can rebuild it.
    function saltOf(address submitter, bytes32 hash) internal pure returns (bytes32) {
        return keccak256(abi.encode("OpenPoA test salt", submitter, hash));
    }

    /// @dev Commits `submitter` to registering `hash` at `registry` (pranking `submitter` unless it is the calling
    /// contract itself) and rolls one block. Returns the salt to reveal with. Not for use under `vm.startPrank`,
    /// and never between `vm.expectRevert` and the call expected to revert: it makes calls of its own.
    function commit(ICommitments registry, address submitter, bytes32 hash) internal returns (bytes32 salt) {
        salt = commitInThisBlock(registry, submitter, hash);
        vm.roll(block.number + 1);
    }

    /// @dev `commit` without the roll: the commitment cannot be revealed before the next block.
    function commitInThisBlock(ICommitments registry, address submitter, bytes32 hash) internal returns (bytes32 salt) {
        salt = saltOf(submitter, hash);
        bytes32 commitment = registry.commitmentOf(submitter, hash, salt);
        if (submitter != address(this)) vm.prank(submitter);
        registry.commit(commitment);
    }
}
