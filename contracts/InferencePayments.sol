// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IAttributionRewards} from "./interfaces/IAttributionRewards.sol";
import {IInferencePayments} from "./interfaces/IInferencePayments.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";

/// @title InferencePayments
/// @notice Payment channels for inference, settled by cumulative vouchers, with the revenue split of each adapter.
/// @dev The owner (the Timelock) sets fees, the challenge period and the treasury.
contract InferencePayments is IInferencePayments, Ownable, EIP712 {
    using SafeERC20 for IERC20;

    uint256 internal constant BPS = 10_000;
    /// @notice Upper bound on protocol plus operator fee, so an adapter's owner and data share always get most.
    uint256 public constant MAX_TOTAL_FEE_BPS = 3_000;
    uint64 public constant MIN_CHALLENGE_PERIOD = 1 hours;
    uint64 public constant MAX_CHALLENGE_PERIOD = 30 days;
    /// @notice Adapters one voucher may list, i.e. a channel may ever use. Settlement loops over every listed adapter
    /// and, for each whose amount grew, over its lineage (up to 16 entries): at this cap the worst settlement costs
    /// about 11M gas (bench:gas, `settleMaxAdapters`), under 40% of a 30M block, so a voucher can always be settled.
    uint256 public constant MAX_VOUCHER_ADAPTERS = 64;

    bytes32 public constant VOUCHER_TYPEHASH = keccak256(
        // solhint-disable-next-line max-line-length
        "Voucher(uint256 channelId,uint256 cumulativeAmount,uint256[] adapterIds,uint256[] adapterAmounts,bytes32 usageRoot,uint64 expiry)"
    );

    IERC20 public immutable token;
    IModelRegistry public immutable models;
    INodeRegistry public immutable nodes;
    IAttributionRewards public immutable rewards;

    uint16 public protocolFeeBps;
    uint16 public operatorFeeBps;
    uint64 public challengePeriod;
    address public treasury;
    uint256 public channelCount;
    uint256 public totalEscrowed;
    uint256 public totalCredited;

    mapping(uint256 channelId => Channel) internal _channels;
    mapping(uint256 channelId => mapping(uint256 adapterId => uint256)) public settledForAdapter;
    mapping(address account => uint256) public balanceOf;

    /// @dev Per-settlement running totals, kept in memory so that each shared balance is written once.
    struct SplitTotals {
        uint256 protocolFees;
        uint256 operatorIncome;
        uint256 dataShares;
    }

    constructor(
        IERC20 token_,
        IModelRegistry models_,
        INodeRegistry nodes_,
        IAttributionRewards rewards_,
        address governance,
        address treasury_,
        uint16 protocolFeeBps_,
        uint16 operatorFeeBps_,
        uint64 challengePeriod_
    ) Ownable(governance) EIP712("OpenPoA InferencePayments", "1") {
        if (
            address(token_) == address(0) ||
            address(models_) == address(0) ||
            address(nodes_) == address(0) ||
            address(rewards_) == address(0)
        ) revert ZeroAddress();
        token = token_;
        models = models_;
        nodes = nodes_;
        rewards = rewards_;
        _setTreasury(treasury_);
        _setFees(protocolFeeBps_, operatorFeeBps_);
        _setChallengePeriod(challengePeriod_);
        // The data share is funded to the reward pool, which pulls it.
        token_.forceApprove(address(rewards_), type(uint256).max);
    }

    /// @inheritdoc IInferencePayments
    function openChannel(address operator, uint128 deposit, address voucherSigner) external returns (uint256) {
        return _openChannel(operator, deposit, voucherSigner);
    }

    /// @inheritdoc IInferencePayments
    function openChannelWithPermit(
        address operator,
        uint128 deposit,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (uint256) {
        // A front-run permit makes this call revert but has already set the allowance: ignore the failure and
        // let the transferFrom decide.
        try IERC20Permit(address(token)).permit(msg.sender, address(this), deposit, deadline, v, r, s) {} catch {}
        // The payer signs its vouchers, as it signed the permit; a contract caller is refused in _openChannel.
        return _openChannel(operator, deposit, address(0));
    }

    /// @inheritdoc IInferencePayments
    function topUp(uint256 channelId, uint128 amount) external {
        Channel storage channel = _existingChannel(channelId);
        if (channel.payer != msg.sender) revert NotPayer(channelId, msg.sender);
        if (channel.closesAt != 0) revert ChannelClosing(channelId, channel.closesAt);
        if (amount == 0) revert ZeroAmount();

        channel.deposit += amount;
        totalEscrowed += amount;
        emit ChannelToppedUp(channelId, amount, channel.deposit);

        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IInferencePayments
    function settle(Voucher calldata voucher, bytes calldata signature) external {
        uint256 channelId = voucher.channelId;
        Channel storage channel = _existingChannel(channelId);
        address operator = channel.operator;
        if (operator != msg.sender) revert NotOperator(channelId, msg.sender);
        if (channel.finalized) revert ChannelIsFinalized(channelId);
        uint256 closesAt = channel.closesAt;
        if (closesAt != 0 && block.timestamp > closesAt) revert ChallengeWindowOver(channelId, closesAt);
        if (block.timestamp > voucher.expiry) revert VoucherExpired(channelId, voucher.expiry);
        uint256 settled = channel.settled;
        if (voucher.cumulativeAmount <= settled) revert NothingToSettle(channelId, voucher.cumulativeAmount, settled);
        if (voucher.cumulativeAmount > channel.deposit) {
            revert ExceedsDeposit(channelId, voucher.cumulativeAmount, channel.deposit);
        }
        address signer = channel.voucherSigner;
        if (signer == address(0)) signer = channel.payer;
        // tryRecover refuses malleable (high-s) and malformed signatures by returning an error, never address(0) as a
        // match: `signer` is never zero here.
        (address recovered, , ) = ECDSA.tryRecover(_voucherDigest(voucher), signature);
        if (recovered != signer) revert InvalidSignature(channelId, signer);

        uint256 increase = voucher.cumulativeAmount - settled;
        _recordSettlement(channel, voucher, operator, increase);

        SplitTotals memory totals = _splitAdapters(voucher, operator, increase);
        balanceOf[treasury] += totals.protocolFees;
        balanceOf[operator] += totals.operatorIncome;
        totalCredited += increase - totals.dataShares;

        if (totals.dataShares != 0) rewards.fund(totals.dataShares);
    }

    /// @inheritdoc IInferencePayments
    function requestClose(uint256 channelId) external {
        Channel storage channel = _existingChannel(channelId);
        if (channel.payer != msg.sender) revert NotPayer(channelId, msg.sender);
        if (channel.closesAt != 0) revert ChannelClosing(channelId, channel.closesAt);

        // Fixed now, so that a later change of challengePeriod cannot shorten or stretch this window. Timestamps fit
        // in 64 bits for the next 500 billion years.
        uint64 closesAt = uint64(block.timestamp) + challengePeriod;
        channel.closesAt = closesAt;
        emit CloseRequested(channelId, closesAt);
    }

    /// @inheritdoc IInferencePayments
    function withdrawChannel(uint256 channelId) external {
        Channel storage channel = _existingChannel(channelId);
        if (channel.payer != msg.sender) revert NotPayer(channelId, msg.sender);
        if (channel.finalized) revert ChannelIsFinalized(channelId);
        uint256 closesAt = channel.closesAt;
        // Not closing yet counts as an open window that has not started.
        if (closesAt == 0 || block.timestamp <= closesAt) revert ChallengeWindowOpen(channelId, closesAt);

        uint256 refund = channel.deposit - channel.settled;
        channel.finalized = true;
        totalEscrowed -= refund;
        emit ChannelFinalized(channelId, refund);

        if (refund != 0) token.safeTransfer(msg.sender, refund);
    }

    /// @inheritdoc IInferencePayments
    function withdrawBalance() external {
        _withdrawBalance(msg.sender);
    }

    /// @inheritdoc IInferencePayments
    function withdrawBalanceFor(address account) external {
        _withdrawBalance(account);
    }

    function setFees(uint16 protocolFeeBps_, uint16 operatorFeeBps_) external onlyOwner {
        _setFees(protocolFeeBps_, operatorFeeBps_);
    }

    function setChallengePeriod(uint64 challengePeriod_) external onlyOwner {
        _setChallengePeriod(challengePeriod_);
    }

    function setTreasury(address treasury_) external onlyOwner {
        _setTreasury(treasury_);
    }

    /// @inheritdoc IInferencePayments
    function voucherDigest(Voucher calldata voucher) external view returns (bytes32) {
        return _voucherDigest(voucher);
    }

    /// @inheritdoc IInferencePayments
    function getChannel(uint256 channelId) external view returns (Channel memory) {
        return _existingChannel(channelId);
    }

    /// @dev The channel's side of a settlement: its settled amount and usage root move to the voucher's.
    function _recordSettlement(
        Channel storage channel,
        Voucher calldata voucher,
        address operator,
        uint256 increase
    ) internal {
        // The cast is safe: settle checked cumulativeAmount <= deposit, a uint128.
        channel.settled = uint128(voucher.cumulativeAmount);
        bytes32 previousUsageRoot = channel.usageRoot;
        channel.usageRoot = voucher.usageRoot;
        totalEscrowed -= increase;
        emit ChannelSettled(
            voucher.channelId,
            operator,
            voucher.cumulativeAmount,
            increase,
            previousUsageRoot,
            voucher.usageRoot
        );
    }

    function _openChannel(
        address operator,
        uint128 deposit,
        address voucherSigner
    ) internal returns (uint256 channelId) {
        if (!nodes.isActive(operator)) revert OperatorNotActive(operator);
        if (deposit == 0) revert ZeroAmount();
        // ECDSA cannot speak for a contract: a smart-wallet payer names the key that signs for it (also when it
        // came through openChannelWithPermit on an allowance it set itself).
        if (voucherSigner == address(0) && msg.sender.code.length != 0) revert VoucherSignerRequired(msg.sender);

        channelId = ++channelCount;
        _channels[channelId] = Channel({
            payer: msg.sender,
            closesAt: 0,
            finalized: false,
            operator: operator,
            deposit: deposit,
            settled: 0,
            voucherSigner: voucherSigner,
            usageRoot: bytes32(0)
        });
        totalEscrowed += deposit;
        emit ChannelOpened(channelId, msg.sender, operator, deposit);

        token.safeTransferFrom(msg.sender, address(this), deposit);
    }

    /// @dev Checks the per-adapter amounts against what was settled before, credits adapter owners and returns the
    /// totals for the shared balances.
    function _splitAdapters(
        Voucher calldata voucher,
        address operator,
        uint256 increase
    ) internal returns (SplitTotals memory totals) {
        uint256 count = voucher.adapterIds.length;
        if (voucher.adapterAmounts.length != count) revert LengthMismatch(count, voucher.adapterAmounts.length);
        if (count > MAX_VOUCHER_ADAPTERS) revert TooManyAdapters(count, MAX_VOUCHER_ADAPTERS);
        uint256 channelId = voucher.channelId;
        uint256 sum;
        uint256 listedIncrease;
        uint256 previousId;
        for (uint256 i; i < count; ++i) {
            uint256 adapterId = voucher.adapterIds[i];
            // Strictly increasing ids make duplicates impossible without a set; id 0 may only come first.
            if (i != 0 && adapterId <= previousId) revert AdapterIdsNotIncreasing(i, adapterId);
            previousId = adapterId;
            uint256 amount = voucher.adapterAmounts[i];
            sum += amount;
            uint256 before = settledForAdapter[channelId][adapterId];
            if (amount < before) revert AdapterAmountDecreased(adapterId, amount, before);
            if (amount == before) continue;
            settledForAdapter[channelId][adapterId] = amount;
            listedIncrease += amount - before;
            _splitOne(channelId, adapterId, amount - before, operator, totals);
        }
        if (sum != voucher.cumulativeAmount) revert AdapterAmountsMismatch(sum, voucher.cumulativeAmount);
        // An adapter settled before but missing now would make the listed increase exceed the channel's.
        if (listedIncrease != increase) revert UnlistedSettledAdapters(listedIncrease, increase);
    }

    function _splitOne(
        uint256 channelId,
        uint256 adapterId,
        uint256 amount,
        address operator,
        SplitTotals memory totals
    ) internal {
        uint256 protocolFee = (amount * protocolFeeBps) / BPS;
        uint256 operatorFee = (amount * operatorFeeBps) / BPS;
        uint256 rest = amount - protocolFee - operatorFee;
        totals.protocolFees += protocolFee;

        if (adapterId == 0) {
            // The base model alone: no adapter owner, no lineage.
            totals.operatorIncome += operatorFee + rest;
            emit AdapterRevenue(channelId, 0, operator, amount, protocolFee, operatorFee + rest, 0, 0);
            return;
        }
        totals.operatorIncome += operatorFee;

        (address adapterOwner, uint256 dataShareBps) = models.revenueTerms(adapterId);
        uint256 dataShare = (rest * dataShareBps) / BPS;
        uint256 ownerShare = rest - dataShare;
        balanceOf[adapterOwner] += ownerShare;
        totals.dataShares += dataShare;
        emit AdapterRevenue(
            channelId,
            adapterId,
            adapterOwner,
            amount,
            protocolFee,
            operatorFee,
            ownerShare,
            dataShare
        );
        _allocateDataShare(channelId, adapterId, dataShare);
    }

    /// @dev Emits the data share of each lineage entry: by weight, the last entry taking the rounding remainder.
    function _allocateDataShare(uint256 channelId, uint256 adapterId, uint256 dataShare) internal {
        IModelRegistry.LineageEntry[] memory lineage = models.getLineage(adapterId);
        uint256 allocated;
        // Lineage is never empty: ModelRegistry refuses that.
        uint256 last = lineage.length - 1;
        for (uint256 j; j < last; ++j) {
            uint256 part = (dataShare * lineage[j].weightBps) / BPS;
            allocated += part;
            emit DataShareAllocated(channelId, adapterId, lineage[j].datanetId, lineage[j].version, part);
        }
        emit DataShareAllocated(
            channelId,
            adapterId,
            lineage[last].datanetId,
            lineage[last].version,
            dataShare - allocated
        );
    }

    function _voucherDigest(Voucher calldata voucher) internal view returns (bytes32) {
        return
            _hashTypedDataV4(
                keccak256(
                    abi.encode(
                        VOUCHER_TYPEHASH,
                        voucher.channelId,
                        voucher.cumulativeAmount,
                        keccak256(abi.encodePacked(voucher.adapterIds)),
                        keccak256(abi.encodePacked(voucher.adapterAmounts)),
                        voucher.usageRoot,
                        voucher.expiry
                    )
                )
            );
    }

    function _withdrawBalance(address account) internal {
        uint256 amount = balanceOf[account];
        if (amount == 0) revert NothingToWithdraw(account);
        balanceOf[account] = 0;
        totalCredited -= amount;
        emit BalanceWithdrawn(account, amount);
        token.safeTransfer(account, amount);
    }

    function _existingChannel(uint256 channelId) internal view returns (Channel storage channel) {
        channel = _channels[channelId];
        if (channel.payer == address(0)) revert ChannelNotFound(channelId);
    }

    function _setFees(uint16 protocolFeeBps_, uint16 operatorFeeBps_) internal {
        if (uint256(protocolFeeBps_) + operatorFeeBps_ > MAX_TOTAL_FEE_BPS) {
            revert FeesTooHigh(protocolFeeBps_, operatorFeeBps_);
        }
        protocolFeeBps = protocolFeeBps_;
        operatorFeeBps = operatorFeeBps_;
        emit FeesSet(protocolFeeBps_, operatorFeeBps_);
    }

    function _setChallengePeriod(uint64 challengePeriod_) internal {
        if (challengePeriod_ < MIN_CHALLENGE_PERIOD || challengePeriod_ > MAX_CHALLENGE_PERIOD) {
            revert ChallengePeriodOutOfRange(challengePeriod_);
        }
        challengePeriod = challengePeriod_;
        emit ChallengePeriodSet(challengePeriod_);
    }

    function _setTreasury(address treasury_) internal {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }
}
