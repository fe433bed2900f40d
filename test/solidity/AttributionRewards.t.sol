// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {AttributionRewards} from "../../contracts/AttributionRewards.sol";
import {OpenToken} from "../../contracts/OpenToken.sol";
import {IAttributionRewards} from "../../contracts/interfaces/IAttributionRewards.sol";
import {Assertions, Test} from "./utils/Test.sol";
import {vm} from "./utils/Vm.sol";

/// @notice A four-leaf tree of OpenZeppelin StandardMerkleTree leaves `(address, uint256)`, hashed in sorted
/// pairs as MerkleProof expects.
library FourLeafTree {
    function leaf(address account, uint256 amount) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(account, amount))));
    }

    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(abi.encodePacked(a, b)) : keccak256(abi.encodePacked(b, a));
    }

    function build(address[4] memory accounts, uint256[4] memory amounts) internal pure returns (bytes32[4] memory l) {
        for (uint256 i; i < 4; ++i) l[i] = leaf(accounts[i], amounts[i]);
    }

    function root(bytes32[4] memory l) internal pure returns (bytes32) {
        return hashPair(hashPair(l[0], l[1]), hashPair(l[2], l[3]));
    }

    function proof(bytes32[4] memory l, uint256 i) internal pure returns (bytes32[] memory p) {
        p = new bytes32[](2);
        p[0] = l[i ^ 1];
        p[1] = i < 2 ? hashPair(l[2], l[3]) : hashPair(l[0], l[1]);
    }
}

/// @notice Funds the pool, proposes cumulative roots (honest ones, and some whose leaves overstate the declared
/// total), revokes pending roots, warps and claims for four accounts. Keeps every root's leaves as ghosts.
contract RewardsHandler is Assertions {
    address internal constant GOVERNANCE = address(0x6000);
    address internal constant ATTESTOR = address(0x7100);
    address internal constant GUARDIAN = address(0x7200);
    uint64 internal constant DELAY = 1 hours;

    OpenToken public token;
    AttributionRewards public rewards;
    address[4] internal _accounts;
    mapping(uint256 epoch => uint256[4]) internal _amounts;
    /// @dev The cumulative amounts the next honest root starts from.
    uint256[4] internal _cumulative;

    uint256 public currentTime;
    uint256 public ghostFunded;
    uint256 public ghostPaid;
    mapping(address account => uint256) public ghostPaidTo;
    mapping(address account => uint256) public ghostClaimedBefore;
    /// @dev The leaf amount of the epoch each account last claimed against.
    mapping(address account => uint256) public ghostLastLeaf;
    uint256 public ghostSurprises;
    string public lastSurprise;
    mapping(bytes32 => uint256) public calls;

    constructor() {
        currentTime = 1_750_000_000;
        vm.warp(currentTime);
        token = new OpenToken(address(this));
        rewards = new AttributionRewards(IERC20(address(token)), GOVERNANCE, ATTESTOR, GUARDIAN, DELAY);
        token.approve(address(rewards), type(uint256).max);
        for (uint256 i; i < 4; ++i) _accounts[i] = address(uint160(0xD000 + i));
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

    // ------------------------------------------------------------------ actions

    function fund(uint256 amount) public atCurrentTime {
        amount = bound(amount, 1, 1_000_000e18);
        try rewards.fund(amount) {
            ghostFunded += amount;
            ++calls["fund"];
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
        bytes32 root = FourLeafTree.root(FourLeafTree.build(_accounts, amounts));
        vm.prank(ATTESTOR);
        try rewards.proposeRoot(epoch, root, declared, keccak256(abi.encode(amounts)), "ipfs://dist") {
            _amounts[epoch] = amounts;
            if (!overstate) _cumulative = amounts;
            ++calls["proposeRoot"];
        } catch {
            _surprise("proposeRoot reverted");
        }
    }

    function revokeRoot() public atCurrentTime {
        uint256 epoch = rewards.lastEpoch();
        if (epoch == 0) return;
        IAttributionRewards.EpochRoot memory r = rewards.getEpochRoot(epoch);
        bool pending = !r.revoked && block.timestamp < r.claimableAt;
        vm.prank(GUARDIAN);
        try rewards.revokeRoot(epoch) {
            if (!pending) _surprise("revoked a claimable root");
            ++calls["revokeRoot"];
        } catch (bytes memory reason) {
            bytes memory expected = abi.encodeWithSelector(IAttributionRewards.RootNotPending.selector, epoch);
            if (pending || keccak256(reason) != keccak256(expected)) _surprise("revokeRoot reverted");
        }
    }

    function claim(uint256 epochSeed, uint256 accountSeed) public atCurrentTime {
        uint256 last = rewards.lastEpoch();
        if (last == 0) return;
        uint256 epoch = 1 + (epochSeed % last);
        uint256 i = accountSeed % 4;
        address who = _accounts[i];
        uint256 amount = _amounts[epoch][i];
        bytes32[4] memory leaves = FourLeafTree.build(_accounts, _amounts[epoch]);
        bytes memory expected = _expectedClaimError(epoch, who, amount);
        uint256 before = token.balanceOf(who);
        uint256 claimedBefore = rewards.claimed(who);
        try rewards.claim(epoch, who, amount, FourLeafTree.proof(leaves, i)) {
            if (expected.length != 0) return _surprise("claim succeeded where it should revert");
            uint256 paid = token.balanceOf(who) - before;
            if (paid != amount - claimedBefore) _surprise("claim paid the wrong amount");
            if (rewards.claimed(who) < claimedBefore) _surprise("claimed decreased");
            ghostPaid += paid;
            ghostPaidTo[who] += paid;
            ghostLastLeaf[who] = amount;
            ++calls["claim"];
        } catch (bytes memory reason) {
            if (keccak256(reason) != keccak256(expected)) _surprise("claim reverted unexpectedly");
            else ++calls["claimRefused"];
        }
        ghostClaimedBefore[who] = claimedBefore;
    }

    function warp(uint256 seconds_) public {
        currentTime += bound(seconds_, 0, 2 * DELAY);
        vm.warp(currentTime);
    }

    // ------------------------------------------------------------------ internals

    function _expectedClaimError(uint256 epoch, address who, uint256 amount) internal view returns (bytes memory) {
        IAttributionRewards.EpochRoot memory r = rewards.getEpochRoot(epoch);
        if (r.revoked) return abi.encodeWithSelector(IAttributionRewards.RootIsRevoked.selector, epoch);
        if (block.timestamp < r.claimableAt) {
            return abi.encodeWithSelector(IAttributionRewards.RootNotClaimable.selector, epoch, r.claimableAt);
        }
        uint256 already = rewards.claimed(who);
        if (amount <= already) {
            return abi.encodeWithSelector(IAttributionRewards.NothingToClaim.selector, who, amount, already);
        }
        uint256 total = rewards.totalClaimed() + amount - already;
        if (total > r.total) {
            return abi.encodeWithSelector(IAttributionRewards.ClaimExceedsRootTotal.selector, epoch, total, r.total);
        }
        return "";
    }
}

contract AttributionRewardsInvariantTest is Test {
    RewardsHandler internal handler;
    AttributionRewards internal rewards;
    OpenToken internal token;

    function setUp() public {
        handler = new RewardsHandler();
        rewards = handler.rewards();
        token = handler.token();
        targetContract(address(handler));
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

    /// @dev claimed[account] equals what the account was paid, equals the leaf of the newest root it claimed
    /// against (so it was never paid more than that leaf), and never decreased (checked at each claim by the
    /// handler through ghostClaimedBefore <= claimed).
    function invariant_accountsNeverPaidMoreThanTheirLeaf() public view {
        for (uint256 i; i < 4; ++i) {
            address who = handler.account(i);
            uint256 c = rewards.claimed(who);
            assertEq(c, handler.ghostPaidTo(who), "claimed vs paid to account");
            assertEq(c, handler.ghostLastLeaf(who), "claimed vs leaf claimed against");
            assertLe(handler.ghostClaimedBefore(who), c, "claimed never decreases");
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
    function testFuzz_claim_overstatedRootPaysAtMostItsTotal(uint256 funded, uint256[4] calldata seeds, uint256 order)
        public
    {
        h.fund(funded);
        h.proposeRoot(seeds, true);
        h.warp(2 * 3600);
        for (uint256 k; k < 4; ++k) h.claim(1, (order % 4) + k);
        AttributionRewards rewards = h.rewards();
        assertLe(rewards.totalClaimed(), rewards.getEpochRoot(1).total, "claimed vs root total");
        assertEq(h.ghostSurprises(), 0, "surprises");
    }
}
