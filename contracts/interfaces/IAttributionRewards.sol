// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IAttributionRewards
/// @notice The reward pool for the data share of inference revenue. For each epoch the attestor proposes the root
/// of a cumulative distribution: an OpenZeppelin StandardMerkleTree with leaves `(uint256 index, address account,
/// uint256 cumulativeAmount)`, plus the sha256 and URI of the full distribution file that anyone can recompute. A
/// root becomes claimable `claimDelay` seconds after its proposal, and never before the root of the epoch before it;
/// until then governance or the guardian may revoke it, and revoking epoch `e` revokes every epoch proposed after `e`
/// too (they build on it, and none of them is claimable yet), so proposing new epochs can never shield a pending one.
///
/// `index` is the account's stable index: assigned when the account first appears in a distribution and never
/// changed; each epoch's new accounts take the next indices in ascending address order. The contract keeps, per
/// index, the last epoch claimed against (uint32 lanes packed eight to a storage word), not an amount: a claim
/// against epoch `e` pays `C_e - C_k`, where `C_e` is the index's leaf in epoch `e` and `k` the last epoch it claimed
/// against (`C_0 = 0`; for `k > 0` the caller proves the leaf `(index, account, C_k)` in root `k`). Claimable roots
/// can no longer be revoked or replaced, so `C_k` is fixed once claimed against, and payments telescope: an index
/// never receives more in total than its newest claimed leaf. Claim against the newest claimable root, since all
/// claims together never exceed the total of the root claimed against, and an older epoch cannot be claimed after a
/// newer one. Anyone may claim on an account's behalf; the tokens always go to the leaf's account. The contract
/// never pays out more than was funded.
///
/// Every epoch is attributed under one attribution policy: the algorithm, its version, its parameters and the
/// specification that defines them, which anyone recomputing a distribution must follow. Governance (the owner, the
/// Timelock) keeps a schedule of policies; each root names the policy it was computed under, and only the policy the
/// schedule gives its epoch is accepted (`proposeRoot`).
interface IAttributionRewards {
    struct EpochRoot {
        bytes32 root;
        // Sum of all leaves' cumulative amounts, as declared by the attestor; at most totalFunded when proposed.
        uint128 total;
        uint64 claimableAt;
        // The attribution policy the root was computed under: `attributionPolicyForEpoch(epoch)` when proposed.
        uint32 policyId;
        // Never stored: getEpochRoot derives it (the epoch is past `lastEpoch`: revoked itself, or an earlier epoch was
        // revoked after it was proposed).
        bool revoked;
        bytes32 contentHash;
    }

    /// @notice The numbers of an attribution policy (what docs/ATTRIBUTION.md and the policy's specification define).
    /// @dev Fields in the order the off-chain code names them (attribution/src/params.ts), not packed tighter: a
    /// policy is written once per governance change.
    // solhint-disable-next-line gas-struct-packing
    struct AttributionParams {
        // Shortest span (tokens) that counts as evidence.
        uint32 minSpanTokens;
        // Part (bps) of each datanet version's budget assigned by span evidence; the rest pro rata by weight.
        uint16 matchWeightBps;
        // Spans held more often than this are common text and earn nothing.
        uint32 maxSpanOccurrences;
        // sha256 of the rarity table file that weighs span words.
        bytes32 rarityTable;
        // Near duplicates: shingle length (tokens), sampling stride, and the coverage (bps) that makes a duplicate.
        uint32 duplicateShingleTokens;
        uint32 duplicateSampling;
        uint16 duplicateCoverageBps;
        // Version 2 only: a span's credit is divided by occurrenceCount^rarityExponent; must be 0 under version 1.
        uint8 rarityExponent;
    }

    /// @notice How epochs are attributed: `algorithm` at `version` with `params`, as the document whose sha256 is
    /// `specHash` (readable at `specUri`, e.g. `openpoa://content/<sha256 hex>`) specifies.
    struct AttributionPolicy {
        string algorithm;
        uint16 version;
        AttributionParams params;
        bytes32 specHash;
        string specUri;
    }

    /// @notice An entry of the schedule: policy `policyId` governs epochs from `fromEpoch` until the next entry's.
    struct PolicyPeriod {
        uint32 policyId;
        uint32 fromEpoch;
    }

    /// @notice One claim against an epoch's root.
    /// @param index The account's stable index (the first field of its leaf).
    /// @param account The leaf's account; the tokens go here, whoever calls.
    /// @param cumulativeAmount The leaf's cumulative amount in the epoch claimed against.
    /// @param proof The StandardMerkleTree proof of `(index, account, cumulativeAmount)` in that epoch's root.
    /// @param previousAmount The index's leaf amount in `lastClaimedEpoch(index)`; ignored while that is 0.
    /// @param previousProof The proof of `(index, account, previousAmount)` in that epoch's root; ignored while
    /// `lastClaimedEpoch(index)` is 0.
    struct Claim {
        uint256 index;
        address account;
        uint256 cumulativeAmount;
        bytes32[] proof;
        uint256 previousAmount;
        bytes32[] previousProof;
    }

    event Funded(address indexed funder, uint256 amount, uint256 totalFunded);
    event RootProposed(
        uint256 indexed epoch,
        bytes32 root,
        uint256 total,
        bytes32 contentHash,
        string uri,
        uint256 claimableAt,
        uint256 policyId
    );
    /// @notice Epochs `epoch` through `throughEpoch` were revoked; the attestor proposes `epoch` again next.
    event RootRevoked(uint256 indexed epoch, uint256 throughEpoch, address indexed by);
    /// @notice `amount` was paid to `account` (index `index`), raising what it received to `cumulativeAmount`.
    event Claimed(
        uint256 indexed epoch,
        address indexed account,
        uint256 indexed index,
        uint256 amount,
        uint256 cumulativeAmount
    );
    event AttestorSet(address attestor);
    event GuardianSet(address guardian);
    event ClaimDelaySet(uint256 claimDelay);
    /// @notice Policy `policyId` governs from epoch `fromEpoch`, superseding every entry of the schedule from there on.
    event AttributionPolicySet(uint256 indexed policyId, uint256 fromEpoch, AttributionPolicy policy);

    error ZeroAddress();
    error ZeroAmount();
    error EmptyRoot();
    error NotAttestor(address account);
    error NotGovernanceOrGuardian(address account);
    error EpochOutOfOrder(uint256 epoch, uint256 expectedEpoch);
    error TotalDecreased(uint256 total, uint256 previousTotal);
    error TotalExceedsFunded(uint256 total, uint256 totalFunded);
    error EpochNotFound(uint256 epoch);
    error RootNotPending(uint256 epoch);
    error FundingOverflow(uint256 amount, uint256 totalFunded);
    error RootNotClaimable(uint256 epoch, uint256 claimableAt);
    error RootIsRevoked(uint256 epoch);
    /// @notice `(index, account, cumulativeAmount)` is not a leaf of epoch `epoch`'s root.
    error InvalidProof(uint256 epoch, uint256 index, address account, uint256 cumulativeAmount);
    /// @notice `(index, account, previousAmount)` is not a leaf of the root of `previousEpoch`, the epoch `index`
    /// last claimed against.
    error InvalidPreviousProof(uint256 previousEpoch, uint256 index, address account, uint256 previousAmount);
    /// @notice `index` already claimed against `epoch` or a later epoch (`lastClaimedEpoch`).
    error AlreadyClaimed(uint256 index, uint256 epoch, uint256 lastClaimedEpoch);
    /// @notice The leaf of `index` in `epoch` does not exceed what it received through `lastClaimedEpoch`.
    error NothingToClaim(
        uint256 index,
        uint256 epoch,
        uint256 lastClaimedEpoch,
        uint256 cumulativeAmount,
        uint256 previousAmount
    );
    error ClaimExceedsRootTotal(uint256 epoch, uint256 totalClaimed, uint256 rootTotal);
    error ClaimDelayTooLong(uint256 claimDelay, uint256 maxClaimDelay);
    /// @notice The root of `epoch` names policy `policyId`, but the schedule gives that epoch `expectedPolicyId`.
    error WrongAttributionPolicy(uint256 epoch, uint256 policyId, uint256 expectedPolicyId);
    error AttributionPolicyNotFound(uint256 policyId);
    /// @notice The policy breaks the rule `reason` states (a field out of range).
    error InvalidAttributionPolicy(string reason);

    /// @notice Adds `amount` OPEN from the caller to the pool (InferencePayments funds the data share here).
    function fund(uint256 amount) external;

    /// @notice Proposes the root of epoch `epoch`, which must follow the last proposed (unrevoked) epoch. Only the
    /// attestor. `total` may not decrease across epochs nor exceed what has been funded. The root becomes claimable
    /// `claimDelay` from now, or when the previous epoch's root does if that is later: lowering the claim delay never
    /// makes an epoch claimable while an earlier one can still be revoked. `policyId` names the attribution policy
    /// the distribution was computed under; it must be `attributionPolicyForEpoch(epoch)`
    /// (`WrongAttributionPolicy`), so a root computed under other rules is refused rather than left to the guardian.
    function proposeRoot(
        uint256 epoch,
        bytes32 root,
        uint256 total,
        bytes32 contentHash,
        string calldata uri,
        uint256 policyId
    ) external;

    /// @notice Revokes the pending (not yet claimable) root of `epoch` and every root proposed after it, whatever
    /// the attestor proposed meanwhile; the attestor then proposes `epoch` again. Only governance (the Timelock) or
    /// the guardian. Constant cost: later roots are revoked by moving `lastEpoch` back, not one by one.
    function revokeRoot(uint256 epoch) external;

    /// @notice Pays `c.account` its leaf `c.cumulativeAmount` in epoch `epoch` minus its leaf in the epoch its index
    /// last claimed against (nothing for a first claim), and records `epoch` as that index's last claimed epoch.
    /// Anyone may call. Reverts unless the root is claimable, both proofs hold, `epoch` is newer than the last
    /// claimed one and the amount grew, and all claims stay within the root's total.
    function claim(uint256 epoch, Claim calldata c) external;

    /// @notice `claim` for several indices against one epoch's root; all or nothing. Cheapest when the indices are
    /// ascending and consecutive: eight neighbours share one storage word.
    function claimBatch(uint256 epoch, Claim[] calldata claims) external;

    function setAttestor(address attestor) external;
    function setGuardian(address guardian) external;
    function setClaimDelay(uint64 claimDelay) external;

    /// @notice Adds attribution policy `policyId` (numbered 1, 2, ... in the order set; policy 1 comes from the
    /// constructor and governs from epoch 1) and schedules it from epoch `fromEpoch = lastEpoch() + 2`. Only the
    /// owner (governance). Epoch `lastEpoch() + 1` is the one collecting usage now: it was served under the rules in
    /// force when it began and keeps its policy, as does every proposed epoch; a change reaches the first epoch that
    /// begins after it. The new policy supersedes every scheduled entry from `fromEpoch` on (entries set earlier that
    /// had not begun to govern: none of them named a valid root), so the schedule stays strictly increasing in
    /// `fromEpoch`; superseded policies stay readable by id. Reverts `InvalidAttributionPolicy` unless `algorithm` is
    /// non-empty, `version >= 1`, `matchWeightBps <= 10000`, `duplicateCoverageBps` is in 1..10000, `minSpanTokens`,
    /// `maxSpanOccurrences`, `duplicateShingleTokens` and `duplicateSampling` are at least 1, `rarityExponent` is 0
    /// under version 1, and `specHash` is non-zero.
    /// @dev A revocation moves `lastEpoch` back, and with it where the next policy starts: an epoch revoked and
    /// proposed again takes whatever policy the schedule then gives it.
    function setAttributionPolicy(
        AttributionPolicy calldata policy
    ) external returns (uint256 policyId, uint256 fromEpoch);

    /// @notice The policy that governs `epoch`: the newest schedule entry whose `fromEpoch` is at most `epoch`; 0 for
    /// epoch 0, which no policy governs. No policy set later changes it for an epoch up to `lastEpoch() + 1` (only
    /// a revocation, which moves `lastEpoch` back, frees the revoked epochs); later epochs follow the schedule as it
    /// stands, which a new policy may still supersede.
    function attributionPolicyForEpoch(uint256 epoch) external view returns (uint256 policyId);

    /// @notice Policy `policyId`, superseded or not; reverts `AttributionPolicyNotFound` unless 1 <= policyId <=
    /// attributionPolicyCount().
    function getAttributionPolicy(uint256 policyId) external view returns (AttributionPolicy memory);

    /// @notice How many policies were ever set (the newest policy's id).
    function attributionPolicyCount() external view returns (uint256);

    /// @notice The schedule: entries in strictly increasing `fromEpoch`, the first one policy 1 from epoch 1.
    function attributionPolicySchedule() external view returns (PolicyPeriod[] memory);

    function getEpochRoot(uint256 epoch) external view returns (EpochRoot memory);
    /// @notice The last epoch `index` claimed against; 0 if it never claimed.
    function lastClaimedEpoch(uint256 index) external view returns (uint256);
    function totalFunded() external view returns (uint128);
    function totalClaimed() external view returns (uint128);
    function lastEpoch() external view returns (uint256);
    function attestor() external view returns (address);
    function guardian() external view returns (address);
    function claimDelay() external view returns (uint64);
}
