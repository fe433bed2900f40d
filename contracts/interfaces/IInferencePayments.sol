// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IInferencePayments
/// @notice Metered micropayments for inference as unidirectional payment channels. A payer deposits OPEN into a
/// channel with one active operator. Off chain the payer signs EIP-712 vouchers with cumulative amounts, in total
/// and per adapter, over the operator's usage receipts (their Merkle root). The operator settles the newest voucher
/// whenever it likes: one transaction pays the increase since the previous settlement, per adapter. A payer closes
/// in two steps: `requestClose` starts the challenge window, during which the operator can still settle; after it
/// the payer withdraws the rest. The window's end is fixed when it starts: a later change of `challengePeriod` does
/// not move it.
///
/// Vouchers are ECDSA signatures of the channel's voucher signer, fixed when the channel opens: the payer itself, or
/// for a contract payer (a smart wallet) a key it names. A voucher that verified when the operator accepted it stays
/// settleable: no later change of the payer's code or keys can revoke it (ERC-1271 checks could).
///
/// Fees: a settlement splits with the fees in force when it lands, whenever the voucher was signed. The payer pays the
/// same either way; fee changes pass the Timelock (days), so an operator settles the vouchers it holds before a change
/// it does not want applied to them.
///
/// Each adapter's increase is split with integer arithmetic, every wei landing somewhere:
///   protocolFee = x * protocolFeeBps / 10_000              -> treasury
///   operatorFee = x * operatorFeeBps / 10_000              -> operator
///   rest        = x - protocolFee - operatorFee
///   dataShare   = rest * adapter.dataShareBps / 10_000     -> AttributionRewards, split over the lineage
///   ownerShare  = rest - dataShare                         -> adapter owner (takes the rounding remainder)
/// and the data share over lineage entries by weight: entry i gets dataShare * weightBps_i / 10_000, the last entry
/// the remainder. Adapter id 0 is the base model without adapter: its `rest` goes to the operator.
/// Balances are credited here and withdrawn by their owners (pull); the data share is funded to AttributionRewards.
interface IInferencePayments {
    struct Channel {
        address payer;
        // Zero while open; once `requestClose` was called, the end of the challenge window (fixed then).
        uint64 closesAt;
        bool finalized;
        address operator;
        uint128 deposit;
        // Cumulative amount paid out of the channel by settlements.
        uint128 settled;
        // Signs the channel's vouchers (ECDSA); the zero address means the payer itself.
        address voucherSigner;
        // The usage root of the last settled voucher: a commitment to the channel's receipts settled so far.
        bytes32 usageRoot;
    }

    /// @notice The payer's signed promise. `adapterAmounts[i]` is the cumulative amount owed for adapter
    /// `adapterIds[i]` (strictly increasing ids, every adapter the channel ever used, at most MAX_VOUCHER_ADAPTERS);
    /// they sum to `cumulativeAmount`.
    struct Voucher {
        uint256 channelId;
        uint256 cumulativeAmount;
        uint256[] adapterIds;
        uint256[] adapterAmounts;
        bytes32 usageRoot;
        uint64 expiry;
    }

    event ChannelOpened(uint256 indexed channelId, address indexed payer, address indexed operator, uint256 deposit);
    event ChannelToppedUp(uint256 indexed channelId, uint256 amount, uint256 deposit);
    /// @notice `previousUsageRoot` is the root the previous settlement left (zero for the first): the receipts this
    /// settlement pays for are those under `usageRoot` that were not under `previousUsageRoot`, so anyone can tell
    /// them apart without reading older state.
    event ChannelSettled(
        uint256 indexed channelId,
        address indexed operator,
        uint256 cumulativeAmount,
        uint256 increase,
        bytes32 previousUsageRoot,
        bytes32 usageRoot
    );
    /// @notice One per adapter whose cumulative amount increased in a settlement.
    event AdapterRevenue(
        uint256 indexed channelId,
        uint256 indexed adapterId,
        address indexed adapterOwner,
        uint256 amount,
        uint256 protocolFee,
        uint256 operatorFee,
        uint256 ownerShare,
        uint256 dataShare
    );
    /// @notice One per lineage entry of each adapter in AdapterRevenue: the part of the data share for one
    /// datanet version, funded to AttributionRewards.
    event DataShareAllocated(
        uint256 indexed channelId,
        uint256 indexed adapterId,
        uint256 indexed datanetId,
        uint256 version,
        uint256 amount
    );
    event CloseRequested(uint256 indexed channelId, uint256 closesAt);
    event ChannelFinalized(uint256 indexed channelId, uint256 refund);
    event BalanceWithdrawn(address indexed account, uint256 amount);
    event FeesSet(uint256 protocolFeeBps, uint256 operatorFeeBps);
    event ChallengePeriodSet(uint256 challengePeriod);
    event TreasurySet(address treasury);

    error ZeroAddress();
    error ZeroAmount();
    error OperatorNotActive(address operator);
    error ChannelNotFound(uint256 channelId);
    error NotPayer(uint256 channelId, address account);
    error NotOperator(uint256 channelId, address account);
    error ChannelClosing(uint256 channelId, uint256 closesAt);
    error ChannelIsFinalized(uint256 channelId);
    error ChallengeWindowOver(uint256 channelId, uint256 closesAt);
    error ChallengeWindowOpen(uint256 channelId, uint256 closesAt);
    error VoucherExpired(uint256 channelId, uint256 expiry);
    error InvalidSignature(uint256 channelId, address voucherSigner);
    /// @notice A contract cannot sign vouchers with ECDSA: it must name the key that signs for it.
    error VoucherSignerRequired(address payer);
    error TooManyAdapters(uint256 count, uint256 maxCount);
    error LengthMismatch(uint256 adapterIds, uint256 adapterAmounts);
    error AdapterIdsNotIncreasing(uint256 index, uint256 adapterId);
    error AdapterAmountsMismatch(uint256 sum, uint256 cumulativeAmount);
    error AdapterAmountDecreased(uint256 adapterId, uint256 amount, uint256 settled);
    error UnlistedSettledAdapters(uint256 listedIncrease, uint256 increase);
    error NothingToSettle(uint256 channelId, uint256 cumulativeAmount, uint256 settled);
    error ExceedsDeposit(uint256 channelId, uint256 cumulativeAmount, uint256 deposit);
    error NothingToWithdraw(address account);
    error FeesTooHigh(uint256 protocolFeeBps, uint256 operatorFeeBps);
    error ChallengePeriodOutOfRange(uint256 challengePeriod);

    /// @notice Opens a channel from the caller to an active `operator` with a deposit (approved beforehand).
    /// @param voucherSigner The key whose ECDSA signatures settle this channel, for good; the zero address means the
    /// caller, which must then have no code.
    function openChannel(address operator, uint128 deposit, address voucherSigner) external returns (uint256 channelId);

    /// @notice `openChannel` with the deposit approved by an EIP-2612 permit (a front-run permit is ignored); the
    /// caller signs the vouchers.
    function openChannelWithPermit(
        address operator,
        uint128 deposit,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (uint256 channelId);

    /// @notice Adds to an open channel's deposit. Only the payer; not once closing.
    function topUp(uint256 channelId, uint128 amount) external;

    /// @notice Settles a voucher signed by the channel's voucher signer. Only the channel's operator; allowed until
    /// the challenge window of a closing channel ends.
    function settle(Voucher calldata voucher, bytes calldata signature) external;

    /// @notice Starts closing the channel: the operator has `challengePeriod` seconds to settle. Only the payer.
    function requestClose(uint256 channelId) external;

    /// @notice After the challenge window, refunds the unsettled deposit to the payer. Only the payer.
    function withdrawChannel(uint256 channelId) external;

    /// @notice Withdraws the caller's credited balance (operator fees, adapter owner shares, treasury fees).
    function withdrawBalance() external;

    /// @notice Pays `account` its credited balance. Anyone may call; the tokens always go to `account`, so that an
    /// adapter owned by a contract that cannot call this contract still gets paid.
    function withdrawBalanceFor(address account) external;

    function setFees(uint16 protocolFeeBps, uint16 operatorFeeBps) external;
    function setChallengePeriod(uint64 challengePeriod) external;
    function setTreasury(address treasury) external;

    /// @notice The EIP-712 digest of a voucher under this contract's domain (chain id and address bound).
    function voucherDigest(Voucher calldata voucher) external view returns (bytes32);
    function getChannel(uint256 channelId) external view returns (Channel memory);
    function settledForAdapter(uint256 channelId, uint256 adapterId) external view returns (uint256);
    function balanceOf(address account) external view returns (uint256);
    function channelCount() external view returns (uint256);
    /// @notice Deposits not yet settled or refunded: what channels hold.
    function totalEscrowed() external view returns (uint256);
    /// @notice Credited balances not yet withdrawn.
    function totalCredited() external view returns (uint256);
}
