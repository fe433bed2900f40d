// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {AttributionRewards} from "../../contracts/AttributionRewards.sol";
import {DatanetRegistry} from "../../contracts/DatanetRegistry.sol";
import {InferencePayments} from "../../contracts/InferencePayments.sol";
import {OpenToken} from "../../contracts/OpenToken.sol";
import {IAttributionRewards} from "../../contracts/interfaces/IAttributionRewards.sol";
import {IDatanetRegistry} from "../../contracts/interfaces/IDatanetRegistry.sol";
import {IInferencePayments} from "../../contracts/interfaces/IInferencePayments.sol";
import {SettlementFixture, Vouchers} from "./InferencePayments.t.sol";
import {ERC1271Wallet} from "./mocks/ERC1271Wallet.sol";
import {Commits} from "./utils/Commits.sol";
import {HandlerPaths, PathReport} from "./utils/Paths.sol";
import {Assertions, Test} from "./utils/Test.sol";
import {vm} from "./utils/Vm.sol";

/// @notice The environment cheatcode used here only, served at the same address as `Vm`.
// solhint-disable-next-line interface-starts-with-i
interface VmEnv {
    function envOr(string calldata name, uint256 defaultValue) external view returns (uint256 value);
}

VmEnv constant vmEnv = VmEnv(address(uint160(uint256(keccak256("hevm cheat code")))));

/// @notice The rotating smart-wallet payer: ERC1271Wallet, which can also top up its channels.
contract TopUpWallet is ERC1271Wallet {
    constructor(address owner_) ERC1271Wallet(owner_) {}

    function topUp(IERC20 token, InferencePayments payments, uint256 channelId, uint128 amount) external {
        require(msg.sender == owner, "not owner");
        token.approve(address(payments), amount);
        payments.topUp(channelId, amount);
    }
}

/// @notice Governance changes the challenge period, the fees, the claim delay and the stake lock period at random
/// moments while channels, stakes and reward epochs are open. Two EOA payers and a smart wallet whose owner key
/// rotates open channels, top up, sign cumulative vouchers (the wallet's with the key it named at open) and close
/// them; the operator settles signed vouchers at random later times; contributors stake on a curated datanet, the
/// curator accepts and anyone releases; the attestor proposes one- or two-leaf reward roots, the guardian revokes
/// pending ones and accounts claim; time jumps, sometimes to just around a deadline. Every deadline is copied into
/// a ghost when it starts; every outcome is predicted from the ghosts (a mismatch is a surprise) and counted as a
/// path (HandlerPaths).
contract ParameterChangesHandler is SettlementFixture, Assertions, HandlerPaths {
    address internal constant CURATOR = address(0xC0C0);
    address internal constant STRANGER = address(0x5742);
    uint128 internal constant CURATED_MIN_STAKE = 1e18;
    uint256 internal constant N_EOA_PAYERS = 2;
    uint256 internal constant N_CONTRIBUTORS = 2;
    uint256 internal constant WALLET_KEY_0 = 0x1271_0000;
    uint256 internal constant INITIAL_LOCK = 3 days;
    uint256 internal constant T0 = 1_750_000_000;
    // Channel filters for _pickChannel.
    uint256 internal constant ANY = 0;
    uint256 internal constant OPEN = 1;
    uint256 internal constant CLOSING = 2;
    uint256 internal constant OUTSTANDING = 3;
    uint256 internal constant CLOSING_OUTSTANDING = 4;
    uint256 internal constant OPEN_OUTSTANDING = 5;
    uint256 internal constant LIVE = 6;
    uint256 internal constant CLOSING_DUE = 7;

    struct ChannelGhost {
        // The key whose ECDSA signatures settle the channel: the EOA payer's, or the wallet's owner key at open.
        uint256 signerKey;
        // Every voucher of the channel pays this one adapter (0..3).
        uint256 adapterId;
        // Fixed at requestClose: the time then plus the challengePeriod then. Zero while open.
        uint256 closesAt;
        uint256 periodAtClose;
        // The highest cumulative amount signed, and the newest voucher (its index + 1).
        uint256 signed;
        uint256 newestVoucher;
        // What the contract should hold for the channel.
        uint256 deposit;
        uint256 settled;
        bool byWallet;
        bool finalized;
    }

    struct SignedVoucher {
        uint256 channelId;
        uint256 cumulative;
        // How many times the wallet had rotated its key when this voucher was signed.
        uint256 rotationsAtSigning;
        bytes signature;
    }

    struct Proposal {
        uint256 epoch;
        // Fixed at proposal: max(time + claimDelay, claimableAt of the epoch before).
        uint256 claimableAt;
        uint256 delayAtProposal;
        uint256 total;
        uint256[2] amounts;
        bool twoLeaves;
        bool revoked;
        uint256 claimed;
    }

    struct Credits {
        uint256 treasury;
        uint256 operator;
        uint256 owner;
        uint256 funded;
    }

    TopUpWallet public wallet;
    uint256 public walletKey;
    uint256 public rotations;
    uint256 public curatedDatanet;
    uint256 public currentTime;
    address[N_CONTRIBUTORS] public contributors;
    address[2] public rewardAccounts;

    // Money ghosts.
    uint256 public ghostDeposits;
    uint256 public ghostSettled;
    uint256 public ghostRefunds;
    uint256 public ghostCredited;
    uint256 public ghostWithdrawn;
    uint256 public ghostFunded;
    uint256 public ghostClaimed;
    uint256 public ghostPending;
    uint256 public ghostLocked;

    // Deadline ghosts.
    mapping(uint256 channelId => ChannelGhost) internal _ghostChannels;
    SignedVoucher[] internal _vouchers;
    mapping(uint256 channelId => uint256[]) internal _channelVouchers;
    uint256[] internal _contributionIds;
    mapping(uint256 contributionId => uint256) public ghostUnlocksAt;
    mapping(uint256 contributionId => uint256) internal _lockAtAcceptance;
    /// @dev The stake the registry should still hold for each contribution.
    mapping(uint256 contributionId => uint256) internal _stakeOf;
    Proposal[] internal _proposals;
    /// @dev The current proposal of each epoch number (its index + 1): a revoked epoch proposed again is replaced.
    mapping(uint256 epoch => uint256) internal _proposalOf;
    uint256 public maxProposedEpoch;
    uint256[2] internal _cumulative;
    mapping(uint256 index => uint256) public ghostLastClaimedEpoch;

    // What warpToClose, warpToUnlock and warpToClaimableAt last jumped to the deadline of: while it is within a
    // second of that deadline, settle, releaseStake and claim mostly pick it.
    uint256 internal _focusChannel;
    uint256 internal _focusContribution;
    uint256 internal _focusEpoch;
    bool internal _seeding;

    uint256 public ghostSurprises;
    string public lastSurprise;

    constructor() {
        _declareChannelPaths();
        _declareGovernanceAndTimePaths();
        _declareStakeAndEpochPaths();
        currentTime = T0;
        vm.warp(currentTime);
        _deploySettlement();
        vm.prank(GOVERNANCE);
        datanets.setStakeLockPeriod(INITIAL_LOCK);

        walletKey = WALLET_KEY_0;
        wallet = new TopUpWallet(vm.addr(walletKey));
        rewardAccounts[0] = address(0xD000);
        rewardAccounts[1] = address(0xD001);
        for (uint256 i; i < N_CONTRIBUTORS; ++i) contributors[i] = vm.addr(0xC0470 + i);

        address[] memory curators = new address[](1);
        curators[0] = CURATOR;
        curatedDatanet = datanets.createDatanet(
            IDatanetRegistry.CreateDatanetParams({
                metadataURI: "ipfs://curated",
                license: "CC-BY-4.0",
                curated: true,
                minStake: CURATED_MIN_STAKE,
                treasury: address(0),
                curators: curators
            })
        );
        token.transfer(address(wallet), 10_000_000e18);
        for (uint256 i; i < N_CONTRIBUTORS; ++i) {
            token.transfer(contributors[i], 1_000_000e18);
            vm.prank(contributors[i]);
            token.approve(address(datanets), type(uint256).max);
        }
        token.approve(address(rewards), type(uint256).max);
        _seedOpenState();
    }

    /// @dev Every run starts with something for governance to change under: three channels with a voucher each
    /// (one EOA channel already in its challenge window, one wallet channel), a locked and a pending stake, and a
    /// pending reward epoch. Not counted as reached paths.
    function _seedOpenState() internal {
        _seeding = true;
        openChannel(0, 0, 1, 1_000e18);
        openChannel(1, 1, 2, 1_000e18);
        openChannel(2, 0, 3, 1_000e18);
        for (uint256 k; k < 3; ++k) signVoucher(k, 100e18 + 1);
        requestClose(0);
        contribute(0, 10e18);
        contribute(1, 20e18);
        accept(0, 1);
        fundRewards(100e18);
        proposeRoot((10e18 << 8) | 1, (5e18 << 8) | 1, 1);
        _seeding = false;
    }

    /// @dev Channel outcomes, the wallet's among them.
    function _declareChannelPaths() internal {
        _declarePath("openChannel");
        _declarePath("openChannel:wallet");
        _declarePath("topUp");
        _declarePath("topUp:wallet");
        _declarePath("topUp:ChannelClosing");
        _declarePath("signVoucher");
        _declarePath("signVoucher:wallet");
        _declarePath("settle");
        _declarePath("settle:wallet");
        _declarePath("settledAfterRotation");
        _declarePath("settle:whileClosing");
        _declarePath("settle:atClosesAt");
        _declarePath("settle:ChallengeWindowOver");
        _declarePath("settle:justAfterClosesAt");
        _declarePath("settle:NothingToSettle");
        _declarePath("settle:ChannelIsFinalized");
        _declarePath("windowAfterPeriodChange");
        _declarePath("requestClose");
        _declarePath("requestClose:wallet");
        _declarePath("requestClose:ChannelClosing");
        _declarePath("withdrawChannel");
        _declarePath("withdrawChannel:wallet");
        _declarePath("withdrawChannel:notClosing");
        _declarePath("withdrawChannel:windowOpen");
        _declarePath("withdrawChannel:finalized");
        _declarePath("withdrawBalance");
        _declarePath("rotate");
    }

    /// @dev Parameter changes (and refusals out of range) and time jumps.
    function _declareGovernanceAndTimePaths() internal {
        _declarePath("setChallengePeriod");
        _declarePath("setChallengePeriod:OutOfRange");
        _declarePath("setFees");
        _declarePath("setFees:FeesTooHigh");
        _declarePath("setClaimDelay");
        _declarePath("setClaimDelay:ClaimDelayTooLong");
        _declarePath("setStakeLockPeriod");
        _declarePath("setStakeLockPeriod:TooLong");
        _declarePath("warp");
        _declarePath("warpToClose");
        _declarePath("warpToUnlock");
        _declarePath("warpToClaimableAt");
    }

    /// @dev Stake and reward-epoch outcomes.
    function _declareStakeAndEpochPaths() internal {
        _declarePath("contribute");
        _declarePath("accept");
        _declarePath("accept:ContributionNotPending");
        _declarePath("releaseStake");
        _declarePath("releaseStake:StakeLocked");
        _declarePath("releaseStake:atUnlock");
        _declarePath("releaseStake:StakeNotReleasable");
        _declarePath("unlockAfterLockChange");
        _declarePath("fundRewards");
        _declarePath("proposeRoot");
        _declarePath("proposeRoot:twoLeaves");
        _declarePath("revokeRoot");
        _declarePath("revokeRoot:RootNotPending");
        _declarePath("claim");
        _declarePath("claim:atClaimableAt");
        _declarePath("claim:RootIsRevoked");
        _declarePath("claim:RootNotClaimable");
        _declarePath("claim:AlreadyClaimed");
        _declarePath("claim:NothingToClaim");
        _declarePath("claim:ClaimExceedsRootTotal");
        _declarePath("claimAfterDelayChange");
    }

    modifier atCurrentTime() {
        vm.warp(currentTime);
        _;
    }

    // ------------------------------------------------------------------ channels

    function openChannel(
        uint256 payerSeed,
        uint256 operatorSeed,
        uint256 adapterSeed,
        uint128 deposit
    ) public atCurrentTime {
        uint256 payer = payerSeed % (N_EOA_PAYERS + 1);
        address operator = operators[operatorSeed % N_OPERATORS];
        deposit = uint128(bound(deposit, 1, 10_000e18));
        bool byWallet = payer == N_EOA_PAYERS;
        uint256 key = byWallet ? walletKey : payerKeys[payer];
        (bool ok, bytes memory ret) = byWallet
            ? _callAs(
                vm.addr(key),
                address(wallet),
                abi.encodeCall(ERC1271Wallet.openChannel, (token, payments, operator, deposit, vm.addr(key)))
            )
            : _callAs(
                vm.addr(key),
                address(payments),
                abi.encodeCall(payments.openChannel, (operator, deposit, address(0)))
            );
        if (!_outcome(ok, ret, "", "openChannel")) return;
        uint256 id = abi.decode(ret, (uint256));
        ChannelGhost storage g = _ghostChannels[id];
        g.signerKey = key;
        g.byWallet = byWallet;
        g.adapterId = adapterSeed % (N_ADAPTERS + 1);
        g.deposit = deposit;
        // The wallet names its current owner key; an EOA signs its own vouchers.
        if (payments.getChannel(id).voucherSigner != (byWallet ? vm.addr(key) : address(0))) {
            _surprise("openChannel: voucherSigner");
        }
        ghostDeposits += deposit;
        _count(byWallet ? bytes32("openChannel:wallet") : bytes32("openChannel"));
    }

    function topUp(uint256 channelSeed, uint128 amount) public atCurrentTime {
        uint256 id = _pickChannel(channelSeed, (channelSeed >> 128) % 4 == 0 ? ANY : OPEN);
        if (id == 0) return;
        ChannelGhost storage g = _ghostChannels[id];
        amount = uint128(bound(amount, 1, 10_000e18));
        bytes memory expected =
            g.closesAt == 0
                ? bytes("")
                : abi.encodeWithSelector(IInferencePayments.ChannelClosing.selector, id, g.closesAt);
        (bool ok, bytes memory reason) = g.byWallet
            ? _callAs(
                vm.addr(walletKey),
                address(wallet),
                abi.encodeCall(TopUpWallet.topUp, (token, payments, id, amount))
            )
            : _callAs(vm.addr(g.signerKey), address(payments), abi.encodeCall(payments.topUp, (id, amount)));
        if (!_outcome(ok, reason, expected, "topUp")) {
            if (keccak256(reason) == keccak256(expected)) _count("topUp:ChannelClosing");
            return;
        }
        ghostDeposits += amount;
        g.deposit += amount;
        _count(g.byWallet ? bytes32("topUp:wallet") : bytes32("topUp"));
    }

    /// @dev The payer signs the next cumulative voucher of an open channel, within its deposit: often a small step,
    /// sometimes the whole deposit. The wallet channel's voucher is signed with the key it named at open, whatever
    /// the wallet's owner key is now.
    function signVoucher(uint256 channelSeed, uint256 amount) public atCurrentTime {
        uint256 id = _pickChannel(channelSeed, OPEN);
        if (id == 0) return;
        ChannelGhost storage g = _ghostChannels[id];
        uint256 room = g.deposit - g.signed;
        if (room == 0) return;
        uint256 cumulative = g.signed + (amount % 4 == 0 ? room : bound(amount, 1, room / 3 + 1));
        IInferencePayments.Voucher memory v = _voucherOf(id, cumulative, g.adapterId);
        _vouchers.push(
            SignedVoucher({
                channelId: id,
                cumulative: cumulative,
                rotationsAtSigning: rotations,
                signature: Vouchers.sign(g.signerKey, v, block.chainid, address(payments))
            })
        );
        g.signed = cumulative;
        g.newestVoucher = _vouchers.length;
        _channelVouchers[id].push(_vouchers.length - 1);
        _count(g.byWallet ? bytes32("signVoucher:wallet") : bytes32("signVoucher"));
    }

    /// @dev The operator settles a signed voucher: the newest of the channel whose window end warpToClose jumped to,
    /// of a closing channel, of any channel with one outstanding, any voucher of a live channel (often one settled
    /// past), or any voucher ever signed. Predicted from the ghosts: a voucher within the deposit settles until the
    /// ghost closesAt inclusive and reverts ChallengeWindowOver after it, whatever the challenge period is now, and a
    /// wallet channel's voucher settles however often the wallet rotated its key since.
    function settle(uint256 pickSeed, uint256 mode) public atCurrentTime {
        if (_vouchers.length == 0) return;
        uint256 m = mode % 4;
        if (m == 3) return _settleVoucher(pickSeed % _vouchers.length);
        // Around the end of the window warpToClose jumped to: the operator's last chance.
        if (_near(_ghostChannels[_focusChannel].closesAt) && _matches(_focusChannel, OUTSTANDING)) {
            return _settleVoucher(_ghostChannels[_focusChannel].newestVoucher - 1);
        }
        if (m == 2) {
            // Any voucher of a channel still settleable: mostly one already settled past.
            uint256 live = _pickChannel(pickSeed, LIVE);
            if (live == 0) return;
            uint256[] storage own = _channelVouchers[live];
            if (own.length != 0) _settleVoucher(own[(pickSeed >> 128) % own.length]);
            return;
        }
        uint256 id = _pickChannel(pickSeed, m == 0 ? CLOSING_OUTSTANDING : OUTSTANDING);
        if (id != 0) _settleVoucher(_ghostChannels[id].newestVoucher - 1);
    }

    /// @dev Mostly an open channel with a voucher the operator has not settled yet: the race the window is for.
    function requestClose(uint256 channelSeed) public atCurrentTime {
        uint256 k = (channelSeed >> 128) % 4;
        uint256 id = _pickChannel(
            channelSeed,
            k == 0
                ? ANY
                : k == 1
                    ? OPEN
                    : OPEN_OUTSTANDING
        );
        if (id == 0) id = _pickChannel(channelSeed, OPEN);
        if (id == 0) return;
        ChannelGhost storage g = _ghostChannels[id];
        uint256 period = payments.challengePeriod();
        bytes memory expected =
            g.closesAt == 0
                ? bytes("")
                : abi.encodeWithSelector(IInferencePayments.ChannelClosing.selector, id, g.closesAt);
        (bool ok, bytes memory reason) = g.byWallet
            ? _callAs(vm.addr(walletKey), address(wallet), abi.encodeCall(ERC1271Wallet.requestClose, (payments, id)))
            : _callAs(vm.addr(g.signerKey), address(payments), abi.encodeCall(payments.requestClose, (id)));
        if (!_outcome(ok, reason, expected, "requestClose")) {
            if (keccak256(reason) == keccak256(expected)) _count("requestClose:ChannelClosing");
            return;
        }
        // The deadline starts now: the ghost is what it must stay.
        g.closesAt = currentTime + period;
        g.periodAtClose = period;
        if (payments.getChannel(id).closesAt != g.closesAt) _surprise("requestClose: closesAt is not now + period");
        _count(g.byWallet ? bytes32("requestClose:wallet") : bytes32("requestClose"));
    }

    function withdrawChannel(uint256 channelSeed) public atCurrentTime {
        uint256 id = _pickChannel(channelSeed, (channelSeed >> 128) % 4 == 0 ? ANY : CLOSING);
        if (id == 0) return;
        ChannelGhost storage g = _ghostChannels[id];
        address payer = g.byWallet ? address(wallet) : vm.addr(g.signerKey);
        bytes memory expected;
        if (g.finalized) expected = abi.encodeWithSelector(IInferencePayments.ChannelIsFinalized.selector, id);
        else if (g.closesAt == 0 || currentTime <= g.closesAt) {
            expected = abi.encodeWithSelector(IInferencePayments.ChallengeWindowOpen.selector, id, g.closesAt);
        }
        uint256 before = token.balanceOf(payer);
        (bool ok, bytes memory reason) = g.byWallet
            ? _callAs(
                vm.addr(walletKey),
                address(wallet),
                abi.encodeCall(ERC1271Wallet.withdrawChannel, (payments, id))
            )
            : _callAs(payer, address(payments), abi.encodeCall(payments.withdrawChannel, (id)));
        if (!_outcome(ok, reason, expected, "withdrawChannel")) {
            if (keccak256(reason) == keccak256(expected)) {
                if (g.finalized) _count("withdrawChannel:finalized");
                else
                    _count(
                        g.closesAt == 0 ? bytes32("withdrawChannel:notClosing") : bytes32("withdrawChannel:windowOpen")
                    );
                if (g.closesAt != 0 && g.periodAtClose != payments.challengePeriod()) _count("windowAfterPeriodChange");
            }
            return;
        }
        uint256 refund = g.deposit - g.settled;
        if (token.balanceOf(payer) - before != refund) _surprise("withdrawChannel: refund is not deposit - settled");
        ghostRefunds += refund;
        g.finalized = true;
        if (g.periodAtClose != payments.challengePeriod()) _count("windowAfterPeriodChange");
        _count(g.byWallet ? bytes32("withdrawChannel:wallet") : bytes32("withdrawChannel"));
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
        bytes memory expected =
            owed == 0 ? abi.encodeWithSelector(IInferencePayments.NothingToWithdraw.selector, account) : bytes("");
        uint256 before = token.balanceOf(account);
        (bool ok, bytes memory reason) = _callAs(
            STRANGER,
            address(payments),
            abi.encodeCall(payments.withdrawBalanceFor, (account))
        );
        if (!_outcome(ok, reason, expected, "withdrawBalance")) return;
        if (token.balanceOf(account) - before != owed) _surprise("withdrawBalance: amount");
        ghostWithdrawn += owed;
        _count("withdrawBalance");
    }

    /// @dev The wallet's owner key rotates: vouchers already signed for its channels must still settle.
    function rotate() public atCurrentTime {
        uint256 next = WALLET_KEY_0 + rotations + 1;
        (bool ok, bytes memory reason) = _callAs(
            vm.addr(walletKey),
            address(wallet),
            abi.encodeCall(ERC1271Wallet.rotate, (vm.addr(next)))
        );
        if (!_outcome(ok, reason, "", "rotate")) return;
        walletKey = next;
        ++rotations;
        if (wallet.owner() != vm.addr(next)) _surprise("rotate: owner");
        _count("rotate");
    }

    // ------------------------------------------------------------------ governance

    /// @dev Mostly within [1 hour, 30 days] (often at a bound); one time in eight just outside, which must revert.
    function setChallengePeriod(uint256 seed) public atCurrentTime {
        uint64 min = payments.MIN_CHALLENGE_PERIOD();
        uint64 max = payments.MAX_CHALLENGE_PERIOD();
        bool valid = seed % 8 != 7;
        uint64 period;
        if (valid)
            period =
                seed % 4 == 0
                    ? min
                    : seed % 4 == 1
                        ? max
                        : uint64(bound(seed >> 8, min, max));
        else period = (seed >> 8) % 2 == 0 ? min - 1 : max + 1;
        bytes memory expected =
            valid ? bytes("") : abi.encodeWithSelector(IInferencePayments.ChallengePeriodOutOfRange.selector, period);
        _asGovernance(
            address(payments),
            abi.encodeCall(payments.setChallengePeriod, (period)),
            expected,
            "setChallengePeriod",
            "setChallengePeriod:OutOfRange"
        );
    }

    /// @dev protocol + operator fee at most 3,000 bps; one time in eight above, which must revert.
    function setFees(uint256 protocolSeed, uint256 operatorSeed) public atCurrentTime {
        bool valid = operatorSeed % 8 != 7;
        uint16 protocolFee = uint16(bound(protocolSeed, 0, 3_000));
        uint16 operatorFee =
            valid
                ? uint16(bound(operatorSeed >> 8, 0, 3_000 - protocolFee))
                : uint16(3_001 - protocolFee + bound(operatorSeed >> 8, 0, 1_000));
        bytes memory expected =
            valid
                ? bytes("")
                : abi.encodeWithSelector(IInferencePayments.FeesTooHigh.selector, protocolFee, operatorFee);
        _asGovernance(
            address(payments),
            abi.encodeCall(payments.setFees, (protocolFee, operatorFee)),
            expected,
            "setFees",
            "setFees:FeesTooHigh"
        );
    }

    /// @dev At most 30 days (often 0 or 30 days); one time in eight longer, which must revert.
    function setClaimDelay(uint256 seed) public atCurrentTime {
        uint64 max = rewards.MAX_CLAIM_DELAY();
        bool valid = seed % 8 != 7;
        uint64 delay;
        if (valid)
            delay =
                seed % 4 == 0
                    ? 0
                    : seed % 4 == 1
                        ? max
                        : uint64(bound(seed >> 8, 0, max));
        else delay = max + 1 + uint64(bound(seed >> 8, 0, 1 days));
        bytes memory expected =
            valid ? bytes("") : abi.encodeWithSelector(IAttributionRewards.ClaimDelayTooLong.selector, delay, max);
        _asGovernance(
            address(rewards),
            abi.encodeCall(rewards.setClaimDelay, (delay)),
            expected,
            "setClaimDelay",
            "setClaimDelay:ClaimDelayTooLong"
        );
    }

    /// @dev At most 365 days (0, a year, a few days or anything); one time in eight longer, which must revert.
    function setStakeLockPeriod(uint256 seed) public atCurrentTime {
        uint256 max = datanets.MAX_STAKE_LOCK_PERIOD();
        bool valid = seed % 8 != 7;
        uint256 period;
        if (valid) {
            uint256 k = seed % 4;
            period =
                k == 0
                    ? 0
                    : k == 1
                        ? max
                        : k == 2
                            ? bound(seed >> 8, 1 hours, 7 days)
                            : bound(seed >> 8, 0, max);
        } else {
            period = max + 1 + bound(seed >> 8, 0, 1 days);
        }
        bytes memory expected =
            valid ? bytes("") : abi.encodeWithSelector(IDatanetRegistry.StakeLockPeriodTooLong.selector, period, max);
        _asGovernance(
            address(datanets),
            abi.encodeCall(datanets.setStakeLockPeriod, (period)),
            expected,
            "setStakeLockPeriod",
            "setStakeLockPeriod:TooLong"
        );
    }

    // ------------------------------------------------------------------ stakes

    /// @dev Commit, roll one block, reveal: a fresh content hash with a stake on the curated datanet.
    function contribute(uint256 actorSeed, uint256 stakeSeed) public atCurrentTime {
        address contributor = contributors[actorSeed % N_CONTRIBUTORS];
        uint128 stake = uint128(bound(stakeSeed, CURATED_MIN_STAKE, 1_000e18));
        bytes32 contentHash = keccak256(abi.encode("parameter changes", ++_contentNonce));
        bytes32 salt = Commits.commit(datanets, contributor, contentHash);
        uint256 before = token.balanceOf(contributor);
        (bool ok, bytes memory ret) = _callAs(
            contributor,
            address(datanets),
            abi.encodeCall(datanets.contribute, (curatedDatanet, contentHash, "ipfs://c", 10, stake, salt))
        );
        if (!_outcome(ok, ret, "", "contribute")) return;
        uint256 id = abi.decode(ret, (uint256));
        _contributionIds.push(id);
        _stakeOf[id] = stake;
        if (before - token.balanceOf(contributor) != stake) _surprise("contribute: stake not taken");
        ghostPending += stake;
        _count("contribute");
    }

    /// @dev The curator accepts a contribution: its unlock time starts now, with the stakeLockPeriod in force now.
    function accept(uint256 idSeed, uint256 weight) public atCurrentTime {
        if (_contributionIds.length == 0) return;
        uint256 id = _contributionIds[idSeed % _contributionIds.length];
        // Contributions here are only ever pending or accepted (accepted ones have an unlock time).
        bool pending = ghostUnlocksAt[id] == 0;
        bytes memory expected =
            pending
                ? bytes("")
                : abi.encodeWithSelector(
                    IDatanetRegistry.ContributionNotPending.selector,
                    id,
                    IDatanetRegistry.ContributionStatus.Accepted
                );
        uint256 lock = datanets.stakeLockPeriod();
        (bool ok, bytes memory reason) = _callAs(
            CURATOR,
            address(datanets),
            abi.encodeCall(datanets.accept, (id, bound(weight, 1, 1e12)))
        );
        if (!_outcome(ok, reason, expected, "accept")) {
            if (keccak256(reason) == keccak256(expected)) _count("accept:ContributionNotPending");
            return;
        }
        ghostUnlocksAt[id] = currentTime + lock;
        _lockAtAcceptance[id] = lock;
        ghostPending -= _stakeOf[id];
        ghostLocked += _stakeOf[id];
        if (datanets.getContribution(id).unlocksAt != ghostUnlocksAt[id]) _surprise("accept: unlocksAt");
        _count("accept");
    }

    /// @dev Anyone releases a stake: StakeLocked before the ghost unlock time, paid to the contributor from it on.
    function releaseStake(uint256 idSeed, uint256 mode) public atCurrentTime {
        if (_contributionIds.length == 0) return;
        uint256 id = _contributionIds[idSeed % _contributionIds.length];
        if (mode % 4 != 0) {
            // Around the unlock time warpToUnlock jumped to, or any stake still locked or due.
            if (_near(ghostUnlocksAt[_focusContribution])) id = _focusContribution;
            else id = _pickAcceptedStake(idSeed, id);
        }
        uint256 unlock = ghostUnlocksAt[id];
        uint256 stake = _stakeOf[id];
        bytes memory expected;
        if (unlock == 0 || stake == 0) {
            IDatanetRegistry.ContributionStatus status =
                unlock == 0
                    ? IDatanetRegistry.ContributionStatus.Pending
                    : IDatanetRegistry.ContributionStatus.Accepted;
            expected = abi.encodeWithSelector(IDatanetRegistry.StakeNotReleasable.selector, id, status, stake);
        } else if (currentTime < unlock) {
            expected = abi.encodeWithSelector(IDatanetRegistry.StakeLocked.selector, id, unlock);
        }
        address contributor = datanets.getContribution(id).contributor;
        uint256 before = token.balanceOf(contributor);
        (bool ok, bytes memory reason) = _callAs(
            STRANGER,
            address(datanets),
            abi.encodeCall(datanets.releaseStake, (id))
        );
        bool lockChanged = unlock != 0 && _lockAtAcceptance[id] != datanets.stakeLockPeriod();
        if (!_outcome(ok, reason, expected, "releaseStake")) {
            if (keccak256(reason) != keccak256(expected)) return;
            if (bytes4(expected) == IDatanetRegistry.StakeLocked.selector) {
                _count("releaseStake:StakeLocked");
                if (lockChanged) _count("unlockAfterLockChange");
            } else {
                _count("releaseStake:StakeNotReleasable");
            }
            return;
        }
        if (token.balanceOf(contributor) - before != stake) _surprise("releaseStake: contributor not paid");
        ghostLocked -= stake;
        _stakeOf[id] = 0;
        if (currentTime == unlock) _count("releaseStake:atUnlock");
        if (lockChanged) _count("unlockAfterLockChange");
        _count("releaseStake");
    }

    // ------------------------------------------------------------------ reward epochs

    function fundRewards(uint256 amount) public atCurrentTime {
        amount = bound(amount, 1, 1_000e18);
        (bool ok, bytes memory reason) = _callAs(
            address(this),
            address(rewards),
            abi.encodeCall(rewards.fund, (amount))
        );
        if (!_outcome(ok, reason, "", "fundRewards")) return;
        ghostFunded += amount;
        _count("fundRewards");
    }

    /// @dev A cumulative root over what was funded, with two leaves, or (one time in four) account 0's leaf alone:
    /// account 1's amount then sits out the epoch, still counted in the declared total, and it claims against a later
    /// two-leaf root. Its claimableAt is fixed now: max(now + claimDelay, claimableAt of the epoch before).
    function proposeRoot(uint256 seed0, uint256 seed1, uint256 leavesSeed) public atCurrentTime {
        uint256 epoch = rewards.lastEpoch() + 1;
        Proposal memory previous;
        if (epoch > 1) previous = _proposals[_proposalOf[epoch - 1] - 1];
        Proposal memory p;
        p.epoch = epoch;
        p.twoLeaves = leavesSeed % 4 != 0;
        uint256 base = _cumulative[0] + _cumulative[1];
        // The honest base may come from a revoked root: it fit within what was funded when proposed.
        uint256 room = rewards.totalFunded() - (base > previous.total ? base : previous.total);
        // An account earns nothing in one epoch out of four.
        uint256 increase = seed0 % 4 == 0 ? 0 : bound(seed0 >> 8, 0, room / 2);
        p.amounts[0] = _cumulative[0] + increase;
        p.amounts[1] = _cumulative[1];
        if (p.twoLeaves && seed1 % 4 != 0) p.amounts[1] += bound(seed1 >> 8, 0, (room - increase) / 2);
        uint256 sum = p.amounts[0] + p.amounts[1];
        p.total = sum > previous.total ? sum : previous.total;
        p.delayAtProposal = rewards.claimDelay();
        p.claimableAt = currentTime + p.delayAtProposal;
        if (p.claimableAt < previous.claimableAt) p.claimableAt = previous.claimableAt;
        (bool ok, bytes memory reason) = _callAs(ATTESTOR, address(rewards), _proposeRootCall(p));
        if (!_outcome(ok, reason, "", "proposeRoot")) return;
        _proposals.push(p);
        _proposalOf[epoch] = _proposals.length;
        if (epoch > maxProposedEpoch) maxProposedEpoch = epoch;
        _cumulative = p.amounts;
        if (rewards.getEpochRoot(epoch).claimableAt != p.claimableAt) _surprise("proposeRoot: claimableAt");
        _count(p.twoLeaves ? bytes32("proposeRoot:twoLeaves") : bytes32("proposeRoot"));
    }

    /// @dev The attestor's proposeRoot call for `p`, under the policy the schedule gives its epoch.
    function _proposeRootCall(Proposal memory p) internal view returns (bytes memory) {
        bytes32 contentHash = keccak256(abi.encode(p.amounts));
        uint256 policyId = rewards.attributionPolicyForEpoch(p.epoch);
        return abi.encodeCall(rewards.proposeRoot, (p.epoch, _root(p), p.total, contentHash, "ipfs://d", policyId));
    }

    /// @dev The guardian (sometimes governance) revokes a pending epoch (half the time one known to be pending) with
    /// every later one; a claimable or already revoked epoch must be refused with RootNotPending.
    function revokeRoot(uint256 epochSeed, uint256 mode) public atCurrentTime {
        if (maxProposedEpoch == 0) return;
        uint256 last = rewards.lastEpoch();
        uint256 firstPending = last + 1;
        while (firstPending > 1 && currentTime < _current(firstPending - 1).claimableAt) --firstPending;
        uint256 epoch =
            mode % 2 == 0 && firstPending <= last
                ? firstPending + (epochSeed % (last - firstPending + 1))
                : 1 + (epochSeed % maxProposedEpoch);
        bool pending = epoch <= last && currentTime < _current(epoch).claimableAt;
        bytes memory expected =
            pending ? bytes("") : abi.encodeWithSelector(IAttributionRewards.RootNotPending.selector, epoch);
        (bool ok, bytes memory reason) = _callAs(
            (mode >> 1) % 4 == 0 ? GOVERNANCE : GUARDIAN,
            address(rewards),
            abi.encodeCall(rewards.revokeRoot, (epoch))
        );
        if (!_outcome(ok, reason, expected, "revokeRoot")) {
            if (keccak256(reason) == keccak256(expected)) _count("revokeRoot:RootNotPending");
            return;
        }
        for (uint256 e = epoch; e <= last; ++e) _proposals[_proposalOf[e] - 1].revoked = true;
        if (rewards.lastEpoch() != epoch - 1) _surprise("revokeRoot: lastEpoch not moved back");
        _count("revokeRoot");
    }

    /// @dev An account claims against the epoch whose claimableAt was just reached, the newest one, a revoked one,
    /// one after its last claim or any epoch ever proposed, predicted from the ghosts.
    function claim(uint256 epochSeed, uint256 accountSeed, uint256 mode) public atCurrentTime {
        if (maxProposedEpoch == 0) return;
        uint256 last = rewards.lastEpoch();
        uint256 m = mode % 4;
        uint256 epoch = 1 + (epochSeed % maxProposedEpoch);
        if (m < 2 && _focusEpoch != 0 && _focusEpoch <= last && _near(_current(_focusEpoch).claimableAt)) {
            // Around the claimableAt warpToClaimableAt jumped to.
            epoch = _focusEpoch;
        } else if (m == 1 && last != 0) {
            epoch = last;
        } else if (m == 2 && maxProposedEpoch > last) {
            // A revoked epoch not proposed again yet: what a thief would try.
            epoch = last + 1 + (epochSeed % (maxProposedEpoch - last));
        } else if (m == 3 && maxProposedEpoch > ghostLastClaimedEpoch[accountSeed % 2]) {
            // An epoch after the one the account last claimed against.
            uint256 k = ghostLastClaimedEpoch[accountSeed % 2];
            epoch = k + 1 + (epochSeed % (maxProposedEpoch - k));
        }
        Proposal storage p = _proposals[_proposalOf[epoch] - 1];
        uint256 i = p.twoLeaves ? accountSeed % 2 : 0;
        IAttributionRewards.Claim memory c = _claimOf(p, i);
        bytes memory expected = _expectedClaimError(p, c, ghostLastClaimedEpoch[i]);
        address account = rewardAccounts[i];
        uint256 before = token.balanceOf(account);
        (bool ok, bytes memory reason) = _callAs(STRANGER, address(rewards), abi.encodeCall(rewards.claim, (epoch, c)));
        bool delayChanged = p.delayAtProposal != rewards.claimDelay();
        if (!_outcome(ok, reason, expected, "claim")) {
            if (keccak256(reason) == keccak256(expected)) _countClaimRefusal(bytes4(expected), delayChanged);
            return;
        }
        uint256 amount = c.cumulativeAmount - c.previousAmount;
        if (token.balanceOf(account) - before != amount) _surprise("claim: amount");
        if (p.revoked) _surprise("claim: paid from a revoked epoch");
        p.claimed += amount;
        ghostClaimed += amount;
        ghostLastClaimedEpoch[i] = epoch;
        if (rewards.lastClaimedEpoch(i) != epoch) _surprise("claim: lastClaimedEpoch");
        if (currentTime == p.claimableAt) _count("claim:atClaimableAt");
        if (delayChanged) _count("claimAfterDelayChange");
        _count("claim");
    }

    // ------------------------------------------------------------------ time

    /// @dev Mostly hours, sometimes days or weeks, rarely past a year (warpTo* reach the far deadlines).
    function warp(uint256 seed) public {
        uint256 k = seed % 64;
        uint256 step;
        if (k < 40) step = bound(seed >> 8, 0, 6 hours);
        else if (k < 56) step = bound(seed >> 8, 6 hours, 3 days);
        else if (k < 63) step = bound(seed >> 8, 3 days, 31 days);
        else step = bound(seed >> 8, 31 days, 366 days);
        currentTime += step;
        vm.warp(currentTime);
        _count("warp");
    }

    /// @dev Jumps to around the end of a challenge window still ahead (or reached this second).
    function warpToClose(uint256 pick, uint256 offsetSeed) public {
        if (_warpNear(_pickChannelDeadline(pick), offsetSeed)) _count("warpToClose");
    }

    /// @dev Jumps to around the unlock time of a stake still locked (or unlocking this second).
    function warpToUnlock(uint256 pick, uint256 offsetSeed) public {
        if (_warpNear(_pickUnlock(pick), offsetSeed)) _count("warpToUnlock");
    }

    /// @dev Jumps to around the claimableAt of a live epoch not yet claimable (or becoming so this second).
    function warpToClaimableAt(uint256 pick, uint256 offsetSeed) public {
        if (_warpNear(_pickClaimableAt(pick), offsetSeed)) _count("warpToClaimableAt");
    }

    // ------------------------------------------------------------------ internals

    /// @dev Warps to one second before, exactly at (twice as likely) or one second after `deadline`; never back.
    function _warpNear(uint256 deadline, uint256 offsetSeed) internal returns (bool) {
        if (deadline == 0) return false;
        uint256 offset = offsetSeed % 4;
        uint256 target =
            offset == 0
                ? deadline - 1
                : offset == 3
                    ? deadline + 1
                    : deadline;
        if (target > currentTime) currentTime = target;
        vm.warp(currentTime);
        return true;
    }

    /// @dev Whether now is within a second of `deadline`.
    function _near(uint256 deadline) internal view returns (bool) {
        return deadline != 0 && currentTime + 1 >= deadline && currentTime <= deadline + 1;
    }

    function _surprise(string memory what) internal {
        ++ghostSurprises;
        lastSurprise = what;
    }

    /// @dev Counts a path taken, except while the constructor seeds the state every run starts from.
    function _count(bytes32 path) internal {
        if (!_seeding) _hit(path);
    }

    /// @dev Calls `target` as `from`; the revert data comes back as it was raised.
    function _callAs(address from, address target, bytes memory data) internal returns (bool ok, bytes memory ret) {
        vm.prank(from);
        (ok, ret) = target.call(data);
    }

    /// @dev A governance setter: calls `data` on `target` as the Timelock and counts the path `what` when it succeeds,
    /// or `refusedPath` when it reverted exactly as `expected` predicts (anything else is a surprise).
    function _asGovernance(
        address target,
        bytes memory data,
        bytes memory expected,
        string memory what,
        bytes32 refusedPath
    ) internal {
        (bool ok, bytes memory reason) = _callAs(GOVERNANCE, target, data);
        if (_outcome(ok, reason, expected, what)) _count(bytes32(bytes(what)));
        else if (keccak256(reason) == keccak256(expected)) _count(refusedPath);
    }

    /// @dev Compares an outcome with the prediction (`expected` empty: success; otherwise the exact revert data);
    /// a mismatch is a surprise. Returns whether the call succeeded.
    function _outcome(bool ok, bytes memory reason, bytes memory expected, string memory what) internal returns (bool) {
        if (ok && expected.length != 0) _surprise(string.concat(what, ": succeeded where it should revert"));
        if (!ok && keccak256(reason) != keccak256(expected)) _surprise(string.concat(what, ": reverted unexpectedly"));
        return ok;
    }

    /// @dev The `seed`-th channel that matches `filter`; 0 if none does.
    function _pickChannel(uint256 seed, uint256 filter) internal view returns (uint256) {
        uint256 count = payments.channelCount();
        uint256 n;
        for (uint256 id = 1; id <= count; ++id) if (_matches(id, filter)) ++n;
        if (n == 0) return 0;
        seed %= n;
        for (uint256 id = 1; id <= count; ++id) {
            if (!_matches(id, filter)) continue;
            if (seed == 0) return id;
            --seed;
        }
        return 0;
    }

    function _matches(uint256 id, uint256 filter) internal view returns (bool) {
        ChannelGhost storage g = _ghostChannels[id];
        if (filter == OPEN) return g.closesAt == 0;
        if (filter == OPEN_OUTSTANDING) return g.closesAt == 0 && g.signed > g.settled;
        // Not finalized and its window, if closing, not over.
        if (filter == LIVE) return g.closesAt == 0 || g.closesAt >= currentTime;
        if (filter == CLOSING) return g.closesAt != 0 && !g.finalized;
        if (filter == CLOSING_DUE) return g.closesAt != 0 && g.closesAt >= currentTime;
        if (filter == OUTSTANDING) return !g.finalized && g.signed > g.settled;
        // Closing, its window not over yet, with a voucher to settle: what an operator watches for.
        if (filter == CLOSING_OUTSTANDING) return g.closesAt >= currentTime && g.signed > g.settled;
        return true;
    }

    function _voucherOf(
        uint256 id,
        uint256 cumulative,
        uint256 adapterId
    ) internal pure returns (IInferencePayments.Voucher memory v) {
        uint256[] memory ids = new uint256[](1);
        uint256[] memory amounts = new uint256[](1);
        ids[0] = adapterId;
        amounts[0] = cumulative;
        v = IInferencePayments.Voucher({
            channelId: id,
            cumulativeAmount: cumulative,
            adapterIds: ids,
            adapterAmounts: amounts,
            usageRoot: keccak256(abi.encode(id, cumulative)),
            expiry: type(uint64).max
        });
    }

    function _settleVoucher(uint256 i) internal {
        SignedVoucher storage sv = _vouchers[i];
        uint256 id = sv.channelId;
        ChannelGhost storage g = _ghostChannels[id];
        address operator = payments.getChannel(id).operator;
        bytes memory expected;
        if (g.finalized) expected = abi.encodeWithSelector(IInferencePayments.ChannelIsFinalized.selector, id);
        else if (g.closesAt != 0 && currentTime > g.closesAt) {
            expected = abi.encodeWithSelector(IInferencePayments.ChallengeWindowOver.selector, id, g.closesAt);
        } else if (sv.cumulative <= g.settled) {
            expected = abi.encodeWithSelector(
                IInferencePayments.NothingToSettle.selector,
                id,
                sv.cumulative,
                g.settled
            );
        }
        Credits memory before = _credits(operator, g.adapterId);
        (bool ok, bytes memory reason) = _callAs(
            operator,
            address(payments),
            abi.encodeCall(payments.settle, (_voucherOf(id, sv.cumulative, g.adapterId), sv.signature))
        );
        if (!_outcome(ok, reason, expected, "settle")) {
            if (keccak256(reason) == keccak256(expected)) _countSettleRefusal(g, bytes4(expected));
            return;
        }
        _bookSettlement(sv, g, operator, before);
    }

    function _countSettleRefusal(ChannelGhost storage g, bytes4 selector) internal {
        if (selector == IInferencePayments.ChallengeWindowOver.selector) {
            _count("settle:ChallengeWindowOver");
            if (currentTime == g.closesAt + 1) _count("settle:justAfterClosesAt");
            if (g.periodAtClose != payments.challengePeriod()) _count("windowAfterPeriodChange");
        } else if (selector == IInferencePayments.NothingToSettle.selector) {
            _count("settle:NothingToSettle");
        } else {
            _count("settle:ChannelIsFinalized");
        }
    }

    /// @dev Checks the split against the fees in force now and books the settlement.
    function _bookSettlement(
        SignedVoucher storage sv,
        ChannelGhost storage g,
        address operator,
        Credits memory before
    ) internal {
        uint256 increase = sv.cumulative - g.settled;
        Credits memory want;
        (want.treasury, want.operator, want.owner, want.funded) = _expectedSplit(g.adapterId, increase);
        Credits memory got = _credits(operator, g.adapterId);
        if (
            got.treasury - before.treasury != want.treasury ||
            got.operator - before.operator != want.operator ||
            got.owner - before.owner != want.owner ||
            got.funded - before.funded != want.funded
        ) _surprise("settle: split is not the one of the fees in force");
        ghostSettled += increase;
        g.settled = sv.cumulative;
        ghostCredited += want.treasury + want.operator + want.owner;
        ghostFunded += want.funded;
        _count("settle");
        if (g.closesAt != 0) {
            _count("settle:whileClosing");
            if (currentTime == g.closesAt) _count("settle:atClosesAt");
            if (g.periodAtClose != payments.challengePeriod()) _count("windowAfterPeriodChange");
        }
        if (!g.byWallet) return;
        _count("settle:wallet");
        if (sv.rotationsAtSigning < rotations) {
            // The wallet's ERC-1271 check no longer accepts the key that signed: ECDSA against the signer named at
            // open is what keeps the voucher good.
            bytes32 digest = payments.voucherDigest(_voucherOf(sv.channelId, sv.cumulative, g.adapterId));
            if (wallet.isValidSignature(digest, sv.signature) == IERC1271.isValidSignature.selector) {
                _surprise("rotate: the wallet still accepts its old key");
            }
            _count("settledAfterRotation");
        }
    }

    function _credits(address operator, uint256 adapterId) internal view returns (Credits memory b) {
        b.treasury = payments.balanceOf(TREASURY);
        b.operator = payments.balanceOf(operator);
        if (adapterId != 0) b.owner = payments.balanceOf(adapterOwners[adapterId]);
        b.funded = rewards.totalFunded();
    }

    function _current(uint256 epoch) internal view returns (Proposal storage) {
        return _proposals[_proposalOf[epoch] - 1];
    }

    function _leaf(uint256 index, address account, uint256 amount) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(index, account, amount))));
    }

    function _root(Proposal memory p) internal view returns (bytes32) {
        bytes32 a = _leaf(0, rewardAccounts[0], p.amounts[0]);
        if (!p.twoLeaves) return a;
        bytes32 b = _leaf(1, rewardAccounts[1], p.amounts[1]);
        return a < b ? keccak256(abi.encodePacked(a, b)) : keccak256(abi.encodePacked(b, a));
    }

    /// @dev The proof of leaf `i` in `p`: the other leaf, or nothing in a one-leaf root.
    function _proof(Proposal memory p, uint256 i) internal view returns (bytes32[] memory proof) {
        if (!p.twoLeaves) return proof;
        proof = new bytes32[](1);
        proof[0] = _leaf(1 - i, rewardAccounts[1 - i], p.amounts[1 - i]);
    }

    function _claimOf(Proposal memory p, uint256 i) internal view returns (IAttributionRewards.Claim memory c) {
        c.index = i;
        c.account = rewardAccounts[i];
        c.cumulativeAmount = p.amounts[i];
        c.proof = _proof(p, i);
        uint256 previousEpoch = ghostLastClaimedEpoch[i];
        if (previousEpoch != 0) {
            // Claimed against when claimable, so never revoked nor replaced since.
            Proposal memory previous = _current(previousEpoch);
            c.previousAmount = previous.amounts[i];
            c.previousProof = _proof(previous, i);
        }
    }

    function _expectedClaimError(
        Proposal storage p,
        IAttributionRewards.Claim memory c,
        uint256 previousEpoch
    ) internal view returns (bytes memory) {
        uint256 epoch = p.epoch;
        if (p.revoked) return abi.encodeWithSelector(IAttributionRewards.RootIsRevoked.selector, epoch);
        if (currentTime < p.claimableAt) {
            return abi.encodeWithSelector(IAttributionRewards.RootNotClaimable.selector, epoch, p.claimableAt);
        }
        if (previousEpoch >= epoch) {
            return abi.encodeWithSelector(IAttributionRewards.AlreadyClaimed.selector, c.index, epoch, previousEpoch);
        }
        if (c.cumulativeAmount <= c.previousAmount) {
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
        uint256 total = ghostClaimed + c.cumulativeAmount - c.previousAmount;
        if (total > p.total) {
            return abi.encodeWithSelector(IAttributionRewards.ClaimExceedsRootTotal.selector, epoch, total, p.total);
        }
        return "";
    }

    function _countClaimRefusal(bytes4 selector, bool delayChanged) internal {
        if (selector == IAttributionRewards.RootIsRevoked.selector) _count("claim:RootIsRevoked");
        else if (selector == IAttributionRewards.RootNotClaimable.selector) {
            _count("claim:RootNotClaimable");
            if (delayChanged) _count("claimAfterDelayChange");
        } else if (selector == IAttributionRewards.AlreadyClaimed.selector) _count("claim:AlreadyClaimed");
        else if (selector == IAttributionRewards.NothingToClaim.selector) _count("claim:NothingToClaim");
        else _count("claim:ClaimExceedsRootTotal");
    }

    /// @dev The closesAt of a channel whose window has not ended yet (or ends this second), mostly one with a signed
    /// voucher not settled yet, whose window matters most; 0 if none.
    function _pickChannelDeadline(uint256 pick) internal returns (uint256) {
        uint256 id = (pick >> 128) % 4 != 0 ? _pickChannel(pick, CLOSING_OUTSTANDING) : 0;
        if (id == 0) id = _pickChannel(pick, CLOSING_DUE);
        if (id == 0) return 0;
        _focusChannel = id;
        return _ghostChannels[id].closesAt;
    }

    function _pickUnlock(uint256 pick) internal returns (uint256) {
        uint256 count = _contributionIds.length;
        uint256 n;
        for (uint256 j; j < count; ++j) if (_unlockDue(_contributionIds[j])) ++n;
        if (n == 0) return 0;
        pick %= n;
        for (uint256 j; j < count; ++j) {
            uint256 id = _contributionIds[j];
            if (!_unlockDue(id)) continue;
            if (pick == 0) {
                _focusContribution = id;
                return ghostUnlocksAt[id];
            }
            --pick;
        }
        return 0;
    }

    /// @dev The `seed`-th contribution accepted and still holding its stake; `otherwise` if none.
    function _pickAcceptedStake(uint256 seed, uint256 otherwise) internal view returns (uint256) {
        uint256 count = _contributionIds.length;
        uint256 n;
        for (uint256 j; j < count; ++j) if (_stakeHeld(_contributionIds[j])) ++n;
        if (n == 0) return otherwise;
        seed %= n;
        for (uint256 j; j < count; ++j) {
            uint256 id = _contributionIds[j];
            if (!_stakeHeld(id)) continue;
            if (seed == 0) return id;
            --seed;
        }
        return otherwise;
    }

    function _stakeHeld(uint256 id) internal view returns (bool) {
        return ghostUnlocksAt[id] != 0 && _stakeOf[id] != 0;
    }

    function _unlockDue(uint256 id) internal view returns (bool) {
        return ghostUnlocksAt[id] >= currentTime && _stakeOf[id] != 0;
    }

    function _pickClaimableAt(uint256 pick) internal returns (uint256) {
        uint256 last = rewards.lastEpoch();
        uint256 n;
        for (uint256 e = 1; e <= last; ++e) if (_current(e).claimableAt >= currentTime) ++n;
        if (n == 0) return 0;
        pick %= n;
        for (uint256 e = 1; e <= last; ++e) {
            if (_current(e).claimableAt < currentTime) continue;
            if (pick == 0) {
                _focusEpoch = e;
                return _current(e).claimableAt;
            }
            --pick;
        }
        return 0;
    }

    // ------------------------------------------------------------------ views for the tests

    function getPayments() external view returns (InferencePayments) {
        return payments;
    }

    function getRewards() external view returns (AttributionRewards) {
        return rewards;
    }

    function getDatanets() external view returns (DatanetRegistry) {
        return datanets;
    }

    function getToken() external view returns (OpenToken) {
        return token;
    }

    function ghostChannel(uint256 channelId) external view returns (ChannelGhost memory) {
        return _ghostChannels[channelId];
    }

    function voucherCount() external view returns (uint256) {
        return _vouchers.length;
    }

    /// @dev Voucher `i` as the operator would submit it, whether its channel's payer is the wallet, and whether the
    /// wallet rotated its key since it was signed.
    function voucherAt(
        uint256 i
    ) external view returns (IInferencePayments.Voucher memory v, bytes memory signature, bool byWallet, bool rotated) {
        SignedVoucher storage sv = _vouchers[i];
        ChannelGhost storage g = _ghostChannels[sv.channelId];
        v = _voucherOf(sv.channelId, sv.cumulative, g.adapterId);
        signature = sv.signature;
        byWallet = g.byWallet;
        rotated = sv.rotationsAtSigning < rotations;
    }

    function contributionCount() external view returns (uint256) {
        return _contributionIds.length;
    }

    function contributionIdAt(uint256 i) external view returns (uint256) {
        return _contributionIds[i];
    }

    function ghostStakeOf(uint256 contributionId) external view returns (uint256) {
        return _stakeOf[contributionId];
    }

    function proposalCount() external view returns (uint256) {
        return _proposals.length;
    }

    function proposalAt(uint256 i) external view returns (Proposal memory) {
        return _proposals[i];
    }

    function currentProposalOf(uint256 epoch) external view returns (Proposal memory) {
        return _current(epoch);
    }
}

/// @notice The invariants, shared by the campaign and the reachability walk.
abstract contract ParameterChangesChecks is Test {
    /// @dev Raised by `simulateSettle` when the settlement would have succeeded (everything is rolled back).
    error SettleWouldSucceed();

    ParameterChangesHandler internal handler;
    InferencePayments internal payments;
    AttributionRewards internal rewards;
    DatanetRegistry internal datanets;
    OpenToken internal token;

    function _deployHandler() internal {
        handler = new ParameterChangesHandler();
        payments = handler.getPayments();
        rewards = handler.getRewards();
        datanets = handler.getDatanets();
        token = handler.getToken();
    }

    /// @dev Deadlines never move after they start, whatever governance changed since.
    function _checkDeadlines() internal view {
        uint256 channels = payments.channelCount();
        for (uint256 id = 1; id <= channels; ++id) {
            assertEq(payments.getChannel(id).closesAt, handler.ghostChannel(id).closesAt, "closesAt vs ghost");
        }
        uint256 contributions = handler.contributionCount();
        for (uint256 j; j < contributions; ++j) {
            uint256 id = handler.contributionIdAt(j);
            assertEq(datanets.getContribution(id).unlocksAt, handler.ghostUnlocksAt(id), "unlocksAt vs ghost");
        }
        uint256 maxEpoch = handler.maxProposedEpoch();
        for (uint256 e = 1; e <= maxEpoch; ++e) {
            ParameterChangesHandler.Proposal memory p = handler.currentProposalOf(e);
            IAttributionRewards.EpochRoot memory r = rewards.getEpochRoot(e);
            assertEq(r.claimableAt, p.claimableAt, "claimableAt vs ghost");
            assertEq(r.revoked, p.revoked, "revoked vs ghost");
        }
    }

    /// @dev Every voucher of a wallet channel above what was settled still settles while the ghost window is open,
    /// however often the wallet rotated its key since it was signed. Simulated, then rolled back.
    function _checkWalletVouchersSettle() internal {
        uint256 n = handler.voucherCount();
        uint256 time = handler.currentTime();
        for (uint256 i; i < n; ++i) {
            (IInferencePayments.Voucher memory v, , bool byWallet, ) = handler.voucherAt(i);
            if (!byWallet) continue;
            ParameterChangesHandler.ChannelGhost memory g = handler.ghostChannel(v.channelId);
            bool windowOpen = !g.finalized && (g.closesAt == 0 || time <= g.closesAt);
            if (!windowOpen || v.cumulativeAmount <= g.settled) continue;
            try this.simulateSettle(i) {
                fail("simulateSettle returned");
            } catch (bytes memory reason) {
                if (keccak256(reason) != keccak256(abi.encodeWithSelector(SettleWouldSucceed.selector))) {
                    fail("a wallet voucher signed within the deposit no longer settles in its window");
                }
            }
        }
    }

    /// @dev Settles voucher `i` as its operator at the handler's time, then reverts: SettleWouldSucceed if it
    /// settled, the settlement's own revert data otherwise.
    function simulateSettle(uint256 i) external {
        (IInferencePayments.Voucher memory v, bytes memory signature, , ) = handler.voucherAt(i);
        uint256 time = block.timestamp;
        vm.warp(handler.currentTime());
        vm.prank(payments.getChannel(v.channelId).operator);
        try payments.settle(v, signature) {
            vm.warp(time);
            revert SettleWouldSucceed();
        } catch (bytes memory reason) {
            vm.warp(time);
            assembly {
                revert(add(reason, 32), mload(reason))
            }
        }
    }

    function _checkConservation() internal view {
        assertEq(
            token.balanceOf(address(payments)),
            payments.totalEscrowed() + payments.totalCredited(),
            "payments balance vs escrowed + credited"
        );
        assertEq(
            handler.ghostDeposits(),
            handler.ghostSettled() + handler.ghostRefunds() + payments.totalEscrowed(),
            "deposits vs settled + refunds + escrow"
        );
        assertEq(
            payments.totalCredited(),
            handler.ghostCredited() - handler.ghostWithdrawn(),
            "totalCredited vs credited - withdrawn"
        );
        assertEq(
            token.balanceOf(address(datanets)),
            datanets.totalPendingStake() + datanets.totalLockedStake(),
            "registry balance vs pending + locked"
        );
        assertEq(datanets.totalPendingStake(), handler.ghostPending(), "totalPendingStake vs ghost");
        assertEq(datanets.totalLockedStake(), handler.ghostLocked(), "totalLockedStake vs ghost");
        assertEq(
            token.balanceOf(address(rewards)),
            uint256(rewards.totalFunded()) - rewards.totalClaimed(),
            "reward pool balance vs funded - claimed"
        );
        assertEq(rewards.totalFunded(), handler.ghostFunded(), "totalFunded vs ghost");
        assertEq(rewards.totalClaimed(), handler.ghostClaimed(), "totalClaimed vs ghost");
        uint256 channels = payments.channelCount();
        for (uint256 id = 1; id <= channels; ++id) {
            IInferencePayments.Channel memory c = payments.getChannel(id);
            ParameterChangesHandler.ChannelGhost memory g = handler.ghostChannel(id);
            assertEq(c.deposit, g.deposit, "channel deposit vs ghost");
            assertEq(c.settled, g.settled, "channel settled vs ghost");
            assertEq(c.finalized, g.finalized, "channel finalized vs ghost");
        }
        uint256 contributions = handler.contributionCount();
        for (uint256 j; j < contributions; ++j) {
            uint256 id = handler.contributionIdAt(j);
            assertEq(datanets.getContribution(id).stake, handler.ghostStakeOf(id), "contribution stake vs ghost");
        }
    }

    /// @dev Live roots are claimable in epoch order, and nothing was ever paid from a revoked proposal.
    function _checkRewardRoots() internal view {
        uint256 last = rewards.lastEpoch();
        for (uint256 e = 2; e <= last; ++e) {
            assertLe(
                rewards.getEpochRoot(e - 1).claimableAt,
                rewards.getEpochRoot(e).claimableAt,
                "claimableAt(e - 1) vs claimableAt(e)"
            );
        }
        uint256 n = handler.proposalCount();
        for (uint256 i; i < n; ++i) {
            ParameterChangesHandler.Proposal memory p = handler.proposalAt(i);
            if (p.revoked) assertEq(p.claimed, 0, "claimed from a revoked epoch");
        }
    }

    function _checkNoSurprises() internal view {
        if (handler.ghostSurprises() != 0) fail(string.concat("handler surprise: ", handler.lastSurprise()));
    }
}

contract ParameterChangesInvariantTest is ParameterChangesChecks, PathReport {
    function setUp() public {
        _deployHandler();
        targetContract(address(handler));
    }

    function _pathHandler() internal view override returns (HandlerPaths) {
        return handler;
    }

    function _suiteName() internal pure override returns (string memory) {
        return type(ParameterChangesInvariantTest).name;
    }

    /// @dev closesAt, unlocksAt and claimableAt equal the ghosts copied when each deadline started.
    function invariant_deadlinesNeverMove() public view {
        _checkDeadlines();
    }

    /// @dev A wallet channel's vouchers, signed while it was open and within its deposit, settle in the window
    /// whatever key the wallet holds now.
    function invariant_rotationNeverStrandsAcceptedVouchers() public {
        _checkWalletVouchersSettle();
    }

    /// @dev Each contract holds exactly what it owes, and every deposit is settled, refunded or still escrowed.
    function invariant_conservation() public view {
        _checkConservation();
    }

    /// @dev claimableAt never decreases from one live epoch to the next, and no revoked root paid anything.
    function invariant_rewardRootsOrderedAndRevokedNeverPaid() public view {
        _checkRewardRoots();
    }

    /// @dev Every handler outcome matched its prediction: among them, settle succeeds until the ghost closesAt
    /// inclusive and reverts ChallengeWindowOver after it, releaseStake reverts StakeLocked before the ghost unlock
    /// time and pays from it on, and a wallet voucher settles after a rotation.
    function invariant_noSurprises() public view {
        _checkNoSurprises();
    }
}

/// @notice The handler driven by one long pseudo-random walk, every action equally likely as in the campaign, in
/// every profile: campaign runs restart from setUp every 32 or 64 calls, and the quick profile only reports a path
/// its runs never took, so this walk is what makes the quick profile fail when the handler stops reaching one. Every
/// declared path must be taken, every prediction and every invariant hold (checked every 100 calls), over 6,000
/// calls (OPENPOA_WALK_STEPS to walk further): thousands of parameter changes under long-lived channels, many
/// rotations, epochs revoked and proposed again. Reading the environment also marks the test impure, so that on a
/// failure the runner reports at once instead of replaying thousands of handler calls for a stack trace (replaying
/// 3,000 ran out of memory here).
contract ParameterChangesReachabilityTest is ParameterChangesChecks {
    uint256 internal constant STEPS = 6_000;
    uint256 internal constant CHECK_EVERY = 100;

    function test_handlerReachesEveryPath() public {
        _deployHandler();
        uint256 seed = uint256(keccak256("parameter changes walk"));
        // In external calls, so that each chunk starts with fresh memory.
        uint256 steps = vmEnv.envOr("OPENPOA_WALK_STEPS", STEPS);
        for (uint256 from; from < steps; from += CHECK_EVERY) {
            this.walk(seed, from, CHECK_EVERY);
            this.checkAll();
        }
        _checkEveryPathTaken();
    }

    function checkAll() external {
        _checkDeadlines();
        _checkWalletVouchersSettle();
        _checkConservation();
        _checkRewardRoots();
        _checkNoSurprises();
    }

    function _checkEveryPathTaken() internal view {
        bytes32[] memory required = handler.declaredPaths();
        string memory missing;
        for (uint256 i; i < required.length; ++i) {
            if (handler.calls(required[i]) == 0) missing = string.concat(missing, " ", _name(required[i]));
        }
        if (bytes(missing).length != 0) fail(string.concat("paths never taken:", missing));
    }

    /// @dev Calls `count` handler actions, from step `from` of the walk seeded with `seed`.
    function walk(uint256 seed, uint256 from, uint256 count) external {
        for (uint256 s = from; s < from + count; ++s) {
            uint256 r = uint256(keccak256(abi.encode(seed, s)));
            uint256 a = uint256(keccak256(abi.encode(r, 1)));
            uint256 b = uint256(keccak256(abi.encode(r, 2)));
            uint256 c = uint256(keccak256(abi.encode(r, 3)));
            uint256 action = r % 23;
            if (action == 0) handler.openChannel(a, b, c, uint128(a >> 128));
            else if (action == 1) handler.topUp(a, uint128(b));
            else if (action == 2) handler.signVoucher(a, b);
            else if (action == 3) handler.settle(a, b);
            else if (action == 4) handler.requestClose(a);
            else if (action == 5) handler.withdrawChannel(a);
            else if (action == 6) handler.withdrawBalance(a);
            else if (action == 7) handler.rotate();
            else if (action == 8) handler.setChallengePeriod(a);
            else if (action == 9) handler.setFees(a, b);
            else if (action == 10) handler.setClaimDelay(a);
            else if (action == 11) handler.setStakeLockPeriod(a);
            else if (action == 12) handler.contribute(a, b);
            else if (action == 13) handler.accept(a, b);
            else if (action == 14) handler.releaseStake(a, b);
            else if (action == 15) handler.fundRewards(a);
            else if (action == 16) handler.proposeRoot(a, b, c);
            else if (action == 17) handler.revokeRoot(a, b);
            else if (action == 18) handler.claim(a, b, c);
            else if (action == 19) handler.warp(a);
            else if (action == 20) handler.warpToClose(a, b);
            else if (action == 21) handler.warpToUnlock(a, b);
            else handler.warpToClaimableAt(a, b);
        }
    }

    function _name(bytes32 path) internal pure returns (string memory) {
        uint256 n;
        while (n < 32 && path[n] != 0) ++n;
        bytes memory s = new bytes(n);
        for (uint256 i; i < n; ++i) s[i] = path[i];
        return string(s);
    }
}
