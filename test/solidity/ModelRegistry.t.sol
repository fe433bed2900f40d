// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {DatanetRegistry} from "../../contracts/DatanetRegistry.sol";
import {ModelRegistry} from "../../contracts/ModelRegistry.sol";
import {OpenToken} from "../../contracts/OpenToken.sol";
import {ICommitments} from "../../contracts/interfaces/ICommitments.sol";
import {IDatanetRegistry} from "../../contracts/interfaces/IDatanetRegistry.sol";
import {IModelRegistry} from "../../contracts/interfaces/IModelRegistry.sol";
import {Commits} from "./utils/Commits.sol";
import {HandlerPaths, PathReport} from "./utils/Paths.sol";
import {Assertions, Test} from "./utils/Test.sol";
import {vm} from "./utils/Vm.sol";

/// @notice Builds lineages over a list of published (datanetId, version) pairs.
library Lineages {
    uint256 internal constant BPS = 10_000;

    /// @dev `n` positive weights summing to exactly 10,000, derived from `seed`.
    function split(uint256 n, uint256 seed) internal pure returns (uint16[] memory weights) {
        weights = new uint16[](n);
        uint256 remaining = BPS;
        for (uint256 i; i + 1 < n; ++i) {
            uint256 maxHere = remaining - (n - 1 - i); // leave at least 1 bps for each later entry
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            // Mostly small slices with the odd large one, so that both short and long tails come up.
            uint256 w = 1 + (r % (r % 3 == 0 ? maxHere : (maxHere + n - 1) / n));
            if (w > maxHere) w = maxHere;
            weights[i] = uint16(w);
            remaining -= w;
        }
        weights[n - 1] = uint16(remaining);
    }

    /// @dev `n` distinct entries taken from `pool` starting at `start`, weighted by `split(n, seed)`.
    function build(
        IModelRegistry.LineageEntry[] memory pool,
        uint256 n,
        uint256 start,
        uint256 seed
    ) internal pure returns (IModelRegistry.LineageEntry[] memory lineage) {
        uint16[] memory weights = split(n, seed);
        lineage = new IModelRegistry.LineageEntry[](n);
        for (uint256 i; i < n; ++i) {
            IModelRegistry.LineageEntry memory source = pool[((start % pool.length) + i) % pool.length];
            lineage[i] = IModelRegistry.LineageEntry(source.datanetId, source.version, weights[i]);
        }
    }
}

/// @notice Deploys the token, a DatanetRegistry with open datanets and a ModelRegistry, and publishes versions.
abstract contract ModelFixture {
    address internal constant GOVERNANCE = address(0x6000);
    uint256 internal constant MIN_DATA_SHARE = 1_000;

    OpenToken internal token;
    DatanetRegistry internal datanets;
    ModelRegistry internal models;
    uint256 internal baseModelId;
    /// @dev Every published (datanetId, version), in publication order; weightBps unused.
    IModelRegistry.LineageEntry[] internal _pool;
    uint256 internal _contentNonce;

    function _deployFixture() internal {
        token = new OpenToken(address(this));
        datanets = new DatanetRegistry(IERC20(address(token)), GOVERNANCE, 0);
        models = new ModelRegistry(datanets, GOVERNANCE, MIN_DATA_SHARE);
        IDatanetRegistry.CreateDatanetParams memory p = IDatanetRegistry.CreateDatanetParams({
            metadataURI: "ipfs://datanet",
            license: "CC-BY-4.0",
            curated: false,
            minStake: 0,
            treasury: address(0),
            curators: new address[](0)
        });
        datanets.createDatanet(p);
        datanets.createDatanet(p);
        bytes32 salt = Commits.commit(models, address(this), keccak256("base weights"));
        baseModelId = models.registerBaseModel("llama-3-8b", keccak256("base weights"), "ipfs://base", salt);
    }

    /// @dev Accepts one more contribution into an open datanet and publishes a new version of it.
    function _publish(uint256 datanetId) internal returns (uint256 version) {
        bytes32 contentHash = keccak256(abi.encode("content", ++_contentNonce));
        bytes32 salt = Commits.commit(datanets, address(this), contentHash);
        datanets.contribute(datanetId, contentHash, "ipfs://c", 10, 0, salt);
        version = datanets.publishVersion(datanetId, keccak256(abi.encode("root", _contentNonce)));
        _pool.push(IModelRegistry.LineageEntry(datanetId, uint64(version), 0));
    }

    function _adapterParams(
        bytes32 artifactHash,
        IModelRegistry.LineageEntry[] memory lineage
    ) internal view returns (IModelRegistry.AdapterParams memory) {
        return
            IModelRegistry.AdapterParams({
                baseModelId: baseModelId,
                artifactHash: artifactHash,
                uri: "ipfs://adapter",
                rank: 16,
                targetModules: 0x7f,
                pricePer1kTokens: 1e15,
                ownerShareBps: 7_000,
                dataShareBps: 3_000,
                lineage: lineage
            });
    }
}

/// @notice Random publishes, valid and invalid adapter registrations, and adapter updates. Records every lineage
/// and every version at the moment it was registered or published.
contract ModelHandler is ModelFixture, Assertions, HandlerPaths {
    struct PublishedVersion {
        uint256 datanetId;
        uint256 version;
        IDatanetRegistry.Version snapshot;
    }

    PublishedVersion[] internal _versions;
    mapping(uint256 adapterId => IModelRegistry.LineageEntry[]) internal _lineages;
    uint256 public ghostSurprises;
    string public lastSurprise;
    uint256 internal _artifactNonce;

    constructor() {
        _declarePath("publish");
        _declarePath("registerAdapter");
        _declarePath("badLineage:weightsNotWhole");
        _declarePath("badLineage:versionNotPublished");
        _declarePath("badLineage:duplicate");
        _declarePath("setPrice");
        _declarePath("setURI");
        _declarePath("deprecate");
        _declarePath("setMinDataShareBps");
        _deployFixture();
        _recordPublish(1);
        _recordPublish(2);
    }

    function _recordPublish(uint256 datanetId) internal {
        uint256 version = _publish(datanetId);
        _versions.push(PublishedVersion(datanetId, version, datanets.getVersion(datanetId, version)));
    }

    function _versionCountOf(uint256 datanetId) internal view returns (uint256) {
        return datanetId <= datanets.datanetCount() ? datanets.getDatanet(datanetId).versionCount : 0;
    }

    function _surprise(string memory what) internal {
        ++ghostSurprises;
        lastSurprise = what;
    }

    function _validLineage(
        uint256 n,
        uint256 start,
        uint256 seed
    ) internal view returns (IModelRegistry.LineageEntry[] memory) {
        uint256 maxN = _pool.length < 16 ? _pool.length : 16;
        return Lineages.build(_pool, bound(n, 1, maxN), start, seed);
    }

    // ------------------------------------------------------------------ actions

    function publish(uint256 datanetSeed) public {
        _recordPublish(1 + (datanetSeed % 2));
        _hit("publish");
    }

    function registerAdapter(uint256 n, uint256 start, uint256 seed, uint16 dataShareBps) public {
        IModelRegistry.AdapterParams memory p = _adapterParams(
            keccak256(abi.encode("adapter", ++_artifactNonce)),
            _validLineage(n, start, seed)
        );
        p.dataShareBps = uint16(bound(dataShareBps, models.minDataShareBps(), 10_000));
        p.ownerShareBps = uint16(10_000 - p.dataShareBps);
        p.rank = uint16(bound(seed >> 128, 1, 256));
        p.targetModules = uint16(bound(seed >> 160, 1, 0x7f));
        bytes32 salt = Commits.commit(models, address(this), p.artifactHash);
        try models.registerAdapter(p, salt) returns (uint256 adapterId) {
            for (uint256 i; i < p.lineage.length; ++i) {
                _lineages[adapterId].push(p.lineage[i]);
            }
            _hit("registerAdapter");
        } catch {
            _surprise("valid adapter registration reverted");
        }
    }

    /// @dev mode 0: weights not summing to 10,000; 1: an unpublished version; 2: a repeated entry.
    function registerAdapterWithBadLineage(uint256 mode, uint256 n, uint256 start, uint256 seed, uint256 k) public {
        IModelRegistry.LineageEntry[] memory lineage = _validLineage(n, start, seed);
        n = lineage.length;
        k = k % n;
        bytes memory expected;
        mode = mode % 3;
        if (mode == 0) {
            // Move the weight by a non-zero delta and keep it positive.
            uint256 w = lineage[k].weightBps;
            uint256 changed = seed % 2 == 0 || w == 1 ? w + 1 + ((seed >> 8) % 5_000) : 1 + ((seed >> 8) % (w - 1));
            lineage[k].weightBps = uint16(changed);
            expected = abi.encodeWithSelector(IModelRegistry.LineageWeightsNotWhole.selector, 10_000 - w + changed);
        } else if (mode == 1) {
            uint256 datanetId = 1 + ((seed >> 8) % 3); // datanet 3 does not exist
            uint64 version = seed % 4 == 0 ? 0 : uint64(_versionCountOf(datanetId) + 1 + ((seed >> 16) % 3));
            lineage[k].datanetId = datanetId;
            lineage[k].version = version;
            expected = abi.encodeWithSelector(IModelRegistry.LineageVersionNotPublished.selector, datanetId, version);
        } else {
            if (n < 2) return;
            if (k == 0) k = 1;
            uint256 j = (seed >> 8) % k;
            lineage[k].datanetId = lineage[j].datanetId;
            lineage[k].version = lineage[j].version;
            expected = abi.encodeWithSelector(
                IModelRegistry.LineageDuplicate.selector,
                lineage[j].datanetId,
                lineage[j].version
            );
        }
        IModelRegistry.AdapterParams memory p = _adapterParams(keccak256(abi.encode("bad", ++_artifactNonce)), lineage);
        // Everything but the lineage is valid, whatever minDataShareBps governance has set.
        p.dataShareBps = uint16(models.minDataShareBps() > 3_000 ? models.minDataShareBps() : 3_000);
        p.ownerShareBps = uint16(10_000 - p.dataShareBps);
        uint256 countBefore = models.adapterCount();
        bytes32 salt = Commits.commit(models, address(this), p.artifactHash);
        try models.registerAdapter(p, salt) {
            _surprise("invalid lineage registered");
        } catch (bytes memory err) {
            if (keccak256(err) != keccak256(expected)) _surprise("invalid lineage: wrong error");
        }
        if (models.adapterCount() != countBefore) _surprise("adapterCount moved");
        _hit(
            mode == 0
                ? bytes32("badLineage:weightsNotWhole")
                : mode == 1
                    ? bytes32("badLineage:versionNotPublished")
                    : bytes32("badLineage:duplicate")
        );
    }

    function setPrice(uint256 idSeed, uint128 price) public {
        uint256 count = models.adapterCount();
        if (count == 0) return;
        uint256 id = 1 + (idSeed % count);
        if (models.getAdapter(id).deprecated) return;
        models.setPrice(id, price);
        _hit("setPrice");
    }

    function setURI(uint256 idSeed) public {
        uint256 count = models.adapterCount();
        if (count == 0) return;
        uint256 id = 1 + (idSeed % count);
        if (models.getAdapter(id).deprecated) return;
        models.setURI(id, "ipfs://moved");
        _hit("setURI");
    }

    function deprecate(uint256 idSeed) public {
        uint256 count = models.adapterCount();
        if (count == 0) return;
        uint256 id = 1 + (idSeed % count);
        if (models.getAdapter(id).deprecated) return;
        models.deprecate(id);
        _hit("deprecate");
    }

    function setMinDataShareBps(uint256 bps) public {
        vm.prank(GOVERNANCE);
        models.setMinDataShareBps(bound(bps, 0, 5_000));
        _hit("setMinDataShareBps");
    }

    /// @dev The handler registers adapters itself, so it receives their ERC-721 tokens.
    function onERC721Received(address, address, uint256, bytes calldata) external pure returns (bytes4) {
        return this.onERC721Received.selector;
    }

    // ------------------------------------------------------------------ views for invariants

    function versionCount() external view returns (uint256) {
        return _versions.length;
    }

    function recordedVersion(uint256 i) external view returns (PublishedVersion memory) {
        return _versions[i];
    }

    function recordedLineage(uint256 adapterId) external view returns (IModelRegistry.LineageEntry[] memory) {
        return _lineages[adapterId];
    }

    function getModels() external view returns (ModelRegistry) {
        return models;
    }

    function getDatanets() external view returns (DatanetRegistry) {
        return datanets;
    }
}

contract ModelRegistryInvariantTest is PathReport {
    ModelHandler internal handler;
    ModelRegistry internal models;
    DatanetRegistry internal datanets;

    function setUp() public {
        vm.warp(1_750_000_000);
        handler = new ModelHandler();
        models = handler.getModels();
        datanets = handler.getDatanets();
        targetContract(address(handler));
    }

    function _pathHandler() internal view override returns (HandlerPaths) {
        return handler;
    }

    function _suiteName() internal pure override returns (string memory) {
        return type(ModelRegistryInvariantTest).name;
    }

    function invariant_lineageWeightsSumTo10000() public view {
        uint256 count = models.adapterCount();
        for (uint256 id = 1; id <= count; ++id) {
            IModelRegistry.LineageEntry[] memory lineage = models.getLineage(id);
            assertTrue(lineage.length >= 1 && lineage.length <= models.MAX_LINEAGE(), "lineage length in [1, 16]");
            uint256 sum;
            for (uint256 i; i < lineage.length; ++i) {
                assertTrue(lineage[i].weightBps > 0, "lineage weight positive");
                assertTrue(
                    datanets.isPublishedVersion(lineage[i].datanetId, lineage[i].version),
                    "lineage version published"
                );
                for (uint256 j; j < i; ++j) {
                    assertFalse(
                        lineage[j].datanetId == lineage[i].datanetId && lineage[j].version == lineage[i].version,
                        "lineage entry repeated"
                    );
                }
                sum += lineage[i].weightBps;
            }
            assertEq(sum, 10_000, "lineage weights of an adapter");
            IModelRegistry.Adapter memory a = models.getAdapter(id);
            assertEq(uint256(a.ownerShareBps) + a.dataShareBps, 10_000, "owner + data share");
        }
    }

    function invariant_lineageImmutable() public view {
        uint256 count = models.adapterCount();
        for (uint256 id = 1; id <= count; ++id) {
            IModelRegistry.LineageEntry[] memory stored = models.getLineage(id);
            IModelRegistry.LineageEntry[] memory recorded = handler.recordedLineage(id);
            assertEq(stored.length, recorded.length, "lineage length vs registration");
            for (uint256 i; i < stored.length; ++i) {
                assertEq(stored[i].datanetId, recorded[i].datanetId, "lineage datanetId vs registration");
                assertEq(stored[i].version, recorded[i].version, "lineage version vs registration");
                assertEq(stored[i].weightBps, recorded[i].weightBps, "lineage weight vs registration");
            }
        }
    }

    function invariant_publishedVersionsImmutable() public view {
        uint256 n = handler.versionCount();
        for (uint256 i; i < n; ++i) {
            ModelHandler.PublishedVersion memory p = handler.recordedVersion(i);
            assertTrue(datanets.isPublishedVersion(p.datanetId, p.version), "version still published");
            IDatanetRegistry.Version memory now_ = datanets.getVersion(p.datanetId, p.version);
            assertEq(now_.root, p.snapshot.root, "version root");
            assertEq(now_.contributionCount, p.snapshot.contributionCount, "version contributionCount");
            assertEq(now_.publishedAt, p.snapshot.publishedAt, "version publishedAt");
            assertEq(now_.totalWeight, p.snapshot.totalWeight, "version totalWeight");
        }
    }

    function invariant_invalidLineageRevertsWithMatchingError() public view {
        if (handler.ghostSurprises() != 0) fail(string.concat("handler saw: ", handler.lastSurprise()));
    }
}

contract ModelRegistryTest is ModelFixture, Test {
    address internal alice = address(0xA11CE);
    address internal bob = address(0xB0B);

    function setUp() public {
        vm.warp(1_750_000_000);
        _deployFixture();
        // 16 versions of datanet 1 and 2 of datanet 2: 18 distinct published entries.
        for (uint256 i; i < 16; ++i) {
            _publish(1);
        }
        _publish(2);
        _publish(2);
    }

    function _lineage(uint256 n) internal view returns (IModelRegistry.LineageEntry[] memory) {
        return Lineages.build(_pool, n, 0, 42);
    }

    /// @dev Commits `who` to `artifactHash` and rolls one block; returns the salt to reveal with.
    function _commit(address who, bytes32 artifactHash) internal returns (bytes32) {
        return Commits.commit(models, who, artifactHash);
    }

    function _register(bytes32 artifactHash) internal returns (uint256) {
        return _reveal(artifactHash, _commit(address(this), artifactHash));
    }

    /// @dev The reveal alone, after `_commit`: what a test expecting a revert calls after `vm.expectRevert`.
    function _reveal(bytes32 artifactHash, bytes32 salt) internal returns (uint256) {
        return models.registerAdapter(_adapterParams(artifactHash, _lineage(3)), salt);
    }

    function _sum(IModelRegistry.LineageEntry[] memory lineage) internal pure returns (uint256 total) {
        for (uint256 i; i < lineage.length; ++i) {
            total += lineage[i].weightBps;
        }
    }

    // ---------------------------------------------------------------- constructor / governance

    function test_constructor_revertsIfZeroDatanets() public {
        vm.expectRevert(IModelRegistry.ZeroAddress.selector);
        new ModelRegistry(IDatanetRegistry(address(0)), GOVERNANCE, 0);
    }

    function test_constructor_revertsIfMinDataShareTooHigh() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.MinDataShareTooHigh.selector, 10_001));
        new ModelRegistry(datanets, GOVERNANCE, 10_001);
    }

    function test_setMinDataShareBps_setsByGovernance() public {
        vm.prank(GOVERNANCE);
        models.setMinDataShareBps(2_500);
        assertEq(models.minDataShareBps(), 2_500, "minDataShareBps");
    }

    function test_setMinDataShareBps_revertsIfTooHigh() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.MinDataShareTooHigh.selector, 10_001));
        vm.prank(GOVERNANCE);
        models.setMinDataShareBps(10_001);
    }

    function test_setMinDataShareBps_revertsIfNotGovernance() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        models.setMinDataShareBps(0);
    }

    function test_transferOwnership_movesGovernance() public {
        vm.prank(GOVERNANCE);
        models.transferOwnership(alice);
        assertEq(models.owner(), alice, "owner");
        vm.prank(alice);
        models.renounceOwnership();
        assertEq(models.owner(), address(0), "renounced");
    }

    // ---------------------------------------------------------------- base models

    function test_registerBaseModel_storesRecord() public view {
        IModelRegistry.BaseModel memory b = models.getBaseModel(baseModelId);
        assertEq(b.registrant, address(this), "registrant");
        assertEq(b.artifactHash, keccak256("base weights"), "artifactHash");
        assertEq(b.name, "llama-3-8b", "name");
        assertEq(b.uri, "ipfs://base", "uri");
        assertFalse(b.deprecated, "deprecated");
        assertEq(models.baseModelCount(), 1, "baseModelCount");
        assertEq(models.baseModelByHash(keccak256("base weights")), baseModelId, "baseModelByHash");
    }

    function test_registerBaseModel_revertsIfDuplicate() public {
        bytes32 salt = _commit(alice, keccak256("base weights"));
        vm.expectRevert(
            abi.encodeWithSelector(IModelRegistry.DuplicateBaseModel.selector, keccak256("base weights"), baseModelId)
        );
        vm.prank(alice);
        models.registerBaseModel("copy", keccak256("base weights"), "ipfs://copy", salt);
    }

    function test_registerBaseModel_revertsIfEmptyFields() public {
        bytes32 salt = _commit(address(this), keccak256("x"));
        bytes32 zeroSalt = _commit(address(this), bytes32(0));
        vm.expectRevert(IModelRegistry.EmptyName.selector);
        models.registerBaseModel("", keccak256("x"), "ipfs://x", salt);
        vm.expectRevert(IModelRegistry.EmptyArtifactHash.selector);
        models.registerBaseModel("x", bytes32(0), "ipfs://x", zeroSalt);
        vm.expectRevert(IModelRegistry.EmptyURI.selector);
        models.registerBaseModel("x", keccak256("x"), "", salt);
    }

    function test_registerBaseModel_revertsWithoutCommitment() public {
        bytes32 hash = keccak256("other weights");
        bytes32 salt = Commits.saltOf(alice, hash);
        vm.expectRevert(
            abi.encodeWithSelector(ICommitments.CommitmentNotFound.selector, models.commitmentOf(alice, hash, salt))
        );
        vm.prank(alice);
        models.registerBaseModel("other", hash, "ipfs://other", salt);
        assertEq(models.baseModelCount(), 1, "nothing registered");
    }

    function test_registerBaseModel_revertsIfCommittedInSameBlock() public {
        bytes32 hash = keccak256("other weights");
        bytes32 salt = Commits.commitInThisBlock(models, alice, hash);
        bytes32 commitment = models.commitmentOf(alice, hash, salt);
        vm.expectRevert(abi.encodeWithSelector(ICommitments.CommitmentTooRecent.selector, commitment, block.number));
        vm.prank(alice);
        models.registerBaseModel("other", hash, "ipfs://other", salt);
        // The next block it reveals, and the commitment is used up.
        vm.roll(block.number + 1);
        vm.prank(alice);
        uint256 id = models.registerBaseModel("other", hash, "ipfs://other", salt);
        assertEq(models.getBaseModel(id).registrant, alice, "registrant");
        assertEq(models.commitments(commitment), 0, "commitment used up");
    }

    /// @dev Alice committed in an earlier block; her registration is pending in this one. Bob copies it (same
    /// arguments, same salt) and lands first: his copy reveals no commitment of his. His own commitment to the same
    /// artifact hash, made in this block, cannot be revealed before the next one, by which time alice's
    /// registration has landed: he can only duplicate it.
    function test_registerBaseModel_copyOfPendingTransactionGainsNothing() public {
        bytes32 hash = keccak256("other weights");
        bytes32 salt = _commit(alice, hash);

        vm.expectRevert(
            abi.encodeWithSelector(ICommitments.CommitmentNotFound.selector, models.commitmentOf(bob, hash, salt))
        );
        vm.prank(bob);
        models.registerBaseModel("other", hash, "ipfs://other", salt);
        bytes32 bobCommitment = models.commitmentOf(bob, hash, salt);
        vm.prank(bob);
        models.commit(bobCommitment);
        vm.expectRevert(abi.encodeWithSelector(ICommitments.CommitmentTooRecent.selector, bobCommitment, block.number));
        vm.prank(bob);
        models.registerBaseModel("other", hash, "ipfs://other", salt);

        vm.prank(alice);
        uint256 id = models.registerBaseModel("other", hash, "ipfs://other", salt);
        assertEq(models.getBaseModel(id).registrant, alice, "alice is the registrant of record");

        vm.roll(block.number + 1);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.DuplicateBaseModel.selector, hash, id));
        vm.prank(bob);
        models.registerBaseModel("other", hash, "ipfs://other", salt);
        assertEq(models.baseModelByHash(hash), id, "baseModelByHash");
        assertEq(models.baseModelCount(), 2, "baseModelCount");
    }

    function test_deprecateBaseModel_blocksNewAdapters() public {
        vm.prank(GOVERNANCE);
        models.deprecateBaseModel(baseModelId);
        assertTrue(models.getBaseModel(baseModelId).deprecated, "deprecated");
        bytes32 salt = _commit(address(this), keccak256("adapter"));
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.BaseModelIsDeprecated.selector, baseModelId));
        _reveal(keccak256("adapter"), salt);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.BaseModelIsDeprecated.selector, baseModelId));
        vm.prank(GOVERNANCE);
        models.deprecateBaseModel(baseModelId);
    }

    function test_deprecateBaseModel_revertsIfNotGovernance() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, alice));
        vm.prank(alice);
        models.deprecateBaseModel(baseModelId);
    }

    function test_deprecateBaseModel_revertsIfNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.BaseModelNotFound.selector, 9));
        vm.prank(GOVERNANCE);
        models.deprecateBaseModel(9);
    }

    // ---------------------------------------------------------------- adapters

    function test_registerAdapter_storesAdapterLineageAndMints() public {
        IModelRegistry.LineageEntry[] memory lineage = _lineage(3);
        bytes32 salt = _commit(alice, keccak256("adapter"));
        vm.prank(alice);
        uint256 id = models.registerAdapter(_adapterParams(keccak256("adapter"), lineage), salt);
        assertEq(id, 1, "adapterId");
        assertEq(models.ownerOf(id), alice, "token owner");
        IModelRegistry.Adapter memory a = models.getAdapter(id);
        assertEq(a.baseModelId, baseModelId, "baseModelId");
        assertEq(a.rank, 16, "rank");
        assertEq(a.ownerShareBps, 7_000, "ownerShareBps");
        assertEq(a.dataShareBps, 3_000, "dataShareBps");
        assertEq(models.adapterByHash(keccak256("adapter")), id, "adapterByHash");
        IModelRegistry.LineageEntry[] memory stored = models.getLineage(id);
        assertEq(stored.length, 3, "lineage length");
        for (uint256 i; i < 3; ++i) {
            assertEq(stored[i].datanetId, lineage[i].datanetId, "datanetId");
            assertEq(stored[i].version, lineage[i].version, "version");
            assertEq(stored[i].weightBps, lineage[i].weightBps, "weightBps");
        }
        assertEq(_sum(stored), 10_000, "weights");
    }

    function test_registerAdapter_revertsIfDuplicate() public {
        uint256 id = _register(keccak256("adapter"));
        bytes32 salt = _commit(address(this), keccak256("adapter"));
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.DuplicateAdapter.selector, keccak256("adapter"), id));
        _reveal(keccak256("adapter"), salt);
    }

    function test_registerAdapter_revertsWithoutCommitment() public {
        bytes32 hash = keccak256("adapter");
        bytes32 salt = Commits.saltOf(alice, hash);
        IModelRegistry.AdapterParams memory p = _adapterParams(hash, _lineage(3));
        vm.expectRevert(
            abi.encodeWithSelector(ICommitments.CommitmentNotFound.selector, models.commitmentOf(alice, hash, salt))
        );
        vm.prank(alice);
        models.registerAdapter(p, salt);
        assertEq(models.adapterCount(), 0, "nothing registered");
    }

    function test_registerAdapter_revertsIfCommittedInSameBlock() public {
        bytes32 hash = keccak256("adapter");
        IModelRegistry.AdapterParams memory p = _adapterParams(hash, _lineage(3));
        bytes32 salt = Commits.commitInThisBlock(models, alice, hash);
        bytes32 commitment = models.commitmentOf(alice, hash, salt);
        vm.expectRevert(abi.encodeWithSelector(ICommitments.CommitmentTooRecent.selector, commitment, block.number));
        vm.prank(alice);
        models.registerAdapter(p, salt);
        // The next block it reveals, and the commitment is used up.
        vm.roll(block.number + 1);
        vm.prank(alice);
        uint256 id = models.registerAdapter(p, salt);
        assertEq(models.ownerOf(id), alice, "token owner");
        assertEq(models.commitments(commitment), 0, "commitment used up");
    }

    /// @dev Alice committed in an earlier block; her registration is pending in this one. Bob copies it (same
    /// arguments, same salt) and lands first: his copy reveals no commitment of his. His own commitment to the same
    /// artifact hash, made in this block, cannot be revealed before the next one, by which time alice's adapter has
    /// been registered: he can only duplicate it.
    function test_registerAdapter_copyOfPendingTransactionGainsNothing() public {
        bytes32 hash = keccak256("adapter");
        IModelRegistry.AdapterParams memory p = _adapterParams(hash, _lineage(3));
        bytes32 salt = _commit(alice, hash);

        vm.expectRevert(
            abi.encodeWithSelector(ICommitments.CommitmentNotFound.selector, models.commitmentOf(bob, hash, salt))
        );
        vm.prank(bob);
        models.registerAdapter(p, salt);
        bytes32 bobCommitment = models.commitmentOf(bob, hash, salt);
        vm.prank(bob);
        models.commit(bobCommitment);
        vm.expectRevert(abi.encodeWithSelector(ICommitments.CommitmentTooRecent.selector, bobCommitment, block.number));
        vm.prank(bob);
        models.registerAdapter(p, salt);

        vm.prank(alice);
        uint256 id = models.registerAdapter(p, salt);
        assertEq(models.ownerOf(id), alice, "alice owns the adapter");

        vm.roll(block.number + 1);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.DuplicateAdapter.selector, hash, id));
        vm.prank(bob);
        models.registerAdapter(p, salt);
        assertEq(models.adapterByHash(hash), id, "adapterByHash");
        assertEq(models.adapterCount(), 1, "adapterCount");
        assertEq(models.balanceOf(bob), 0, "bob holds no adapter");
    }

    function test_registerAdapter_revertsIfBaseModelNotFound() public {
        bytes32 salt = _commit(address(this), keccak256("adapter"));
        IModelRegistry.AdapterParams memory p = _adapterParams(keccak256("adapter"), _lineage(1));
        p.baseModelId = 2;
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.BaseModelNotFound.selector, 2));
        models.registerAdapter(p, salt);
    }

    function test_registerAdapter_revertsIfEmptyArtifactOrURI() public {
        bytes32 zeroSalt = _commit(address(this), bytes32(0));
        bytes32 salt = _commit(address(this), keccak256("adapter"));
        IModelRegistry.AdapterParams memory p = _adapterParams(bytes32(0), _lineage(1));
        vm.expectRevert(IModelRegistry.EmptyArtifactHash.selector);
        models.registerAdapter(p, zeroSalt);
        p.artifactHash = keccak256("adapter");
        p.uri = "";
        vm.expectRevert(IModelRegistry.EmptyURI.selector);
        models.registerAdapter(p, salt);
    }

    function test_registerAdapter_revertsIfInvalidRank() public {
        bytes32 salt = _commit(address(this), keccak256("adapter"));
        IModelRegistry.AdapterParams memory p = _adapterParams(keccak256("adapter"), _lineage(1));
        p.rank = 0;
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.InvalidRank.selector, 0));
        models.registerAdapter(p, salt);
    }

    function test_registerAdapter_revertsIfInvalidTargetModules() public {
        bytes32 salt = _commit(address(this), keccak256("adapter"));
        IModelRegistry.AdapterParams memory p = _adapterParams(keccak256("adapter"), _lineage(1));
        p.targetModules = 0;
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.InvalidTargetModules.selector, 0));
        models.registerAdapter(p, salt);
        p.targetModules = 0x80;
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.InvalidTargetModules.selector, 0x80));
        models.registerAdapter(p, salt);
    }

    function test_registerAdapter_revertsIfDataShareBelowMinimum() public {
        bytes32 salt = _commit(address(this), keccak256("adapter"));
        IModelRegistry.AdapterParams memory p = _adapterParams(keccak256("adapter"), _lineage(1));
        p.ownerShareBps = 9_001;
        p.dataShareBps = 999;
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.DataShareBelowMinimum.selector, 999, MIN_DATA_SHARE));
        models.registerAdapter(p, salt);
    }

    function test_registerAdapter_revertsIfLineageEmptyOrTooLong() public {
        bytes32 salt = _commit(address(this), keccak256("adapter"));
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.LineageLength.selector, 0, 16));
        models.registerAdapter(_adapterParams(keccak256("adapter"), new IModelRegistry.LineageEntry[](0)), salt);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.LineageLength.selector, 17, 16));
        models.registerAdapter(_adapterParams(keccak256("adapter"), _lineage(17)), salt);
    }

    function test_registerAdapter_acceptsMaxLineage() public {
        bytes32 salt = _commit(address(this), keccak256("adapter"));
        uint256 id = models.registerAdapter(_adapterParams(keccak256("adapter"), _lineage(16)), salt);
        assertEq(models.getLineage(id).length, 16, "lineage length");
    }

    function test_registerAdapter_revertsIfLineageZeroWeight() public {
        bytes32 salt = _commit(address(this), keccak256("adapter"));
        IModelRegistry.LineageEntry[] memory lineage = _lineage(2);
        lineage[0].weightBps += lineage[1].weightBps;
        lineage[1].weightBps = 0;
        vm.expectRevert(
            abi.encodeWithSelector(IModelRegistry.LineageZeroWeight.selector, lineage[1].datanetId, lineage[1].version)
        );
        models.registerAdapter(_adapterParams(keccak256("adapter"), lineage), salt);
    }

    function test_registerAdapter_revertsIfLineageVersionNotPublished() public {
        bytes32 salt = _commit(address(this), keccak256("adapter"));
        IModelRegistry.LineageEntry[] memory lineage = _lineage(1);
        lineage[0].version = 17; // datanet 1 has 16 versions
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.LineageVersionNotPublished.selector, 1, 17));
        models.registerAdapter(_adapterParams(keccak256("adapter"), lineage), salt);
    }

    function test_registerAdapter_revertsIfLineageDuplicate() public {
        bytes32 salt = _commit(address(this), keccak256("adapter"));
        IModelRegistry.LineageEntry[] memory lineage = _lineage(2);
        lineage[1].datanetId = lineage[0].datanetId;
        lineage[1].version = lineage[0].version;
        vm.expectRevert(
            abi.encodeWithSelector(IModelRegistry.LineageDuplicate.selector, lineage[0].datanetId, lineage[0].version)
        );
        models.registerAdapter(_adapterParams(keccak256("adapter"), lineage), salt);
    }

    function test_registerAdapter_revertsIfLineageWeightsNotWhole() public {
        bytes32 salt = _commit(address(this), keccak256("adapter"));
        IModelRegistry.LineageEntry[] memory lineage = _lineage(2);
        lineage[1].weightBps += 1;
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.LineageWeightsNotWhole.selector, 10_001));
        models.registerAdapter(_adapterParams(keccak256("adapter"), lineage), salt);
    }

    function test_setPrice_setsByOwner() public {
        uint256 id = _register(keccak256("adapter"));
        models.setPrice(id, 5);
        assertEq(models.getAdapter(id).pricePer1kTokens, 5, "price");
    }

    function test_setPrice_revertsIfNotOwner() public {
        uint256 id = _register(keccak256("adapter"));
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.NotAdapterOwner.selector, id, alice));
        vm.prank(alice);
        models.setPrice(id, 5);
    }

    function test_setPrice_revertsIfNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.AdapterNotFound.selector, 1));
        models.setPrice(1, 5);
    }

    function test_setURI_setsByOwner() public {
        uint256 id = _register(keccak256("adapter"));
        models.setURI(id, "ipfs://v2");
        assertEq(models.getAdapter(id).uri, "ipfs://v2", "uri");
    }

    function test_setURI_revertsIfEmpty() public {
        uint256 id = _register(keccak256("adapter"));
        vm.expectRevert(IModelRegistry.EmptyURI.selector);
        models.setURI(id, "");
    }

    function test_deprecate_freezesAdapter() public {
        uint256 id = _register(keccak256("adapter"));
        models.deprecate(id);
        assertTrue(models.getAdapter(id).deprecated, "deprecated");
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.AdapterIsDeprecated.selector, id));
        models.setPrice(id, 1);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.AdapterIsDeprecated.selector, id));
        models.setURI(id, "ipfs://v2");
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.AdapterIsDeprecated.selector, id));
        models.deprecate(id);
    }

    function test_getAdapter_revertsIfNotFound() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.AdapterNotFound.selector, 3));
        models.getAdapter(3);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.AdapterNotFound.selector, 3));
        models.getLineage(3);
    }

    function test_transferFrom_movesAdapterControl() public {
        uint256 id = _register(keccak256("adapter"));
        models.approve(alice, id);
        vm.prank(alice);
        models.transferFrom(address(this), bob, id);
        assertEq(models.ownerOf(id), bob, "owner");
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.NotAdapterOwner.selector, id, address(this)));
        models.setPrice(id, 1);
        vm.prank(bob);
        models.setPrice(id, 1);
        assertEq(models.getLineage(id).length, 3, "lineage travels unchanged");
    }

    function test_safeTransferFrom_movesAdapterWithOperator() public {
        uint256 id = _register(keccak256("adapter"));
        uint256 id2 = _register(keccak256("adapter 2"));
        models.setApprovalForAll(alice, true);
        vm.startPrank(alice);
        models.safeTransferFrom(address(this), bob, id);
        models.safeTransferFrom(address(this), bob, id2, "");
        vm.stopPrank();
        assertEq(models.balanceOf(bob), 2, "bob's adapters");
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721InsufficientApproval.selector, alice, id));
        vm.prank(alice);
        models.transferFrom(bob, alice, id);
    }

    // ---------------------------------------------------------------- fuzz

    function testFuzz_registerAdapter_lineageSumsTo10000(uint256 n, uint256 start, uint256 seed) public {
        bytes32 salt = _commit(address(this), keccak256(abi.encode(seed)));
        n = bound(n, 1, 16);
        IModelRegistry.LineageEntry[] memory lineage = Lineages.build(_pool, n, start, seed);
        uint256 id = models.registerAdapter(_adapterParams(keccak256(abi.encode(seed)), lineage), salt);
        IModelRegistry.LineageEntry[] memory stored = models.getLineage(id);
        assertEq(stored.length, n, "lineage length");
        assertEq(_sum(stored), 10_000, "lineage weights");
    }

    function testFuzz_registerAdapter_revertsIfWeightsNotWhole(
        uint256 n,
        uint256 start,
        uint16[16] calldata weights
    ) public {
        bytes32 salt = _commit(address(this), keccak256("adapter"));
        n = bound(n, 1, 16);
        IModelRegistry.LineageEntry[] memory lineage = Lineages.build(_pool, n, start, 0);
        uint256 total;
        for (uint256 i; i < n; ++i) {
            lineage[i].weightBps = uint16(bound(weights[i], 1, type(uint16).max));
            total += lineage[i].weightBps;
        }
        vm.assume(total != 10_000);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.LineageWeightsNotWhole.selector, total));
        models.registerAdapter(_adapterParams(keccak256("adapter"), lineage), salt);
    }

    function testFuzz_registerAdapter_revertsIfVersionNotPublished(
        uint256 n,
        uint256 k,
        uint256 datanetId,
        uint64 version,
        uint256 seed
    ) public {
        bytes32 salt = _commit(address(this), keccak256("adapter"));
        n = bound(n, 1, 16);
        k = bound(k, 0, n - 1);
        // Mostly near the edges (version 0, one past the last, a datanet that does not exist), sometimes anywhere.
        if (seed % 4 != 0) {
            datanetId = bound(datanetId, 0, 3);
            version = uint64(bound(version, 0, 20));
        }
        vm.assume(!datanets.isPublishedVersion(datanetId, version));
        IModelRegistry.LineageEntry[] memory lineage = Lineages.build(_pool, n, seed, seed);
        lineage[k].datanetId = datanetId;
        lineage[k].version = version;
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.LineageVersionNotPublished.selector, datanetId, version));
        models.registerAdapter(_adapterParams(keccak256("adapter"), lineage), salt);
    }

    function testFuzz_registerAdapter_revertsIfEntryRepeated(uint256 n, uint256 k, uint256 j, uint256 seed) public {
        bytes32 salt = _commit(address(this), keccak256("adapter"));
        n = bound(n, 2, 16);
        k = bound(k, 1, n - 1);
        j = bound(j, 0, k - 1);
        IModelRegistry.LineageEntry[] memory lineage = Lineages.build(_pool, n, seed, seed);
        lineage[k].datanetId = lineage[j].datanetId;
        lineage[k].version = lineage[j].version;
        vm.expectRevert(
            abi.encodeWithSelector(IModelRegistry.LineageDuplicate.selector, lineage[j].datanetId, lineage[j].version)
        );
        models.registerAdapter(_adapterParams(keccak256("adapter"), lineage), salt);
    }

    function testFuzz_registerAdapter_revertsIfSharesNotWhole(uint16 ownerShare, uint16 dataShare) public {
        bytes32 salt = _commit(address(this), keccak256("adapter"));
        vm.assume(uint256(ownerShare) + dataShare != 10_000);
        IModelRegistry.AdapterParams memory p = _adapterParams(keccak256("adapter"), _lineage(1));
        p.ownerShareBps = ownerShare;
        p.dataShareBps = dataShare;
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.SharesNotWhole.selector, ownerShare, dataShare));
        models.registerAdapter(p, salt);
    }
}
