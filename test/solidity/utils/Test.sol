// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {vm} from "./Vm.sol";

/// @notice Bounds and assertions shared by tests and handlers. Every failed assertion reverts with a message
/// naming what was compared and both values, which is what the EDR runner reports.
abstract contract Assertions {
    using Strings for uint256;
    using Strings for address;

    function fail(string memory message) internal pure {
        revert(message);
    }

    function assertTrue(bool condition, string memory what) internal pure {
        if (!condition) revert(string.concat("assertTrue failed: ", what));
    }

    function assertFalse(bool condition, string memory what) internal pure {
        if (condition) revert(string.concat("assertFalse failed: ", what));
    }

    function assertEq(uint256 left, uint256 right, string memory what) internal pure {
        if (left != right) {
            revert(string.concat("assertEq failed: ", what, ": ", left.toString(), " != ", right.toString()));
        }
    }

    function assertEq(address left, address right, string memory what) internal pure {
        if (left != right) {
            revert(string.concat("assertEq failed: ", what, ": ", left.toHexString(), " != ", right.toHexString()));
        }
    }

    function assertEq(bytes32 left, bytes32 right, string memory what) internal pure {
        if (left != right) {
            revert(
                string.concat(
                    "assertEq failed: ",
                    what,
                    ": ",
                    uint256(left).toHexString(32),
                    " != ",
                    uint256(right).toHexString(32)
                )
            );
        }
    }

    function assertEq(bool left, bool right, string memory what) internal pure {
        if (left != right) {
            revert(
                string.concat(
                    "assertEq failed: ",
                    what,
                    ": ",
                    left ? "true" : "false",
                    " != ",
                    right ? "true" : "false"
                )
            );
        }
    }

    function assertEq(string memory left, string memory right, string memory what) internal pure {
        if (keccak256(bytes(left)) != keccak256(bytes(right))) {
            revert(string.concat("assertEq failed: ", what, ': "', left, '" != "', right, '"'));
        }
    }

    function assertLe(uint256 left, uint256 right, string memory what) internal pure {
        if (left > right) {
            revert(string.concat("assertLe failed: ", what, ": ", left.toString(), " > ", right.toString()));
        }
    }

    /// @dev Maps `x` into [min, max] (inclusive) without discarding fuzz inputs.
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        if (x >= min && x <= max) return x;
        uint256 size = max - min;
        if (size == type(uint256).max) return x;
        return min + (x % (size + 1));
    }
}

/// @notice A minimal forge-std-like base: assertions, `bound`, and the StdInvariant target list
/// (`targetContracts()`), which Hardhat's EDR runner reads to pick the contracts an invariant campaign calls.
abstract contract Test is Assertions {
    address[] private _targetContracts;

    function targetContract(address target) internal {
        _targetContracts.push(target);
    }

    function targetContracts() public view returns (address[] memory) {
        return _targetContracts;
    }

    /// @dev Lets the test contract receive ERC-721 tokens from `_safeMint`.
    function onERC721Received(address, address, uint256, bytes calldata) external pure returns (bytes4) {
        return this.onERC721Received.selector;
    }
}
