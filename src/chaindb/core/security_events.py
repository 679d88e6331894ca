"""Security events (seed 003): an append-only audit trail with a severity."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import AfterValidator, StringConstraints
from sqlalchemy.engine import Connection

from chaindb.core.schema import security_events as events
from chaindb.core.users import require_user
from chaindb.database import Database, reading, writing
from chaindb.errors import InvalidInput
from chaindb.types import Address, Slug, UserId, UtcDatetime
from chaindb.validation import Input, Row, validated

EVENTS_LIMIT_MAX = 10_000
Severity = Literal["info", "warning", "error", "critical"]


def _ip_rule(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError("must be an IPv4 or IPv6 address") from None


class NewSecurityEvent(Input):
    event_type: Slug
    description: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
    severity: Severity = "info"
    ip_address: Annotated[str, AfterValidator(_ip_rule)] | None = None
    user_id: UserId | None = None
    wallet_address: Address | None = None
    metadata: dict[str, Any] | None = None


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
    since: UtcDatetime | None = None


def log_security_event(target: Database | Connection, **fields: Any) -> SecurityEvent:
    new = validated(NewSecurityEvent, **fields)
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
    severity: str | None = None,
    event_type: str | None = None,
    user_id: str | None = None,
    since: datetime | None = None,
) -> list[SecurityEvent]:
    """Newest first."""
    if not 1 <= limit <= EVENTS_LIMIT_MAX:
        raise InvalidInput("limit", limit, f"must be between 1 and {EVENTS_LIMIT_MAX}")
    chosen = validated(_EventFilter, severity=severity, since=since)
    query = sa.select(events)
    if chosen.severity is not None:
        query = query.where(events.c.severity == chosen.severity)
    if event_type is not None:
        query = query.where(events.c.event_type == event_type)
    if user_id is not None:
        query = query.where(events.c.user_id == user_id)
    if chosen.since is not None:
        query = query.where(events.c.created_at >= chosen.since)
    query = query.order_by(events.c.created_at.desc(), events.c.id.desc()).limit(limit)
    with reading(target) as conn:
        return [SecurityEvent.model_validate(row) for row in conn.execute(query)]
