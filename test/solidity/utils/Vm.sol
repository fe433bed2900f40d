// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice The few Foundry cheatcodes these tests use, as served by Hardhat's EDR Solidity test runner at the
/// standard cheatcode address (forge-std's `Vm` is not available offline).
interface Vm {
    function prank(address msgSender) external;
    function startPrank(address msgSender) external;
    function stopPrank() external;
    function warp(uint256 newTimestamp) external;
    function roll(uint256 newHeight) external;
    function expectRevert() external;
    function expectRevert(bytes4 revertData) external;
    function expectRevert(bytes calldata revertData) external;
    function assume(bool condition) external pure;
    function addr(uint256 privateKey) external pure returns (address keyAddr);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function label(address account, string calldata newLabel) external;
    function skip(bool skipTest, string calldata reason) external;
}

Vm constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
