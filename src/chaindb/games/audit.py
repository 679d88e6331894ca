"""The games audit log (seed 002's V5): every change to games, bets, balances, staking
positions and players, with who made it and the row before and after, written by the change's
own transaction (so a change and its record commit or roll back together)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.database import Database, reading
from chaindb.games.schema import games_audit_log
from chaindb.types import utc_now
from chaindb.validation import Row, parse_limit

EntityType = Literal["game", "bet", "balance", "staking_position", "player"]
AUDIT_LIMIT_MAX = 1_000
SYSTEM_ACTOR = "system"


class AuditEntry(Row):
    id: int
    occurred_at: datetime
    actor: str
    entity_type: str
    entity_id: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def audit(
    conn: Connection,
    *,
    actor: str,
    entity_type: EntityType,
    entity_id: str,
    action: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> None:
    """One audit row, in the caller's transaction."""
    audit_many(conn, [(actor, entity_type, entity_id, action, before, after)])


def audit_many(
    conn: Connection,
    entries: Sequence[
        tuple[str, EntityType, str, str, Mapping[str, Any] | None, Mapping[str, Any] | None]
    ],
) -> None:
    """Many audit rows in one statement (a resolution writes one per bet)."""
    if not entries:
        return
    now = utc_now()
    rows = [dict(zip(AUDIT_COLUMNS, audit_row(now, *entry), strict=True)) for entry in entries]
    conn.execute(games_audit_log.insert(), rows)


# One row of games_audit_log, in AUDIT_COLUMNS' order, its values JSON-ready.
AUDIT_COLUMNS = ("occurred_at", "actor", "entity_type", "entity_id", "action", "before", "after")
AuditRow = tuple[datetime, str, str, str, str, dict[str, Any] | None, dict[str, Any] | None]


def audit_row(
    occurred_at: datetime,
    actor: str,
    entity_type: EntityType,
    entity_id: str,
    action: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> AuditRow:
    """A row for a write path that stores its audit rows with its own (bets)."""
    return (occurred_at, actor, entity_type, entity_id, action, _jsonable(before), _jsonable(after))


def get_audit_log(
    target: Database | Connection,
    *,
    entity_type: EntityType,
    entity_id: str,
    limit: int = 100,
) -> list[AuditEntry]:
    """An entity's audit trail, oldest first (index ix_games_audit_log_entity)."""
    limit = parse_limit(limit, AUDIT_LIMIT_MAX)
    log = games_audit_log.c
    with reading(target, stale_ok=True) as conn:
        rows = conn.execute(
            sa.select(games_audit_log)
            .where(log.entity_type == entity_type, log.entity_id == entity_id)
            .order_by(log.id)
            .limit(limit)
        )
        return [AuditEntry.model_validate(row) for row in rows]


def _jsonable(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Amounts past JSON's safe integers are kept exact as decimal text; times as ISO 8601;
    bytes as hex."""
    if values is None:
        return None
    return {key: _json_value(value) for key, value in values.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return str(value)
