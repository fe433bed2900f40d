// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {DatanetRegistry} from "../../contracts/DatanetRegistry.sol";
import {OpenToken} from "../../contracts/OpenToken.sol";
import {ICommitments} from "../../contracts/interfaces/ICommitments.sol";
import {IDatanetRegistry} from "../../contracts/interfaces/IDatanetRegistry.sol";
import {Commits} from "./utils/Commits.sol";
import {HandlerPaths, PathReport} from "./utils/Paths.sol";
import {Signatures} from "./utils/Signatures.sol";
import {Assertions, Test} from "./utils/Test.sol";
import {vm} from "./utils/Vm.sol";

/// @notice Random contribute / permit-contribute / accept / reject / withdraw / release / publish sequences over
/// two curated datanets and one open datanet, with ghost accounting of every stake the registry should hold and
/// a copy of every version at the moment it was published.
contract DatanetHandler is Assertions, HandlerPaths {
    uint256 public constant CONTRIBUTORS = 3;
    uint256 public constant DATANETS = 3;
    uint256 public constant LOCK = 3 days;

    OpenToken public immutable token;
    DatanetRegistry public immutable registry;
    address public constant GOVERNANCE = address(0x6000);
    address public constant OWNER = address(0x0E1);
    address public constant CURATOR = address(0xC0C0);
    address public constant SLASH_TREASURY = address(0x5145);

    uint256[CONTRIBUTORS] internal _keys;
    address[CONTRIBUTORS] public contributors;

    // Ghost accounting.
    uint256 public ghostPending;
    uint256 public ghostLocked;
    uint256 public ghostSlashed;
    /// @dev Outcomes the handler checked itself (a duplicate accepted, a locked stake released, a payout to the
    /// wrong party...). Invariant campaigns ignore reverts, so handlers count surprises here instead.
    uint256 public ghostSurprises;
    string public lastSurprise;
    /// @dev When each accepted stake unlocks: acceptance time plus the stakeLockPeriod in force then.
    mapping(uint256 contributionId => uint256) public ghostUnlocksAt;

    struct Published {
        uint256 datanetId;
        uint256 version;
        IDatanetRegistry.Version snapshot;
    }

    Published[] internal _published;

    constructor() {
        _declarePath("contribute");
        _declarePath("contributeWithPermit");
        _declarePath("contribute:duplicate");
        _declarePath("accept");
        _declarePath("accept:byOwner");
        _declarePath("reject");
        _declarePath("withdraw");
        _declarePath("releaseStake");
        _declarePath("releaseStake:locked");
        _declarePath("publishVersion");
        _declarePath("setStakeLockPeriod");
        _declarePath("warp");
        token = new OpenToken(address(this));
        registry = new DatanetRegistry(IERC20(address(token)), GOVERNANCE, LOCK);
        for (uint256 i; i < CONTRIBUTORS; ++i) {
            _keys[i] = 0xC047 + i;
            contributors[i] = vm.addr(_keys[i]);
            token.transfer(contributors[i], 1_000_000e18);
            vm.prank(contributors[i]);
            token.approve(address(registry), type(uint256).max);
        }
        address[] memory curators = new address[](1);
        curators[0] = CURATOR;
        vm.startPrank(OWNER);
        registry.createDatanet(_params(true, 0, curators));
        registry.createDatanet(_params(true, 5e18, curators));
        registry.createDatanet(_params(false, 1e18, new address[](0)));
        vm.stopPrank();
    }

    function _params(
        bool curated,
        uint128 minStake,
        address[] memory curators
    ) internal pure returns (IDatanetRegistry.CreateDatanetParams memory) {
        return
            IDatanetRegistry.CreateDatanetParams({
                metadataURI: "ipfs://datanet",
                license: "CC-BY-4.0",
                curated: curated,
                minStake: minStake,
                treasury: SLASH_TREASURY,
                curators: curators
            });
    }

    function _surprise(string memory what) internal {
        ++ghostSurprises;
        lastSurprise = what;
    }

    function _pick(uint256 seed) internal view returns (uint256 id, IDatanetRegistry.Contribution memory c) {
        uint256 count = registry.contributionCount();
        if (count == 0) return (0, c);
        id = 1 + (seed % count);
        c = registry.getContribution(id);
    }

    // ------------------------------------------------------------------ actions

    function contribute(uint256 actorSeed, uint256 datanetSeed, uint256 hashSeed, uint64 size, uint256 stake) public {
        _contribute(actorSeed, datanetSeed, hashSeed, size, stake, false);
    }

    function contributeWithPermit(
        uint256 actorSeed,
        uint256 datanetSeed,
        uint256 hashSeed,
        uint64 size,
        uint256 stake
    ) public {
        _contribute(actorSeed, datanetSeed, hashSeed, size, stake, true);
    }

    function _contribute(
        uint256 actorSeed,
        uint256 datanetSeed,
        uint256 hashSeed,
        uint64 size,
        uint256 stake,
        bool withPermit
    ) internal {
        uint256 actor = actorSeed % CONTRIBUTORS;
        address contributor = contributors[actor];
        uint256 datanetId = 1 + (datanetSeed % DATANETS);
        // A small hash space, so that duplicates come up.
        bytes32 contentHash = keccak256(abi.encode(hashSeed % 48));
        IDatanetRegistry.Datanet memory datanet = registry.getDatanet(datanetId);
        stake = bound(stake, datanet.minStake, 1_000e18);
        size = uint64(bound(size, 1, 1_000_000));
        uint256 existing = registry.contributionByHash(datanetId, contentHash);
        uint256 balanceBefore = token.balanceOf(contributor);

        (bool ok, bytes memory err) = _submit(actor, datanetId, contentHash, size, stake, withPermit);

        if (existing != 0) {
            if (ok) _surprise("duplicate contribution accepted");
            else if (
                keccak256(err) !=
                keccak256(
                    abi.encodeWithSelector(
                        IDatanetRegistry.DuplicateContribution.selector,
                        datanetId,
                        contentHash,
                        existing
                    )
                )
            ) {
                _surprise("duplicate contribution: wrong error");
            }
            _hit("contribute:duplicate");
            return;
        }
        if (!ok) {
            _surprise("valid contribution reverted");
            return;
        }
        if (token.balanceOf(contributor) != balanceBefore - stake) _surprise("contribute: stake not taken");
        if (datanet.curated) ghostPending += stake;
        else _acceptedOnSubmission(stake);
        _hit(withPermit ? bytes32("contributeWithPermit") : bytes32("contribute"));
    }

    /// @dev Books the newest contribution, accepted on submission to an open datanet.
    function _acceptedOnSubmission(uint256 stake) internal {
        ghostLocked += stake;
        uint256 id = registry.contributionCount();
        ghostUnlocksAt[id] = block.timestamp + registry.stakeLockPeriod();
        // Open datanets weigh every contribution alike, whatever size it declares.
        if (registry.getContribution(id).weight != registry.OPEN_DATANET_WEIGHT()) {
            _surprise("open contribution weighted by its declared size");
        }
    }

    function _submit(
        uint256 actor,
        uint256 datanetId,
        bytes32 contentHash,
        uint64 size,
        uint256 stake,
        bool withPermit
    ) internal returns (bool ok, bytes memory err) {
        address contributor = contributors[actor];
        // Commit in one block, reveal in the next.
        bytes32 salt = Commits.commit(registry, contributor, contentHash);
        if (!withPermit) {
            vm.prank(contributor);
            try registry.contribute(datanetId, contentHash, "ipfs://c", size, uint128(stake), salt) returns (uint256) {
                return (true, err);
            } catch (bytes memory e) {
                return (false, e);
            }
        }
        Permit memory permit = _signPermit(actor, stake);
        vm.prank(contributor);
        try
            registry.contributeWithPermit(
                datanetId,
                contentHash,
                "ipfs://c",
                size,
                uint128(stake),
                salt,
                permit.deadline,
                permit.v,
                permit.r,
                permit.s
            )
        returns (uint256) {
            ok = true;
        } catch (bytes memory e) {
            err = e;
        }
        // The permit replaced the standing approval; restore it for plain contributions.
        vm.prank(contributor);
        token.approve(address(registry), type(uint256).max);
    }

    struct Permit {
        uint256 deadline;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    function _signPermit(uint256 actor, uint256 stake) internal view returns (Permit memory permit) {
        permit.deadline = block.timestamp + 1 hours;
        (permit.v, permit.r, permit.s) = Signatures.signPermit(
            token,
            _keys[actor],
            address(registry),
            stake,
            permit.deadline
        );
    }

    function accept(uint256 idSeed, uint256 weight, bool byOwner) public {
        (uint256 id, IDatanetRegistry.Contribution memory c) = _pick(idSeed);
        if (id == 0 || c.status != IDatanetRegistry.ContributionStatus.Pending) return;
        weight = bound(weight, 1, 1e12);
        vm.prank(byOwner ? OWNER : CURATOR);
        registry.accept(id, weight);
        ghostPending -= c.stake;
        ghostLocked += c.stake;
        ghostUnlocksAt[id] = block.timestamp + registry.stakeLockPeriod();
        _hit(byOwner ? bytes32("accept:byOwner") : bytes32("accept"));
    }

    function reject(uint256 idSeed) public {
        (uint256 id, IDatanetRegistry.Contribution memory c) = _pick(idSeed);
        if (id == 0 || c.status != IDatanetRegistry.ContributionStatus.Pending) return;
        uint256 treasuryBefore = token.balanceOf(SLASH_TREASURY);
        vm.prank(CURATOR);
        registry.reject(id);
        if (token.balanceOf(SLASH_TREASURY) != treasuryBefore + c.stake) _surprise("reject: slash not paid");
        ghostPending -= c.stake;
        ghostSlashed += c.stake;
        _hit("reject");
    }

    function withdraw(uint256 idSeed) public {
        (uint256 id, IDatanetRegistry.Contribution memory c) = _pick(idSeed);
        if (id == 0 || c.status != IDatanetRegistry.ContributionStatus.Pending) return;
        uint256 before = token.balanceOf(c.contributor);
        vm.prank(c.contributor);
        registry.withdraw(id);
        if (token.balanceOf(c.contributor) != before + c.stake) _surprise("withdraw: refund not paid");
        ghostPending -= c.stake;
        _hit("withdraw");
    }

    function releaseStake(uint256 idSeed) public {
        (uint256 id, IDatanetRegistry.Contribution memory c) = _pick(idSeed);
        if (id == 0 || c.status != IDatanetRegistry.ContributionStatus.Accepted || c.stake == 0) return;
        // Fixed at acceptance: a later setStakeLockPeriod does not move it.
        uint256 unlockTime = ghostUnlocksAt[id];
        if (c.unlocksAt != unlockTime) _surprise("unlocksAt is not acceptance + the lock period then");
        uint256 before = token.balanceOf(c.contributor);
        // Anyone may release: this handler calls as itself.
        try registry.releaseStake(id) {
            if (block.timestamp < unlockTime) _surprise("locked stake released");
            if (token.balanceOf(c.contributor) != before + c.stake) _surprise("release: stake not paid");
            ghostLocked -= c.stake;
            _hit("releaseStake");
        } catch (bytes memory err) {
            if (block.timestamp >= unlockTime) _surprise("unlocked stake not releasable");
            else if (
                keccak256(err) !=
                keccak256(abi.encodeWithSelector(IDatanetRegistry.StakeLocked.selector, id, unlockTime))
            ) {
                _surprise("release: wrong error");
            }
            _hit("releaseStake:locked");
        }
    }

    function publishVersion(uint256 datanetSeed, bytes32 root) public {
        uint256 datanetId = 1 + (datanetSeed % DATANETS);
        IDatanetRegistry.Datanet memory datanet = registry.getDatanet(datanetId);
        uint256 previous =
            datanet.versionCount == 0 ? 0 : registry.getVersion(datanetId, datanet.versionCount).contributionCount;
        if (datanet.acceptedCount == previous) return;
        if (root == bytes32(0)) root = keccak256(abi.encode(datanetId, datanet.versionCount));
        vm.prank(OWNER);
        uint256 version = registry.publishVersion(datanetId, root);
        _published.push(Published(datanetId, version, registry.getVersion(datanetId, version)));
        IDatanetRegistry.Version memory v = _published[_published.length - 1].snapshot;
        if (v.root != root || v.contributionCount != datanet.acceptedCount || v.totalWeight != datanet.totalWeight) {
            _surprise("publish: version does not match the datanet");
        }
        _hit("publishVersion");
    }

    function setStakeLockPeriod(uint256 period) public {
        vm.prank(GOVERNANCE);
        registry.setStakeLockPeriod(bound(period, 0, 7 days));
        _hit("setStakeLockPeriod");
    }

    function warp(uint256 seconds_) public {
        vm.warp(block.timestamp + bound(seconds_, 1, 4 days));
        _hit("warp");
    }

    // ------------------------------------------------------------------ views for invariants

    function publishedCount() external view returns (uint256) {
        return _published.length;
    }

    function published(uint256 i) external view returns (Published memory) {
        return _published[i];
    }

    function ghostStakeHeld() public view returns (uint256) {
        return ghostPending + ghostLocked;
    }
}

/// @notice Shared checks, used by the invariant campaign and by the sequence fuzz test.
abstract contract DatanetChecks is Test {
    DatanetHandler internal handler;
    DatanetRegistry internal registry;
    OpenToken internal token;

    function _deployHandler() internal {
        vm.warp(1_750_000_000);
        handler = new DatanetHandler();
        registry = handler.registry();
        token = handler.token();
    }

    function _checkStakeHeld() internal view {
        uint256 held = token.balanceOf(address(registry));
        uint256 pending = registry.totalPendingStake();
        uint256 locked = registry.totalLockedStake();
        assertEq(held, pending + locked, "registry balance == totalPendingStake + totalLockedStake");
        assertEq(pending, handler.ghostPending(), "totalPendingStake == ghost pending");
        assertEq(locked, handler.ghostLocked(), "totalLockedStake == ghost locked");
        assertEq(held, handler.ghostStakeHeld(), "registry balance == ghost sum of stakes");

        uint256 sumPending;
        uint256 sumLocked;
        uint256 count = registry.contributionCount();
        for (uint256 id = 1; id <= count; ++id) {
            IDatanetRegistry.Contribution memory c = registry.getContribution(id);
            if (c.status == IDatanetRegistry.ContributionStatus.Pending) sumPending += c.stake;
            else if (c.status == IDatanetRegistry.ContributionStatus.Accepted) sumLocked += c.stake;
            else assertEq(c.stake, 0, "rejected/withdrawn contribution still holds stake");
        }
        assertEq(sumPending + sumLocked, handler.ghostStakeHeld(), "sum of contribution stakes == ghost sum");
        assertEq(sumPending, pending, "sum of pending stakes == totalPendingStake");
        assertEq(sumLocked, locked, "sum of accepted stakes == totalLockedStake");
    }

    function _checkNoSurprises() internal view {
        if (handler.ghostSurprises() != 0) fail(string.concat("handler saw: ", handler.lastSurprise()));
    }
}

contract DatanetRegistryInvariantTest is DatanetChecks, PathReport {
    function setUp() public {
        _deployHandler();
        targetContract(address(handler));
    }

    function _pathHandler() internal view override returns (HandlerPaths) {
        return handler;
    }

    function _suiteName() internal pure override returns (string memory) {
        return type(DatanetRegistryInvariantTest).name;
    }

    function invariant_stakeHeldEqualsPendingPlusLocked() public view {
        _checkStakeHeld();
    }

    function invariant_tokensConserved() public view {
        uint256 sum =
            token.balanceOf(address(registry)) +
                token.balanceOf(address(handler)) +
                token.balanceOf(handler.SLASH_TREASURY());
        for (uint256 i; i < handler.CONTRIBUTORS(); ++i) {
            sum += token.balanceOf(handler.contributors(i));
        }
        assertEq(sum, token.TOTAL_SUPPLY(), "every OPEN is with a contributor, the registry or the slash treasury");
        assertEq(token.balanceOf(handler.SLASH_TREASURY()), handler.ghostSlashed(), "slash treasury == ghost slashed");
    }

    function invariant_datanetVersionsImmutable() public view {
        uint256 n = handler.publishedCount();
        for (uint256 i; i < n; ++i) {
            DatanetHandler.Published memory p = handler.published(i);
            assertTrue(registry.isPublishedVersion(p.datanetId, p.version), "published version still published");
            IDatanetRegistry.Version memory now_ = registry.getVersion(p.datanetId, p.version);
            assertEq(now_.root, p.snapshot.root, "version root");
            assertEq(now_.contributionCount, p.snapshot.contributionCount, "version contributionCount");
            assertEq(now_.publishedAt, p.snapshot.publishedAt, "version publishedAt");
            assertEq(now_.totalWeight, p.snapshot.totalWeight, "version totalWeight");
        }
    }

    function invariant_handlerOutcomesAsSpecified() public view {
        _checkNoSurprises();
    }
}

/// @notice The same handler driven by one fuzzed sequence per run (fuzz, not invariant, mode): each of 24 words
/// picks an action and its arguments; the stake accounting is checked after every step.
contract DatanetSequenceFuzzTest is DatanetChecks {
    function setUp() public {
        _deployHandler();
    }

    function testFuzz_randomSequence_keepsStakeHeldEqualPendingPlusLocked(uint256[24] calldata ops) public {
        for (uint256 i; i < ops.length; ++i) {
            uint256 op = ops[i];
            uint256 a = uint256(keccak256(abi.encode(op, 1)));
            uint256 b = uint256(keccak256(abi.encode(op, 2)));
            uint256 action = op % 8;
            if (action == 0) handler.contribute(a, b, a >> 8, uint64(b >> 64), b >> 128);
            else if (action == 1) handler.contributeWithPermit(a, b, a >> 8, uint64(b >> 64), b >> 128);
            else if (action == 2) handler.accept(a, b, b % 2 == 0);
            else if (action == 3) handler.reject(a);
            else if (action == 4) handler.withdraw(a);
            else if (action == 5) handler.releaseStake(a);
            else if (action == 6) handler.publishVersion(a, bytes32(b));
            else handler.warp(a);
            _checkStakeHeld();
        }
        _checkNoSurprises();
    }
}

contract DatanetRegistryTest is Test {
    uint256 internal constant LOCK = 7 days;
    uint256 internal constant ALICE_KEY = 0xA11CE;
    address internal constant GOVERNANCE = address(0x6000);
    address internal constant OWNER = address(0x0E1);
    address internal constant CURATOR = address(0xC0C0);
    address internal constant SLASH_TREASURY = address(0x5145);

    OpenToken internal token;
    DatanetRegistry internal registry;
    address internal alice = vm.addr(ALICE_KEY);
    address internal bob = address(0xB0B);
    uint256 internal curated; // minStake 10 OPEN, curator CURATOR
    uint256 internal open; // minStake 0, accepts on submission

    bytes32 internal constant H1 = keccak256("contribution 1");
    bytes32 internal constant H2 = keccak256("contribution 2");

    function setUp() public {
        vm.warp(1_750_000_000);
        token = new OpenToken(address(this));
        registry = new DatanetRegistry(IERC20(address(token)), GOVERNANCE, LOCK);
        token.transfer(alice, 1_000e18);
        token.transfer(bob, 1_000e18);
        vm.prank(alice);
        token.approve(address(registry), type(uint256).max);
        vm.prank(bob);
        token.approve(address(registry), type(uint256).max);
        address[] memory curators = new address[](1);
        curators[0] = CURATOR;
        vm.startPrank(OWNER);
        curated = registry.createDatanet(_params(true, 10e18, SLASH_TREASURY, curators));
        open = registry.createDatanet(_params(false, 0, address(0), new address[](0)));
        vm.stopPrank();
    }

    function _params(
        bool isCurated,
        uint128 minStake,
        address treasury,
        address[] memory curators
    ) internal pure returns (IDatanetRegistry.CreateDatanetParams memory) {
        return
            IDatanetRegistry.CreateDatanetParams({
                metadataURI: "ipfs://meta",
                license: "CC-BY-4.0",
                curated: isCurated,
                minStake: minStake,
                treasury: treasury,
                curators: curators
            });
    }

    /// @dev Commits `who` to `contentHash` and rolls one block; returns the salt to reveal with.
    function _commit(address who, bytes32 contentHash) internal returns (bytes32) {
        return Commits.commit(registry, who, contentHash);
    }

    function _contribute(
        address who,
        uint256 datanetId,
        bytes32 contentHash,
        uint128 stake
    ) internal returns (uint256) {
        bytes32 salt = _commit(who, contentHash);
        return _reveal(who, datanetId, contentHash, stake, salt);
    }

    /// @dev The reveal alone, after `_commit`: what a test expecting a revert calls after `vm.expectRevert`.
    function _reveal(
        address who,
        uint256 datanetId,
        bytes32 contentHash,
        uint128 stake,
        bytes32 salt
    ) internal returns (uint256) {
        vm.prank(who);
        return registry.contribute(datanetId, contentHash, "ipfs://c", 100, stake, salt);
    }

    function _assertHeld() internal view {
        assertEq(
            token.balanceOf(address(registry)),
            registry.totalPendingStake() + registry.totalLockedStake(),
            "registry balance == pending + locked"
        );
    }

    // ---------------------------------------------------------------- constructor / governance

    function test_constructor_revertsIfZeroToken() public {
        vm.expectRevert(IDatanetRegistry.ZeroAddress.selector);
        new DatanetRegistry(IERC20(address(0)), GOVERNANCE, LOCK);
    }

    function test_constructor_revertsIfLockTooLong() public {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.StakeLockPeriodTooLong.selector, 366 days, 365 days));
        new DatanetRegistry(IERC20(address(token)), GOVERNANCE, 366 days);
    }

    function test_setStakeLockPeriod_setsByGovernance() public {
        vm.prank(GOVERNANCE);
        registry.setStakeLockPeriod(1 days);
        assertEq(registry.stakeLockPeriod(), 1 days, "stakeLockPeriod");
    }

    function test_setStakeLockPeriod_revertsIfNotGovernance() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, OWNER));
        vm.prank(OWNER);
        registry.setStakeLockPeriod(1 days);
    }

    function test_setStakeLockPeriod_revertsIfTooLong() public {
        vm.expectRevert(
            abi.encodeWithSelector(IDatanetRegistry.StakeLockPeriodTooLong.selector, 365 days + 1, 365 days)
        );
        vm.prank(GOVERNANCE);
        registry.setStakeLockPeriod(365 days + 1);
    }

    function test_transferOwnership_movesGovernance() public {
        vm.prank(GOVERNANCE);
        registry.transferOwnership(address(0x6001));
        assertEq(registry.owner(), address(0x6001), "owner");
        vm.prank(address(0x6001));
        registry.renounceOwnership();
        assertEq(registry.owner(), address(0), "renounced");
    }

    // ---------------------------------------------------------------- datanets

    function test_createDatanet_storesParams() public view {
        IDatanetRegistry.Datanet memory d = registry.getDatanet(curated);
        assertEq(d.owner, OWNER, "owner");
        assertEq(d.treasury, SLASH_TREASURY, "treasury");
        assertTrue(d.curated, "curated");
        assertEq(d.minStake, 10e18, "minStake");
        assertEq(d.metadataURI, "ipfs://meta", "metadataURI");
        assertEq(d.license, "CC-BY-4.0", "license");
        assertTrue(registry.isCurator(curated, CURATOR), "curator");
        assertEq(registry.datanetCount(), 2, "datanetCount");
    }

    function test_createDatanet_treasuryDefaultsToCreator() public view {
        assertEq(registry.getDatanet(open).treasury, OWNER, "treasury");
    }

    function test_createDatanet_revertsIfEmptyURI() public {
        IDatanetRegistry.CreateDatanetParams memory p = _params(true, 0, address(0), new address[](0));
        p.metadataURI = "";
        vm.expectRevert(IDatanetRegistry.EmptyURI.selector);
        registry.createDatanet(p);
    }

    function test_createDatanet_revertsIfZeroCurator() public {
        vm.expectRevert(IDatanetRegistry.ZeroAddress.selector);
        registry.createDatanet(_params(true, 0, address(0), new address[](1)));
    }

    function test_getDatanet_revertsIfNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.DatanetNotFound.selector, 99));
        registry.getDatanet(99);
    }

    function test_setMetadataURI_updatesByOwner() public {
        vm.prank(OWNER);
        registry.setMetadataURI(curated, "ipfs://new");
        assertEq(registry.getDatanet(curated).metadataURI, "ipfs://new", "metadataURI");
    }

    function test_setMetadataURI_revertsIfNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NotDatanetOwner.selector, curated, CURATOR));
        vm.prank(CURATOR);
        registry.setMetadataURI(curated, "ipfs://new");
    }

    function test_setMetadataURI_revertsIfEmpty() public {
        vm.expectRevert(IDatanetRegistry.EmptyURI.selector);
        vm.prank(OWNER);
        registry.setMetadataURI(curated, "");
    }

    function test_setCurator_enablesAndDisables() public {
        vm.startPrank(OWNER);
        registry.setCurator(curated, bob, true);
        assertTrue(registry.isCurator(curated, bob), "enabled");
        registry.setCurator(curated, bob, false);
        vm.stopPrank();
        assertFalse(registry.isCurator(curated, bob), "disabled");
    }

    function test_setCurator_revertsIfNotOwner() public {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NotDatanetOwner.selector, curated, bob));
        vm.prank(bob);
        registry.setCurator(curated, bob, true);
    }

    function test_setCurator_revertsIfDatanetNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.DatanetNotFound.selector, 7));
        vm.prank(OWNER);
        registry.setCurator(7, bob, true);
    }

    // ---------------------------------------------------------------- contributions

    function test_contribute_takesStakeAndIsPending() public {
        uint256 id = _contribute(alice, curated, H1, 10e18);
        IDatanetRegistry.Contribution memory c = registry.getContribution(id);
        assertEq(uint256(c.status), uint256(IDatanetRegistry.ContributionStatus.Pending), "status");
        assertEq(c.stake, 10e18, "stake");
        assertEq(c.contributor, alice, "contributor");
        assertEq(c.contentHash, H1, "contentHash");
        assertEq(token.balanceOf(alice), 990e18, "alice paid");
        assertEq(registry.totalPendingStake(), 10e18, "pending");
        assertEq(registry.contributionByHash(curated, H1), id, "contributionByHash");
        _assertHeld();
    }

    function test_contribute_openDatanetAcceptsOnSubmission() public {
        uint256 id = _contribute(alice, open, H1, 3e18);
        IDatanetRegistry.Contribution memory c = registry.getContribution(id);
        assertEq(uint256(c.status), uint256(IDatanetRegistry.ContributionStatus.Accepted), "status");
        assertEq(c.weight, registry.OPEN_DATANET_WEIGHT(), "weight == OPEN_DATANET_WEIGHT");
        assertEq(c.sizeTokens, 100, "sizeTokens as declared");
        assertEq(c.acceptedAt, block.timestamp, "acceptedAt");
        assertEq(c.unlocksAt, block.timestamp + LOCK, "unlocksAt");
        assertEq(registry.totalLockedStake(), 3e18, "locked");
        assertEq(registry.totalPendingStake(), 0, "pending");
        assertEq(registry.getDatanet(open).totalWeight, registry.OPEN_DATANET_WEIGHT(), "totalWeight");
        _assertHeld();
    }

    function test_contribute_revertsIfDuplicate() public {
        uint256 id = _contribute(alice, curated, H1, 10e18);
        bytes32 salt = _commit(bob, H1);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.DuplicateContribution.selector, curated, H1, id));
        _reveal(bob, curated, H1, 10e18, salt);
    }

    function test_contribute_allowsSameHashInAnotherDatanet() public {
        _contribute(alice, curated, H1, 10e18);
        _contribute(alice, open, H1, 0);
        assertEq(registry.contributionCount(), 2, "contributionCount");
    }

    function test_contribute_allowsResubmitAfterReject() public {
        uint256 id = _contribute(alice, curated, H1, 10e18);
        vm.prank(CURATOR);
        registry.reject(id);
        uint256 again = _contribute(alice, curated, H1, 10e18);
        assertEq(registry.contributionByHash(curated, H1), again, "contributionByHash");
    }

    function test_contribute_revertsIfStakeBelowMinimum() public {
        bytes32 salt = _commit(alice, H1);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.StakeBelowMinimum.selector, curated, 1e18, 10e18));
        _reveal(alice, curated, H1, 1e18, salt);
    }

    function test_contribute_revertsIfEmptyContentHash() public {
        bytes32 salt = _commit(alice, bytes32(0));
        vm.expectRevert(IDatanetRegistry.EmptyContentHash.selector);
        _reveal(alice, curated, bytes32(0), 10e18, salt);
    }

    function test_contribute_revertsIfEmptyURI() public {
        bytes32 salt = _commit(alice, H1);
        vm.expectRevert(IDatanetRegistry.EmptyURI.selector);
        vm.prank(alice);
        registry.contribute(curated, H1, "", 100, 10e18, salt);
    }

    function test_contribute_revertsIfZeroSize() public {
        bytes32 salt = _commit(alice, H1);
        vm.expectRevert(IDatanetRegistry.ZeroSize.selector);
        vm.prank(alice);
        registry.contribute(curated, H1, "ipfs://c", 0, 10e18, salt);
    }

    function test_contribute_revertsIfDatanetNotFound() public {
        bytes32 salt = _commit(alice, H1);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.DatanetNotFound.selector, 3));
        _reveal(alice, 3, H1, 10e18, salt);
    }

    // ---------------------------------------------------------------- commit-reveal

    function test_contribute_revertsWithoutCommitment() public {
        bytes32 salt = Commits.saltOf(alice, H1);
        vm.expectRevert(
            abi.encodeWithSelector(ICommitments.CommitmentNotFound.selector, registry.commitmentOf(alice, H1, salt))
        );
        _reveal(alice, curated, H1, 10e18, salt);
        assertEq(registry.contributionCount(), 0, "nothing registered");
    }

    function test_contribute_revertsIfCommittedInSameBlock() public {
        bytes32 salt = Commits.commitInThisBlock(registry, alice, H1);
        bytes32 commitment = registry.commitmentOf(alice, H1, salt);
        assertEq(registry.commitments(commitment), block.number, "committed in this block");
        vm.expectRevert(abi.encodeWithSelector(ICommitments.CommitmentTooRecent.selector, commitment, block.number));
        _reveal(alice, curated, H1, 10e18, salt);
        // The next block it reveals, and the commitment is used up.
        vm.roll(block.number + 1);
        uint256 id = _reveal(alice, curated, H1, 10e18, salt);
        assertEq(registry.getContribution(id).contributor, alice, "contributor");
        assertEq(registry.commitments(commitment), 0, "commitment used up");
    }

    /// @dev Alice committed in an earlier block; her contribute is pending in this one. Bob copies it (same
    /// arguments, same salt) and lands first: his copy reveals no commitment of his. His own commitment to the same
    /// content hash, made in this block, cannot be revealed before the next one, by which time alice's contribution
    /// has landed: he can only duplicate it.
    function test_contribute_copyOfPendingTransactionGainsNothing() public {
        bytes32 salt = _commit(alice, H1);
        uint256 bobBalance = token.balanceOf(bob);

        // Same block: bob's copy of alice's pending transaction, sent from his address.
        vm.expectRevert(
            abi.encodeWithSelector(ICommitments.CommitmentNotFound.selector, registry.commitmentOf(bob, H1, salt))
        );
        _reveal(bob, curated, H1, 10e18, salt);
        // Bob commits to the content hash he saw, with alice's salt, and tries to reveal at once.
        bytes32 bobCommitment = registry.commitmentOf(bob, H1, salt);
        vm.prank(bob);
        registry.commit(bobCommitment);
        vm.expectRevert(abi.encodeWithSelector(ICommitments.CommitmentTooRecent.selector, bobCommitment, block.number));
        _reveal(bob, curated, H1, 10e18, salt);

        // Alice's transaction lands in the same block.
        uint256 id = _reveal(alice, curated, H1, 10e18, salt);
        assertEq(registry.getContribution(id).contributor, alice, "alice is the contributor of record");

        // Next block: bob's reveal comes too late.
        vm.roll(block.number + 1);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.DuplicateContribution.selector, curated, H1, id));
        _reveal(bob, curated, H1, 10e18, salt);
        assertEq(registry.contributionByHash(curated, H1), id, "contributionByHash");
        assertEq(registry.contributionCount(), 1, "contributionCount");
        assertEq(token.balanceOf(bob), bobBalance, "bob staked nothing");
        _assertHeld();
    }

    /// @dev A contributor declaring the largest size still weighs what every other contribution weighs, so one
    /// contribution cannot take an open datanet's whole pro-rata share.
    function test_contribute_openDatanetWeightIsNotSelfDeclared() public {
        uint256 honest = 100;
        bytes32 greedyHash = keccak256("greedy");
        bytes32 greedySalt = Commits.commitInThisBlock(registry, bob, greedyHash);
        bytes32[] memory salts = new bytes32[](honest);
        for (uint256 i; i < honest; ++i) {
            salts[i] = Commits.commitInThisBlock(registry, alice, keccak256(abi.encode("honest", i)));
        }
        vm.roll(block.number + 1);
        for (uint256 i; i < honest; ++i) {
            vm.prank(alice);
            registry.contribute(open, keccak256(abi.encode("honest", i)), "ipfs://c", 100, 0, salts[i]);
        }
        vm.prank(bob);
        uint256 greedy = registry.contribute(open, greedyHash, "ipfs://c", type(uint64).max, 0, greedySalt);

        IDatanetRegistry.Contribution memory c = registry.getContribution(greedy);
        assertEq(c.sizeTokens, type(uint64).max, "declared size recorded");
        assertEq(c.weight, 1, "weight");
        uint256 totalWeight = registry.getDatanet(open).totalWeight;
        assertEq(totalWeight, honest + 1, "totalWeight");
        vm.prank(OWNER);
        uint256 version = registry.publishVersion(open, keccak256("root"));
        assertEq(registry.getVersion(open, version).totalWeight, honest + 1, "version totalWeight");
        // Its pro-rata share: 1/101 of the datanet.
        assertEq((1e18 * c.weight) / totalWeight, 1e18 / uint256(101), "share of the greedy contribution");
    }

    function test_contributeWithPermit_takesStakeWithoutApproval() public {
        vm.prank(alice);
        token.approve(address(registry), 0);
        bytes32 salt = _commit(alice, H1);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = Signatures.signPermit(token, ALICE_KEY, address(registry), 10e18, deadline);
        vm.prank(alice);
        uint256 id = registry.contributeWithPermit(curated, H1, "ipfs://c", 100, 10e18, salt, deadline, v, r, s);
        assertEq(registry.getContribution(id).stake, 10e18, "stake");
        assertEq(token.balanceOf(alice), 990e18, "alice paid");
        _assertHeld();
    }

    function test_contributeWithPermit_ignoresFrontRunPermit() public {
        vm.prank(alice);
        token.approve(address(registry), 0);
        bytes32 salt = _commit(alice, H1);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = Signatures.signPermit(token, ALICE_KEY, address(registry), 10e18, deadline);
        token.permit(alice, address(registry), 10e18, deadline, v, r, s); // front-run by a third party
        vm.prank(alice);
        uint256 id = registry.contributeWithPermit(curated, H1, "ipfs://c", 100, 10e18, salt, deadline, v, r, s);
        assertEq(registry.getContribution(id).stake, 10e18, "stake");
    }

    // ---------------------------------------------------------------- curation

    function test_accept_locksStakeAndRecordsWeight() public {
        uint256 id = _contribute(alice, curated, H1, 10e18);
        vm.prank(CURATOR);
        registry.accept(id, 42);
        IDatanetRegistry.Contribution memory c = registry.getContribution(id);
        assertEq(uint256(c.status), uint256(IDatanetRegistry.ContributionStatus.Accepted), "status");
        assertEq(c.weight, 42, "weight");
        assertEq(registry.totalPendingStake(), 0, "pending");
        assertEq(registry.totalLockedStake(), 10e18, "locked");
        assertEq(registry.getDatanet(curated).acceptedCount, 1, "acceptedCount");
        uint256[] memory ids = registry.getAcceptedContributions(curated, 0, 10);
        assertEq(ids.length, 1, "accepted ids");
        assertEq(ids[0], id, "accepted id");
        _assertHeld();
    }

    function test_accept_byDatanetOwner() public {
        uint256 id = _contribute(alice, curated, H1, 10e18);
        vm.prank(OWNER);
        registry.accept(id, 1);
        assertEq(registry.totalLockedStake(), 10e18, "locked");
    }

    function test_accept_revertsIfNotCurator() public {
        uint256 id = _contribute(alice, curated, H1, 10e18);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NotCurator.selector, curated, bob));
        vm.prank(bob);
        registry.accept(id, 1);
    }

    function test_accept_revertsIfZeroWeight() public {
        uint256 id = _contribute(alice, curated, H1, 10e18);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.ZeroWeight.selector, id));
        vm.prank(CURATOR);
        registry.accept(id, 0);
    }

    function test_accept_revertsIfNotPending() public {
        uint256 id = _contribute(alice, open, H1, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDatanetRegistry.ContributionNotPending.selector,
                id,
                IDatanetRegistry.ContributionStatus.Accepted
            )
        );
        vm.prank(OWNER);
        registry.accept(id, 1);
    }

    function test_accept_revertsIfNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.ContributionNotFound.selector, 5));
        vm.prank(CURATOR);
        registry.accept(5, 1);
    }

    function test_reject_slashesStakeToTreasury() public {
        uint256 id = _contribute(alice, curated, H1, 10e18);
        vm.prank(CURATOR);
        registry.reject(id);
        IDatanetRegistry.Contribution memory c = registry.getContribution(id);
        assertEq(uint256(c.status), uint256(IDatanetRegistry.ContributionStatus.Rejected), "status");
        assertEq(c.stake, 0, "stake zeroed");
        assertEq(token.balanceOf(SLASH_TREASURY), 10e18, "slashed");
        assertEq(registry.contributionByHash(curated, H1), 0, "hash freed");
        _assertHeld();
    }

    function test_reject_revertsIfNotCurator() public {
        uint256 id = _contribute(alice, curated, H1, 10e18);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NotCurator.selector, curated, alice));
        vm.prank(alice);
        registry.reject(id);
    }

    function test_withdraw_refundsStake() public {
        uint256 id = _contribute(alice, curated, H1, 10e18);
        vm.prank(alice);
        registry.withdraw(id);
        assertEq(
            uint256(registry.getContribution(id).status),
            uint256(IDatanetRegistry.ContributionStatus.Withdrawn),
            "status"
        );
        assertEq(token.balanceOf(alice), 1_000e18, "refunded");
        assertEq(registry.totalPendingStake(), 0, "pending");
        _assertHeld();
    }

    function test_withdraw_revertsIfNotContributor() public {
        uint256 id = _contribute(alice, curated, H1, 10e18);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NotContributor.selector, id, bob));
        vm.prank(bob);
        registry.withdraw(id);
    }

    function test_withdraw_revertsIfAccepted() public {
        uint256 id = _contribute(alice, open, H1, 1e18);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDatanetRegistry.ContributionNotPending.selector,
                id,
                IDatanetRegistry.ContributionStatus.Accepted
            )
        );
        vm.prank(alice);
        registry.withdraw(id);
    }

    // ---------------------------------------------------------------- stake release

    function test_releaseStake_revertsWhileLocked() public {
        uint256 id = _contribute(alice, open, H1, 5e18);
        vm.warp(block.timestamp + LOCK - 1);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.StakeLocked.selector, id, block.timestamp + 1));
        registry.releaseStake(id);
    }

    function test_releaseStake_paysContributorAfterLock() public {
        uint256 id = _contribute(alice, open, H1, 5e18);
        vm.warp(block.timestamp + LOCK);
        vm.prank(bob); // anyone may call; the contributor is paid
        registry.releaseStake(id);
        assertEq(token.balanceOf(alice), 1_000e18, "alice repaid");
        assertEq(token.balanceOf(bob), 1_000e18, "caller unpaid");
        assertEq(registry.getContribution(id).stake, 0, "stake zeroed");
        assertEq(registry.totalLockedStake(), 0, "locked");
        _assertHeld();
    }

    function test_releaseStake_revertsIfReleasedTwice() public {
        uint256 id = _contribute(alice, open, H1, 5e18);
        vm.warp(block.timestamp + LOCK);
        registry.releaseStake(id);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDatanetRegistry.StakeNotReleasable.selector,
                id,
                IDatanetRegistry.ContributionStatus.Accepted,
                0
            )
        );
        registry.releaseStake(id);
    }

    function test_releaseStake_revertsIfPending() public {
        uint256 id = _contribute(alice, curated, H1, 10e18);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDatanetRegistry.StakeNotReleasable.selector,
                id,
                IDatanetRegistry.ContributionStatus.Pending,
                10e18
            )
        );
        registry.releaseStake(id);
    }

    function test_releaseStake_revertsIfNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.ContributionNotFound.selector, 1));
        registry.releaseStake(1);
    }

    /// @dev Governance raises the lock period: a stake accepted before keeps the unlock time fixed at its acceptance;
    /// stakes accepted after the change (also one submitted before it, to a curated datanet) take the new period.
    function test_setStakeLockPeriod_doesNotMoveAcceptedStakesUnlock() public {
        uint256 t0 = block.timestamp;
        uint256 early = _contribute(alice, open, H1, 5e18);
        uint256 pending = _contribute(bob, curated, H2, 10e18);
        vm.warp(t0 + 1 hours);
        vm.prank(GOVERNANCE);
        registry.setStakeLockPeriod(30 days);
        assertEq(registry.getContribution(early).unlocksAt, t0 + LOCK, "accepted before: unlock unchanged");

        uint256 late = _contribute(alice, open, keccak256("contribution 3"), 5e18);
        vm.prank(CURATOR);
        registry.accept(pending, 1);
        assertEq(registry.getContribution(late).unlocksAt, t0 + 1 hours + 30 days, "accepted after: new period");
        assertEq(registry.getContribution(pending).unlocksAt, t0 + 1 hours + 30 days, "accepted after: new period");

        vm.warp(t0 + LOCK - 1);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.StakeLocked.selector, early, t0 + LOCK));
        registry.releaseStake(early);
        vm.warp(t0 + LOCK);
        registry.releaseStake(early);
        assertEq(registry.getContribution(early).stake, 0, "released at the unlock fixed at acceptance");
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.StakeLocked.selector, late, t0 + 1 hours + 30 days));
        registry.releaseStake(late);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.StakeLocked.selector, pending, t0 + 1 hours + 30 days));
        registry.releaseStake(pending);

        vm.warp(t0 + 1 hours + 30 days);
        registry.releaseStake(late);
        registry.releaseStake(pending);
        assertEq(registry.totalLockedStake(), 0, "locked");
        _assertHeld();
    }

    /// @dev Governance lowers the lock period: a stake accepted before still unlocks only at the time fixed at its
    /// acceptance; stakes accepted after the change take the new period.
    function test_setStakeLockPeriod_loweredDoesNotMoveAcceptedStakesUnlock() public {
        uint256 t0 = block.timestamp;
        uint256 early = _contribute(alice, open, H1, 5e18);
        vm.warp(t0 + 1 hours);
        vm.prank(GOVERNANCE);
        registry.setStakeLockPeriod(1 days);
        uint256 late = _contribute(alice, open, H2, 5e18);
        assertEq(registry.getContribution(early).unlocksAt, t0 + LOCK, "accepted before: unlock unchanged");
        assertEq(registry.getContribution(late).unlocksAt, t0 + 1 hours + 1 days, "accepted after: new period");

        vm.warp(t0 + 1 hours + 1 days);
        registry.releaseStake(late);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.StakeLocked.selector, early, t0 + LOCK));
        registry.releaseStake(early);
        vm.warp(t0 + LOCK);
        registry.releaseStake(early);
        assertEq(token.balanceOf(alice), 1_000e18, "both stakes repaid");
        _assertHeld();
    }

    // ---------------------------------------------------------------- versions

    function test_publishVersion_recordsVersion() public {
        uint256 id = _contribute(alice, curated, H1, 10e18);
        vm.prank(CURATOR);
        registry.accept(id, 7);
        vm.prank(CURATOR);
        uint256 version = registry.publishVersion(curated, keccak256("root"));
        assertEq(version, 1, "version");
        assertTrue(registry.isPublishedVersion(curated, 1), "published");
        assertFalse(registry.isPublishedVersion(curated, 0), "version 0");
        assertFalse(registry.isPublishedVersion(curated, 2), "version 2");
        IDatanetRegistry.Version memory v = registry.getVersion(curated, 1);
        assertEq(v.root, keccak256("root"), "root");
        assertEq(v.contributionCount, 1, "contributionCount");
        assertEq(v.totalWeight, 7, "totalWeight");
        assertEq(v.publishedAt, block.timestamp, "publishedAt");
    }

    function test_publishVersion_revertsIfNothingNew() public {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NothingToPublish.selector, open, 0));
        vm.prank(OWNER);
        registry.publishVersion(open, keccak256("root"));
        _contribute(alice, open, H1, 0);
        vm.prank(OWNER);
        registry.publishVersion(open, keccak256("root"));
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NothingToPublish.selector, open, 1));
        vm.prank(OWNER);
        registry.publishVersion(open, keccak256("root 2"));
    }

    function test_publishVersion_revertsIfEmptyRoot() public {
        _contribute(alice, open, H1, 0);
        vm.expectRevert(IDatanetRegistry.EmptyRoot.selector);
        vm.prank(OWNER);
        registry.publishVersion(open, bytes32(0));
    }

    function test_publishVersion_revertsIfNotCurator() public {
        _contribute(alice, open, H1, 0);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NotCurator.selector, open, alice));
        vm.prank(alice);
        registry.publishVersion(open, keccak256("root"));
    }

    function test_getVersion_revertsIfNotPublished() public {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.VersionNotFound.selector, open, 1));
        registry.getVersion(open, 1);
    }

    function test_getAcceptedContributions_clampsRange() public {
        _contribute(alice, open, H1, 0);
        _contribute(alice, open, H2, 0);
        assertEq(registry.getAcceptedContributions(open, 1, 10).length, 1, "offset 1");
        assertEq(registry.getAcceptedContributions(open, 5, 10).length, 0, "offset past end");
        assertEq(registry.getAcceptedContributions(open, 0, 1)[0], 1, "first id");
    }

    /// @dev The NatSpec says the range is clamped, so a caller asking for "all" with `limit = type(uint256).max`
    /// gets every id from `offset` on (a regression test: `offset + limit` once overflowed here).
    function test_getAcceptedContributions_clampsHugeLimit() public {
        _contribute(alice, open, H1, 0);
        _contribute(alice, open, H2, 0);
        assertEq(registry.getAcceptedContributions(open, 0, type(uint256).max).length, 2, "limit max, offset 0");
        assertEq(registry.getAcceptedContributions(open, 1, type(uint256).max).length, 1, "limit max, offset 1");
        assertEq(registry.getAcceptedContributions(open, type(uint256).max, 1).length, 0, "offset max");
    }

    function testFuzz_getAcceptedContributions_clampsRange(uint256 offset, uint256 limit) public {
        _contribute(alice, open, H1, 0);
        _contribute(alice, open, H2, 0);
        _contribute(alice, open, keccak256("contribution 3"), 0);
        offset = bound(offset, 0, 5);
        limit = bound(limit, 0, type(uint256).max);
        uint256[] memory ids = registry.getAcceptedContributions(open, offset, limit);
        uint256 available = offset >= 3 ? 0 : 3 - offset;
        assertEq(ids.length, limit < available ? limit : available, "clamped length");
        for (uint256 i; i < ids.length; ++i) {
            assertEq(ids[i], offset + i + 1, "ids in acceptance order");
        }
    }

    // ---------------------------------------------------------------- fuzz

    function testFuzz_contribute_holdsExactStake(uint128 stake, uint64 size, bool toOpen) public {
        stake = uint128(bound(stake, toOpen ? 0 : 10e18, 1_000e18));
        size = uint64(bound(size, 1, type(uint64).max));
        bytes32 salt = _commit(alice, H1);
        vm.prank(alice);
        uint256 id = registry.contribute(toOpen ? open : curated, H1, "ipfs://c", size, stake, salt);
        assertEq(registry.getContribution(id).stake, stake, "stake");
        assertEq(token.balanceOf(address(registry)), stake, "registry balance");
        assertEq(registry.totalPendingStake() + registry.totalLockedStake(), stake, "pending + locked");
        assertEq(registry.getContribution(id).sizeTokens, size, "sizeTokens as declared");
        if (toOpen) {
            assertEq(registry.getContribution(id).weight, registry.OPEN_DATANET_WEIGHT(), "open weight, not size");
        }
    }

    function testFuzz_releaseStake_unlocksExactlyAtLockEnd(uint256 wait, uint256 lock) public {
        lock = bound(lock, 0, 365 days);
        wait = bound(wait, 0, 400 days);
        vm.prank(GOVERNANCE);
        registry.setStakeLockPeriod(lock);
        uint256 id = _contribute(alice, open, H1, 5e18);
        uint256 acceptedAt = block.timestamp;
        vm.warp(block.timestamp + wait);
        if (wait < lock) {
            vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.StakeLocked.selector, id, acceptedAt + lock));
            registry.releaseStake(id);
        } else {
            registry.releaseStake(id);
            assertEq(token.balanceOf(alice), 1_000e18, "repaid");
        }
        _assertHeld();
    }

    function testFuzz_contribute_revertsIfStakeBelowMinimum(uint128 stake) public {
        stake = uint128(bound(stake, 0, 10e18 - 1));
        bytes32 salt = _commit(alice, H1);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.StakeBelowMinimum.selector, curated, stake, 10e18));
        _reveal(alice, curated, H1, stake, salt);
    }
}
