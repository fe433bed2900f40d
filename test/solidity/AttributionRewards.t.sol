// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {AttributionRewards} from "../../contracts/AttributionRewards.sol";
import {OpenToken} from "../../contracts/OpenToken.sol";
import {IAttributionRewards} from "../../contracts/interfaces/IAttributionRewards.sol";
import {HandlerPaths, PathReport} from "./utils/Paths.sol";
import {Policies} from "./utils/Policies.sol";
import {Assertions, Test} from "./utils/Test.sol";
import {vm} from "./utils/Vm.sol";

/// @notice A four-leaf tree of OpenZeppelin StandardMerkleTree leaves `(uint256 index, address account, uint256
/// cumulativeAmount)`, hashed in sorted pairs as MerkleProof expects.
library FourLeafTree {
    function leaf(uint256 index, address account, uint256 amount) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(index, account, amount))));
    }

    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encodePacked(a, b)) : keccak256(abi.encodePacked(b, a));
    }

    function build(
        uint256[4] memory indices,
        address[4] memory accounts,
        uint256[4] memory amounts
    ) internal pure returns (bytes32[4] memory hashes) {
        for (uint256 i; i < 4; ++i) hashes[i] = leaf(indices[i], accounts[i], amounts[i]);
    }

    function root(bytes32[4] memory hashes) internal pure returns (bytes32) {
        return hashPair(hashPair(hashes[0], hashes[1]), hashPair(hashes[2], hashes[3]));
    }

    function proof(bytes32[4] memory hashes, uint256 i) internal pure returns (bytes32[] memory p) {
        p = new bytes32[](2);
        p[0] = hashes[i ^ 1];
        p[1] = i < 2 ? hashPair(hashes[2], hashes[3]) : hashPair(hashes[0], hashes[1]);
    }
}

/// @notice Funds the pool, proposes cumulative roots (honest ones, and some whose leaves overstate the declared
/// total), revokes pending roots (any of them, with every later one), lets governance change the claim delay,
/// warps, and claims for four accounts one at a time or in batches (in any order, with duplicates), also against
/// revoked and missing roots. Keeps every root's leaves as ghosts. The accounts' indices 6..9 straddle two
/// `_lastClaimedEpochs` words.
contract RewardsHandler is Assertions, HandlerPaths {
    address internal constant GOVERNANCE = address(0x6000);
    address internal constant ATTESTOR = address(0x7100);
    address internal constant GUARDIAN = address(0x7200);
    uint64 internal constant DELAY = 1 hours;

    OpenToken public token;
    AttributionRewards public rewards;
    address[4] internal _accounts;
    uint256[4] internal _indices;
    mapping(uint256 epoch => uint256[4]) internal _amounts;
    /// @dev The cumulative amounts the next honest root starts from.
    uint256[4] internal _cumulative;

    uint256 public currentTime;
    /// @dev The highest epoch ever proposed, revoked or not.
    uint256 public maxProposedEpoch;
    uint256 public ghostFunded;
    uint256 public ghostPaid;
    mapping(address account => uint256) public ghostPaidTo;
    mapping(address account => uint256) public ghostClaimedBefore;
    /// @dev The leaf amount of the epoch each account last claimed against.
    mapping(address account => uint256) public ghostLastLeaf;
    /// @dev The epoch each account (by position) last claimed against.
    mapping(uint256 i => uint256) public ghostLastEpoch;
    /// @dev Whether the root of an epoch above lastEpoch was revoked through an earlier epoch rather than by itself.
    mapping(uint256 epoch => bool) internal _revokedWithEarlier;
    uint256 public ghostSurprises;
    string public lastSurprise;

    constructor() {
        _declarePath("fund");
        _declarePath("proposeRoot");
        _declarePath("proposeRoot:overstated");
        _declarePath("proposeRoot:replacesRevoked");
        _declarePath("proposeRoot:heldBack");
        _declarePath("revokeRoot");
        _declarePath("revokeRoot:withLater");
        _declarePath("revokeRoot:RootNotPending");
        _declarePath("revokeRoot:alreadyRevoked");
        _declarePath("claim");
        _declarePath("claim:EpochNotFound");
        _declarePath("claim:RootIsRevoked");
        _declarePath("claim:revokedWithEarlier");
        _declarePath("claim:RootNotClaimable");
        _declarePath("claim:AlreadyClaimed");
        _declarePath("claim:NothingToClaim");
        _declarePath("claim:ClaimExceedsRootTotal");
        _declarePath("claimWrongPrevious:refused");
        _declarePath("claimBatch");
        _declarePath("claimBatch:twoWords");
        _declarePath("claimBatch:duplicateRefused");
        _declarePath("claimBatch:EpochNotFound");
        _declarePath("claimBatch:RootIsRevoked");
        _declarePath("claimBatch:revokedWithEarlier");
        _declarePath("claimBatch:RootNotClaimable");
        _declarePath("claimBatch:AlreadyClaimed");
        _declarePath("claimBatch:NothingToClaim");
        _declarePath("claimBatch:ClaimExceedsRootTotal");
        _declarePath("setClaimDelay");
        _declarePath("warp");
        currentTime = 1_750_000_000;
        vm.warp(currentTime);
        token = new OpenToken(address(this));
        rewards = new AttributionRewards(
            IERC20(address(token)),
            GOVERNANCE,
            ATTESTOR,
            GUARDIAN,
            DELAY,
            Policies.initial()
        );
        token.approve(address(rewards), type(uint256).max);
        for (uint256 i; i < 4; ++i) {
            _accounts[i] = address(uint160(0xD000 + i));
            _indices[i] = 6 + i;
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

    function account(uint256 i) external view returns (address) {
        return _accounts[i];
    }

    function index(uint256 i) external view returns (uint256) {
        return _indices[i];
    }

    function amountOf(uint256 epoch, uint256 i) external view returns (uint256) {
        return _amounts[epoch][i];
    }

    // ------------------------------------------------------------------ actions

    function fund(uint256 amount) public atCurrentTime {
        amount = bound(amount, 1, 1_000_000e18);
        try rewards.fund(amount) {
            ghostFunded += amount;
            _hit("fund");
        } catch {
            _surprise("fund reverted");
        }
    }

    /// @dev Honest roots raise each account's cumulative amount within what was funded and declare the leaves'
    /// sum; when `overstate` is set, the leaves exceed the declared total (an attestor bug the claim path must
    /// contain).
    function proposeRoot(uint256[4] calldata seeds, bool overstate) public atCurrentTime {
        uint256 epoch = rewards.lastEpoch() + 1;
        uint256 previousTotal = epoch == 1 ? 0 : rewards.getEpochRoot(epoch - 1).total;
        uint256[4] memory amounts;
        uint256 total = _cumulative[0] + _cumulative[1] + _cumulative[2] + _cumulative[3];
        // The honest base may come from a revoked root: it still fit within funding when proposed.
        uint256 room = rewards.totalFunded() - (total > previousTotal ? total : previousTotal);
        total = 0;
        for (uint256 i; i < 4; ++i) {
            uint256 base = _cumulative[i];
            uint256 inc = bound(seeds[i], 0, room / 2);
            room -= inc;
            amounts[i] = base + inc;
            total += amounts[i];
        }
        // Leaves of earlier roots may exceed the declared total when overstated; never declare less than before.
        if (total < previousTotal) total = previousTotal;
        uint256 declared = total;
        if (overstate) {
            amounts[seeds[0] % 4] += 1 + (seeds[1] % 1_000e18);
        }
        bytes32 root = FourLeafTree.root(FourLeafTree.build(_indices, _accounts, amounts));
        uint256 policyId = rewards.attributionPolicyForEpoch(epoch);
        vm.prank(ATTESTOR);
        try rewards.proposeRoot(epoch, root, declared, keccak256(abi.encode(amounts)), "ipfs://dist", policyId) {
            _amounts[epoch] = amounts;
            if (!overstate) _cumulative = amounts;
            bool replaces = epoch <= maxProposedEpoch;
            if (epoch > maxProposedEpoch) maxProposedEpoch = epoch;
            _revokedWithEarlier[epoch] = false;
            // Claimable after the delay, and never before the epoch it builds on.
            uint256 claimableAt = block.timestamp + rewards.claimDelay();
            bool heldBack;
            if (epoch > 1 && rewards.getEpochRoot(epoch - 1).claimableAt > claimableAt) {
                claimableAt = rewards.getEpochRoot(epoch - 1).claimableAt;
                heldBack = true;
            }
            if (rewards.getEpochRoot(epoch).claimableAt != claimableAt) _surprise("proposeRoot: claimableAt");
            _hit(overstate ? bytes32("proposeRoot:overstated") : bytes32("proposeRoot"));
            // Facets of the same call, counted besides its outcome.
            if (replaces) _hit("proposeRoot:replacesRevoked");
            if (heldBack) _hit("proposeRoot:heldBack");
        } catch {
            _surprise("proposeRoot reverted");
        }
    }

    /// @dev Any epoch ever proposed: pending ones are revoked with every later epoch; the others are refused.
    function revokeRoot(uint256 epochSeed) public atCurrentTime {
        if (maxProposedEpoch == 0) return;
        uint256 epoch = 1 + (epochSeed % maxProposedEpoch);
        uint256 last = rewards.lastEpoch();
        IAttributionRewards.EpochRoot memory r = rewards.getEpochRoot(epoch);
        bool pending = epoch <= last && block.timestamp < r.claimableAt;
        if (r.revoked != (epoch > last)) _surprise("getEpochRoot: revoked is not epoch > lastEpoch");
        vm.prank(GUARDIAN);
        try rewards.revokeRoot(epoch) {
            if (!pending) _surprise("revoked a claimable or revoked root");
            if (rewards.lastEpoch() != epoch - 1) _surprise("revokeRoot: lastEpoch not moved back");
            for (uint256 e = epoch; e <= last; ++e) {
                if (!rewards.getEpochRoot(e).revoked) _surprise("revokeRoot: a later root survived");
                _revokedWithEarlier[e] = e != epoch;
            }
            _hit(epoch < last ? bytes32("revokeRoot:withLater") : bytes32("revokeRoot"));
        } catch (bytes memory reason) {
            bytes memory expected = abi.encodeWithSelector(IAttributionRewards.RootNotPending.selector, epoch);
            if (pending || keccak256(reason) != keccak256(expected)) _surprise("revokeRoot reverted");
            else _hit(epoch > last ? bytes32("revokeRoot:alreadyRevoked") : bytes32("revokeRoot:RootNotPending"));
        }
    }

    /// @dev Against an epoch from `_epoch`: a revoked one (itself or through an earlier epoch) or a missing one must
    /// refuse.
    function claim(uint256 epochSeed, uint256 accountSeed) public atCurrentTime {
        if (maxProposedEpoch == 0) return;
        uint256 epoch = _epoch(epochSeed);
        uint256 i = accountSeed % 4;
        address who = _accounts[i];
        uint256 previousEpoch = rewards.lastClaimedEpoch(_indices[i]);
        IAttributionRewards.Claim memory c = _claimOf(epoch, i, previousEpoch);
        bytes memory expected = _expectedClaimError(epoch, c, previousEpoch);
        uint256 before = token.balanceOf(who);
        uint256 claimedBefore = ghostLastLeaf[who];
        try rewards.claim(epoch, c) {
            if (expected.length != 0) return _surprise("claim succeeded where it should revert");
            if (token.balanceOf(who) - before != c.cumulativeAmount - c.previousAmount) {
                _surprise("claim paid the wrong amount");
            }
            _checkLanes(epoch, 1 << i);
            _book(i, epoch, c);
            _hit("claim");
        } catch (bytes memory reason) {
            if (keccak256(reason) != keccak256(expected)) _surprise("claim reverted unexpectedly");
            else _hit(_refusal("claim:", epoch, reason));
        }
        ghostClaimedBefore[who] = claimedBefore;
    }

    /// @dev Claims for a random non-empty list of the accounts, in a random order, sometimes listing one twice (the
    /// whole batch must then be refused with AlreadyClaimed), against a random epoch. The expected outcome is
    /// simulated claim by claim, as the contract checks them, then against the root's total.
    function claimBatch(uint256 epochSeed, uint256 orderSeed, uint256 lengthSeed) public atCurrentTime {
        if (maxProposedEpoch == 0) return;
        uint256 epoch = _epoch(epochSeed);
        uint256[] memory order = _batchOrder(orderSeed, lengthSeed);
        IAttributionRewards.Claim[] memory claims = new IAttributionRewards.Claim[](order.length);
        uint256[4] memory before;
        uint256[4] memory claimedBefore;
        for (uint256 k; k < order.length; ++k) {
            uint256 i = order[k];
            claims[k] = _claimOf(epoch, i, rewards.lastClaimedEpoch(_indices[i]));
        }
        for (uint256 i; i < 4; ++i) {
            before[i] = token.balanceOf(_accounts[i]);
            claimedBefore[i] = ghostLastLeaf[_accounts[i]];
        }
        (bytes memory expected, uint256 mask) = _expectedBatchError(epoch, order, claims);
        try rewards.claimBatch(epoch, claims) {
            if (expected.length != 0) return _surprise("claimBatch succeeded where it should revert");
            for (uint256 i; i < 4; ++i) {
                uint256 paid = token.balanceOf(_accounts[i]) - before[i];
                uint256 owed;
                for (uint256 k; k < order.length; ++k) {
                    if (order[k] == i) owed = claims[k].cumulativeAmount - claims[k].previousAmount;
                }
                if (paid != owed) _surprise("claimBatch paid the wrong amount");
            }
            _checkLanes(epoch, mask);
            for (uint256 k; k < order.length; ++k) _book(order[k], epoch, claims[k]);
            // Indices 6, 7 share a word, 8, 9 the next one.
            _hit(mask & 3 != 0 && mask & 12 != 0 ? bytes32("claimBatch:twoWords") : bytes32("claimBatch"));
        } catch (bytes memory reason) {
            if (keccak256(reason) != keccak256(expected)) _surprise("claimBatch reverted unexpectedly");
            else if (mask == type(uint256).max) _hit("claimBatch:duplicateRefused");
            else _hit(_refusal("claimBatch:", epoch, reason));
        }
        for (uint256 i; i < 4; ++i) ghostClaimedBefore[_accounts[i]] = claimedBefore[i];
    }

    /// @dev A claim whose previous amount and proof are wrong: always refused, and changes nothing.
    function claimWithWrongPrevious(uint256 epochSeed, uint256 accountSeed, uint256 delta) public atCurrentTime {
        uint256 last = rewards.lastEpoch();
        if (last == 0) return;
        uint256 epoch = 1 + (epochSeed % last);
        uint256 i = accountSeed % 4;
        uint256 previousEpoch = rewards.lastClaimedEpoch(_indices[i]);
        if (previousEpoch == 0 || previousEpoch >= epoch) return;
        IAttributionRewards.Claim memory c = _claimOf(epoch, i, previousEpoch);
        uint256 wrong = bound(delta, 0, type(uint128).max);
        c.previousAmount = wrong == c.previousAmount ? wrong + 1 : wrong;
        try rewards.claim(epoch, c) {
            _surprise("claim with a wrong previous amount succeeded");
        } catch {
            _hit("claimWrongPrevious:refused");
        }
    }

    /// @dev Governance moves the claim delay, lowering it too: a root proposed after a lowered delay is still held
    /// back to the claimableAt of the epoch it builds on.
    function setClaimDelay(uint256 delay) public atCurrentTime {
        vm.prank(GOVERNANCE);
        rewards.setClaimDelay(uint64(bound(delay, 0, 2 * DELAY)));
        _hit("setClaimDelay");
    }

    function warp(uint256 seconds_) public {
        currentTime += bound(seconds_, 0, 2 * DELAY);
        vm.warp(currentTime);
        _hit("warp");
    }

    // ------------------------------------------------------------------ internals

    function _claimOf(
        uint256 epoch,
        uint256 i,
        uint256 previousEpoch
    ) internal view returns (IAttributionRewards.Claim memory c) {
        c.index = _indices[i];
        c.account = _accounts[i];
        c.cumulativeAmount = _amounts[epoch][i];
        c.proof = FourLeafTree.proof(FourLeafTree.build(_indices, _accounts, _amounts[epoch]), i);
        if (previousEpoch != 0) {
            c.previousAmount = _amounts[previousEpoch][i];
            c.previousProof = FourLeafTree.proof(FourLeafTree.build(_indices, _accounts, _amounts[previousEpoch]), i);
        }
    }

    /// @dev The epoch a claim goes against, once some epoch was proposed: mostly the newest (as claimants should),
    /// else any earlier one; one in eight times any epoch ever proposed, so that roots above lastEpoch (revoked, by
    /// themselves or through an earlier epoch, and not proposed again) are tried, and one in eight times one past
    /// every epoch ever proposed (missing). With every root revoked (lastEpoch 0), any epoch ever proposed.
    function _epoch(uint256 seed) internal view returns (uint256) {
        uint256 last = rewards.lastEpoch();
        uint256 pick = seed % 8;
        if (pick == 0) return maxProposedEpoch + 1;
        if (pick == 4 || last == 0) return 1 + ((seed >> 3) % maxProposedEpoch);
        if (pick < 4) return last;
        return 1 + ((seed >> 3) % last);
    }

    /// @dev Records a successful claim of account `i` against `epoch` in the ghosts.
    function _book(uint256 i, uint256 epoch, IAttributionRewards.Claim memory c) internal {
        address who = _accounts[i];
        uint256 paid = c.cumulativeAmount - c.previousAmount;
        ghostPaid += paid;
        ghostPaidTo[who] += paid;
        ghostLastLeaf[who] = c.cumulativeAmount;
        ghostLastEpoch[i] = epoch;
    }

    /// @dev After a successful claim: the lanes of the accounts in `mask` record `epoch`, no other lane moved.
    function _checkLanes(uint256 epoch, uint256 mask) internal {
        for (uint256 j; j < 4; ++j) {
            uint256 want = (mask >> j) & 1 == 1 ? epoch : ghostLastEpoch[j];
            if (rewards.lastClaimedEpoch(_indices[j]) != want) _surprise("a lane holds the wrong epoch");
        }
    }

    /// @dev 1 to 5 account positions in a seeded order; with 5 (or by chance) one position repeats.
    function _batchOrder(uint256 orderSeed, uint256 lengthSeed) internal pure returns (uint256[] memory order) {
        order = new uint256[](1 + (lengthSeed % 5));
        uint256 used;
        for (uint256 k; k < order.length; ++k) {
            uint256 i = uint256(keccak256(abi.encode(orderSeed, k))) % 4;
            // Mostly distinct positions: a repeat is redrawn once.
            if ((used >> i) & 1 == 1 && lengthSeed % 3 != 0) i = (i + 1 + (orderSeed % 3)) % 4;
            order[k] = i;
            used |= 1 << i;
        }
    }

    /// @dev The error claimBatch must revert with (empty: none), and the positions it claims as a bit mask
    /// (type(uint256).max when a position repeats: AlreadyClaimed on the second one).
    function _expectedBatchError(
        uint256 epoch,
        uint256[] memory order,
        IAttributionRewards.Claim[] memory claims
    ) internal view returns (bytes memory, uint256 mask) {
        bytes memory rootError = _rootError(epoch);
        if (rootError.length != 0) return (rootError, 0);
        uint256 sum;
        for (uint256 k; k < order.length; ++k) {
            uint256 i = order[k];
            IAttributionRewards.Claim memory c = claims[k];
            uint256 previousEpoch = (mask >> i) & 1 == 1 ? epoch : rewards.lastClaimedEpoch(c.index);
            if (previousEpoch >= epoch) {
                return (
                    abi.encodeWithSelector(IAttributionRewards.AlreadyClaimed.selector, c.index, epoch, previousEpoch),
                    (mask >> i) & 1 == 1 ? type(uint256).max : mask
                );
            }
            if (c.cumulativeAmount <= c.previousAmount) {
                return (_nothingToClaim(epoch, c, previousEpoch), mask);
            }
            sum += c.cumulativeAmount - c.previousAmount;
            mask |= 1 << i;
        }
        uint256 total = rewards.totalClaimed() + sum;
        uint256 rootTotal = rewards.getEpochRoot(epoch).total;
        if (total > rootTotal) {
            return (
                abi.encodeWithSelector(IAttributionRewards.ClaimExceedsRootTotal.selector, epoch, total, rootTotal),
                mask
            );
        }
        return ("", mask);
    }

    /// @dev EpochNotFound, RootIsRevoked or RootNotClaimable, checked before any claim; empty if the root is claimable.
    function _rootError(uint256 epoch) internal view returns (bytes memory) {
        IAttributionRewards.EpochRoot memory root;
        try rewards.getEpochRoot(epoch) returns (IAttributionRewards.EpochRoot memory r) {
            root = r;
        } catch {
            return abi.encodeWithSelector(IAttributionRewards.EpochNotFound.selector, epoch);
        }
        if (root.revoked) return abi.encodeWithSelector(IAttributionRewards.RootIsRevoked.selector, epoch);
        if (block.timestamp < root.claimableAt) {
            return abi.encodeWithSelector(IAttributionRewards.RootNotClaimable.selector, epoch, root.claimableAt);
        }
        return "";
    }

    function _nothingToClaim(
        uint256 epoch,
        IAttributionRewards.Claim memory c,
        uint256 previousEpoch
    ) internal pure returns (bytes memory) {
        return
            abi.encodeWithSelector(
                IAttributionRewards.NothingToClaim.selector,
                c.index,
                epoch,
                previousEpoch,
                c.cumulativeAmount,
                c.previousAmount
            );
    }

    function _expectedClaimError(
        uint256 epoch,
        IAttributionRewards.Claim memory c,
        uint256 previousEpoch
    ) internal view returns (bytes memory) {
        bytes memory rootError = _rootError(epoch);
        if (rootError.length != 0) return rootError;
        if (previousEpoch >= epoch) {
            return abi.encodeWithSelector(IAttributionRewards.AlreadyClaimed.selector, c.index, epoch, previousEpoch);
        }
        if (c.cumulativeAmount <= c.previousAmount) return _nothingToClaim(epoch, c, previousEpoch);
        uint256 total = rewards.totalClaimed() + c.cumulativeAmount - c.previousAmount;
        uint256 rootTotal = rewards.getEpochRoot(epoch).total;
        if (total > rootTotal) {
            return abi.encodeWithSelector(IAttributionRewards.ClaimExceedsRootTotal.selector, epoch, total, rootTotal);
        }
        return "";
    }

    /// @dev The path of an expected refusal: `prefix` and the custom error's name; `prefix` and `revokedWithEarlier`
    /// for a root revoked through an earlier epoch rather than by itself.
    function _refusal(string memory prefix, uint256 epoch, bytes memory reason) internal view returns (bytes32) {
        bytes4 selector = bytes4(reason);
        if (selector == IAttributionRewards.RootIsRevoked.selector && _revokedWithEarlier[epoch]) {
            return bytes32(bytes(string.concat(prefix, "revokedWithEarlier")));
        }
        string memory name =
            selector == IAttributionRewards.EpochNotFound.selector
                ? "EpochNotFound"
                : selector == IAttributionRewards.RootIsRevoked.selector
                    ? "RootIsRevoked"
                    : selector == IAttributionRewards.RootNotClaimable.selector
                        ? "RootNotClaimable"
                        : selector == IAttributionRewards.AlreadyClaimed.selector
                            ? "AlreadyClaimed"
                            : selector == IAttributionRewards.NothingToClaim.selector
                                ? "NothingToClaim"
                                : selector == IAttributionRewards.ClaimExceedsRootTotal.selector
                                    ? "ClaimExceedsRootTotal"
                                    : "unknown";
        return bytes32(bytes(string.concat(prefix, name)));
    }
}

contract AttributionRewardsInvariantTest is PathReport {
    RewardsHandler internal handler;
    AttributionRewards internal rewards;
    OpenToken internal token;

    function setUp() public {
        handler = new RewardsHandler();
        rewards = handler.rewards();
        token = handler.token();
        targetContract(address(handler));
    }

    function _pathHandler() internal view override returns (HandlerPaths) {
        return handler;
    }

    function _suiteName() internal pure override returns (string memory) {
        return type(AttributionRewardsInvariantTest).name;
    }

    function invariant_claimedNeverExceedsFunded() public view {
        assertLe(rewards.totalClaimed(), rewards.totalFunded(), "totalClaimed vs totalFunded");
        assertEq(rewards.totalFunded(), handler.ghostFunded(), "totalFunded vs ghost");
        assertEq(rewards.totalClaimed(), handler.ghostPaid(), "totalClaimed vs ghost paid");
    }

    function invariant_balanceEqualsFundedMinusClaimed() public view {
        assertEq(
            token.balanceOf(address(rewards)),
            uint256(rewards.totalFunded()) - rewards.totalClaimed(),
            "pool balance vs funded - claimed"
        );
    }

    /// @dev What each account was paid equals its leaf in the epoch its index last claimed against (payments
    /// telescope), so it was never paid more than its newest claimed leaf; and that amount never decreased (checked
    /// at each claim by the handler through ghostClaimedBefore <= ghostLastLeaf).
    function invariant_accountsNeverPaidMoreThanTheirLeaf() public view {
        for (uint256 i; i < 4; ++i) {
            address who = handler.account(i);
            uint256 last = rewards.lastClaimedEpoch(handler.index(i));
            uint256 leaf = last == 0 ? 0 : handler.amountOf(last, i);
            assertEq(handler.ghostPaidTo(who), leaf, "paid to account vs leaf of its last claimed epoch");
            assertEq(handler.ghostLastLeaf(who), leaf, "ghost leaf vs leaf of its last claimed epoch");
            assertEq(last, handler.ghostLastEpoch(i), "lastClaimedEpoch vs ghost");
            assertLe(handler.ghostClaimedBefore(who), handler.ghostLastLeaf(who), "paid never decreases");
        }
    }

    function invariant_noSurprises() public view {
        if (handler.ghostSurprises() != 0) {
            fail(string.concat("handler surprise: ", handler.lastSurprise()));
        }
    }
}

contract AttributionRewardsTest is Test {
    RewardsHandler internal h;

    function setUp() public {
        h = new RewardsHandler();
    }

    /// @dev A root whose leaves overstate its declared total pays out at most that total, whatever order the
    /// accounts claim in.
    function testFuzz_claim_overstatedRootPaysAtMostItsTotal(
        uint256 funded,
        uint256[4] calldata seeds,
        uint256 order
    ) public {
        h.fund(funded);
        h.proposeRoot(seeds, true);
        h.warp(2 * 3600);
        // Epoch seed 1: the newest epoch, 1.
        for (uint256 k; k < 4; ++k) h.claim(1, (order % 4) + k);
        AttributionRewards rewards = h.rewards();
        assertLe(rewards.totalClaimed(), rewards.getEpochRoot(1).total, "claimed vs root total");
        assertEq(h.ghostSurprises(), 0, "surprises");
        // Every claim got past the root's checks: it was paid, or refused for its amount.
        assertEq(
            h.calls("claim") + h.calls("claim:NothingToClaim") + h.calls("claim:ClaimExceedsRootTotal"),
            4,
            "claims that reached the amount checks"
        );
    }

    /// @dev Eight neighbours of one word (and one of the next) claim in any order: each lane records its own epoch
    /// and no other lane moves.
    function testFuzz_claim_packedLanesAreIndependent(uint256 word, uint256 seed) public {
        word = bound(word, 0, type(uint256).max >> 4);
        OpenToken token = new OpenToken(address(this));
        AttributionRewards rewards = new AttributionRewards(
            IERC20(address(token)),
            address(0x6000),
            address(this),
            address(0x7200),
            0,
            Policies.initial()
        );
        uint256 n = 9;
        bytes32[] memory leaves = new bytes32[](n);
        // A 9-leaf tree is awkward to prove by hand: one root per leaf (a one-leaf tree), in nine epochs.
        token.approve(address(rewards), type(uint256).max);
        rewards.fund(1_000_000);
        for (uint256 k; k < n; ++k) {
            leaves[k] = FourLeafTree.leaf(word * 8 + k, address(uint160(0xE000 + k)), 1_000 + k);
            rewards.proposeRoot(k + 1, leaves[k], 1_000_000, bytes32(0), "", 1);
        }
        uint256[] memory epochOf = new uint256[](n);
        for (uint256 step; step < n; ++step) {
            // A pseudo-random order: the next unclaimed slot from a seeded start.
            uint256 k = uint256(keccak256(abi.encode(seed, step))) % n;
            while (epochOf[k] != 0) k = (k + 1) % n;
            IAttributionRewards.Claim memory c;
            c.index = word * 8 + k;
            c.account = address(uint160(0xE000 + k));
            c.cumulativeAmount = 1_000 + k;
            rewards.claim(k + 1, c);
            epochOf[k] = k + 1;
            for (uint256 j; j < n; ++j) {
                assertEq(rewards.lastClaimedEpoch(word * 8 + j), epochOf[j], "lane");
            }
            assertEq(token.balanceOf(c.account), 1_000 + k, "paid");
        }
    }
}

/// @notice Revocation against an attestor that keeps proposing: one-leaf roots (the proof is empty), so that each
/// test states its roots and claims directly.
contract AttributionRewardsRevocationTest is Test {
    address internal constant GOVERNANCE = address(0x6000);
    address internal constant ATTESTOR = address(0x7100);
    address internal constant GUARDIAN = address(0x7200);
    address internal constant HONEST = address(0xD000);
    address internal constant THIEF = address(0xBAD);
    uint64 internal constant DELAY = 1 hours;

    OpenToken internal token;
    AttributionRewards internal rewards;

    function setUp() public {
        vm.warp(1_750_000_000);
        token = new OpenToken(address(this));
        rewards = new AttributionRewards(
            IERC20(address(token)),
            GOVERNANCE,
            ATTESTOR,
            GUARDIAN,
            DELAY,
            Policies.initial()
        );
        token.approve(address(rewards), type(uint256).max);
        rewards.fund(1_000_000);
    }

    /// @dev Proposes a one-leaf root: `account` at `index` with cumulative `amount`, which is also the total.
    function _propose(uint256 epoch, uint256 index, address account, uint256 amount) internal returns (bytes32) {
        return _propose(epoch, index, account, amount, amount);
    }

    /// @dev `_propose` declaring `total`: the cumulative distribution also holds what earlier epochs paid.
    function _propose(
        uint256 epoch,
        uint256 index,
        address account,
        uint256 amount,
        uint256 total
    ) internal returns (bytes32 root) {
        root = FourLeafTree.leaf(index, account, amount);
        vm.prank(ATTESTOR);
        rewards.proposeRoot(epoch, root, total, keccak256(abi.encode(epoch, amount)), "ipfs://dist", 1);
    }

    function _claim(uint256 epoch, uint256 index, address account, uint256 amount) internal {
        IAttributionRewards.Claim memory c;
        c.index = index;
        c.account = account;
        c.cumulativeAmount = amount;
        rewards.claim(epoch, c);
    }

    function _revoke(uint256 epoch) internal {
        vm.prank(GUARDIAN);
        rewards.revokeRoot(epoch);
    }

    function test_revokeRoot_revokesAnyPendingEpochAndAllLater() public {
        _propose(1, 0, HONEST, 100);
        _propose(2, 1, THIEF, 1_000);
        _propose(3, 1, THIEF, 2_000);

        // Not the newest: epoch 2 goes, and epoch 3 with it.
        _revoke(2);
        assertEq(rewards.lastEpoch(), 1, "lastEpoch moved back");
        assertFalse(rewards.getEpochRoot(1).revoked, "epoch 1 revoked");
        assertTrue(rewards.getEpochRoot(2).revoked, "epoch 2 not revoked");
        assertTrue(rewards.getEpochRoot(3).revoked, "epoch 3 not revoked");
        vm.expectRevert(abi.encodeWithSelector(IAttributionRewards.RootNotPending.selector, 3));
        _revoke(3);

        // Past every delay, the revoked roots still pay nothing; epoch 1 pays.
        vm.warp(block.timestamp + DELAY + 1);
        vm.expectRevert(abi.encodeWithSelector(IAttributionRewards.RootIsRevoked.selector, 2));
        _claim(2, 1, THIEF, 1_000);
        vm.expectRevert(abi.encodeWithSelector(IAttributionRewards.RootIsRevoked.selector, 3));
        _claim(3, 1, THIEF, 2_000);
        _claim(1, 0, HONEST, 100);
        assertEq(token.balanceOf(HONEST), 100, "epoch 1 paid");
        assertEq(token.balanceOf(THIEF), 0, "revoked roots paid nothing");

        // The attestor proposes epoch 2 again, and only epoch 2.
        bytes32 leaf3 = FourLeafTree.leaf(1, THIEF, 2_000);
        vm.expectRevert(abi.encodeWithSelector(IAttributionRewards.EpochOutOfOrder.selector, 3, 2));
        vm.prank(ATTESTOR);
        rewards.proposeRoot(3, leaf3, 2_000, bytes32(0), "ipfs://dist", 1);
        // Cumulative: epoch 1 paid 100, which the total of epoch 2 still counts.
        bytes32 root = _propose(2, 1, address(0xD001), 300, 400);
        IAttributionRewards.EpochRoot memory r = rewards.getEpochRoot(2);
        assertEq(r.root, root, "epoch 2 replaced");
        assertFalse(r.revoked, "epoch 2 proposed again");
        assertEq(r.claimableAt, block.timestamp + DELAY, "claimableAt");
        assertEq(rewards.lastEpoch(), 2, "lastEpoch");
        assertTrue(rewards.getEpochRoot(3).revoked, "epoch 3 still revoked");
        vm.warp(block.timestamp + DELAY);
        _claim(2, 1, address(0xD001), 300);
        assertEq(token.balanceOf(address(0xD001)), 300, "new epoch 2 paid");
    }

    /// @dev Every block the attestor proposes the next epoch, landing ahead of the guardian's transaction; the
    /// guardian revokes the oldest pending root every third block, by which time newer roots sit on top of it.
    /// Revoking the oldest takes them all: after every delay has passed, none of the revoked roots pays.
    function test_revokeRoot_raceWithAttestorProposingEveryBlock() public {
        _propose(1, 0, HONEST, 100);
        vm.warp(block.timestamp + DELAY);
        uint256 highest = 1;
        uint256 revocations;
        for (uint256 b; b < 30; ++b) {
            vm.roll(block.number + 1);
            vm.warp(block.timestamp + 12);
            uint256 next = rewards.lastEpoch() + 1;
            _propose(next, 1, THIEF, 1_000 + b);
            if (next > highest) highest = next;
            if (b % 3 == 2) {
                assertTrue(rewards.lastEpoch() > 2, "newer roots sit on the oldest pending one");
                _revoke(2);
                ++revocations;
                assertEq(rewards.lastEpoch(), 1, "everything from epoch 2 revoked");
            }
        }
        assertEq(revocations, 10, "revocations");
        assertEq(highest, 4, "highest epoch proposed");

        vm.warp(block.timestamp + DELAY + 1);
        for (uint256 e = 2; e <= highest; ++e) {
            assertTrue(rewards.getEpochRoot(e).revoked, "revoked root reported revoked");
            IAttributionRewards.Claim memory c;
            c.index = 1;
            c.account = THIEF;
            c.cumulativeAmount = rewards.getEpochRoot(e).total;
            vm.expectRevert(abi.encodeWithSelector(IAttributionRewards.RootIsRevoked.selector, e));
            rewards.claim(e, c);
            vm.expectRevert(abi.encodeWithSelector(IAttributionRewards.RootNotPending.selector, e));
            _revoke(e);
        }
        assertEq(token.balanceOf(THIEF), 0, "revoked roots paid nothing");
        _claim(1, 0, HONEST, 100);
        assertEq(token.balanceOf(HONEST), 100, "epoch 1 paid");
    }

    /// @dev Governance lowers the claim delay while epoch 1 is pending: epoch 2, proposed after, is not claimable
    /// before epoch 1, so revoking epoch 1 still reaches it.
    function test_setClaimDelay_loweredDoesNotMakeLaterEpochClaimableFirst() public {
        vm.prank(GOVERNANCE);
        rewards.setClaimDelay(7 days);
        uint256 t0 = block.timestamp;
        _propose(1, 1, THIEF, 1_000);
        uint256 first = rewards.getEpochRoot(1).claimableAt;
        assertEq(first, t0 + 7 days, "epoch 1 claimableAt");

        vm.prank(GOVERNANCE);
        rewards.setClaimDelay(1 hours);
        vm.warp(t0 + 60);
        _propose(2, 2, THIEF, 2_000);
        uint256 second = rewards.getEpochRoot(2).claimableAt;
        assertTrue(second >= first, "epoch 2 claimable no earlier than epoch 1");
        assertEq(second, first, "epoch 2 claimableAt");

        // When the lowered delay alone would have let epoch 2 pay.
        vm.warp(t0 + 60 + 1 hours);
        vm.expectRevert(abi.encodeWithSelector(IAttributionRewards.RootNotClaimable.selector, 2, first));
        _claim(2, 2, THIEF, 2_000);

        _revoke(1);
        assertEq(rewards.lastEpoch(), 0, "lastEpoch");
        assertTrue(rewards.getEpochRoot(1).revoked, "epoch 1 revoked");
        assertTrue(rewards.getEpochRoot(2).revoked, "epoch 2 revoked with it");
        vm.warp(first + 1);
        vm.expectRevert(abi.encodeWithSelector(IAttributionRewards.RootIsRevoked.selector, 1));
        _claim(1, 1, THIEF, 1_000);
        vm.expectRevert(abi.encodeWithSelector(IAttributionRewards.RootIsRevoked.selector, 2));
        _claim(2, 2, THIEF, 2_000);
        assertEq(token.balanceOf(THIEF), 0, "nothing paid");
    }
}
