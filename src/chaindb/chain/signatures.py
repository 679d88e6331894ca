"""The escrow's resolution as EIP-712 typed data: built, signed, and checked before settling.

The typed data mirrors ChallengeEscrow.resolutionDigest: domain (ChallengeEscrow, 1, chain id,
contract) and Resolution(challengeId, winner, chainId, escrow), winner 1 = YES, 2 = NO, 3 = draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Connection

from chaindb.core import AdminSignature, is_contract_admin, log_admin_signature
from chaindb.database import Database
from chaindb.errors import ChaindbError

WINNER_CODES: dict[str | None, int] = {"YES": 1, "NO": 2, None: 3}
_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
_RESOLUTION_FIELDS = [
    {"name": "challengeId", "type": "uint256"},
    {"name": "winner", "type": "uint8"},
    {"name": "chainId", "type": "uint256"},
    {"name": "escrow", "type": "address"},
]


class SignatureRefused(ChaindbError):
    """A settlement's signature does not verify against an authorised admin."""


@dataclass(frozen=True)
class SignedResolution:
    typed_data: dict[str, Any]
    signature: str  # 0x + 130 hex
    v: int
    r: bytes
    s: bytes


def resolution_typed_data(
    *, challenge_id: int, winning_side: str | None, chain_id: int, escrow_address: str
) -> dict[str, Any]:
    return {
        "types": {"EIP712Domain": _DOMAIN_FIELDS, "Resolution": _RESOLUTION_FIELDS},
        "primaryType": "Resolution",
        "domain": {
            "name": "ChallengeEscrow",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": escrow_address,
        },
        "message": {
            "challengeId": challenge_id,
            "winner": WINNER_CODES[winning_side],
            "chainId": chain_id,
            "escrow": escrow_address,
        },
    }


def sign_resolution(admin: LocalAccount, typed_data: dict[str, Any]) -> SignedResolution:
    signed = Account.sign_typed_data(admin.key, full_message=typed_data)
    return SignedResolution(
        typed_data=typed_data,
        signature="0x" + bytes(signed.signature).hex(),
        v=signed.v,
        r=signed.r.to_bytes(32, "big"),
        s=signed.s.to_bytes(32, "big"),
    )


def log_resolution_signature(
    target: Database | Connection,
    *,
    admin_address: str,
    signed: SignedResolution,
    challenge_id: int,
    winner: str | None,
) -> AdminSignature:
    """Log the signature (verified by recovering its signer from the typed data)."""
    return log_admin_signature(
        target,
        admin_address=admin_address,
        signature=signed.signature,
        typed_data=signed.typed_data,
        challenge_id=challenge_id,
        winner=winner,
    )


def require_authorised(
    target: Database | Connection,
    signature: AdminSignature,
    *,
    chain_id: int | str,
    contract_address: str,
) -> None:
    """Refuse unless the signature verified and its signer may sign for this contract."""
    if not signature.is_verified:
        raise SignatureRefused(
            f"signature {signature.id} does not verify: it was not made by "
            f"{signature.admin_address}"
        )
    if not is_contract_admin(
        target,
        chain_id=chain_id,
        contract_address=contract_address,
        admin_address=signature.admin_address,
    ):
        raise SignatureRefused(
            f"{signature.admin_address} is not an authorised admin of {contract_address} "
            f"on {chain_id}"
        )
