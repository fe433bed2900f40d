// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {IOpenToken} from "./interfaces/IOpenToken.sol";

/// @title OpenToken
/// @notice The OPEN token: a fixed supply minted once to the genesis treasury, with EIP-2612 permit and
/// ERC20Votes checkpoints on a timestamp clock (ERC-6372), so governance periods are measured in seconds.
contract OpenToken is IOpenToken, ERC20, ERC20Permit, ERC20Votes {
    /// @inheritdoc IOpenToken
    uint256 public constant TOTAL_SUPPLY = 1_000_000_000e18;

    constructor(address treasury) ERC20("Open", "OPEN") ERC20Permit("Open") {
        if (treasury == address(0)) revert ZeroTreasury();
        _mint(treasury, TOTAL_SUPPLY);
    }

    /// @notice The voting clock: the block timestamp (ERC-6372).
    function clock() public view override returns (uint48) {
        // Timestamps fit in 48 bits until the year 8.9 million.
        return uint48(block.timestamp);
    }

    /// @notice Describes the clock used for checkpoints (ERC-6372).
    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() public pure override returns (string memory) {
        return "mode=timestamp";
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }

    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }
}
