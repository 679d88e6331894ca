"""The audit trail of admin signatures (resolutions signed off-chain, verified later)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import AfterValidator, StringConstraints
from sqlalchemy.engine import Connection

from chaindb.core.schema import admin_signatures_log as signatures
from chaindb.database import Database, dialect_insert, reading, writing
from chaindb.errors import Conflict
from chaindb.types import Address, Hash32, RowId, UtcDatetime, parse_utc, utc_now
from chaindb.validation import Input, Row, validated

_SIGNATURE = re.compile(r"^0x[0-9a-fA-F]{130}$")


def _signature_rule(value: str) -> str:
    if not _SIGNATURE.match(value):
        raise ValueError("must be a 65-byte signature: 0x followed by 130 hex digits")
    return value.lower()


Signature = Annotated[str, AfterValidator(_signature_rule)]


class NewSignature(Input):
    admin_address: Address
    message_hash: Hash32
    signature: Signature
    signature_type: Literal["eip191", "eip712"] = "eip191"
    challenge_id: RowId | None = None
    subject: Annotated[str, StringConstraints(max_length=1000)] | None = None
    winner: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    is_verified: bool = False
    signed_at: UtcDatetime | None = None


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


def log_admin_signature(target: Database | Connection, **fields: Any) -> AdminSignature:
    """Record a signature; logging the same (message_hash, signature) again returns the first."""
    new = validated(NewSignature, **fields)
    values = new.model_dump(exclude_none=True)
    values.setdefault("signed_at", utc_now())
    with writing(target) as conn:
        conn.execute(
            dialect_insert(conn, signatures)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["message_hash", "signature"])
        )
        row = conn.execute(
            sa.select(signatures).where(
                signatures.c.message_hash == new.message_hash,
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
    query = sa.select(signatures)
    if challenge_id is not None:
        query = query.where(signatures.c.challenge_id == challenge_id)
    if since is not None:
        query = query.where(signatures.c.signed_at > parse_utc(since, "since"))
    query = query.order_by(signatures.c.signed_at.desc(), signatures.c.id.desc()).limit(limit)
    with reading(target) as conn:
        return [AdminSignature.model_validate(row) for row in conn.execute(query)]
