// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {Test} from "./Test.sol";

/// @notice The file cheatcode used here only, served at the same address as `Vm`.
// solhint-disable-next-line interface-starts-with-i
interface VmPaths {
    function writeLine(string calldata path, string calldata data) external;
}

VmPaths constant vmPaths = VmPaths(address(uint160(uint256(keccak256("hevm cheat code")))));

/// @notice Reachability counters for an invariant handler. The handler declares, in its constructor, every path its
/// actions can take (an outcome: "settle", "settle:ChallengeWindowOver", ...) and counts each one it takes with
/// `_hit`. After each run, the invariant test (a `PathReport`) writes the counts to the path log; a path that no run
/// of the campaign took means the fuzzer never reached it.
/// @dev To add a path: declare it next to the others and `_hit` it where the handler observes that outcome. A path
/// counted without having been declared fails the campaign (`PathReport.afterInvariant`).
abstract contract HandlerPaths {
    bytes32[] private _paths;
    mapping(bytes32 path => bool) private _declared;
    /// @notice How often each path was taken in this run.
    mapping(bytes32 path => uint256) public calls;
    /// @notice The last path counted without having been declared (zero: none).
    bytes32 public undeclaredPath;

    function _declarePath(bytes32 path) internal {
        require(!_declared[path], "handler path declared twice");
        _declared[path] = true;
        _paths.push(path);
    }

    function _hit(bytes32 path) internal {
        if (!_declared[path]) undeclaredPath = path;
        ++calls[path];
    }

    /// @notice Every declared path, in declaration order.
    function declaredPaths() external view returns (bytes32[] memory) {
        return _paths;
    }
}

/// @notice For invariant tests whose handler is a `HandlerPaths`: after each run, appends one record of the run's
/// path counts to `PATH_LOG` (an at sign, the suite, a bar, `path=count` pairs joined by commas, a semicolon). The
/// `test solidity` task (hardhat.config.ts, scripts/lib/fuzzPaths.ts) empties the log before the tests and sums it
/// per suite after them: in the quick (default) profile it reports the paths no run took; in the deep profile such a
/// path fails the run.
abstract contract PathReport is Test {
    using Strings for uint256;

    /// @dev Relative to the project root; hardhat.config.ts grants the write permission for exactly this file.
    string internal constant PATH_LOG = "cache/solidity-handler-paths.log";

    /// @dev The handler whose counters are reported.
    function _pathHandler() internal view virtual returns (HandlerPaths);

    /// @dev The name of the invariant test contract (`type(...).name`), which the task matches with the suites it ran.
    function _suiteName() internal pure virtual returns (string memory);

    /// @dev Runs once at the end of every invariant run of the campaign.
    function afterInvariant() public virtual {
        HandlerPaths handler = _pathHandler();
        bytes32 undeclared = handler.undeclaredPath();
        if (undeclared != bytes32(0)) fail(string.concat("handler counted an undeclared path: ", _text(undeclared)));
        bytes32[] memory paths = handler.declaredPaths();
        // One write per record: parallel campaigns append to the same file, and the cheatcode writes the newline
        // separately, so the record carries its own delimiters.
        string memory record = string.concat("@", _suiteName(), "|");
        for (uint256 i; i < paths.length; ++i) {
            record = string.concat(record, i == 0 ? "" : ",", _text(paths[i]), "=", handler.calls(paths[i]).toString());
        }
        vmPaths.writeLine(PATH_LOG, string.concat(record, ";"));
    }

    /// @dev A short bytes32 string literal back to a string (trailing zero bytes dropped).
    function _text(bytes32 name) internal pure returns (string memory) {
        uint256 n;
        while (n < 32 && name[n] != 0) ++n;
        bytes memory out = new bytes(n);
        for (uint256 i; i < n; ++i) out[i] = name[i];
        return string(out);
    }
}
