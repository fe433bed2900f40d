// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IInferencePayments} from "../../../contracts/interfaces/IInferencePayments.sol";

/// @notice Test-only smart wallet: holds tokens, opens payment channels, accepts its owner EOA's signatures through
/// ERC-1271, and rotates its owner key (after which the old key's signatures no longer verify through ERC-1271).
contract ERC1271Wallet is IERC1271 {
    address public owner;

    constructor(address owner_) {
        owner = owner_;
    }

    function rotate(address newOwner) external {
        require(msg.sender == owner, "not owner");
        owner = newOwner;
    }

    function openChannel(
        IERC20 token,
        IInferencePayments payments,
        address operator,
        uint128 deposit,
        address voucherSigner
    ) external returns (uint256) {
        require(msg.sender == owner, "not owner");
        token.approve(address(payments), deposit);
        return payments.openChannel(operator, deposit, voucherSigner);
    }

    /// @notice Opens through openChannelWithPermit on an allowance it sets itself (its "permit" is junk).
    function openChannelWithOwnAllowance(
        IERC20 token,
        IInferencePayments payments,
        address operator,
        uint128 deposit
    ) external returns (uint256) {
        require(msg.sender == owner, "not owner");
        token.approve(address(payments), deposit);
        return payments.openChannelWithPermit(operator, deposit, 0, 0, bytes32(0), bytes32(0));
    }

    function requestClose(IInferencePayments payments, uint256 channelId) external {
        require(msg.sender == owner, "not owner");
        payments.requestClose(channelId);
    }

    function withdrawChannel(IInferencePayments payments, uint256 channelId) external {
        require(msg.sender == owner, "not owner");
        payments.withdrawChannel(channelId);
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address recovered, ECDSA.RecoverError error, ) = ECDSA.tryRecover(hash, signature);
        if (error == ECDSA.RecoverError.NoError && recovered == owner) return IERC1271.isValidSignature.selector;
        return 0xffffffff;
    }
}
