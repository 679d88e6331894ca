"""The audit trail of admin signatures, each verified as it is logged.

Give the signed content (an EIP-191 `message`, or EIP-712 `typed_data`) and the signer is
recovered with eth-account: is_verified says whether it is `admin_address`. Given only a
message_hash, a signature cannot be checked and is logged unverified.
"""

# No `from __future__ import annotations` here: evaluated annotations let help() and
# inspect.signature() show the values a Literal parameter allows (signature_type).

import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from eth_hash.auto import keccak
from pydantic import AfterValidator
from sqlalchemy.engine import Connection

from chaindb.core.schema import admin_signatures_log as signatures
from chaindb.database import Database, dialect_insert, reading, writing
from chaindb.errors import Conflict, InvalidInput
from chaindb.text import TYPED_DATA_BYTES_MAX, Message, identifier, json_value
from chaindb.types import Address, Hash32, RowId, UtcDatetime, utc_now
from chaindb.validation import Input, Row, parse_limit, validated

SIGNATURES_LIMIT_MAX = 1000
WINNER_CHARS_MAX = 64  # admin_signatures_log.winner, VARCHAR(64)
SignatureType = Literal["eip191", "eip712"]
TypedData = json_value(TYPED_DATA_BYTES_MAX)
Winner = identifier(WINNER_CHARS_MAX)
_SIGNATURE = re.compile(r"0x[0-9a-fA-F]{130}")


def _signature_rule(value: str) -> str:
    if not _SIGNATURE.fullmatch(value):
        raise ValueError("must be a 65-byte signature: 0x followed by 130 hex digits")
    return value.lower()


Signature = Annotated[str, AfterValidator(_signature_rule)]


class NewSignature(Input):
    admin_address: Address
    signature: Signature
    message: Message | None = None
    typed_data: TypedData | None = None
    message_hash: Hash32 | None = None
    signature_type: SignatureType | None = None  # implied by message/typed_data
    challenge_id: RowId | None = None
    subject: Message | None = None
    winner: Winner | None = None
    signed_at: UtcDatetime | None = None


class _SignatureFilter(Input):
    challenge_id: RowId | None = None
    since: UtcDatetime | None = None


class AdminSignature(Row):
    id: int
    challenge_id: int | None
    admin_address: str
    message_hash: str
    signature: str
    signature_type: str
    subject: str | None
    winner: str | None
    is_verified: bool
    signed_at: datetime
    created_at: datetime


def log_admin_signature(
    target: Database | Connection,
    *,
    admin_address: str,
    signature: str,
    message: str | None = None,
    typed_data: dict[str, Any] | None = None,
    message_hash: str | None = None,
    signature_type: SignatureType | None = None,
    challenge_id: int | None = None,
    subject: str | None = None,
    winner: str | None = None,
    signed_at: datetime | None = None,
) -> AdminSignature:
    """Record a signature; logging the same (message_hash, signature) again returns the first.
    Give the signed content (`message` or `typed_data`) to have it verified."""
    new = validated(
        NewSignature,
        admin_address=admin_address,
        signature=signature,
        message=message,
        typed_data=typed_data,
        message_hash=message_hash,
        signature_type=signature_type,
        challenge_id=challenge_id,
        subject=subject,
        winner=winner,
        signed_at=signed_at,
    )
    checked = check_signature(new)
    values = new.model_dump(exclude_none=True, exclude={"message", "typed_data"}) | checked
    values.setdefault("signed_at", utc_now())
    with writing(target) as conn:
        conn.execute(
            dialect_insert(conn, signatures)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["message_hash", "signature"])
        )
        row = conn.execute(
            sa.select(signatures).where(
                signatures.c.message_hash == values["message_hash"],
                signatures.c.signature == new.signature,
            )
        ).one()
    logged = AdminSignature.model_validate(row)
    for name in ("admin_address", "challenge_id", "winner"):
        if (
            str(getattr(logged, name)).lower()
            != str(values.get(name, getattr(logged, name))).lower()
        ):
            raise Conflict(f"signature is already logged with a different {name}")
    return logged


def get_admin_signatures(
    target: Database | Connection,
    *,
    challenge_id: int | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[AdminSignature]:
    """Newest first (the seed's 24-hour audit query is `since=now - 24h`)."""
    limit = parse_limit(limit, SIGNATURES_LIMIT_MAX)
    chosen = validated(_SignatureFilter, challenge_id=challenge_id, since=since)
    query = sa.select(signatures)
    if chosen.challenge_id is not None:
        query = query.where(signatures.c.challenge_id == chosen.challenge_id)
    if chosen.since is not None:
        query = query.where(signatures.c.signed_at > chosen.since)
    query = query.order_by(signatures.c.signed_at.desc(), signatures.c.id.desc()).limit(limit)
    with reading(target) as conn:
        return [AdminSignature.model_validate(row) for row in conn.execute(query)]


def check_signature(new: NewSignature) -> dict[str, Any]:
    """message_hash, signature_type, subject and is_verified, from the signed content."""
    if new.message is not None and new.typed_data is not None:
        raise InvalidInput(
            "typed_data", "...", "give either message (EIP-191) or typed_data (EIP-712)"
        )
    if new.message is None and new.typed_data is None:
        if new.message_hash is None:
            raise InvalidInput("message_hash", None, "give message, typed_data or message_hash")
        return {"signature_type": new.signature_type or "eip191", "is_verified": False}
    signable, kind, subject = _signable(new)
    if new.signature_type not in (None, kind):
        raise InvalidInput("signature_type", new.signature_type, f"the content given is {kind}")
    digest = "0x" + keccak(b"\x19" + signable.version + signable.header + signable.body).hex()
    if new.message_hash is not None and new.message_hash != digest:
        raise InvalidInput("message_hash", new.message_hash, f"does not match the {kind} content")
    return {
        "message_hash": digest,
        "signature_type": kind,
        "subject": new.subject or subject,
        "is_verified": recover_signer(signable, new.signature) == new.admin_address,
    }


def recover_signer(signable: Any, signature: str) -> str | None:
    """The address that signed, lowercase; None when the bytes are not a valid signature."""
    from eth_account import Account

    try:
        return Account.recover_message(signable, signature=signature).lower()
    except (ValueError, TypeError):
        return None


def _signable(new: NewSignature) -> tuple[Any, str, str]:
    from eth_account.messages import encode_defunct, encode_typed_data

    if new.typed_data is not None:
        try:
            signable = encode_typed_data(full_message=new.typed_data)
        except Exception as error:  # eth-account raises several types for malformed data
            raise InvalidInput("typed_data", "...", f"is not EIP-712 typed data: {error}") from None
        return signable, "eip712", json.dumps(new.typed_data, sort_keys=True, default=str)
    assert new.message is not None
    return encode_defunct(text=new.message), "eip191", new.message
