"""Security events (seed 003): an append-only audit trail with a severity."""

# No `from __future__ import annotations` here: evaluated annotations let help() and
# inspect.signature() show the values a Literal parameter allows (severity).

import ipaddress
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import AfterValidator
from sqlalchemy.engine import Connection

from chaindb.core.schema import security_events as events
from chaindb.core.users import require_user
from chaindb.database import Database, reading, writing
from chaindb.networks import AnyAddress
from chaindb.text import (
    DESCRIPTION_CHARS_MAX,
    METADATA_BYTES_MAX,
    UserId,
    free_text,
    json_value,
    parse_user_id,
)
from chaindb.types import Slug, UtcDatetime
from chaindb.validation import Input, Row, parse_limit, validated

EVENTS_LIMIT_MAX = 10_000
Severity = Literal["info", "warning", "error", "critical"]
EventDescription = free_text(DESCRIPTION_CHARS_MAX, chars_min=1)
Metadata = json_value(METADATA_BYTES_MAX)


def _ip_rule(value: str) -> str:
    # A zone index (fe80::1%eth0) is free text after the address: not a client's address.
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("must be an IPv4 or IPv6 address") from None
    if getattr(address, "scope_id", None) is not None:
        raise ValueError("must be an IPv4 or IPv6 address without a zone index (%...)")
    return str(address)


class NewSecurityEvent(Input):
    event_type: Slug
    description: EventDescription
    severity: Severity = "info"
    ip_address: Annotated[str, AfterValidator(_ip_rule)] | None = None
    user_id: UserId | None = None
    wallet_address: AnyAddress | None = None
    metadata: Metadata | None = None


class SecurityEvent(Row):
    id: int
    event_type: str
    description: str
    severity: str
    ip_address: str | None
    user_id: str | None
    wallet_address: str | None
    metadata: dict[str, Any] | None
    created_at: datetime


class _EventFilter(Input):
    severity: Severity | None = None
    event_type: Slug | None = None
    since: UtcDatetime | None = None


def log_security_event(
    target: Database | Connection,
    *,
    event_type: str,
    description: str,
    severity: Severity = "info",
    ip_address: str | None = None,
    user_id: str | None = None,
    wallet_address: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> SecurityEvent:
    """Append an event. `metadata` is any JSON object up to METADATA_BYTES_MAX serialized."""
    new = validated(
        NewSecurityEvent,
        event_type=event_type,
        description=description,
        severity=severity,
        ip_address=ip_address,
        user_id=user_id,
        wallet_address=wallet_address,
        metadata=metadata,
    )
    with writing(target) as conn:
        if new.user_id is not None:
            require_user(conn, new.user_id)
        row = conn.execute(
            events.insert().values(**new.model_dump(exclude_none=True)).returning(events)
        ).one()
    return SecurityEvent.model_validate(row)


def get_security_events(
    target: Database | Connection,
    *,
    limit: int = 100,
    severity: Severity | None = None,
    event_type: str | None = None,
    user_id: str | None = None,
    since: datetime | None = None,
) -> list[SecurityEvent]:
    """Newest first."""
    limit = parse_limit(limit, EVENTS_LIMIT_MAX)
    chosen = validated(_EventFilter, severity=severity, event_type=event_type, since=since)
    query = sa.select(events)
    if chosen.severity is not None:
        query = query.where(events.c.severity == chosen.severity)
    if chosen.event_type is not None:
        query = query.where(events.c.event_type == chosen.event_type)
    if user_id is not None:
        query = query.where(events.c.user_id == parse_user_id(user_id))
    if chosen.since is not None:
        query = query.where(events.c.created_at >= chosen.since)
    query = query.order_by(events.c.created_at.desc(), events.c.id.desc()).limit(limit)
    with reading(target, stale_ok=True) as conn:
        return [SecurityEvent.model_validate(row) for row in conn.execute(query)]
