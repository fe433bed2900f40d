// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {NodeRegistry} from "../../contracts/NodeRegistry.sol";
import {OpenToken} from "../../contracts/OpenToken.sol";
import {INodeRegistry} from "../../contracts/interfaces/INodeRegistry.sol";
import {HandlerPaths, PathReport} from "./utils/Paths.sol";
import {Assertions, Test} from "./utils/Test.sol";
import {vm} from "./utils/Vm.sol";

/// @notice The registry under test with its parameters, shared by the handler and the unit tests; deployed in one
/// place, so that a constructor change touches one function.
abstract contract NodeFixture {
    address internal constant GOVERNANCE = address(0x6000);
    address internal constant TREASURY = address(0x7000);
    address internal constant GUARDIAN = address(0x7200);
    uint128 internal constant MIN_STAKE = 1_000e18;
    uint64 internal constant UNBONDING = 7 days;
    uint64 internal constant MAX_UNBONDING = 90 days;
    /// @dev Longer than UNBONDING, so that a freeze made when unbonding is requested outlasts its release time.
    uint64 internal constant FREEZE = 10 days;
    /// @dev What each operator holds at the start.
    uint256 internal constant FUNDS = 1_000_000e18;

    OpenToken internal token;
    NodeRegistry internal nodes;

    function _deployNodes() internal {
        token = new OpenToken(address(this));
        nodes = new NodeRegistry(IERC20(address(token)), GOVERNANCE, TREASURY, GUARDIAN, MIN_STAKE, UNBONDING, FREEZE);
    }

    /// @dev Gives `operator` FUNDS OPEN, all approved to the registry.
    function _fund(address operator) internal {
        token.transfer(operator, FUNDS);
        vm.prank(operator);
        token.approve(address(nodes), type(uint256).max);
    }

    function _baseModels() internal pure returns (uint256[] memory bases) {
        bases = new uint256[](1);
        bases[0] = 1;
    }
}

/// @notice Four operators register, add stake, request unbonding and withdraw it while time moves; the guardian
/// freezes operators, governance (the owner) unfreezes and slashes them, and changes `minStake` and `unbondingPeriod`
/// mid-run. Each call's outcome is predicted (success or the exact custom error) and checked; a mismatch is a
/// surprise. Ghosts, per operator: what it deposited, what was slashed from it and what it withdrew, each measured
/// from token balances, the release time it was given and the end of its freeze.
contract NodeHandler is NodeFixture, Assertions, HandlerPaths {
    uint256 public constant OPERATORS = 4;

    address[OPERATORS] public operators;
    uint256 public currentTime;

    mapping(address operator => bool) public ghostRegistered;
    mapping(address operator => uint256) public ghostDeposited;
    mapping(address operator => uint256) public ghostSlashed;
    mapping(address operator => uint256) public ghostWithdrawn;
    mapping(address operator => uint256) public ghostReleaseTime;
    /// @dev When the operator's freeze ends (0: never frozen, or unfrozen by governance).
    mapping(address operator => uint256) public ghostFrozenUntil;
    uint256 public ghostSurprises;
    string public lastSurprise;

    constructor() {
        _declarePath("register");
        _declarePath("register:zeroStake");
        _declarePath("register:AlreadyRegistered");
        _declarePath("addStake");
        _declarePath("addStake:ZeroAmount");
        _declarePath("addStake:NotRegistered");
        _declarePath("requestUnbond");
        _declarePath("requestUnbond:restart");
        // More unbonding after governance shortened the period: the whole sum keeps its later release time.
        _declarePath("requestUnbond:keepsRelease");
        _declarePath("requestUnbond:ZeroAmount");
        _declarePath("requestUnbond:InsufficientBond");
        _declarePath("requestUnbond:NotRegistered");
        _declarePath("withdrawUnbonded");
        _declarePath("withdrawUnbonded:nothing");
        _declarePath("withdrawUnbonded:stillUnbonding");
        _declarePath("withdrawUnbonded:frozen");
        _declarePath("withdrawUnbonded:NotRegistered");
        _declarePath("slash:bondedOnly");
        _declarePath("slash:intoUnbonding");
        _declarePath("slash:everything");
        _declarePath("slash:nothingLeft");
        _declarePath("slash:ZeroAmount");
        _declarePath("slash:NotRegistered");
        _declarePath("slash:notGovernance");
        _declarePath("freeze");
        _declarePath("freeze:byGovernance");
        _declarePath("freeze:AlreadyFrozen");
        _declarePath("freeze:NotRegistered");
        _declarePath("freeze:NotGovernanceOrGuardian");
        _declarePath("unfreeze");
        _declarePath("unfreeze:NotFrozen");
        _declarePath("unfreeze:NotRegistered");
        _declarePath("unfreeze:notGovernance");
        _declarePath("setMinStake");
        _declarePath("setUnbondingPeriod");
        _declarePath("setUnbondingPeriod:tooLong");
        _declarePath("warp");
        currentTime = 1_750_000_000;
        vm.warp(currentTime);
        _deployNodes();
        for (uint256 i; i < OPERATORS; ++i) {
            operators[i] = address(uint160(0x9000 + i));
            _fund(operators[i]);
        }
    }

    modifier atCurrentTime() {
        vm.warp(currentTime);
        _;
    }

    function _surprise(string memory what) internal {
        ++ghostSurprises;
        lastSurprise = what;
    }

    /// @dev Seven times in eight a registered operator (if any), so that most calls get past the registration check.
    function _operator(uint256 seed) internal view returns (address) {
        if (seed % 8 != 0) {
            for (uint256 k; k < OPERATORS; ++k) {
                address operator = operators[(seed + k) % OPERATORS];
                if (ghostRegistered[operator]) return operator;
            }
        }
        return operators[seed % OPERATORS];
    }

    /// @dev The operator's record; all zero while it is not registered (the registry reverts for those).
    function _record(address operator) internal view returns (INodeRegistry.Operator memory r) {
        if (ghostRegistered[operator]) r = nodes.getOperator(operator);
    }

    /// @dev Counts `path` if the call reverted with `expected`; a surprise otherwise.
    function _refused(bytes memory reason, bytes memory expected, bytes32 path, string memory what) internal {
        if (expected.length == 0 || keccak256(reason) != keccak256(expected)) _surprise(what);
        else _hit(path);
    }

    // ------------------------------------------------------------------ operators

    /// @dev One time in eight with no stake: an operator may register below the minimum and bond later.
    function register(uint256 operatorSeed, uint256 stake) public atCurrentTime {
        address operator = operators[operatorSeed % OPERATORS];
        stake = stake % 8 == 0 ? 0 : bound(stake, 1, 3 * MIN_STAKE);
        bytes memory expected =
            ghostRegistered[operator]
                ? abi.encodeWithSelector(INodeRegistry.AlreadyRegistered.selector, operator)
                : bytes("");
        uint256 before = token.balanceOf(operator);
        vm.prank(operator);
        try nodes.register("https://node", _baseModels(), operator, uint128(stake)) {
            if (expected.length != 0) return _surprise("registered twice");
            ghostRegistered[operator] = true;
            _deposited(operator, before, stake);
            _hit(stake == 0 ? bytes32("register:zeroStake") : bytes32("register"));
        } catch (bytes memory reason) {
            _refused(reason, expected, "register:AlreadyRegistered", "register reverted");
        }
    }

    function addStake(uint256 operatorSeed, uint256 amount) public atCurrentTime {
        address operator = _operator(operatorSeed);
        amount = amount % 8 == 0 ? 0 : bound(amount, 1, 2 * MIN_STAKE);
        // The amount is checked before the registration.
        bytes memory expected =
            amount == 0
                ? abi.encodeWithSelector(INodeRegistry.ZeroAmount.selector)
                : !ghostRegistered[operator]
                    ? abi.encodeWithSelector(INodeRegistry.NotRegistered.selector, operator)
                    : bytes("");
        uint256 before = token.balanceOf(operator);
        vm.prank(operator);
        try nodes.addStake(uint128(amount)) {
            if (expected.length != 0) return _surprise("addStake succeeded where it should revert");
            _deposited(operator, before, amount);
            _hit("addStake");
        } catch (bytes memory reason) {
            _refused(
                reason,
                expected,
                amount == 0 ? bytes32("addStake:ZeroAmount") : bytes32("addStake:NotRegistered"),
                "addStake reverted"
            );
        }
    }

    /// @dev Mostly part of the bond; sometimes all of it, nothing, or more than the bond.
    function requestUnbond(uint256 operatorSeed, uint256 amount) public atCurrentTime {
        address operator = _operator(operatorSeed);
        INodeRegistry.Operator memory r = _record(operator);
        uint256 mode = amount % 8;
        amount =
            mode == 0
                ? 0
                : mode == 1
                    ? r.bonded + 1 + (amount % MIN_STAKE)
                    : mode == 2
                        ? r.bonded
                        : bound(amount, 1, r.bonded > 0 ? r.bonded : 1);
        bytes32 refusal;
        bytes memory expected;
        if (!ghostRegistered[operator]) {
            (refusal, expected) = (
                "requestUnbond:NotRegistered",
                abi.encodeWithSelector(INodeRegistry.NotRegistered.selector, operator)
            );
        } else if (amount == 0) {
            (refusal, expected) = (
                "requestUnbond:ZeroAmount",
                abi.encodeWithSelector(INodeRegistry.ZeroAmount.selector)
            );
        } else if (amount > r.bonded) {
            (refusal, expected) = (
                "requestUnbond:InsufficientBond",
                abi.encodeWithSelector(INodeRegistry.InsufficientBond.selector, operator, amount, r.bonded)
            );
        }
        vm.prank(operator);
        try nodes.requestUnbond(uint128(amount)) {
            if (expected.length != 0) return _surprise("requestUnbond succeeded where it should revert");
            INodeRegistry.Operator memory a = nodes.getOperator(operator);
            if (a.bonded != r.bonded - amount || a.unbonding != r.unbonding + amount) _surprise("unbond amounts");
            _hit(_bookRelease(operator, r.unbonding != 0, a.unbondingReleaseTime));
        } catch (bytes memory reason) {
            _refused(reason, expected, refusal, "requestUnbond reverted");
        }
    }

    function withdrawUnbonded(uint256 operatorSeed) public atCurrentTime {
        address operator = _operator(operatorSeed);
        INodeRegistry.Operator memory r = _record(operator);
        bytes32 refusal;
        bytes memory expected;
        if (!ghostRegistered[operator]) {
            (refusal, expected) = (
                "withdrawUnbonded:NotRegistered",
                abi.encodeWithSelector(INodeRegistry.NotRegistered.selector, operator)
            );
        } else if (r.unbonding == 0) {
            (refusal, expected) = (
                "withdrawUnbonded:nothing",
                abi.encodeWithSelector(INodeRegistry.NothingToWithdraw.selector, operator)
            );
        } else if (block.timestamp < ghostReleaseTime[operator]) {
            (refusal, expected) = (
                "withdrawUnbonded:stillUnbonding",
                abi.encodeWithSelector(INodeRegistry.StakeStillUnbonding.selector, operator, ghostReleaseTime[operator])
            );
        } else if (block.timestamp < ghostFrozenUntil[operator]) {
            (refusal, expected) = (
                "withdrawUnbonded:frozen",
                abi.encodeWithSelector(INodeRegistry.OperatorIsFrozen.selector, operator, ghostFrozenUntil[operator])
            );
        }
        uint256 before = token.balanceOf(operator);
        vm.prank(operator);
        try nodes.withdrawUnbonded() {
            if (expected.length != 0) return _surprise("withdrawUnbonded succeeded where it should revert");
            uint256 paid = token.balanceOf(operator) - before;
            if (paid != r.unbonding) _surprise("withdrawUnbonded paid the wrong amount");
            if (nodes.getOperator(operator).unbonding != 0) _surprise("unbonding left after withdrawal");
            ghostWithdrawn[operator] += paid;
            _hit("withdrawUnbonded");
        } catch (bytes memory reason) {
            _refused(reason, expected, refusal, "withdrawUnbonded reverted");
        }
    }

    // ------------------------------------------------------------------ governance

    /// @dev Governance slashes part of the bond, the bond and some unbonding stake, everything (or more), nothing
    /// (the zero amount is refused); one call in sixteen comes from the operator itself and is refused.
    function slash(uint256 operatorSeed, uint256 amount) public atCurrentTime {
        address operator = _operator(operatorSeed);
        INodeRegistry.Operator memory r = _record(operator);
        uint256 stake = uint256(r.bonded) + r.unbonding;
        address caller = (amount >> 8) % 16 == 0 ? operator : GOVERNANCE;
        uint256 mode = amount % 5;
        amount =
            mode == 0
                ? bound(amount, 1, r.bonded > 0 ? r.bonded : 1)
                : mode == 1
                    ? r.bonded + bound(amount, 1, r.unbonding > 0 ? r.unbonding : 1)
                    : mode == 2
                        ? stake + bound(amount, 0, MIN_STAKE)
                        : mode == 3
                            ? bound(amount, 1, 2 * MIN_STAKE)
                            : 0;
        bytes32 refusal;
        bytes memory expected;
        if (caller != GOVERNANCE) {
            (refusal, expected) = (
                "slash:notGovernance",
                abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, caller)
            );
        } else if (!ghostRegistered[operator]) {
            (refusal, expected) = (
                "slash:NotRegistered",
                abi.encodeWithSelector(INodeRegistry.NotRegistered.selector, operator)
            );
        } else if (amount == 0) {
            (refusal, expected) = ("slash:ZeroAmount", abi.encodeWithSelector(INodeRegistry.ZeroAmount.selector));
        }
        uint256 before = token.balanceOf(TREASURY);
        vm.prank(caller);
        try nodes.slash(operator, uint128(amount)) {
            if (expected.length != 0) return _surprise("slash succeeded where it should revert");
            _checkSlash(operator, r, amount, token.balanceOf(TREASURY) - before);
        } catch (bytes memory reason) {
            _refused(reason, expected, refusal, "slash reverted");
        }
    }

    /// @dev Bonded stake first, then unbonding stake, never more than there is; the release time does not move.
    function _checkSlash(address operator, INodeRegistry.Operator memory r, uint256 amount, uint256 paid) internal {
        uint256 fromBonded = amount < r.bonded ? amount : r.bonded;
        uint256 rest = amount - fromBonded;
        uint256 fromUnbonding = rest < r.unbonding ? rest : r.unbonding;
        INodeRegistry.Operator memory a = nodes.getOperator(operator);
        if (a.bonded != r.bonded - fromBonded || a.unbonding != r.unbonding - fromUnbonding) _surprise("slash split");
        if (a.unbondingReleaseTime != r.unbondingReleaseTime) _surprise("slash moved the release time");
        if (paid != fromBonded + fromUnbonding) _surprise("slash paid the treasury the wrong amount");
        ghostSlashed[operator] += paid;
        _hit(
            paid == 0
                ? bytes32("slash:nothingLeft")
                : amount >= uint256(r.bonded) + r.unbonding
                    ? bytes32("slash:everything")
                    : fromUnbonding == 0
                        ? bytes32("slash:bondedOnly")
                        : bytes32("slash:intoUnbonding")
        );
    }

    /// @dev The guardian freezes an operator for `freezePeriod`; one call in sixteen comes from governance (allowed
    /// too), one from the operator itself (refused). One freeze at a time: a running one is refused.
    function freeze(uint256 operatorSeed, uint256 callerSeed) public atCurrentTime {
        address operator = _operator(operatorSeed);
        uint256 mode = callerSeed % 16;
        address caller =
            mode == 0
                ? operator
                : mode == 1
                    ? GOVERNANCE
                    : GUARDIAN;
        bytes32 refusal;
        bytes memory expected;
        if (caller == operator) {
            (refusal, expected) = (
                "freeze:NotGovernanceOrGuardian",
                abi.encodeWithSelector(INodeRegistry.NotGovernanceOrGuardian.selector, caller)
            );
        } else if (!ghostRegistered[operator]) {
            (refusal, expected) = (
                "freeze:NotRegistered",
                abi.encodeWithSelector(INodeRegistry.NotRegistered.selector, operator)
            );
        } else if (block.timestamp < ghostFrozenUntil[operator]) {
            (refusal, expected) = (
                "freeze:AlreadyFrozen",
                abi.encodeWithSelector(INodeRegistry.AlreadyFrozen.selector, operator, ghostFrozenUntil[operator])
            );
        }
        INodeRegistry.Operator memory r = _record(operator);
        vm.prank(caller);
        try nodes.freeze(operator) {
            if (expected.length != 0) return _surprise("freeze succeeded where it should revert");
            uint256 until = block.timestamp + nodes.freezePeriod();
            INodeRegistry.Operator memory a = nodes.getOperator(operator);
            if (a.frozenUntil != until) _surprise("frozenUntil is not now + freezePeriod");
            if (
                a.bonded != r.bonded || a.unbonding != r.unbonding || a.unbondingReleaseTime != r.unbondingReleaseTime
            ) {
                _surprise("freeze moved stake");
            }
            if (nodes.isActive(operator)) _surprise("frozen operator active");
            ghostFrozenUntil[operator] = until;
            _hit(caller == GOVERNANCE ? bytes32("freeze:byGovernance") : bytes32("freeze"));
        } catch (bytes memory reason) {
            _refused(reason, expected, refusal, "freeze reverted");
        }
    }

    /// @dev Governance lifts a running freeze; one call in sixteen comes from the guardian, which may not.
    function unfreeze(uint256 operatorSeed, uint256 callerSeed) public atCurrentTime {
        address operator = _operator(operatorSeed);
        address caller = callerSeed % 16 == 0 ? GUARDIAN : GOVERNANCE;
        bytes32 refusal;
        bytes memory expected;
        if (caller != GOVERNANCE) {
            (refusal, expected) = (
                "unfreeze:notGovernance",
                abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, caller)
            );
        } else if (!ghostRegistered[operator]) {
            (refusal, expected) = (
                "unfreeze:NotRegistered",
                abi.encodeWithSelector(INodeRegistry.NotRegistered.selector, operator)
            );
        } else if (block.timestamp >= ghostFrozenUntil[operator]) {
            (refusal, expected) = (
                "unfreeze:NotFrozen",
                abi.encodeWithSelector(INodeRegistry.NotFrozen.selector, operator)
            );
        }
        vm.prank(caller);
        try nodes.unfreeze(operator) {
            if (expected.length != 0) return _surprise("unfreeze succeeded where it should revert");
            if (nodes.getOperator(operator).frozenUntil != 0) _surprise("unfreeze left frozenUntil");
            ghostFrozenUntil[operator] = 0;
            _hit("unfreeze");
        } catch (bytes memory reason) {
            _refused(reason, expected, refusal, "unfreeze reverted");
        }
    }

    function setMinStake(uint256 minStake) public atCurrentTime {
        minStake = bound(minStake, 0, 3 * MIN_STAKE);
        vm.prank(GOVERNANCE);
        nodes.setMinStake(uint128(minStake));
        _hit("setMinStake");
    }

    /// @dev Mostly up to two weeks, sometimes the maximum; one time in eight above it, refused.
    function setUnbondingPeriod(uint256 period) public atCurrentTime {
        uint256 mode = period % 8;
        period =
            mode == 0
                ? MAX_UNBONDING + bound(period, 1, 30 days)
                : mode == 1
                    ? MAX_UNBONDING
                    : bound(period, 0, 14 days);
        vm.prank(GOVERNANCE);
        try nodes.setUnbondingPeriod(uint64(period)) {
            if (period > MAX_UNBONDING) return _surprise("unbonding period above the maximum accepted");
            if (nodes.unbondingPeriod() != period) _surprise("unbonding period not set");
            _hit("setUnbondingPeriod");
        } catch (bytes memory reason) {
            bytes memory expected =
                period > MAX_UNBONDING
                    ? abi.encodeWithSelector(INodeRegistry.UnbondingPeriodTooLong.selector, period, MAX_UNBONDING)
                    : bytes("");
            _refused(reason, expected, "setUnbondingPeriod:tooLong", "setUnbondingPeriod reverted");
        }
    }

    /// @dev Mostly up to a day; one time in three just past the current unbonding period.
    function warp(uint256 seconds_) public {
        currentTime += seconds_ % 3 == 0 ? nodes.unbondingPeriod() + 1 : bound(seconds_, 0, 1 days);
        vm.warp(currentTime);
        _hit("warp");
    }

    // ------------------------------------------------------------------ internals

    /// @dev After a successful requestUnbond: the whole unbonding sum releases together, at now plus the period in
    /// force, but never before the release time already fixed for stake that was unbonding (a shorter period set
    /// meanwhile does not pull it forward). Checks `releaseTime`, books it and returns the path taken.
    function _bookRelease(address operator, bool wasUnbonding, uint256 releaseTime) internal returns (bytes32) {
        uint256 release = block.timestamp + nodes.unbondingPeriod();
        bool keeps = wasUnbonding && release < ghostReleaseTime[operator];
        if (keeps) release = ghostReleaseTime[operator];
        if (releaseTime != release) _surprise("unbond release time");
        ghostReleaseTime[operator] = release;
        return
            !wasUnbonding
                ? bytes32("requestUnbond")
                : keeps
                    ? bytes32("requestUnbond:keepsRelease")
                    : bytes32("requestUnbond:restart");
    }

    /// @dev Books a bond of `amount` from `operator`, measured by its token balance.
    function _deposited(address operator, uint256 balanceBefore, uint256 amount) internal {
        uint256 taken = balanceBefore - token.balanceOf(operator);
        if (taken != amount) _surprise("bond took the wrong amount");
        ghostDeposited[operator] += taken;
    }

    // ------------------------------------------------------------------ views for invariants

    function getNodes() external view returns (NodeRegistry) {
        return nodes;
    }

    function getToken() external view returns (OpenToken) {
        return token;
    }
}

contract NodeRegistryInvariantTest is NodeFixture, PathReport {
    NodeHandler internal handler;

    function setUp() public {
        handler = new NodeHandler();
        nodes = handler.getNodes();
        token = handler.getToken();
        targetContract(address(handler));
    }

    function _pathHandler() internal view override returns (HandlerPaths) {
        return handler;
    }

    function _suiteName() internal pure override returns (string memory) {
        return type(NodeRegistryInvariantTest).name;
    }

    function _stakeOf(address operator) internal view returns (uint256 bonded, uint256 unbonding) {
        if (!handler.ghostRegistered(operator)) return (0, 0);
        INodeRegistry.Operator memory r = nodes.getOperator(operator);
        return (r.bonded, r.unbonding);
    }

    /// @dev What `isActive` must answer: registered, bonded at least the minimum, and not frozen.
    function _expectedActive(address operator) internal view returns (bool) {
        (uint256 bonded, ) = _stakeOf(operator);
        return
            handler.ghostRegistered(operator) &&
            bonded >= nodes.minStake() &&
            block.timestamp >= handler.ghostFrozenUntil(operator);
    }

    /// @dev bonded + unbonding + slashed + withdrawn == deposited for each operator and in total; and token-wise,
    /// every OPEN an operator bonded is in the registry, with the treasury, or back with the operator.
    function invariant_stakeAccountedFor() public view {
        uint256 deposited;
        uint256 slashed;
        uint256 withdrawn;
        for (uint256 i; i < handler.OPERATORS(); ++i) {
            address operator = handler.operators(i);
            (uint256 bonded, uint256 unbonding) = _stakeOf(operator);
            assertEq(
                bonded + unbonding + handler.ghostSlashed(operator) + handler.ghostWithdrawn(operator),
                handler.ghostDeposited(operator),
                "operator: bonded + unbonding + slashed + withdrawn vs deposited"
            );
            assertEq(
                token.balanceOf(operator) + handler.ghostDeposited(operator),
                FUNDS + handler.ghostWithdrawn(operator),
                "operator: balance + deposited vs funds + withdrawn"
            );
            deposited += handler.ghostDeposited(operator);
            slashed += handler.ghostSlashed(operator);
            withdrawn += handler.ghostWithdrawn(operator);
        }
        assertEq(token.balanceOf(TREASURY), slashed, "treasury balance vs slashed");
        assertEq(
            token.balanceOf(address(nodes)) + slashed + withdrawn,
            deposited,
            "total: registry balance + slashed + withdrawn vs deposited"
        );
    }

    function invariant_balanceEqualsTotalStaked() public view {
        uint256 sum;
        for (uint256 i; i < handler.OPERATORS(); ++i) {
            (uint256 bonded, uint256 unbonding) = _stakeOf(handler.operators(i));
            sum += bonded + unbonding;
        }
        assertEq(token.balanceOf(address(nodes)), nodes.totalStaked(), "registry balance vs totalStaked");
        assertEq(nodes.totalStaked(), sum, "totalStaked vs sum of bonded + unbonding");
    }

    function invariant_activeIffRegisteredAndBonded() public view {
        for (uint256 i; i < handler.OPERATORS(); ++i) {
            address operator = handler.operators(i);
            assertEq(
                nodes.isActive(operator),
                _expectedActive(operator),
                "isActive vs registered && bonded >= min && not frozen"
            );
        }
        assertFalse(nodes.isActive(TREASURY), "an address that never registered is active");
    }

    function invariant_noSurprises() public view {
        if (handler.ghostSurprises() != 0) fail(string.concat("handler surprise: ", handler.lastSurprise()));
    }
}

/// @notice Edges of staking that the invariant campaign reaches only by chance.
contract NodeRegistryTest is NodeFixture, Test {
    address internal constant ALICE = address(0xA11CE);
    uint256 internal constant T0 = 1_750_000_000;

    function setUp() public {
        vm.warp(T0);
        _deployNodes();
        _fund(ALICE);
        vm.prank(ALICE);
        nodes.register("https://node", _baseModels(), ALICE, MIN_STAKE);
    }

    function _unbond(uint128 amount) internal {
        vm.prank(ALICE);
        nodes.requestUnbond(amount);
    }

    /// @dev The release time is fixed when unbonding is requested: a longer period set afterwards does not delay it.
    function test_setUnbondingPeriod_doesNotMoveAPendingRelease() public {
        _unbond(100e18);
        vm.prank(GOVERNANCE);
        nodes.setUnbondingPeriod(MAX_UNBONDING);
        vm.warp(T0 + UNBONDING);
        vm.prank(ALICE);
        nodes.withdrawUnbonded();
        assertEq(token.balanceOf(ALICE), FUNDS - MIN_STAKE + 100e18, "paid at the original release time");
    }

    /// @dev After governance shortens the period, a request of one wei cannot pull the release of stake unbonded
    /// earlier forward (it would have moved from T0 + 7 days to T0 + 1 day + 1 s, out of reach of a slash counting on
    /// the old release time): the whole sum keeps T0 + 7 days. A request whose own period ends later still moves
    /// the whole sum's release later.
    function test_requestUnbond_afterShorterPeriod_neverPullsReleaseEarlier() public {
        _unbond(500e18);
        assertEq(nodes.getOperator(ALICE).unbondingReleaseTime, T0 + UNBONDING, "first release");
        vm.prank(GOVERNANCE);
        nodes.setUnbondingPeriod(1 days);
        vm.warp(T0 + 1);
        _unbond(1);
        INodeRegistry.Operator memory r = nodes.getOperator(ALICE);
        assertEq(r.unbonding, 500e18 + 1, "unbonding sum");
        assertEq(r.unbondingReleaseTime, T0 + UNBONDING, "release kept");
        vm.warp(T0 + 1 + 1 days);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.StakeStillUnbonding.selector, ALICE, T0 + UNBONDING));
        vm.prank(ALICE);
        nodes.withdrawUnbonded();

        // Six and a half days in, one more wei: now + 1 day is past T0 + 7 days, so the whole sum waits for it.
        uint256 t = T0 + 6 days + 12 hours;
        vm.warp(t);
        _unbond(1);
        assertEq(nodes.getOperator(ALICE).unbondingReleaseTime, t + 1 days, "release moved later");
        vm.warp(T0 + UNBONDING);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.StakeStillUnbonding.selector, ALICE, t + 1 days));
        vm.prank(ALICE);
        nodes.withdrawUnbonded();
        vm.warp(t + 1 days);
        vm.prank(ALICE);
        nodes.withdrawUnbonded();
        assertEq(token.balanceOf(ALICE), FUNDS - MIN_STAKE + 500e18 + 2, "whole sum paid at the later release");
    }

    /// @dev A frozen operator is not active and cannot withdraw, even past its release time, while its stake stays
    /// slashable; once governance unfreezes it, it withdraws what the slash left.
    function test_freeze_blocksWithdrawalUntilUnfrozen() public {
        _unbond(400e18);
        vm.prank(GUARDIAN);
        nodes.freeze(ALICE);
        assertFalse(nodes.isActive(ALICE), "frozen operator active");
        vm.warp(T0 + UNBONDING);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.OperatorIsFrozen.selector, ALICE, T0 + FREEZE));
        vm.prank(ALICE);
        nodes.withdrawUnbonded();
        vm.prank(GOVERNANCE);
        nodes.slash(ALICE, 700e18);
        vm.prank(GOVERNANCE);
        nodes.unfreeze(ALICE);
        vm.prank(ALICE);
        nodes.withdrawUnbonded();
        assertEq(token.balanceOf(ALICE), FUNDS - MIN_STAKE + 300e18, "withdrew what the slash left");
        assertEq(token.balanceOf(TREASURY), 700e18, "treasury");
    }

    /// @dev Unbonding stake stays slashable after its release time, until it is withdrawn.
    function test_slash_takesUnbondingPastItsReleaseTime() public {
        _unbond(400e18);
        vm.warp(T0 + UNBONDING + 1 days);
        vm.prank(GOVERNANCE);
        nodes.slash(ALICE, 700e18);
        INodeRegistry.Operator memory r = nodes.getOperator(ALICE);
        assertEq(r.bonded, 0, "bonded");
        assertEq(r.unbonding, 300e18, "unbonding");
        vm.prank(ALICE);
        nodes.withdrawUnbonded();
        assertEq(token.balanceOf(ALICE), FUNDS - MIN_STAKE + 300e18, "withdrew what the slash left");
        assertEq(token.balanceOf(TREASURY), 700e18, "treasury");
        assertEq(nodes.totalStaked(), 0, "totalStaked");
    }

    /// @dev Once a slash took the whole unbonding sum there is nothing to withdraw, whatever the release time.
    function test_withdrawUnbonded_revertsAfterUnbondingSlashedAway() public {
        _unbond(MIN_STAKE);
        vm.prank(GOVERNANCE);
        nodes.slash(ALICE, MIN_STAKE);
        vm.warp(T0 + UNBONDING);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NothingToWithdraw.selector, ALICE));
        vm.prank(ALICE);
        nodes.withdrawUnbonded();
    }

    /// @dev With a zero minimum, registering is enough to be active, even with nothing bonded; slashing everything
    /// keeps the operator active.
    function test_isActive_withZeroMinimumNeedsOnlyRegistration() public {
        address bob = address(0xB0B);
        _fund(bob);
        vm.prank(GOVERNANCE);
        nodes.setMinStake(0);
        assertFalse(nodes.isActive(bob), "unregistered");
        vm.prank(bob);
        nodes.register("https://bob", _baseModels(), bob, 0);
        assertTrue(nodes.isActive(bob), "registered with no stake");
        vm.prank(GOVERNANCE);
        nodes.slash(ALICE, MIN_STAKE);
        assertTrue(nodes.isActive(ALICE), "slashed to zero");
    }

    /// @dev Bonded first, then unbonding, capped at what there is; the treasury gets exactly what was taken.
    function testFuzz_slash_bondedFirstThenUnbonding(uint256 unbond, uint256 amount) public {
        unbond = bound(unbond, 0, MIN_STAKE);
        amount = bound(amount, 1, 2 * MIN_STAKE);
        if (unbond != 0) _unbond(uint128(unbond));
        uint256 bonded = MIN_STAKE - unbond;
        vm.prank(GOVERNANCE);
        nodes.slash(ALICE, uint128(amount));
        uint256 fromBonded = amount < bonded ? amount : bonded;
        uint256 fromUnbonding = amount - fromBonded < unbond ? amount - fromBonded : unbond;
        INodeRegistry.Operator memory r = nodes.getOperator(ALICE);
        assertEq(r.bonded, bonded - fromBonded, "bonded");
        assertEq(r.unbonding, unbond - fromUnbonding, "unbonding");
        assertEq(token.balanceOf(TREASURY), fromBonded + fromUnbonding, "treasury");
        assertEq(token.balanceOf(address(nodes)), nodes.totalStaked(), "registry balance vs totalStaked");
        assertEq(nodes.totalStaked(), MIN_STAKE - fromBonded - fromUnbonding, "totalStaked");
    }

    /// @dev Withdrawal opens exactly at the release time, for any period up to the maximum.
    function testFuzz_withdrawUnbonded_opensExactlyAtRelease(uint64 period, uint256 wait) public {
        period = uint64(bound(period, 0, MAX_UNBONDING));
        wait = bound(wait, 0, uint256(MAX_UNBONDING) + 1);
        vm.prank(GOVERNANCE);
        nodes.setUnbondingPeriod(period);
        _unbond(250e18);
        vm.warp(T0 + wait);
        if (wait < period) {
            vm.expectRevert(
                abi.encodeWithSelector(INodeRegistry.StakeStillUnbonding.selector, ALICE, T0 + uint256(period))
            );
        }
        vm.prank(ALICE);
        nodes.withdrawUnbonded();
        if (wait >= period) assertEq(token.balanceOf(ALICE), FUNDS - MIN_STAKE + 250e18, "paid");
    }
}
