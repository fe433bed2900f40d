// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {OpenToken} from "../../../contracts/OpenToken.sol";
import {vm} from "./Vm.sol";

/// @notice EIP-712 signatures for OPEN's permit (EIP-2612) and delegateBySig (ERC20Votes).
library Signatures {
    bytes32 internal constant PERMIT_TYPEHASH = keccak256(
        "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant DELEGATION_TYPEHASH = keccak256(
        "Delegation(address delegatee,uint256 nonce,uint256 expiry)"
    );

    function signPermit(
        OpenToken token,
        uint256 ownerKey,
        address spender,
        uint256 value,
        uint256 deadline
    ) internal view returns (uint8 v, bytes32 r, bytes32 s) {
        address owner = vm.addr(ownerKey);
        bytes32 structHash = keccak256(
            abi.encode(PERMIT_TYPEHASH, owner, spender, value, token.nonces(owner), deadline)
        );
        return vm.sign(ownerKey, keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash)));
    }

    function signDelegation(
        OpenToken token,
        uint256 delegatorKey,
        address delegatee,
        uint256 expiry
    ) internal view returns (uint256 nonce, uint8 v, bytes32 r, bytes32 s) {
        nonce = token.nonces(vm.addr(delegatorKey));
        bytes32 structHash = keccak256(abi.encode(DELEGATION_TYPEHASH, delegatee, nonce, expiry));
        (v, r, s) = vm.sign(
            delegatorKey,
            keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash))
        );
    }
}
