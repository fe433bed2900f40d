// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IAttributionRewards} from "./interfaces/IAttributionRewards.sol";

/// @title AttributionRewards
/// @notice Epoch roots of cumulative reward distributions and the claims against them.
/// @dev The owner (the Timelock) appoints the attestor and the guardian, sets the claim delay and schedules
/// attribution policies.
contract AttributionRewards is IAttributionRewards, Ownable {
    using SafeERC20 for IERC20;

    uint64 public constant MAX_CLAIM_DELAY = 30 days;
    uint256 internal constant BPS = 10_000;

    /// @dev One lane of a `_lastClaimedEpochs` word: an epoch number, 32 bits.
    uint256 internal constant _EPOCH_MASK = 0xffffffff;

    IERC20 public immutable token;

    // One slot, read on every claim: funded and claimed are read and written together, and `_lastEpoch` tells
    // whether the root claimed against was revoked through an earlier epoch. 112 bits hold 5e33, far above the
    // whole OPEN supply (1e27); 32 bits of epochs take a proposal transaction each.
    uint112 internal _totalFunded;
    uint112 internal _totalClaimed;
    uint32 internal _lastEpoch;
    address public attestor;
    address public guardian;
    uint64 public claimDelay;

    // Slot 1 of a root packs total, claimableAt, policyId and the never-stored revoked flag: naming the policy costs
    // no extra slot.
    mapping(uint256 epoch => EpochRoot) internal _roots;
    /// @dev The last epoch each index claimed against, as uint32 lanes packed eight to a word: index `i` is lane
    /// `i & 7` (bits `32 * (i & 7)` up) of word `i >> 3`. Neighbouring indices share the cost of a fresh word.
    mapping(uint256 word => uint256 epochs) internal _lastClaimedEpochs;
    /// @dev Every policy ever set, by id. Written once per policy by governance and read off chain: laid out as
    /// declared (seven slots), not packed tighter.
    mapping(uint256 policyId => AttributionPolicy) internal _policies;
    /// @dev Strictly increasing in fromEpoch, one entry per slot. Between calls the newest policy is always the last
    /// entry (it is pushed last, after the entries it supersedes are popped), so its id is also the policy count.
    PolicyPeriod[] internal _schedule;

    constructor(
        IERC20 token_,
        address governance,
        address attestor_,
        address guardian_,
        uint64 claimDelay_,
        AttributionPolicy memory initialPolicy
    ) Ownable(governance) {
        if (address(token_) == address(0)) revert ZeroAddress();
        token = token_;
        _setAttestor(attestor_);
        _setGuardian(guardian_);
        _setClaimDelay(claimDelay_);
        _checkAttributionPolicy(initialPolicy);
        _addAttributionPolicy(initialPolicy, 1, 1);
    }

    /// @inheritdoc IAttributionRewards
    function fund(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint256 funded = uint256(_totalFunded) + amount;
        // The whole OPEN supply (1e27) fits in 112 bits: only a bogus amount gets here.
        if (funded > type(uint112).max) revert FundingOverflow(amount, _totalFunded);
        // The cast is safe: checked just above.
        _totalFunded = uint112(funded);
        emit Funded(msg.sender, amount, funded);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IAttributionRewards
    function proposeRoot(
        uint256 epoch,
        bytes32 root,
        uint256 total,
        bytes32 contentHash,
        string calldata uri,
        uint256 policyId
    ) external {
        if (msg.sender != attestor) revert NotAttestor(msg.sender);
        if (root == bytes32(0)) revert EmptyRoot();
        uint256 previous = _lastEpoch;
        if (epoch != previous + 1) revert EpochOutOfOrder(epoch, previous + 1);
        uint256 expectedPolicyId = _policyForEpoch(epoch);
        if (policyId != expectedPolicyId) revert WrongAttributionPolicy(epoch, policyId, expectedPolicyId);
        EpochRoot storage previousRoot = _roots[previous];
        uint256 previousTotal = previousRoot.total;
        if (total < previousTotal) revert TotalDecreased(total, previousTotal);
        if (total > _totalFunded) revert TotalExceedsFunded(total, _totalFunded);

        // Timestamps fit in 64 bits for the next 500 billion years.
        uint64 claimableAt = uint64(block.timestamp) + claimDelay;
        // Never claimable before the epoch it builds on: a revocation of that epoch must still reach this one.
        uint64 previousClaimableAt = previousRoot.claimableAt;
        if (claimableAt < previousClaimableAt) claimableAt = previousClaimableAt;
        // The cast is safe: epoch == previous + 1 and a 32-bit count of proposals cannot be exceeded.
        _lastEpoch = uint32(epoch);
        // The casts are safe: total <= totalFunded, a uint112; policyId is a schedule entry's, a uint32.
        _roots[epoch] = EpochRoot({
            root: root,
            total: uint128(total),
            claimableAt: claimableAt,
            policyId: uint32(policyId),
            revoked: false,
            contentHash: contentHash
        });
        emit RootProposed(epoch, root, total, contentHash, uri, claimableAt, policyId);
    }

    /// @inheritdoc IAttributionRewards
    function revokeRoot(uint256 epoch) external {
        if (msg.sender != owner() && msg.sender != guardian) revert NotGovernanceOrGuardian(msg.sender);
        EpochRoot storage epochRoot = _roots[epoch];
        if (epochRoot.root == bytes32(0)) revert EpochNotFound(epoch);
        uint256 last = _lastEpoch;
        // Beyond `last`: already revoked, itself or through an earlier epoch.
        if (epoch > last || block.timestamp >= epochRoot.claimableAt) revert RootNotPending(epoch);

        // Every later root builds on this one and is claimable no earlier (proposeRoot), so all of them are pending
        // too: moving `_lastEpoch` back revokes them at once, and the attestor proposes `epoch` again.
        // The cast is safe: epoch <= _lastEpoch, a uint32.
        _lastEpoch = uint32(epoch - 1);
        emit RootRevoked(epoch, last, msg.sender);
    }

    /// @inheritdoc IAttributionRewards
    function claim(uint256 epoch, Claim calldata c) external {
        (bytes32 root, uint256 rootTotal) = _claimableRoot(epoch);
        uint256 wordIndex = c.index >> 3;
        (uint256 word, uint256 amount) = _claim(epoch, root, c, _lastClaimedEpochs[wordIndex]);
        _lastClaimedEpochs[wordIndex] = word;
        _addClaimed(epoch, amount, rootTotal);
        token.safeTransfer(c.account, amount);
    }

    /// @inheritdoc IAttributionRewards
    function claimBatch(uint256 epoch, Claim[] calldata claims) external {
        (bytes32 root, uint256 rootTotal) = _claimableRoot(epoch);
        uint256 count = claims.length;
        uint256[] memory paid = new uint256[](count);
        uint256 amounts;
        // The word of the previous claim stays in memory while the indices share it, and is written back once;
        // `index >> 3` never reaches type(uint256).max, so that value means "no word yet".
        uint256 wordIndex = type(uint256).max;
        uint256 word;
        for (uint256 i; i < count; ++i) {
            Claim calldata c = claims[i];
            uint256 w = c.index >> 3;
            if (w != wordIndex) {
                if (wordIndex != type(uint256).max) _lastClaimedEpochs[wordIndex] = word;
                wordIndex = w;
                word = _lastClaimedEpochs[w];
            }
            uint256 amount;
            (word, amount) = _claim(epoch, root, c, word);
            paid[i] = amount;
            amounts += amount;
        }
        if (count != 0) _lastClaimedEpochs[wordIndex] = word;
        _addClaimed(epoch, amounts, rootTotal);
        for (uint256 i; i < count; ++i) {
            token.safeTransfer(claims[i].account, paid[i]);
        }
    }

    function setAttestor(address attestor_) external onlyOwner {
        _setAttestor(attestor_);
    }

    function setGuardian(address guardian_) external onlyOwner {
        _setGuardian(guardian_);
    }

    function setClaimDelay(uint64 claimDelay_) external onlyOwner {
        _setClaimDelay(claimDelay_);
    }

    /// @inheritdoc IAttributionRewards
    function setAttributionPolicy(
        AttributionPolicy calldata policy
    ) external onlyOwner returns (uint256 policyId, uint256 fromEpoch) {
        AttributionPolicy memory newPolicy = policy;
        _checkAttributionPolicy(newPolicy);
        // Read before any entry is popped: the newest policy may be among the superseded ones.
        policyId = _newestPolicyId() + 1;
        // Epoch lastEpoch + 1 is collecting usage under the policy it began with: the change starts after it.
        fromEpoch = uint256(_lastEpoch) + 2;
        // Entries from fromEpoch on never governed a live root (every root up to lastEpoch has an earlier epoch):
        // the new policy replaces them. The first entry (epoch 1) is never reached, since fromEpoch >= 2.
        uint256 length = _schedule.length;
        while (_schedule[length - 1].fromEpoch >= fromEpoch) {
            _schedule.pop();
            --length;
        }
        _addAttributionPolicy(newPolicy, policyId, fromEpoch);
    }

    /// @inheritdoc IAttributionRewards
    function attributionPolicyForEpoch(uint256 epoch) external view returns (uint256) {
        return _policyForEpoch(epoch);
    }

    /// @inheritdoc IAttributionRewards
    function getAttributionPolicy(uint256 policyId) external view returns (AttributionPolicy memory) {
        if (policyId == 0 || policyId > _newestPolicyId()) revert AttributionPolicyNotFound(policyId);
        return _policies[policyId];
    }

    /// @inheritdoc IAttributionRewards
    function attributionPolicyCount() external view returns (uint256) {
        return _newestPolicyId();
    }

    /// @inheritdoc IAttributionRewards
    function attributionPolicySchedule() external view returns (PolicyPeriod[] memory) {
        return _schedule;
    }

    /// @inheritdoc IAttributionRewards
    function getEpochRoot(uint256 epoch) external view returns (EpochRoot memory epochRoot) {
        epochRoot = _roots[epoch];
        if (epochRoot.root == bytes32(0)) revert EpochNotFound(epoch);
        if (epoch > _lastEpoch) epochRoot.revoked = true;
    }

    /// @inheritdoc IAttributionRewards
    function totalFunded() external view returns (uint128) {
        return _totalFunded;
    }

    /// @inheritdoc IAttributionRewards
    function totalClaimed() external view returns (uint128) {
        return _totalClaimed;
    }

    /// @inheritdoc IAttributionRewards
    function lastEpoch() external view returns (uint256) {
        return _lastEpoch;
    }

    /// @inheritdoc IAttributionRewards
    function lastClaimedEpoch(uint256 index) external view returns (uint256) {
        return (_lastClaimedEpochs[index >> 3] >> ((index & 7) << 5)) & _EPOCH_MASK;
    }

    /// @dev Checks one claim against `word` (the `_lastClaimedEpochs` word of `c.index`), emits Claimed and returns
    /// the word with `epoch` in the index's lane, and the amount owed. The caller stores the word and pays.
    function _claim(
        uint256 epoch,
        bytes32 root,
        Claim calldata c,
        uint256 word
    ) internal returns (uint256 newWord, uint256 amount) {
        uint256 index = c.index;
        address account = c.account;
        uint256 cumulativeAmount = c.cumulativeAmount;
        if (!MerkleProof.verifyCalldata(c.proof, root, _leaf(index, account, cumulativeAmount))) {
            revert InvalidProof(epoch, index, account, cumulativeAmount);
        }
        uint256 shift = (index & 7) << 5;
        uint256 previousEpoch = (word >> shift) & _EPOCH_MASK;
        if (previousEpoch >= epoch) revert AlreadyClaimed(index, epoch, previousEpoch);
        uint256 previousAmount;
        if (previousEpoch != 0) {
            // Root previousEpoch was claimable when claimed against, so it can no longer be revoked or replaced.
            previousAmount = c.previousAmount;
            bytes32 previousLeaf = _leaf(index, account, previousAmount);
            if (!MerkleProof.verifyCalldata(c.previousProof, _roots[previousEpoch].root, previousLeaf)) {
                revert InvalidPreviousProof(previousEpoch, index, account, previousAmount);
            }
        }
        if (cumulativeAmount <= previousAmount) {
            revert NothingToClaim(index, epoch, previousEpoch, cumulativeAmount, previousAmount);
        }
        // Cannot underflow: checked just above.
        unchecked {
            amount = cumulativeAmount - previousAmount;
        }
        // epoch fits the 32-bit lane: it has a root, roots exist only for 1..lastEpoch and each takes a proposal
        // transaction of its own, so 2^32 of them cannot happen.
        newWord = (word & ~(_EPOCH_MASK << shift)) | (epoch << shift);
        emit Claimed(epoch, account, index, amount, cumulativeAmount);
    }

    /// @dev StandardMerkleTree leaf of `(index, account, amount)`: double-hashed so that no inner node can pass for a
    /// leaf. Hashed in scratch memory above the free pointer, which is left as it was (nothing is allocated): the
    /// same hash as `keccak256(bytes.concat(keccak256(abi.encode(index, account, amount))))`, 163 gas cheaper per
    /// leaf (measured by bench/gas.ts), which keeps claimBatch under its target.
    function _leaf(uint256 index, address account, uint256 amount) internal pure returns (bytes32 leaf) {
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, index)
            mstore(add(ptr, 0x20), account)
            mstore(add(ptr, 0x40), amount)
            mstore(0x00, keccak256(ptr, 0x60))
            leaf := keccak256(0x00, 0x20)
        }
    }

    /// @dev Roots are cumulative, so everything ever paid is bounded by the total of the root claimed against; that
    /// total was at most totalFunded when proposed, so a root whose leaves overstate it cannot spend other epochs'
    /// funding.
    function _addClaimed(uint256 epoch, uint256 amount, uint256 rootTotal) internal {
        uint256 claimedTotal = _totalClaimed + amount;
        if (claimedTotal > rootTotal) revert ClaimExceedsRootTotal(epoch, claimedTotal, rootTotal);
        // The cast is safe: claimedTotal <= rootTotal <= totalFunded when proposed, a uint112.
        _totalClaimed = uint112(claimedTotal);
    }

    function _claimableRoot(uint256 epoch) internal view returns (bytes32 root, uint256 rootTotal) {
        EpochRoot storage epochRoot = _roots[epoch];
        root = epochRoot.root;
        rootTotal = epochRoot.total;
        if (root == bytes32(0)) revert EpochNotFound(epoch);
        // Read from the slot _addClaimed reads next: a root past `_lastEpoch` was revoked, itself or with an earlier
        // epoch (a root proposed again replaces the revoked one under its number).
        if (epoch > _lastEpoch) revert RootIsRevoked(epoch);
        if (block.timestamp < epochRoot.claimableAt) revert RootNotClaimable(epoch, epochRoot.claimableAt);
    }

    /// @dev The newest schedule entry that starts at or before `epoch`, searched from the newest: proposeRoot asks for
    /// lastEpoch + 1, which only entries set after a revocation moved lastEpoch back can lie beyond, and each entry
    /// takes a governance proposal. 0 before the first entry (epoch 0).
    function _policyForEpoch(uint256 epoch) internal view returns (uint256) {
        for (uint256 i = _schedule.length; i != 0; --i) {
            PolicyPeriod memory period = _schedule[i - 1];
            if (period.fromEpoch <= epoch) return period.policyId;
        }
        return 0;
    }

    function _newestPolicyId() internal view returns (uint256) {
        // Never empty: the constructor schedules policy 1.
        return _schedule[_schedule.length - 1].policyId;
    }

    /// @dev Stores the checked `policy` under `policyId` (the next id) and schedules it from `fromEpoch`, which the
    /// caller has made greater than every remaining entry's.
    function _addAttributionPolicy(AttributionPolicy memory policy, uint256 policyId, uint256 fromEpoch) internal {
        _policies[policyId] = policy;
        // The casts are safe: ids and epochs each take a transaction of their own, so 2^32 of them cannot happen.
        _schedule.push(PolicyPeriod({policyId: uint32(policyId), fromEpoch: uint32(fromEpoch)}));
        emit AttributionPolicySet(policyId, fromEpoch, policy);
    }

    /// @dev The ranges the attribution code (attribution/src/params.ts) accepts: a policy it would refuse cannot be
    /// followed, so it is refused here before it can govern an epoch.
    function _checkAttributionPolicy(AttributionPolicy memory policy) internal pure {
        AttributionParams memory p = policy.params;
        if (bytes(policy.algorithm).length == 0) revert InvalidAttributionPolicy("algorithm is empty");
        if (policy.version == 0) revert InvalidAttributionPolicy("version is 0");
        if (p.matchWeightBps > BPS) revert InvalidAttributionPolicy("matchWeightBps exceeds 10000");
        if (p.duplicateCoverageBps == 0 || p.duplicateCoverageBps > BPS) {
            revert InvalidAttributionPolicy("duplicateCoverageBps not in 1..10000");
        }
        if (p.minSpanTokens == 0) revert InvalidAttributionPolicy("minSpanTokens is 0");
        if (p.maxSpanOccurrences == 0) revert InvalidAttributionPolicy("maxSpanOccurrences is 0");
        if (p.duplicateShingleTokens == 0) revert InvalidAttributionPolicy("duplicateShingleTokens is 0");
        if (p.duplicateSampling == 0) revert InvalidAttributionPolicy("duplicateSampling is 0");
        if (policy.version == 1 && p.rarityExponent != 0) {
            revert InvalidAttributionPolicy("rarityExponent must be 0 under version 1");
        }
        if (policy.specHash == bytes32(0)) revert InvalidAttributionPolicy("specHash is 0");
    }

    function _setAttestor(address attestor_) internal {
        if (attestor_ == address(0)) revert ZeroAddress();
        attestor = attestor_;
        emit AttestorSet(attestor_);
    }

    function _setGuardian(address guardian_) internal {
        if (guardian_ == address(0)) revert ZeroAddress();
        guardian = guardian_;
        emit GuardianSet(guardian_);
    }

    function _setClaimDelay(uint64 claimDelay_) internal {
        if (claimDelay_ > MAX_CLAIM_DELAY) revert ClaimDelayTooLong(claimDelay_, MAX_CLAIM_DELAY);
        claimDelay = claimDelay_;
        emit ClaimDelaySet(claimDelay_);
    }
}
