// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IOpenToken
/// @notice The OPEN token: ERC-20 with EIP-2612 permit and ERC20Votes on a timestamp clock. The whole supply
/// is minted once, at deployment, to the genesis treasury; there is no mint function afterwards.
interface IOpenToken {
    /// @notice The genesis treasury passed at deployment was the zero address.
    error ZeroTreasury();

    /// @notice The fixed total supply: 1,000,000,000 OPEN with 18 decimals.
    function TOTAL_SUPPLY() external view returns (uint256);
}
