// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title ICommitments
/// @notice Commit-reveal for first-come registrations whose hash must be unique (contributions, model artifacts):
/// without it, whoever copies the pending transaction with a higher fee becomes the registrant of record. The
/// submitter first commits to `commitmentOf(submitter, hash, salt)`, which reveals nothing of the hash, then
/// registers in a later block with `hash` and `salt`. A copy of the registering transaction fails (the commitment
/// binds the submitter), and a copier's own commitment, made after seeing the hash, cannot be revealed before the
/// next block, by which time the original has landed. A registering transaction left waiting in the mempool for more
/// than a block can still be raced that way: send it with an ordinary fee (the CLI does, right after the commitment).
interface ICommitments {
    event Committed(bytes32 indexed commitment);

    /// @notice `commitment` was never made, or was already used.
    error CommitmentNotFound(bytes32 commitment);
    /// @notice `commitment` was made in block `committedAt`, the current one; reveal it in a later block.
    error CommitmentTooRecent(bytes32 commitment, uint256 committedAt);

    /// @notice Commits to a registration to be revealed in a later block. Committing again keeps the first block.
    function commit(bytes32 commitment) external;

    /// @notice The commitment `submitter` makes before registering `hash` with the secret `salt`:
    /// `keccak256(abi.encode(submitter, hash, salt))`.
    function commitmentOf(address submitter, bytes32 hash, bytes32 salt) external pure returns (bytes32);

    /// @notice The block in which `commitment` was made; zero if never made or already used.
    function commitments(bytes32 commitment) external view returns (uint256 blockNumber);
}
