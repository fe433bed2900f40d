// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {AttributionRewards} from "../../contracts/AttributionRewards.sol";
import {DatanetRegistry} from "../../contracts/DatanetRegistry.sol";
import {InferencePayments} from "../../contracts/InferencePayments.sol";
import {ModelRegistry} from "../../contracts/ModelRegistry.sol";
import {NodeRegistry} from "../../contracts/NodeRegistry.sol";
import {OpenToken} from "../../contracts/OpenToken.sol";
import {IDatanetRegistry} from "../../contracts/interfaces/IDatanetRegistry.sol";
import {IInferencePayments} from "../../contracts/interfaces/IInferencePayments.sol";
import {IModelRegistry} from "../../contracts/interfaces/IModelRegistry.sol";
import {Commits} from "./utils/Commits.sol";
import {HandlerPaths, PathReport} from "./utils/Paths.sol";
import {Policies} from "./utils/Policies.sol";
import {Assertions, Test} from "./utils/Test.sol";
import {vm} from "./utils/Vm.sol";

/// @notice Cheatcodes used here only, served at the same address as `Vm`.
interface VmSettlement {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function chainId(uint256 newChainId) external;
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory logs);
}

VmSettlement constant vmx = VmSettlement(address(uint160(uint256(keccak256("hevm cheat code")))));

/// @notice An account that is a contract with no function at all: it can hold tokens and adapters, but can never
/// call withdrawBalance itself.
contract InertAccount {}

/// @notice Computes voucher digests independently of the contract, under any domain, and signs them.
library Vouchers {
    bytes32 internal constant DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );
    bytes32 internal constant VOUCHER_TYPEHASH = keccak256(
        // solhint-disable-next-line max-line-length
        "Voucher(uint256 channelId,uint256 cumulativeAmount,uint256[] adapterIds,uint256[] adapterAmounts,bytes32 usageRoot,uint64 expiry)"
    );
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    function digest(
        IInferencePayments.Voucher memory v,
        uint256 chainId,
        address verifyingContract
    ) internal pure returns (bytes32) {
        bytes32 domain = keccak256(
            abi.encode(
                DOMAIN_TYPEHASH,
                keccak256("OpenPoA InferencePayments"),
                keccak256("1"),
                chainId,
                verifyingContract
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                VOUCHER_TYPEHASH,
                v.channelId,
                v.cumulativeAmount,
                keccak256(abi.encodePacked(v.adapterIds)),
                keccak256(abi.encodePacked(v.adapterAmounts)),
                v.usageRoot,
                v.expiry
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    function sign(
        uint256 key,
        IInferencePayments.Voucher memory v,
        uint256 chainId,
        address verifyingContract
    ) internal pure returns (bytes memory) {
        (uint8 sv, bytes32 r, bytes32 s) = vm.sign(key, digest(v, chainId, verifyingContract));
        return abi.encodePacked(r, s, sv);
    }

    /// @dev The same signature with s' = n - s and the other parity: valid for raw ecrecover, rejected by OZ.
    function malleate(bytes memory signature) internal pure returns (bytes memory) {
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := mload(add(signature, 32))
            s := mload(add(signature, 64))
            v := byte(0, mload(add(signature, 96)))
        }
        return abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
    }
}

/// @notice The whole settlement stack: token, datanets with published versions, models with adapters whose
/// lineages have several entries, staked operators, the reward pool and InferencePayments.
abstract contract SettlementFixture {
    address internal constant GOVERNANCE = address(0x6000);
    address internal constant TREASURY = address(0x7000);
    address internal constant ATTESTOR = address(0x7100);
    address internal constant GUARDIAN = address(0x7200);
    uint128 internal constant MIN_STAKE = 1_000e18;
    uint64 internal constant CHALLENGE = 1 days;
    uint16 internal constant PROTOCOL_FEE = 500;
    uint16 internal constant OPERATOR_FEE = 1_000;
    uint256 internal constant N_PAYERS = 3;
    uint256 internal constant N_OPERATORS = 2;
    /// @dev Adapter ids 1..N_ADAPTERS plus id 0 (the base model alone).
    uint256 internal constant N_ADAPTERS = 3;

    OpenToken internal token;
    DatanetRegistry internal datanets;
    ModelRegistry internal models;
    NodeRegistry internal nodes;
    AttributionRewards internal rewards;
    InferencePayments internal payments;
    uint256 internal baseModelId;
    uint256[N_PAYERS] internal payerKeys;
    address[N_OPERATORS] internal operators;
    address[N_ADAPTERS + 1] internal adapterOwners;
    uint256 internal _contentNonce;

    function _deploySettlement() internal {
        token = new OpenToken(address(this));
        datanets = new DatanetRegistry(IERC20(address(token)), GOVERNANCE, 0);
        models = new ModelRegistry(datanets, GOVERNANCE, 1_000);
        nodes = new NodeRegistry(IERC20(address(token)), GOVERNANCE, TREASURY, GUARDIAN, MIN_STAKE, 14 days, 14 days);
        rewards = new AttributionRewards(
            IERC20(address(token)),
            GOVERNANCE,
            ATTESTOR,
            GUARDIAN,
            1 hours,
            Policies.initial()
        );
        payments = new InferencePayments(
            IERC20(address(token)),
            models,
            nodes,
            rewards,
            GOVERNANCE,
            TREASURY,
            PROTOCOL_FEE,
            OPERATOR_FEE,
            CHALLENGE
        );
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
        bytes32 baseSalt = Commits.commit(models, address(this), keccak256("base weights"));
        baseModelId = models.registerBaseModel("llama-3-8b", keccak256("base weights"), "ipfs://base", baseSalt);
        for (uint256 i; i < 3; ++i) {
            _publish(1);
            _publish(2);
        }
        uint256[] memory bases = new uint256[](1);
        bases[0] = baseModelId;
        for (uint256 i; i < N_OPERATORS; ++i) {
            address op = address(uint160(0x9000 + i));
            operators[i] = op;
            token.transfer(op, MIN_STAKE);
            vm.startPrank(op);
            token.approve(address(nodes), MIN_STAKE);
            nodes.register("https://node", bases, op, MIN_STAKE);
            vm.stopPrank();
        }
        adapterOwners[0] = address(0); // id 0: the operator takes the rest
        for (uint256 a = 1; a <= N_ADAPTERS; ++a) {
            adapterOwners[a] = address(uint160(0xA000 + a));
            // Lineages of 1, 2 and 4 entries, dataShareBps 1,000 .. 10,000.
            _registerAdapter(
                adapterOwners[a],
                a == 1
                    ? 1
                    : a == 2
                        ? 2
                        : 4,
                a * 3_000 + 1_000 > 10_000 ? 10_000 : a * 3_000 + 1_000,
                a
            );
        }
        for (uint256 i; i < N_PAYERS; ++i) {
            payerKeys[i] = 0xB0B0 + i;
            token.transfer(vm.addr(payerKeys[i]), 10_000_000e18);
            vm.prank(vm.addr(payerKeys[i]));
            token.approve(address(payments), type(uint256).max);
        }
    }

    function _publish(uint256 datanetId) internal returns (uint256) {
        bytes32 contentHash = keccak256(abi.encode("content", ++_contentNonce));
        bytes32 commitSalt = Commits.commit(datanets, address(this), contentHash);
        datanets.contribute(datanetId, contentHash, "ipfs://c", 10, 0, commitSalt);
        return datanets.publishVersion(datanetId, keccak256(abi.encode("root", _contentNonce)));
    }

    /// @dev Entries alternate datanets 1 and 2 over versions 1..3, weights uneven so that rounding shows.
    function _registerAdapter(address owner, uint256 n, uint256 dataShareBps, uint256 salt) internal returns (uint256) {
        IModelRegistry.LineageEntry[] memory lineage = new IModelRegistry.LineageEntry[](n);
        uint256 remaining = 10_000;
        for (uint256 i; i < n; ++i) {
            uint16 w = i + 1 == n ? uint16(remaining) : uint16(remaining / 3 + 7);
            lineage[i] = IModelRegistry.LineageEntry(1 + (i % 2), uint64(1 + i / 2), w);
            remaining -= w;
        }
        bytes32 artifactHash = keccak256(abi.encode("adapter", salt));
        bytes32 commitSalt = Commits.commit(models, owner, artifactHash);
        vm.prank(owner);
        return
            models.registerAdapter(
                IModelRegistry.AdapterParams({
                    baseModelId: baseModelId,
                    artifactHash: artifactHash,
                    uri: "ipfs://adapter",
                    rank: 16,
                    targetModules: 0x7f,
                    pricePer1kTokens: 1e15,
                    ownerShareBps: uint16(10_000 - dataShareBps),
                    dataShareBps: uint16(dataShareBps),
                    lineage: lineage
                }),
                commitSalt
            );
    }

    /// @dev The documented split of one adapter's increase `x`.
    function _expectedSplit(
        uint256 adapterId,
        uint256 x
    ) internal view returns (uint256 protocolFee, uint256 operatorFee, uint256 ownerShare, uint256 dataShare) {
        protocolFee = (x * payments.protocolFeeBps()) / 10_000;
        operatorFee = (x * payments.operatorFeeBps()) / 10_000;
        uint256 rest = x - protocolFee - operatorFee;
        if (adapterId == 0) return (protocolFee, operatorFee + rest, 0, 0);
        (, uint256 bps) = models.revenueTerms(adapterId);
        dataShare = (rest * bps) / 10_000;
        ownerShare = rest - dataShare;
    }
}

/// @notice Opens, tops up, settles (and replays, and tries vouchers over MAX_VOUCHER_ADAPTERS), closes, withdraws
/// channels and balances (the account itself or anyone for it), changes the challenge period, warping time, over a
/// few payers, two operators and adapters 0..3; `closeOut` runs one channel's whole close (request, settlement within
/// the window, refund after it), so that every run closes several channels. Keeps ghost copies of every deposit,
/// settlement, refund, split and window end, and counts each outcome as a path (HandlerPaths).
contract PaymentsHandler is SettlementFixture, Assertions, HandlerPaths {
    struct Split {
        uint256 protocol;
        uint256 operator;
        uint256 owners;
        uint256 data;
    }

    uint256 public currentTime;
    uint256 public ghostDeposits;
    uint256 public ghostSettled;
    uint256 public ghostRefunds;
    uint256 public ghostWithdrawn;
    uint256 public ghostProtocol;
    uint256 public ghostOperator;
    uint256 public ghostOwners;
    uint256 public ghostData;
    uint256 public ghostSurprises;
    string public lastSurprise;
    mapping(uint256 channelId => uint256) public ghostChannelSettled;
    mapping(uint256 channelId => bytes32) public ghostUsageRoot;
    mapping(uint256 channelId => mapping(uint256 adapterId => uint256)) public ghostAdapterSettled;
    mapping(uint256 channelId => uint256) internal _payerOf;
    /// @dev The end of each closing channel's challenge window: the close request's time plus the challengePeriod in
    /// force then.
    mapping(uint256 channelId => uint256) public ghostClosesAt;
    /// @dev Every voucher settled so far, ABI-encoded with its signature.
    bytes[] internal _settled;

    constructor() {
        _declarePath("openChannel");
        _declarePath("topUp");
        _declarePath("topUp:ChannelClosing");
        _declarePath("settle");
        _declarePath("settle:duringClose");
        _declarePath("settle:NothingToSettle");
        _declarePath("settle:ChallengeWindowOver");
        _declarePath("settle:ChannelIsFinalized");
        _declarePath("settle:TooManyAdapters");
        _declarePath("replay:refused");
        _declarePath("requestClose");
        _declarePath("requestClose:ChannelClosing");
        _declarePath("withdrawChannel");
        _declarePath("withdrawChannel:notClosing");
        _declarePath("withdrawChannel:windowOpen");
        _declarePath("withdrawChannel:finalized");
        _declarePath("closeOut");
        _declarePath("withdrawBalance");
        _declarePath("withdrawBalance:nothing");
        _declarePath("withdrawBalanceFor");
        _declarePath("withdrawBalanceFor:nothing");
        _declarePath("setChallengePeriod");
        _declarePath("warp");
        currentTime = 1_750_000_000;
        vm.warp(currentTime);
        _deploySettlement();
    }

    modifier atCurrentTime() {
        vm.warp(currentTime);
        _;
    }

    function _surprise(string memory what) internal {
        ++ghostSurprises;
        lastSurprise = what;
    }

    function _channel(uint256 seed) internal view returns (uint256) {
        uint256 count = payments.channelCount();
        return count == 0 ? 0 : 1 + (seed % count);
    }

    // ------------------------------------------------------------------ actions

    function openChannel(uint256 payerSeed, uint256 operatorSeed, uint128 deposit) public atCurrentTime {
        _openChannel(payerSeed, operatorSeed, deposit);
    }

    function topUp(uint256 channelSeed, uint128 amount) public atCurrentTime {
        uint256 id = _channel(channelSeed);
        if (id == 0) return;
        amount = uint128(bound(amount, 1, 50_000e18));
        IInferencePayments.Channel memory c = payments.getChannel(id);
        vm.prank(c.payer);
        try payments.topUp(id, amount) {
            if (_closing(c)) _surprise("topUp succeeded on a closing channel");
            ghostDeposits += amount;
            _hit("topUp");
        } catch (bytes memory reason) {
            bytes memory expected = abi.encodeWithSelector(IInferencePayments.ChannelClosing.selector, id, c.closesAt);
            if (!_closing(c) || keccak256(reason) != keccak256(expected)) _surprise("topUp reverted");
            else _hit("topUp:ChannelClosing");
        }
    }

    /// @dev Raises each adapter's cumulative amount by a random part of what the deposit still allows; adapters
    /// already settled stay listed, others join at random.
    function settle(uint256 channelSeed, uint256[4] calldata seeds, uint256 joinMask) public atCurrentTime {
        _settle(_channel(channelSeed), seeds, joinMask);
    }

    /// @dev Re-submits a voucher settled earlier: it must always revert.
    function replay(uint256 index) public atCurrentTime {
        if (_settled.length == 0) return;
        (IInferencePayments.Voucher memory v, bytes memory signature) = abi.decode(
            _settled[index % _settled.length],
            (IInferencePayments.Voucher, bytes)
        );
        IInferencePayments.Channel memory c = payments.getChannel(v.channelId);
        vm.prank(c.operator);
        try payments.settle(v, signature) {
            _surprise("replayed voucher settled twice");
        } catch {
            _hit("replay:refused");
        }
    }

    function requestClose(uint256 channelSeed) public atCurrentTime {
        _requestClose(_channel(channelSeed));
    }

    function withdrawChannel(uint256 channelSeed) public atCurrentTime {
        _withdrawChannel(_channel(channelSeed));
    }

    /// @dev One channel's whole close-out, so that every run has several (on a new channel when all are closing): the
    /// payer requests the close, the operator
    /// settles a last voucher at a random moment of the challenge window (one time in four at its very last second),
    /// and the payer withdraws the rest one second to two hours after the window.
    function closeOut(
        uint256 channelSeed,
        uint256[4] calldata seeds,
        uint256 joinMask,
        uint256 timing
    ) public atCurrentTime {
        uint256 id = _openChannelFrom(channelSeed);
        if (id == 0) id = _openChannel(channelSeed, channelSeed >> 8, uint128(timing >> 64));
        if (id == 0) return;
        _requestClose(id);
        uint256 end = _windowEnd(id);
        currentTime = timing % 4 == 0 ? end : bound(timing >> 2, currentTime, end);
        vm.warp(currentTime);
        _settle(id, seeds, joinMask);
        currentTime = end + 1 + bound(timing >> 128, 0, 2 hours);
        vm.warp(currentTime);
        if (_withdrawChannel(id)) _hit("closeOut");
    }

    function withdrawBalance(uint256 accountSeed) public atCurrentTime {
        uint256 k = accountSeed % (1 + N_OPERATORS + N_ADAPTERS);
        address account =
            k == 0
                ? TREASURY
                : k <= N_OPERATORS
                    ? operators[k - 1]
                    : adapterOwners[k - N_OPERATORS];
        uint256 owed = payments.balanceOf(account);
        uint256 before = token.balanceOf(account);
        uint256 callerBefore = token.balanceOf(address(this));
        // Either the account withdraws, or anyone (this handler) withdraws for it: the account is paid either way.
        bool forIt = (accountSeed >> 128) % 2 == 1;
        bool ok;
        bytes memory reason;
        if (forIt) {
            try payments.withdrawBalanceFor(account) {
                ok = true;
            } catch (bytes memory r) {
                reason = r;
            }
        } else {
            vm.prank(account);
            try payments.withdrawBalance() {
                ok = true;
            } catch (bytes memory r) {
                reason = r;
            }
        }
        if (ok) {
            if (token.balanceOf(account) - before != owed || owed == 0) _surprise("withdrawBalance amount");
            if (token.balanceOf(address(this)) != callerBefore) _surprise("withdrawBalanceFor paid the caller");
            ghostWithdrawn += owed;
            _hit(forIt ? bytes32("withdrawBalanceFor") : bytes32("withdrawBalance"));
        } else {
            bytes memory expected = abi.encodeWithSelector(IInferencePayments.NothingToWithdraw.selector, account);
            if (owed != 0 || keccak256(reason) != keccak256(expected)) _surprise("withdrawBalance reverted");
            else _hit(forIt ? bytes32("withdrawBalanceFor:nothing") : bytes32("withdrawBalance:nothing"));
        }
    }

    /// @dev Governance changes the challenge period (1 hour to 2 days): windows already running keep their end.
    function setChallengePeriod(uint256 period) public atCurrentTime {
        vm.prank(GOVERNANCE);
        payments.setChallengePeriod(uint64(bound(period, 1 hours, 2 days)));
        _hit("setChallengePeriod");
    }

    /// @dev A voucher signed by the payer, for one more wei than settled, that lists 1 to 4 entries more than
    /// MAX_VOUCHER_ADAPTERS: refused with TooManyAdapters before any entry is looked at (unless the channel's state
    /// refuses it first), and nothing moves.
    function settleTooManyAdapters(uint256 channelSeed, uint256 extra) public atCurrentTime {
        uint256 id = _channel(channelSeed);
        if (id == 0) return;
        IInferencePayments.Channel memory c = payments.getChannel(id);
        // A fully settled channel would refuse the extra wei first.
        if (c.settled == c.deposit) return;
        uint256 max = payments.MAX_VOUCHER_ADAPTERS();
        uint256 count = max + 1 + (extra % 4);
        uint256[] memory ids = new uint256[](count);
        uint256[] memory amounts = new uint256[](count);
        for (uint256 i; i < count; ++i) ids[i] = i;
        IInferencePayments.Voucher memory v = IInferencePayments.Voucher({
            channelId: id,
            cumulativeAmount: c.settled + 1,
            adapterIds: ids,
            adapterAmounts: amounts,
            usageRoot: keccak256(abi.encode(id, count)),
            expiry: uint64(block.timestamp + 1 hours)
        });
        bytes memory expected = _expectedSettleError(id, c, v.cumulativeAmount);
        if (expected.length == 0) {
            expected = abi.encodeWithSelector(IInferencePayments.TooManyAdapters.selector, count, max);
        }
        bytes memory signature = Vouchers.sign(_payerOf[id], v, block.chainid, address(payments));
        vm.prank(c.operator);
        try payments.settle(v, signature) {
            _surprise("a voucher over MAX_VOUCHER_ADAPTERS settled");
        } catch (bytes memory reason) {
            if (keccak256(reason) != keccak256(expected)) _surprise("settleTooManyAdapters: wrong error");
            else _hit(_settleRefusal(bytes4(reason)));
        }
        if (payments.getChannel(id).settled != c.settled) _surprise("refused voucher moved settled");
    }

    /// @dev Mostly small steps, sometimes just past a challenge window.
    function warp(uint256 seconds_) public {
        currentTime += seconds_ % 3 == 0 ? CHALLENGE + 1 : bound(seconds_, 0, 6 hours);
        vm.warp(currentTime);
        _hit("warp");
    }

    // ------------------------------------------------------------------ steps on one channel

    function _openChannel(uint256 payerSeed, uint256 operatorSeed, uint128 deposit) internal returns (uint256) {
        uint256 key = payerKeys[payerSeed % N_PAYERS];
        deposit = uint128(bound(deposit, 1, 100_000e18));
        vm.prank(vm.addr(key));
        // The payer (an EOA) signs its own vouchers.
        try payments.openChannel(operators[operatorSeed % N_OPERATORS], deposit, address(0)) returns (uint256 id) {
            _payerOf[id] = key;
            ghostDeposits += deposit;
            _hit("openChannel");
            return id;
        } catch {
            _surprise("openChannel reverted");
            return 0;
        }
    }

    function _settle(uint256 id, uint256[4] calldata seeds, uint256 joinMask) internal {
        if (id == 0) return;
        IInferencePayments.Channel memory c = payments.getChannel(id);
        if (c.closesAt != _windowEnd(id)) _surprise("closesAt moved after requestClose");
        (IInferencePayments.Voucher memory v, uint256 listed) = _nextVoucher(id, c, seeds, joinMask);
        if (listed == 0) return;
        bytes memory signature = Vouchers.sign(_payerOf[id], v, block.chainid, address(payments));
        bytes memory expected = _expectedSettleError(id, c, v.cumulativeAmount);

        Split memory before = _balances(c.operator);
        vm.prank(c.operator);
        try payments.settle(v, signature) {
            if (expected.length != 0) return _surprise("settle succeeded where it should revert");
            _recordSettlement(id, c.operator, v, before);
            _settled.push(abi.encode(v, signature));
            // Within the challenge window of a closing channel, or before any close request.
            _hit(_closing(c) ? bytes32("settle:duringClose") : bytes32("settle"));
        } catch (bytes memory reason) {
            if (keccak256(reason) != keccak256(expected)) _surprise("settle reverted unexpectedly");
            else _hit(_settleRefusal(bytes4(reason)));
        }
    }

    function _requestClose(uint256 id) internal {
        if (id == 0) return;
        IInferencePayments.Channel memory c = payments.getChannel(id);
        vm.prank(c.payer);
        try payments.requestClose(id) {
            if (_closing(c)) _surprise("requestClose twice");
            // The window's end is fixed now: a later setChallengePeriod must not move it.
            ghostClosesAt[id] = block.timestamp + payments.challengePeriod();
            if (payments.getChannel(id).closesAt != ghostClosesAt[id]) {
                _surprise("requestClose: closesAt is not now + challengePeriod");
            }
            _hit("requestClose");
        } catch (bytes memory reason) {
            bytes memory expected = abi.encodeWithSelector(IInferencePayments.ChannelClosing.selector, id, c.closesAt);
            if (!_closing(c) || keccak256(reason) != keccak256(expected)) _surprise("requestClose reverted");
            else _hit("requestClose:ChannelClosing");
        }
    }

    /// @dev Returns whether the channel was finalized (and refunded) by this call.
    function _withdrawChannel(uint256 id) internal returns (bool) {
        if (id == 0) return false;
        IInferencePayments.Channel memory c = payments.getChannel(id);
        bytes32 refusal;
        bytes memory expected;
        if (c.finalized) {
            refusal = "withdrawChannel:finalized";
            expected = abi.encodeWithSelector(IInferencePayments.ChannelIsFinalized.selector, id);
        } else if (!_closing(c) || block.timestamp <= _windowEnd(id)) {
            refusal = _closing(c) ? bytes32("withdrawChannel:windowOpen") : bytes32("withdrawChannel:notClosing");
            expected = abi.encodeWithSelector(IInferencePayments.ChallengeWindowOpen.selector, id, _windowEnd(id));
        }
        uint256 balanceBefore = token.balanceOf(c.payer);
        vm.prank(c.payer);
        try payments.withdrawChannel(id) {
            if (expected.length != 0) {
                _surprise("withdrawChannel succeeded early or twice");
                return false;
            }
            uint256 refund = c.deposit - c.settled;
            if (token.balanceOf(c.payer) - balanceBefore != refund) _surprise("refund amount");
            if (!payments.getChannel(id).finalized) _surprise("withdrawChannel did not finalize");
            ghostRefunds += refund;
            _hit("withdrawChannel");
            return true;
        } catch (bytes memory reason) {
            if (keccak256(reason) != keccak256(expected)) _surprise("withdrawChannel reverted unexpectedly");
            else _hit(refusal);
            return false;
        }
    }

    /// @dev The first channel from `seed` on that no one asked to close yet (0: none).
    function _openChannelFrom(uint256 seed) internal view returns (uint256) {
        uint256 count = payments.channelCount();
        for (uint256 k; k < count; ++k) {
            uint256 id = 1 + ((seed + k) % count);
            if (!_closing(payments.getChannel(id))) return id;
        }
        return 0;
    }

    /// @dev Whether the payer asked to close the channel (it may be finalized since).
    function _closing(IInferencePayments.Channel memory c) internal pure returns (bool) {
        return c.closesAt != 0;
    }

    /// @dev The last second at which a closing channel can still be settled, as fixed at requestClose (0: no close
    /// requested); the handler's copy, not the contract's, so that a window the contract moved shows up as a wrong
    /// outcome.
    function _windowEnd(uint256 id) internal view returns (uint256) {
        return ghostClosesAt[id];
    }

    function _settleRefusal(bytes4 selector) internal pure returns (bytes32) {
        if (selector == IInferencePayments.ChannelIsFinalized.selector) return "settle:ChannelIsFinalized";
        if (selector == IInferencePayments.ChallengeWindowOver.selector) return "settle:ChallengeWindowOver";
        if (selector == IInferencePayments.NothingToSettle.selector) return "settle:NothingToSettle";
        if (selector == IInferencePayments.TooManyAdapters.selector) return "settle:TooManyAdapters";
        return "settle:unknown";
    }

    // ------------------------------------------------------------------ internals

    function _nextVoucher(
        uint256 id,
        IInferencePayments.Channel memory c,
        uint256[4] calldata seeds,
        uint256 joinMask
    ) internal view returns (IInferencePayments.Voucher memory v, uint256 listed) {
        uint256[] memory ids = new uint256[](N_ADAPTERS + 1);
        uint256[] memory amounts = new uint256[](N_ADAPTERS + 1);
        uint256 room = c.deposit - c.settled;
        uint256 total;
        for (uint256 a; a <= N_ADAPTERS; ++a) {
            uint256 already = payments.settledForAdapter(id, a);
            if (already == 0 && (joinMask >> a) & 1 == 0) continue;
            // Often a small step, sometimes the whole room left, sometimes no increase at all.
            uint256 inc = seeds[a] % 5 == 0 ? 0 : bound(seeds[a], 0, seeds[a] % 7 == 0 ? room : room / 4 + 1);
            if (inc > room) inc = room;
            room -= inc;
            ids[listed] = a;
            amounts[listed] = already + inc;
            total += already + inc;
            ++listed;
        }
        assembly {
            mstore(ids, listed)
            mstore(amounts, listed)
        }
        v = IInferencePayments.Voucher({
            channelId: id,
            cumulativeAmount: total,
            adapterIds: ids,
            adapterAmounts: amounts,
            usageRoot: keccak256(abi.encode(id, total)),
            expiry: uint64(block.timestamp + 1 hours)
        });
    }

    function _expectedSettleError(
        uint256 id,
        IInferencePayments.Channel memory c,
        uint256 cumulative
    ) internal view returns (bytes memory) {
        if (c.finalized) return abi.encodeWithSelector(IInferencePayments.ChannelIsFinalized.selector, id);
        if (_closing(c) && block.timestamp > _windowEnd(id)) {
            return abi.encodeWithSelector(IInferencePayments.ChallengeWindowOver.selector, id, _windowEnd(id));
        }
        if (cumulative <= c.settled) {
            return abi.encodeWithSelector(IInferencePayments.NothingToSettle.selector, id, cumulative, c.settled);
        }
        return "";
    }

    function _balances(address operator) internal view returns (Split memory s) {
        s.protocol = payments.balanceOf(TREASURY);
        s.operator = payments.balanceOf(operator);
        for (uint256 a = 1; a <= N_ADAPTERS; ++a) s.owners += payments.balanceOf(adapterOwners[a]);
        s.data = rewards.totalFunded();
    }

    /// @dev Checks the credited deltas against the documented formula, adapter by adapter, and books them.
    function _recordSettlement(
        uint256 id,
        address operator,
        IInferencePayments.Voucher memory v,
        Split memory before
    ) internal {
        Split memory want;
        for (uint256 i; i < v.adapterIds.length; ++i) {
            uint256 a = v.adapterIds[i];
            uint256 x = v.adapterAmounts[i] - ghostAdapterSettled[id][a];
            ghostAdapterSettled[id][a] = v.adapterAmounts[i];
            (uint256 p, uint256 o, uint256 w, uint256 d) = _expectedSplit(a, x);
            if (p + o + w + d != x) _surprise("split loses wei");
            want.protocol += p;
            want.operator += o;
            want.owners += w;
            want.data += d;
        }
        uint256 increase = v.cumulativeAmount - ghostChannelSettled[id];
        ghostChannelSettled[id] = v.cumulativeAmount;
        ghostUsageRoot[id] = v.usageRoot;
        ghostSettled += increase;
        Split memory got = _balances(operator);
        if (got.protocol - before.protocol != want.protocol) _surprise("protocol fee");
        if (got.operator - before.operator != want.operator) _surprise("operator income");
        if (got.owners - before.owners != want.owners) _surprise("owner shares");
        if (got.data - before.data != want.data) _surprise("data share");
        ghostProtocol += want.protocol;
        ghostOperator += want.operator;
        ghostOwners += want.owners;
        ghostData += want.data;
    }

    // ------------------------------------------------------------------ views for the invariant test

    function getPayments() external view returns (InferencePayments) {
        return payments;
    }

    function getRewards() external view returns (AttributionRewards) {
        return rewards;
    }

    function getToken() external view returns (OpenToken) {
        return token;
    }
}

contract InferencePaymentsInvariantTest is PathReport {
    PaymentsHandler internal handler;
    InferencePayments internal payments;
    OpenToken internal token;

    function setUp() public {
        handler = new PaymentsHandler();
        payments = handler.getPayments();
        token = handler.getToken();
        targetContract(address(handler));
    }

    function _pathHandler() internal view override returns (HandlerPaths) {
        return handler;
    }

    function _suiteName() internal pure override returns (string memory) {
        return type(InferencePaymentsInvariantTest).name;
    }

    function invariant_tokenBalanceEqualsEscrowedPlusCredited() public view {
        assertEq(
            token.balanceOf(address(payments)),
            payments.totalEscrowed() + payments.totalCredited(),
            "payments balance vs escrowed + credited"
        );
    }

    function invariant_depositsEqualSettledPlusRefundsPlusEscrow() public view {
        assertEq(
            handler.ghostDeposits(),
            handler.ghostSettled() + handler.ghostRefunds() + payments.totalEscrowed(),
            "deposits vs settled + refunds + escrow"
        );
        assertEq(
            payments.totalCredited() + handler.ghostWithdrawn(),
            handler.ghostProtocol() + handler.ghostOperator() + handler.ghostOwners(),
            "credited + withdrawn vs credited shares"
        );
    }

    function invariant_splitsAddUpToSettled() public view {
        assertEq(
            handler.ghostProtocol() + handler.ghostOperator() + handler.ghostOwners() + handler.ghostData(),
            handler.ghostSettled(),
            "protocol + operator + owners + data vs settled"
        );
        AttributionRewards rewards = handler.getRewards();
        assertEq(rewards.totalFunded(), handler.ghostData(), "reward pool funded vs data shares");
        assertEq(token.balanceOf(address(rewards)), rewards.totalFunded(), "reward pool balance");
    }

    /// @dev Settled never decreases (the ghost is the last value seen) and never exceeds the deposit; per adapter
    /// likewise. Together with the replay action, which counts any second settlement as a surprise, this is "no
    /// double settlement".
    function invariant_settledMonotoneAndBounded() public view {
        uint256 count = payments.channelCount();
        for (uint256 id = 1; id <= count; ++id) {
            IInferencePayments.Channel memory c = payments.getChannel(id);
            assertLe(c.settled, c.deposit, "settled vs deposit");
            assertEq(c.settled, handler.ghostChannelSettled(id), "channel settled vs ghost");
            // The stored root is the one ChannelSettled will name as previous: the last settled voucher's.
            assertEq(c.usageRoot, handler.ghostUsageRoot(id), "usage root vs last settled voucher");
            for (uint256 a; a <= 3; ++a) {
                assertEq(
                    payments.settledForAdapter(id, a),
                    handler.ghostAdapterSettled(id, a),
                    "adapter settled vs ghost"
                );
            }
        }
    }

    function invariant_noSurprises() public view {
        if (handler.ghostSurprises() != 0) {
            fail(string.concat("handler surprise: ", handler.lastSurprise()));
        }
    }
}

contract InferencePaymentsTest is SettlementFixture, Test {
    uint256 internal constant T0 = 1_750_000_000;

    function setUp() public {
        vm.warp(T0);
        _deploySettlement();
    }

    function _open(uint256 payerIndex, uint128 deposit) internal returns (uint256) {
        vm.prank(vm.addr(payerKeys[payerIndex]));
        return payments.openChannel(operators[0], deposit, address(0));
    }

    function _voucher(
        uint256 id,
        uint256[] memory ids,
        uint256[] memory amounts
    ) internal view returns (IInferencePayments.Voucher memory v) {
        uint256 total;
        for (uint256 i; i < amounts.length; ++i) total += amounts[i];
        v = IInferencePayments.Voucher(id, total, ids, amounts, keccak256("usage"), uint64(block.timestamp + 1 days));
    }

    function _single(
        uint256 id,
        uint256 adapterId,
        uint256 amount
    ) internal view returns (IInferencePayments.Voucher memory) {
        uint256[] memory ids = new uint256[](1);
        uint256[] memory amounts = new uint256[](1);
        ids[0] = adapterId;
        amounts[0] = amount;
        return _voucher(id, ids, amounts);
    }

    function _settle(IInferencePayments.Voucher memory v, bytes memory signature) internal {
        vm.prank(operators[0]);
        payments.settle(v, signature);
    }

    // ---------------------------------------------------------------- unit

    function test_voucherDigest_matchesIndependentEncoding() public {
        uint256 id = _open(0, 100);
        IInferencePayments.Voucher memory v = _single(id, 2, 60);
        assertEq(payments.voucherDigest(v), Vouchers.digest(v, block.chainid, address(payments)), "digest");
    }

    function test_settle_replayReverts() public {
        uint256 id = _open(0, 1_000);
        IInferencePayments.Voucher memory v = _single(id, 3, 400);
        bytes memory signature = Vouchers.sign(payerKeys[0], v, block.chainid, address(payments));
        _settle(v, signature);
        vm.expectRevert(abi.encodeWithSelector(IInferencePayments.NothingToSettle.selector, id, 400, 400));
        _settle(v, signature);
    }

    function test_openChannel_revertsIfContractPayerNamesNoSigner() public {
        token.approve(address(payments), 1_000);
        vm.expectRevert(abi.encodeWithSelector(IInferencePayments.VoucherSignerRequired.selector, address(this)));
        payments.openChannel(operators[0], 1_000, address(0));
    }

    /// @dev A contract payer (this test) names the key that signs its vouchers: that key's signatures settle, no
    /// other's.
    function test_settle_verifiesTheNamedVoucherSigner() public {
        uint256 signerKey = 0x5167;
        address signer = vm.addr(signerKey);
        token.approve(address(payments), 1_000);
        uint256 id = payments.openChannel(operators[0], 1_000, signer);
        assertEq(payments.getChannel(id).voucherSigner, signer, "voucherSigner");
        IInferencePayments.Voucher memory v = _single(id, 1, 400);
        vm.expectRevert(abi.encodeWithSelector(IInferencePayments.InvalidSignature.selector, id, signer));
        _settle(v, Vouchers.sign(payerKeys[0], v, block.chainid, address(payments)));
        _settle(v, Vouchers.sign(signerKey, v, block.chainid, address(payments)));
        assertEq(payments.getChannel(id).settled, 400, "settled");
    }

    /// @dev The challenge window's end is fixed at requestClose: governance shortening the period does not end it
    /// early, lengthening it does not stretch it. A close requested after the change takes the new period.
    function test_setChallengePeriod_doesNotMoveAClosingChannelsWindow() public {
        uint256 id = _open(0, 1_000);
        address payer = vm.addr(payerKeys[0]);
        vm.prank(payer);
        payments.requestClose(id);
        uint256 end = block.timestamp + CHALLENGE;
        assertEq(payments.getChannel(id).closesAt, end, "closesAt fixed at requestClose");

        // Shorter: the operator may still settle after the new, shorter period, and the payer may not withdraw.
        vm.prank(GOVERNANCE);
        payments.setChallengePeriod(1 hours);
        assertEq(payments.getChannel(id).closesAt, end, "closesAt after a shorter period");
        vm.warp(block.timestamp + 1 hours + 1);
        IInferencePayments.Voucher memory v = _single(id, 1, 300);
        _settle(v, Vouchers.sign(payerKeys[0], v, block.chainid, address(payments)));
        vm.expectRevert(abi.encodeWithSelector(IInferencePayments.ChallengeWindowOpen.selector, id, end));
        vm.prank(payer);
        payments.withdrawChannel(id);

        // Longer: the window still ends at `end`.
        vm.prank(GOVERNANCE);
        payments.setChallengePeriod(30 days);
        assertEq(payments.getChannel(id).closesAt, end, "closesAt after a longer period");
        vm.warp(end);
        v = _single(id, 1, 500);
        _settle(v, Vouchers.sign(payerKeys[0], v, block.chainid, address(payments)));
        vm.warp(end + 1);
        v = _single(id, 1, 700);
        bytes memory late = Vouchers.sign(payerKeys[0], v, block.chainid, address(payments));
        vm.expectRevert(abi.encodeWithSelector(IInferencePayments.ChallengeWindowOver.selector, id, end));
        _settle(v, late);
        uint256 before = token.balanceOf(payer);
        vm.prank(payer);
        payments.withdrawChannel(id);
        assertEq(token.balanceOf(payer) - before, 500, "refund of what was not settled");

        uint256 next = _open(0, 1_000);
        vm.prank(payer);
        payments.requestClose(next);
        assertEq(payments.getChannel(next).closesAt, block.timestamp + 30 days, "a later close takes the new period");
    }

    /// @dev A voucher may list MAX_VOUCHER_ADAPTERS adapters, not one more.
    function test_settle_revertsIfTooManyAdapters() public {
        uint256 max = payments.MAX_VOUCHER_ADAPTERS();
        assertEq(max, 64, "MAX_VOUCHER_ADAPTERS");
        // Adapters 1..64 (with id 0, 65 ids).
        for (uint256 a = N_ADAPTERS + 1; a <= max; ++a) {
            assertEq(_registerAdapter(address(uint160(0xA000 + a)), 1, 1_000, 1_000 + a), a, "adapterId");
        }
        uint256 id = _open(0, 1_000);
        uint256[] memory ids = new uint256[](max + 1);
        uint256[] memory amounts = new uint256[](max + 1);
        for (uint256 i; i <= max; ++i) {
            ids[i] = i;
            amounts[i] = 1;
        }
        IInferencePayments.Voucher memory v = _voucher(id, ids, amounts);
        bytes memory signature = Vouchers.sign(payerKeys[0], v, block.chainid, address(payments));
        vm.expectRevert(abi.encodeWithSelector(IInferencePayments.TooManyAdapters.selector, max + 1, max));
        _settle(v, signature);

        // 64 entries settle.
        assembly {
            mstore(ids, max)
            mstore(amounts, max)
        }
        v = _voucher(id, ids, amounts);
        _settle(v, Vouchers.sign(payerKeys[0], v, block.chainid, address(payments)));
        assertEq(payments.getChannel(id).settled, max, "settled");
        assertEq(payments.settledForAdapter(id, max - 1), 1, "last listed adapter settled");
        assertEq(payments.settledForAdapter(id, max), 0, "adapter past the cap not settled");
    }

    /// @dev Anyone may withdraw an account's balance for it; the tokens always go to the account, also when it is
    /// a contract that could never call withdrawBalance itself.
    function test_withdrawBalanceFor_paysTheAccountWhoeverCalls() public {
        InertAccount inert = new InertAccount();
        vm.prank(adapterOwners[1]);
        models.transferFrom(adapterOwners[1], address(inert), 1);
        uint256 id = _open(0, 1_000e18);
        uint256[] memory ids = new uint256[](2);
        uint256[] memory amounts = new uint256[](2);
        ids[0] = 1;
        ids[1] = 2;
        amounts[0] = 600e18;
        amounts[1] = 400e18;
        IInferencePayments.Voucher memory v = _voucher(id, ids, amounts);
        _settle(v, Vouchers.sign(payerKeys[0], v, block.chainid, address(payments)));
        uint256 owedInert = payments.balanceOf(address(inert));
        uint256 owedOwner = payments.balanceOf(adapterOwners[2]);
        (, , uint256 expected, ) = _expectedSplit(1, 600e18);
        assertEq(owedInert, expected, "the contract's owner share");
        assertTrue(owedInert != 0 && owedOwner != 0, "both credited");

        address stranger = address(0x5742);
        uint256 credited = payments.totalCredited();
        vm.prank(stranger);
        payments.withdrawBalanceFor(address(inert));
        assertEq(token.balanceOf(address(inert)), owedInert, "the contract is paid");
        assertEq(token.balanceOf(stranger), 0, "the caller is not");
        assertEq(payments.balanceOf(address(inert)), 0, "balance zeroed");
        assertEq(payments.totalCredited(), credited - owedInert, "totalCredited");

        // An EOA's balance, withdrawn for it by someone else (the operator).
        uint256 operatorTokens = token.balanceOf(operators[0]);
        vm.prank(operators[0]);
        payments.withdrawBalanceFor(adapterOwners[2]);
        assertEq(token.balanceOf(adapterOwners[2]), owedOwner, "the owner is paid");
        assertEq(token.balanceOf(operators[0]), operatorTokens, "the operator is not");

        vm.expectRevert(abi.encodeWithSelector(IInferencePayments.NothingToWithdraw.selector, address(inert)));
        vm.prank(stranger);
        payments.withdrawBalanceFor(address(inert));
        assertEq(
            token.balanceOf(address(payments)),
            payments.totalEscrowed() + payments.totalCredited(),
            "payments balance vs escrowed + credited"
        );
    }

    /// @dev IInferencePayments: a settlement splits with the fees in force when it lands, whenever the voucher was
    /// signed. A voucher signed before governance changes the fees and settled after is split with the new ones.
    function test_settle_feesInForceAtSettlementApply() public {
        uint256 amount = 1_000e18;
        uint256 id = _open(0, uint128(amount));
        IInferencePayments.Voucher memory v = _single(id, 2, amount);
        bytes memory signature = Vouchers.sign(payerKeys[0], v, block.chainid, address(payments));
        (uint256 oldProtocol, uint256 oldOperator, , ) = _expectedSplit(2, amount);

        vm.prank(GOVERNANCE);
        payments.setFees(1_000, 2_000);
        _settle(v, signature);

        (uint256 p, uint256 o, uint256 w, uint256 d) = _expectedSplit(2, amount);
        assertEq(p, (amount * 1_000) / 10_000, "new protocol fee");
        assertEq(o, (amount * 2_000) / 10_000, "new operator fee");
        assertTrue(p != oldProtocol && o != oldOperator, "the fees changed");
        assertEq(payments.balanceOf(TREASURY), p, "protocol fee at the new rate");
        assertEq(payments.balanceOf(operators[0]), o, "operator fee at the new rate");
        assertEq(payments.balanceOf(adapterOwners[2]), w, "owner share");
        assertEq(rewards.totalFunded(), d, "data share");
        assertEq(p + o + w + d, amount, "every wei lands");
    }

    // ---------------------------------------------------------------- fuzz: signatures

    function testFuzz_settle_rejectsMalleableSignature(uint256 amount, uint256 adapterId) public {
        amount = bound(amount, 1, 1_000e18);
        uint256 id = _open(0, uint128(amount));
        IInferencePayments.Voucher memory v = _single(id, bound(adapterId, 0, N_ADAPTERS), amount);
        bytes memory good = Vouchers.sign(payerKeys[0], v, block.chainid, address(payments));
        vm.expectRevert(
            abi.encodeWithSelector(IInferencePayments.InvalidSignature.selector, id, vm.addr(payerKeys[0]))
        );
        _settle(v, Vouchers.malleate(good));
        _settle(v, good);
        assertEq(payments.getChannel(id).settled, amount, "low-s signature settles");
    }

    function testFuzz_settle_rejectsOtherChainId(uint256 amount, uint64 otherChain, bool signElsewhere) public {
        vm.assume(otherChain != block.chainid && otherChain != 0);
        amount = bound(amount, 1, 1_000e18);
        uint256 id = _open(1, uint128(amount));
        IInferencePayments.Voucher memory v = _single(id, 1, amount);
        uint256 home = block.chainid;
        bytes memory signature;
        if (signElsewhere) {
            // Signed for another chain, submitted here.
            signature = Vouchers.sign(payerKeys[1], v, otherChain, address(payments));
        } else {
            // Signed here, submitted after a fork to another chain id: the cached domain must not be reused.
            signature = Vouchers.sign(payerKeys[1], v, home, address(payments));
            vmx.chainId(otherChain);
        }
        vm.expectRevert(
            abi.encodeWithSelector(IInferencePayments.InvalidSignature.selector, id, vm.addr(payerKeys[1]))
        );
        _settle(v, signature);
        vmx.chainId(home);
    }

    function testFuzz_settle_rejectsOtherVerifyingContract(uint256 amount, address other) public {
        vm.assume(other != address(payments));
        amount = bound(amount, 1, 1_000e18);
        uint256 id = _open(2, uint128(amount));
        IInferencePayments.Voucher memory v = _single(id, 2, amount);
        bytes memory signature = Vouchers.sign(payerKeys[2], v, block.chainid, other);
        vm.expectRevert(
            abi.encodeWithSelector(IInferencePayments.InvalidSignature.selector, id, vm.addr(payerKeys[2]))
        );
        _settle(v, signature);
    }

    // ---------------------------------------------------------------- fuzz: splits

    /// @dev Every wei of a settlement lands: in the fees, the owner's share and the lineage parts, which are read
    /// back from the DataShareAllocated events.
    function testFuzz_settle_everyWeiLands(
        uint256 amount,
        uint16 protocolFee,
        uint16 operatorFee,
        uint256 dataShareBps,
        uint256 n
    ) public {
        amount = bound(amount, 1, 1e26);
        protocolFee = uint16(bound(protocolFee, 0, 3_000));
        operatorFee = uint16(bound(operatorFee, 0, 3_000 - protocolFee));
        vm.prank(GOVERNANCE);
        payments.setFees(protocolFee, operatorFee);
        address owner = address(0xCAFE);
        uint256 adapterId = _registerAdapter(owner, bound(n, 1, 6), bound(dataShareBps, 1_000, 10_000), 99);
        token.transfer(vm.addr(payerKeys[0]), amount);
        uint256 id = _open(0, uint128(amount));
        IInferencePayments.Voucher memory v = _single(id, adapterId, amount);

        vmx.recordLogs();
        _settle(v, Vouchers.sign(payerKeys[0], v, block.chainid, address(payments)));
        uint256 lineageParts = _sumDataShareLogs(vmx.getRecordedLogs());

        (uint256 p, uint256 o, uint256 w, uint256 d) = _expectedSplit(adapterId, amount);
        assertEq(payments.balanceOf(TREASURY), p, "protocol fee");
        assertEq(payments.balanceOf(operators[0]), o, "operator fee");
        assertEq(payments.balanceOf(owner), w, "owner share");
        assertEq(rewards.totalFunded(), d, "data share funded");
        assertEq(lineageParts, d, "lineage parts vs data share");
        assertEq(p + o + w + lineageParts, amount, "every wei lands");
    }

    function _sumDataShareLogs(VmSettlement.Log[] memory logs) internal view returns (uint256 total) {
        bytes32 topic = IInferencePayments.DataShareAllocated.selector;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(payments) && logs[i].topics[0] == topic) {
                (, uint256 part) = abi.decode(logs[i].data, (uint256, uint256));
                total += part;
            }
        }
    }

    // ---------------------------------------------------------------- fuzz: closing races

    /// @dev Runs requestClose (A), settle (B) and topUp (C) in one of six orders, each after a warp that clusters
    /// around the challenge window's end, and checks each outcome against the rules: settle succeeds until
    /// closesAt (the close request + challengePeriod) inclusive, topUp only before the close request, withdrawChannel only after
    /// the window; the refund is what was not settled.
    function testFuzz_race_closeSettleTopUpAroundWindow(
        uint8 order,
        uint256[3] calldata gaps,
        uint128 topUpAmount
    ) public {
        uint256 id = _open(0, 1_000);
        topUpAmount = uint128(bound(topUpAmount, 1, 1_000));
        IInferencePayments.Voucher memory v = _single(id, 1, 700);
        bytes memory signature = Vouchers.sign(payerKeys[0], v, block.chainid, address(payments));
        uint8[3][6] memory orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
        uint8[3] memory seq = orders[order % 6];
        uint256 closeAt;
        uint256 deposit = 1_000;
        bool settled;
        for (uint256 i; i < 3; ++i) {
            // Gaps of 0..3 s, or the challenge period -2..+2 s.
            uint256 g = gaps[i] % 2 == 0 ? gaps[i] % 4 : CHALLENGE - 2 + (gaps[i] % 5);
            vm.warp(block.timestamp + g);
            if (seq[i] == 0) {
                vm.prank(vm.addr(payerKeys[0]));
                payments.requestClose(id);
                closeAt = block.timestamp;
            } else if (seq[i] == 1) {
                if (closeAt != 0 && block.timestamp > closeAt + CHALLENGE) {
                    vm.expectRevert(
                        abi.encodeWithSelector(IInferencePayments.ChallengeWindowOver.selector, id, closeAt + CHALLENGE)
                    );
                } else if (block.timestamp > v.expiry) {
                    vm.expectRevert(abi.encodeWithSelector(IInferencePayments.VoucherExpired.selector, id, v.expiry));
                } else {
                    settled = true;
                }
                _settle(v, signature);
            } else {
                if (closeAt != 0) {
                    vm.expectRevert(
                        abi.encodeWithSelector(IInferencePayments.ChannelClosing.selector, id, closeAt + CHALLENGE)
                    );
                } else {
                    deposit += topUpAmount;
                }
                vm.prank(vm.addr(payerKeys[0]));
                payments.topUp(id, topUpAmount);
            }
        }
        IInferencePayments.Channel memory c = payments.getChannel(id);
        assertEq(c.deposit, deposit, "deposit");
        assertEq(c.settled, settled ? 700 : 0, "settled");
        address payer = vm.addr(payerKeys[0]);
        if (block.timestamp <= closeAt + CHALLENGE) {
            vm.expectRevert(
                abi.encodeWithSelector(IInferencePayments.ChallengeWindowOpen.selector, id, closeAt + CHALLENGE)
            );
            vm.prank(payer);
            payments.withdrawChannel(id);
            vm.warp(closeAt + CHALLENGE + 1);
        }
        uint256 before = token.balanceOf(payer);
        vm.prank(payer);
        payments.withdrawChannel(id);
        assertEq(token.balanceOf(payer) - before, deposit - c.settled, "refund");
        assertEq(payments.totalEscrowed(), 0, "nothing left in escrow");
        assertEq(token.balanceOf(address(payments)), payments.totalCredited(), "payments balance vs credited");
    }

    /// @dev At exactly closesAt (the close request + challengePeriod) the operator may still settle and the payer may not yet
    /// withdraw; one second later it is the other way round.
    function testFuzz_race_windowBoundaryExact(uint256 amount, bool atBoundary) public {
        amount = bound(amount, 1, 1_000e18);
        uint256 id = _open(1, uint128(amount));
        IInferencePayments.Voucher memory v = _single(id, 0, amount);
        v.expiry = type(uint64).max;
        bytes memory signature = Vouchers.sign(payerKeys[1], v, block.chainid, address(payments));
        address payer = vm.addr(payerKeys[1]);
        vm.prank(payer);
        payments.requestClose(id);
        uint256 end = block.timestamp + CHALLENGE;
        vm.warp(atBoundary ? end : end + 1);
        if (atBoundary) {
            _settle(v, signature);
            vm.expectRevert(abi.encodeWithSelector(IInferencePayments.ChallengeWindowOpen.selector, id, end));
            vm.prank(payer);
            payments.withdrawChannel(id);
        } else {
            vm.expectRevert(abi.encodeWithSelector(IInferencePayments.ChallengeWindowOver.selector, id, end));
            _settle(v, signature);
            vm.prank(payer);
            payments.withdrawChannel(id);
            assertEq(token.balanceOf(payer), 10_000_000e18, "full refund");
        }
    }
}
