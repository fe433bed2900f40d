// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {IVotes} from "@openzeppelin/contracts/governance/utils/IVotes.sol";
import {OpenToken} from "../../contracts/OpenToken.sol";
import {IOpenToken} from "../../contracts/interfaces/IOpenToken.sol";
import {HandlerPaths, PathReport} from "./utils/Paths.sol";
import {Signatures} from "./utils/Signatures.sol";
import {Assertions, Test} from "./utils/Test.sol";
import {vm} from "./utils/Vm.sol";

contract OpenTokenTest is Test {
    uint256 internal constant SUPPLY = 1_000_000_000e18;
    uint256 internal constant ALICE_KEY = 0xA11CE;
    uint256 internal constant BOB_KEY = 0xB0B;

    OpenToken internal token;
    address internal treasury = address(0x7EA5);
    address internal alice = vm.addr(ALICE_KEY);
    address internal bob = vm.addr(BOB_KEY);

    function setUp() public {
        vm.warp(1_750_000_000);
        token = new OpenToken(treasury);
        vm.prank(treasury);
        token.transfer(alice, 1_000e18);
    }

    // ---------------------------------------------------------------- unit

    function test_constructor_mintsTotalSupplyToTreasury() public {
        OpenToken fresh = new OpenToken(treasury);
        assertEq(fresh.totalSupply(), SUPPLY, "totalSupply");
        assertEq(fresh.TOTAL_SUPPLY(), SUPPLY, "TOTAL_SUPPLY");
        assertEq(fresh.balanceOf(treasury), SUPPLY, "treasury balance");
        assertEq(fresh.decimals(), 18, "decimals");
        assertEq(fresh.CLOCK_MODE(), "mode=timestamp", "CLOCK_MODE");
        assertEq(fresh.clock(), block.timestamp, "clock");
    }

    function test_constructor_revertsIfZeroTreasury() public {
        vm.expectRevert(IOpenToken.ZeroTreasury.selector);
        new OpenToken(address(0));
    }

    function test_transfer_movesBalance() public {
        vm.prank(alice);
        assertTrue(token.transfer(bob, 400e18), "transfer returns true");
        assertEq(token.balanceOf(alice), 600e18, "alice");
        assertEq(token.balanceOf(bob), 400e18, "bob");
    }

    function test_transfer_revertsIfInsufficientBalance() public {
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, alice, 1_000e18, 1_000e18 + 1)
        );
        vm.prank(alice);
        token.transfer(bob, 1_000e18 + 1);
    }

    function test_approveAndTransferFrom_spendAllowance() public {
        vm.prank(alice);
        token.approve(bob, 300e18);
        vm.prank(bob);
        token.transferFrom(alice, bob, 100e18);
        assertEq(token.allowance(alice, bob), 200e18, "allowance left");
        assertEq(token.balanceOf(bob), 100e18, "bob");
    }

    function test_transferFrom_revertsIfAllowanceTooLow() public {
        vm.prank(alice);
        token.approve(bob, 1e18);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, bob, 1e18, 2e18));
        vm.prank(bob);
        token.transferFrom(alice, bob, 2e18);
    }

    function test_permit_setsAllowanceAndBumpsNonce() public {
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = Signatures.signPermit(token, ALICE_KEY, bob, 500e18, deadline);
        token.permit(alice, bob, 500e18, deadline, v, r, s);
        assertEq(token.allowance(alice, bob), 500e18, "allowance");
        assertEq(token.nonces(alice), 1, "nonce");
    }

    function test_permit_revertsIfReplayed() public {
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = Signatures.signPermit(token, ALICE_KEY, bob, 500e18, deadline);
        token.permit(alice, bob, 500e18, deadline, v, r, s);
        vm.expectRevert(); // the recovered signer no longer matches: nonce moved on
        token.permit(alice, bob, 500e18, deadline, v, r, s);
    }

    function test_delegate_givesVotesToDelegatee() public {
        vm.prank(alice);
        token.delegate(bob);
        assertEq(token.delegates(alice), bob, "delegates");
        assertEq(token.getVotes(bob), 1_000e18, "bob votes");
        assertEq(token.getVotes(alice), 0, "alice votes");
        vm.warp(block.timestamp + 1);
        assertEq(token.getPastVotes(bob, block.timestamp - 1), 1_000e18, "past votes");
        assertEq(token.getPastTotalSupply(block.timestamp - 1), SUPPLY, "past total supply");
    }

    function test_delegateBySig_delegatesForSigner() public {
        uint256 expiry = block.timestamp + 1 hours;
        (uint256 nonce, uint8 v, bytes32 r, bytes32 s) = Signatures.signDelegation(token, ALICE_KEY, bob, expiry);
        token.delegateBySig(bob, nonce, expiry, v, r, s);
        assertEq(token.delegates(alice), bob, "delegates");
        assertEq(token.getVotes(bob), 1_000e18, "bob votes");
    }

    function test_delegateBySig_revertsIfExpired() public {
        uint256 expiry = block.timestamp - 1;
        (uint256 nonce, uint8 v, bytes32 r, bytes32 s) = Signatures.signDelegation(token, ALICE_KEY, bob, expiry);
        vm.expectRevert(abi.encodeWithSelector(IVotes.VotesExpiredSignature.selector, expiry));
        token.delegateBySig(bob, nonce, expiry, v, r, s);
    }

    // ---------------------------------------------------------------- fuzz

    function testFuzz_transfer_keepsSupplyConstant(address to, uint256 amount) public {
        vm.assume(to != address(0));
        // The treasury holds the supply less alice's 1,000 OPEN; bounding by SUPPLY let the transfer revert.
        amount = bound(amount, 0, token.balanceOf(treasury));
        uint256 before = token.balanceOf(to);
        vm.prank(treasury);
        token.transfer(to, amount);
        assertEq(token.totalSupply(), SUPPLY, "totalSupply");
        if (to != treasury) assertEq(token.balanceOf(to), before + amount, "recipient");
        assertEq(
            token.balanceOf(treasury) +
                token.balanceOf(alice) +
                (to == treasury || to == alice ? 0 : token.balanceOf(to)),
            SUPPLY,
            "holders sum"
        );
    }

    function testFuzz_permit_setsAllowanceAndKeepsSupply(
        uint256 ownerKey,
        address spender,
        uint256 value,
        uint256 ttl
    ) public {
        ownerKey = bound(ownerKey, 1, 2 ** 128);
        vm.assume(spender != address(0));
        ttl = bound(ttl, 0, 365 days);
        uint256 deadline = block.timestamp + ttl;
        address owner = vm.addr(ownerKey);
        (uint8 v, bytes32 r, bytes32 s) = Signatures.signPermit(token, ownerKey, spender, value, deadline);
        token.permit(owner, spender, value, deadline, v, r, s);
        assertEq(token.allowance(owner, spender), value, "allowance");
        assertEq(token.totalSupply(), SUPPLY, "totalSupply");
    }

    function testFuzz_permit_revertsIfExpired(uint256 late) public {
        late = bound(late, 1, 365 days);
        uint256 deadline = block.timestamp;
        (uint8 v, bytes32 r, bytes32 s) = Signatures.signPermit(token, ALICE_KEY, bob, 1e18, deadline);
        vm.warp(block.timestamp + late);
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612ExpiredSignature.selector, deadline));
        token.permit(alice, bob, 1e18, deadline, v, r, s);
    }

    function testFuzz_delegate_movesVotesNotSupply(address delegatee, uint256 amount) public {
        vm.assume(delegatee != address(0));
        amount = bound(amount, 0, 1_000e18);
        vm.prank(alice);
        token.delegate(delegatee);
        vm.prank(alice);
        token.transfer(bob, amount);
        assertEq(token.getVotes(delegatee), 1_000e18 - amount, "delegatee votes follow the balance");
        assertEq(token.totalSupply(), SUPPLY, "totalSupply");
    }
}

/// @notice Drives OPEN through transfers, allowances, permits and delegations among a fixed set of actors that
/// hold the whole supply, tracking who delegates to whom.
contract TokenHandler is Assertions, HandlerPaths {
    uint256 public constant ACTORS = 5;

    OpenToken public immutable token;
    uint256[ACTORS] internal _keys;
    address[ACTORS] public actors;

    /// @dev Ghost: the delegatee each actor last chose (zero: none).
    mapping(address => address) public ghostDelegatee;
    uint256 public ghostCalls;

    constructor() {
        _declarePath("transfer");
        _declarePath("transfer:toSelf");
        _declarePath("approveAndTransferFrom");
        _declarePath("permitAndTransferFrom");
        _declarePath("delegate");
        _declarePath("delegate:moveVotes");
        _declarePath("delegateBySig");
        _declarePath("warp");
        for (uint256 i; i < ACTORS; ++i) {
            _keys[i] = 0xA11CE + i;
            actors[i] = vm.addr(_keys[i]);
        }
        // The genesis treasury is an actor, so the actors always hold the whole supply.
        token = new OpenToken(actors[0]);
    }

    function transfer(uint256 fromSeed, uint256 toSeed, uint256 amount) external {
        address from = actors[fromSeed % ACTORS];
        amount = bound(amount, 0, token.balanceOf(from));
        address to = actors[toSeed % ACTORS];
        vm.prank(from);
        token.transfer(to, amount);
        ++ghostCalls;
        _hit(from == to ? bytes32("transfer:toSelf") : bytes32("transfer"));
    }

    function approveAndTransferFrom(uint256 ownerSeed, uint256 spenderSeed, uint256 toSeed, uint256 amount) external {
        address owner = actors[ownerSeed % ACTORS];
        address spender = actors[spenderSeed % ACTORS];
        uint256 allowance = bound(amount, 0, token.balanceOf(owner));
        vm.prank(owner);
        token.approve(spender, allowance);
        vm.prank(spender);
        token.transferFrom(owner, actors[toSeed % ACTORS], bound(amount >> 1, 0, allowance));
        ++ghostCalls;
        _hit("approveAndTransferFrom");
    }

    function permitAndTransferFrom(uint256 ownerSeed, uint256 spenderSeed, uint256 toSeed, uint256 amount) external {
        uint256 ownerIndex = ownerSeed % ACTORS;
        address owner = actors[ownerIndex];
        address spender = actors[spenderSeed % ACTORS];
        amount = bound(amount, 0, token.balanceOf(owner));
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = Signatures.signPermit(token, _keys[ownerIndex], spender, amount, deadline);
        // Anyone may submit a permit.
        token.permit(owner, spender, amount, deadline, v, r, s);
        assertEq(token.allowance(owner, spender), amount, "allowance after permit");
        vm.prank(spender);
        token.transferFrom(owner, actors[toSeed % ACTORS], amount);
        ++ghostCalls;
        _hit("permitAndTransferFrom");
    }

    function delegate(uint256 fromSeed, uint256 toSeed) external {
        address from = actors[fromSeed % ACTORS];
        address to = actors[toSeed % ACTORS];
        address previous = ghostDelegatee[from];
        vm.prank(from);
        token.delegate(to);
        ghostDelegatee[from] = to;
        ++ghostCalls;
        // Re-delegating moves the votes from one delegatee to another; a first delegation only adds them.
        _hit(previous != address(0) && previous != to ? bytes32("delegate:moveVotes") : bytes32("delegate"));
    }

    function delegateBySig(uint256 fromSeed, uint256 toSeed) external {
        uint256 fromIndex = fromSeed % ACTORS;
        address to = actors[toSeed % ACTORS];
        uint256 expiry = block.timestamp + 1 hours;
        (uint256 nonce, uint8 v, bytes32 r, bytes32 s) = Signatures.signDelegation(token, _keys[fromIndex], to, expiry);
        token.delegateBySig(to, nonce, expiry, v, r, s);
        ghostDelegatee[actors[fromIndex]] = to;
        ++ghostCalls;
        _hit("delegateBySig");
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 30 days));
        _hit("warp");
    }
}

/// @notice Invariant campaign over TokenHandler: random transfers, allowances, permits and delegations.
contract OpenTokenInvariantTest is PathReport {
    TokenHandler internal handler;
    OpenToken internal token;

    function setUp() public {
        vm.warp(1_750_000_000);
        handler = new TokenHandler();
        token = handler.token();
        targetContract(address(handler));
    }

    function _pathHandler() internal view override returns (HandlerPaths) {
        return handler;
    }

    function _suiteName() internal pure override returns (string memory) {
        return type(OpenTokenInvariantTest).name;
    }

    function invariant_tokenSupplyConstant() public view {
        uint256 supply = token.TOTAL_SUPPLY();
        assertEq(token.totalSupply(), supply, "totalSupply");
        uint256 sum;
        for (uint256 i; i < handler.ACTORS(); ++i) {
            sum += token.balanceOf(handler.actors(i));
        }
        assertEq(sum, supply, "sum of actor balances");
    }

    function invariant_votesEqualDelegatedBalances() public view {
        uint256 n = handler.ACTORS();
        uint256 totalVotes;
        for (uint256 d; d < n; ++d) {
            address delegatee = handler.actors(d);
            uint256 expected;
            for (uint256 i; i < n; ++i) {
                address holder = handler.actors(i);
                assertEq(token.delegates(holder), handler.ghostDelegatee(holder), "delegates");
                if (handler.ghostDelegatee(holder) == delegatee) expected += token.balanceOf(holder);
            }
            assertEq(token.getVotes(delegatee), expected, "votes of a delegatee");
            totalVotes += expected;
        }
        assertLe(totalVotes, token.totalSupply(), "votes exceed supply");
    }
}
