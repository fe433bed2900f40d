// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {AttributionRewards} from "../../contracts/AttributionRewards.sol";
import {OpenToken} from "../../contracts/OpenToken.sol";
import {IAttributionRewards} from "../../contracts/interfaces/IAttributionRewards.sol";
import {HandlerPaths, PathReport} from "./utils/Paths.sol";
import {Policies} from "./utils/Policies.sol";
import {Assertions, Test} from "./utils/Test.sol";
import {vm} from "./utils/Vm.sol";

/// @notice Governance sets attribution policies at any moment of an epoch (valid ones, invalid ones, and calls from
/// someone else), while the attestor proposes roots naming the policy the schedule gives their epoch or another one,
/// the guardian revokes pending roots with every later one, and time passes. Roots are empty distributions (total 0):
/// what is tested is which policy each epoch is held to. Keeps, per epoch, the policy its live root named.
contract PolicyHandler is Assertions, HandlerPaths {
    address internal constant GOVERNANCE = address(0x6000);
    address internal constant ATTESTOR = address(0x7100);
    address internal constant GUARDIAN = address(0x7200);
    address internal constant STRANGER = address(0xBAD);
    uint64 internal constant DELAY = 1 hours;

    AttributionRewards public rewards;
    uint256 public currentTime;
    /// @dev The highest epoch ever proposed, revoked or not.
    uint256 public maxProposedEpoch;
    /// @dev The policy named by the live (last proposed) root of each epoch.
    mapping(uint256 epoch => uint256) public ghostPolicyOf;
    /// @dev The specification hash each policy was set with.
    mapping(uint256 policyId => bytes32) public ghostSpecHash;
    uint256 public ghostPolicyCount;
    uint256 internal _nonce;
    uint256 public ghostSurprises;
    string public lastSurprise;

    constructor() {
        _declarePath("proposeRoot");
        _declarePath("proposeRoot:laterPolicy");
        _declarePath("proposeRoot:replacesRevoked");
        _declarePath("proposeRoot:wrongPolicy");
        _declarePath("revokeRoot");
        _declarePath("revokeRoot:withLater");
        _declarePath("revokeRoot:RootNotPending");
        _declarePath("setAttributionPolicy");
        _declarePath("setAttributionPolicy:supersedes");
        _declarePath("setAttributionPolicy:invalid");
        _declarePath("setAttributionPolicy:notOwner");
        _declarePath("warp");
        currentTime = 1_750_000_000;
        vm.warp(currentTime);
        OpenToken token = new OpenToken(address(this));
        rewards = new AttributionRewards(
            IERC20(address(token)),
            GOVERNANCE,
            ATTESTOR,
            GUARDIAN,
            DELAY,
            Policies.initial()
        );
        ghostPolicyCount = 1;
        ghostSpecHash[1] = Policies.initial().specHash;
    }

    modifier atCurrentTime() {
        vm.warp(currentTime);
        _;
    }

    function _surprise(string memory what) internal {
        ++ghostSurprises;
        lastSurprise = what;
    }

    // ------------------------------------------------------------------ actions

    /// @dev Proposes the next epoch, three times in four naming the policy the schedule gives it, else any id from
    /// 0 to one past the newest: proposeRoot must accept exactly the scheduled one.
    function proposeRoot(uint256 policySeed) public atCurrentTime {
        uint256 epoch = rewards.lastEpoch() + 1;
        uint256 expected = rewards.attributionPolicyForEpoch(epoch);
        uint256 named = policySeed % 4 != 0 ? expected : (policySeed >> 2) % (ghostPolicyCount + 2);
        bytes32 root = keccak256(abi.encode("root", epoch, ++_nonce));
        vm.prank(ATTESTOR);
        try rewards.proposeRoot(epoch, root, 0, root, "ipfs://dist", named) {
            if (named != expected) return _surprise("proposeRoot accepted a policy the schedule does not give");
            bool replaces = epoch <= maxProposedEpoch;
            if (epoch > maxProposedEpoch) maxProposedEpoch = epoch;
            ghostPolicyOf[epoch] = named;
            if (rewards.getEpochRoot(epoch).policyId != named) _surprise("getEpochRoot: policyId");
            _hit(named > 1 ? bytes32("proposeRoot:laterPolicy") : bytes32("proposeRoot"));
            // A facet of the same call, counted besides its outcome.
            if (replaces) _hit("proposeRoot:replacesRevoked");
        } catch (bytes memory reason) {
            bytes memory wrong = abi.encodeWithSelector(
                IAttributionRewards.WrongAttributionPolicy.selector,
                epoch,
                named,
                expected
            );
            if (named == expected || keccak256(reason) != keccak256(wrong)) return _surprise("proposeRoot reverted");
            _hit("proposeRoot:wrongPolicy");
        }
    }

    /// @dev Any epoch ever proposed: a pending one is revoked with every later one, the others are refused. The
    /// policies of the epochs that stay live do not move.
    function revokeRoot(uint256 epochSeed) public atCurrentTime {
        if (maxProposedEpoch == 0) return;
        uint256 epoch = 1 + (epochSeed % maxProposedEpoch);
        uint256 last = rewards.lastEpoch();
        bool pending = epoch <= last && block.timestamp < rewards.getEpochRoot(epoch).claimableAt;
        vm.prank(GUARDIAN);
        try rewards.revokeRoot(epoch) {
            if (!pending) return _surprise("revoked a claimable or revoked root");
            if (rewards.lastEpoch() != epoch - 1) _surprise("revokeRoot: lastEpoch not moved back");
            _hit(epoch < last ? bytes32("revokeRoot:withLater") : bytes32("revokeRoot"));
        } catch (bytes memory reason) {
            bytes memory expected = abi.encodeWithSelector(IAttributionRewards.RootNotPending.selector, epoch);
            if (pending || keccak256(reason) != keccak256(expected)) return _surprise("revokeRoot reverted");
            _hit("revokeRoot:RootNotPending");
        }
    }

    /// @dev Governance sets a new policy (one time in eight an invalid one, one time in eight someone else tries):
    /// it must start at lastEpoch + 2, leave the policy of every epoch up to lastEpoch + 1 as it was, supersede every
    /// entry from its start on, and keep the schedule strictly increasing.
    function setAttributionPolicy(uint256 seed) public atCurrentTime {
        uint256 mode = seed % 8;
        bytes32 specHash = keccak256(abi.encode("spec", ++_nonce));
        IAttributionRewards.AttributionPolicy memory policy = Policies.version2(specHash, seed >> 3);
        if (mode == 0) return _setInvalidPolicy(policy, seed >> 3);
        if (mode == 1) return _setAsStranger(policy);

        uint256 last = rewards.lastEpoch();
        uint256[] memory before = _policiesThrough(last + 1);
        uint256 entriesBefore = rewards.attributionPolicySchedule().length;
        vm.prank(GOVERNANCE);
        try rewards.setAttributionPolicy(policy) returns (uint256 policyId, uint256 fromEpoch) {
            ++ghostPolicyCount;
            ghostSpecHash[policyId] = specHash;
            if (policyId != ghostPolicyCount) _surprise("setAttributionPolicy: id is not the next one");
            if (fromEpoch != last + 2) _surprise("setAttributionPolicy: fromEpoch is not lastEpoch + 2");
            uint256[] memory afterwards = _policiesThrough(last + 1);
            for (uint256 e = 1; e <= last + 1; ++e) {
                if (afterwards[e] != before[e]) _surprise("setAttributionPolicy moved a started epoch's policy");
            }
            if (rewards.attributionPolicyForEpoch(fromEpoch) != policyId) _surprise("new policy does not govern");
            if (rewards.attributionPolicyForEpoch(fromEpoch + 1_000) != policyId) _surprise("a later entry remains");
            uint256 entries = rewards.attributionPolicySchedule().length;
            _hit(
                entries <= entriesBefore ? bytes32("setAttributionPolicy:supersedes") : bytes32("setAttributionPolicy")
            );
        } catch {
            _surprise("setAttributionPolicy reverted");
        }
    }

    function warp(uint256 seconds_) public {
        currentTime += bound(seconds_, 0, 2 * DELAY);
        vm.warp(currentTime);
        _hit("warp");
    }

    // ------------------------------------------------------------------ internals

    /// @dev `attributionPolicyForEpoch(e)` for e = 0..through.
    function _policiesThrough(uint256 through) internal view returns (uint256[] memory policies) {
        policies = new uint256[](through + 1);
        for (uint256 e; e <= through; ++e) policies[e] = rewards.attributionPolicyForEpoch(e);
    }

    /// @dev One field of `policy` broken, as picked by `seed`: refused with the reason the contract names.
    function _setInvalidPolicy(IAttributionRewards.AttributionPolicy memory policy, uint256 seed) internal {
        string memory reason;
        uint256 pick = seed % 5;
        if (pick == 0) {
            policy.algorithm = "";
            reason = "algorithm is empty";
        } else if (pick == 1) {
            policy.params.matchWeightBps = uint16(bound(seed >> 3, 10_001, type(uint16).max));
            reason = "matchWeightBps exceeds 10000";
        } else if (pick == 2) {
            policy.params.duplicateCoverageBps = seed % 2 == 0 ? 0 : uint16(bound(seed >> 3, 10_001, type(uint16).max));
            reason = "duplicateCoverageBps not in 1..10000";
        } else if (pick == 3) {
            policy.version = 1;
            policy.params.rarityExponent = uint8(bound(seed >> 3, 1, type(uint8).max));
            reason = "rarityExponent must be 0 under version 1";
        } else {
            policy.specHash = bytes32(0);
            reason = "specHash is 0";
        }
        vm.prank(GOVERNANCE);
        try rewards.setAttributionPolicy(policy) {
            _surprise("setAttributionPolicy accepted an invalid policy");
        } catch (bytes memory got) {
            bytes memory expected = abi.encodeWithSelector(
                IAttributionRewards.InvalidAttributionPolicy.selector,
                reason
            );
            if (keccak256(got) != keccak256(expected)) return _surprise("invalid policy refused with another error");
            _hit("setAttributionPolicy:invalid");
        }
    }

    function _setAsStranger(IAttributionRewards.AttributionPolicy memory policy) internal {
        address caller = _nonce % 2 == 0 ? STRANGER : ATTESTOR;
        vm.prank(caller);
        try rewards.setAttributionPolicy(policy) {
            _surprise("setAttributionPolicy accepted a call from someone else");
        } catch (bytes memory got) {
            bytes memory expected = abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, caller);
            if (keccak256(got) != keccak256(expected)) return _surprise("stranger refused with another error");
            _hit("setAttributionPolicy:notOwner");
        }
    }
}

/// @notice The properties the policy handler's runs must keep, checked after every call.
abstract contract PolicyChecks is Assertions {
    PolicyHandler internal handler;
    AttributionRewards internal rewards;

    /// @dev Every proposed, unrevoked epoch keeps the policy its root named when proposed, and the schedule still
    /// gives it that policy.
    function _checkProposedEpochsKeepTheirPolicy() internal view {
        uint256 last = rewards.lastEpoch();
        for (uint256 e = 1; e <= last; ++e) {
            uint256 named = handler.ghostPolicyOf(e);
            assertEq(rewards.getEpochRoot(e).policyId, named, "root's policyId vs the one it was proposed with");
            assertEq(rewards.attributionPolicyForEpoch(e), named, "schedule vs the policy the root named");
        }
    }

    /// @dev The schedule starts with policy 1 from epoch 1, is strictly increasing in fromEpoch and in policy id, ends
    /// with the newest policy, and every entry after the first starts at epoch 2 or later.
    function _checkSchedule() internal view {
        IAttributionRewards.PolicyPeriod[] memory schedule = rewards.attributionPolicySchedule();
        assertEq(schedule[0].policyId, 1, "first entry's policy");
        assertEq(schedule[0].fromEpoch, 1, "first entry's epoch");
        for (uint256 i = 1; i < schedule.length; ++i) {
            assertTrue(schedule[i].fromEpoch > schedule[i - 1].fromEpoch, "schedule strictly increasing in epoch");
            assertTrue(schedule[i].policyId > schedule[i - 1].policyId, "schedule increasing in policy id");
            // The entry governs its own epochs.
            assertEq(rewards.attributionPolicyForEpoch(schedule[i].fromEpoch), schedule[i].policyId, "entry");
            assertEq(rewards.attributionPolicyForEpoch(schedule[i].fromEpoch - 1), schedule[i - 1].policyId, "gap");
        }
        uint256 count = rewards.attributionPolicyCount();
        assertEq(count, handler.ghostPolicyCount(), "policy count vs ghost");
        assertEq(schedule[schedule.length - 1].policyId, count, "newest policy ends the schedule");
    }

    /// @dev Every policy ever set stays readable by id, superseded or not; none past the newest.
    function _checkEveryPolicyReadable() internal view {
        uint256 count = rewards.attributionPolicyCount();
        for (uint256 id = 1; id <= count; ++id) {
            assertEq(rewards.getAttributionPolicy(id).specHash, handler.ghostSpecHash(id), "policy by id");
        }
        try rewards.getAttributionPolicy(count + 1) {
            fail("a policy past the newest was found");
        } catch {}
    }

    function _checkNoSurprises() internal view {
        if (handler.ghostSurprises() != 0) fail(string.concat("handler surprise: ", handler.lastSurprise()));
    }
}

contract AttributionPolicyInvariantTest is PolicyChecks, PathReport {
    function setUp() public {
        handler = new PolicyHandler();
        rewards = handler.rewards();
        targetContract(address(handler));
    }

    function _pathHandler() internal view override returns (HandlerPaths) {
        return handler;
    }

    function _suiteName() internal pure override returns (string memory) {
        return type(AttributionPolicyInvariantTest).name;
    }

    function invariant_proposedEpochsKeepTheirPolicy() public view {
        _checkProposedEpochsKeepTheirPolicy();
    }

    function invariant_scheduleStrictlyIncreasing() public view {
        _checkSchedule();
    }

    function invariant_everyPolicyReadable() public view {
        _checkEveryPolicyReadable();
    }

    function invariant_noSurprises() public view {
        _checkNoSurprises();
    }
}

contract AttributionPolicyTest is PolicyChecks, Test {
    function setUp() public {
        handler = new PolicyHandler();
        rewards = handler.rewards();
    }

    /// @dev A random sequence of proposals, revocations, policy changes and warps, checked after every step.
    function testFuzz_setAttributionPolicy_midEpochNeverMovesAProposedEpochsPolicy(uint256 seed) public {
        for (uint256 step; step < 48; ++step) {
            uint256 draw = uint256(keccak256(abi.encode(seed, step)));
            uint256 action = draw % 8;
            if (action < 3) handler.proposeRoot(draw >> 8);
            else if (action < 5) handler.setAttributionPolicy(draw >> 8);
            else if (action == 5) handler.revokeRoot(draw >> 8);
            else handler.warp(draw >> 8);
            _checkProposedEpochsKeepTheirPolicy();
            _checkSchedule();
            _checkNoSurprises();
        }
        _checkEveryPolicyReadable();
    }

    /// @dev Policies set during epoch L + 1 (L the last proposed) apply from L + 2, whatever else governance set
    /// before: the newest one set wins every epoch from its start.
    function testFuzz_setAttributionPolicy_newestWinsFromItsStart(uint8 proposed, uint8 sets) public {
        uint256 epochs = bound(proposed, 0, 20);
        uint256 count = bound(sets, 1, 6);
        for (uint256 e = 1; e <= epochs; ++e) handler.proposeRoot(1);
        for (uint256 i; i < count; ++i) handler.setAttributionPolicy(2 + 8 * i);
        assertEq(rewards.attributionPolicyCount(), 1 + count, "policies set");
        assertEq(rewards.attributionPolicySchedule().length, 2, "entries: the first and the newest");
        assertEq(rewards.attributionPolicyForEpoch(epochs + 1), 1, "the epoch collecting usage keeps policy 1");
        assertEq(rewards.attributionPolicyForEpoch(epochs + 2), 1 + count, "the newest from lastEpoch + 2");
        _checkNoSurprises();
    }
}
