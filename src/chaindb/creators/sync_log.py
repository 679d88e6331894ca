"""oracle_sync_logs: one row per attempt of an oracle operation (seed 004's "Oracle Logging").

An attempt that reached the node is PENDING until its transaction is final (SUCCESS, with gas,
price and block) or fails (FAILED: reverted, dropped, replaced); one refused before that is
RETRY (another attempt follows) or FAILED (the last one). error_class names what went wrong:
network, gas, nonce, execution (a revert), breaker (the circuit breaker was open), dropped.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.creators.schema import oracle_sync_logs as logs
from chaindb.database import Database, reading, writing
from chaindb.types import utc_now
from chaindb.validation import Row

Operation = Literal["UPDATE_METRICS", "CREATE_COIN"]
Status = Literal["PENDING", "SUCCESS", "FAILED", "RETRY"]
ERROR_CHARS_MAX = 2_000
RECENT_LOGS_MAX = 1_000


class SyncLog(Row):
    id: int
    creator_id: int | None
    operation: str
    status: str
    chain_id: str
    transaction_hash: str | None
    sequence: int | None
    metrics: dict[str, Any] | None
    gas_used: int | None
    gas_price_wei: int | None
    block_number: int | None
    error_class: str | None
    error_message: str | None
    attempt: int
    duration_ms: int
    started_at: datetime
    updated_at: datetime


def log_attempt(
    target: Database | Connection,
    *,
    operation: Operation,
    status: Status,
    chain_id: str,
    creator_id: int | None,
    attempt: int,
    started_at: datetime,
    duration_ms: int,
    transaction_hash: str | None = None,
    sequence: int | None = None,
    metrics: dict[str, Any] | None = None,
    gas_price_wei: int | None = None,
    error_class: str | None = None,
    error_message: str | None = None,
) -> int:
    with writing(target) as conn:
        return conn.execute(
            logs.insert()
            .values(
                operation=operation,
                status=status,
                chain_id=chain_id,
                creator_id=creator_id,
                attempt=attempt,
                started_at=started_at,
                duration_ms=duration_ms,
                transaction_hash=transaction_hash,
                sequence=sequence,
                metrics=metrics,
                gas_price_wei=gas_price_wei,
                error_class=error_class,
                error_message=error_message and error_message[:ERROR_CHARS_MAX],
            )
            .returning(logs.c.id)
        ).scalar_one()


def open_logs(conn: Connection) -> list[SyncLog]:
    """The attempts whose transaction is not settled yet (ix_oracle_sync_logs_pending)."""
    rows = conn.execute(sa.select(logs).where(logs.c.status == "PENDING").order_by(logs.c.id))
    return [SyncLog.model_validate(row) for row in rows]


def logs_of_transaction(conn: Connection, transaction_hash: str) -> list[SyncLog]:
    rows = conn.execute(
        sa.select(logs).where(logs.c.transaction_hash == transaction_hash).order_by(logs.c.id)
    )
    return [SyncLog.model_validate(row) for row in rows]


def settle_log(conn: Connection, log_id: int, status: Status, **values: Any) -> None:
    if values.get("error_message"):
        values["error_message"] = values["error_message"][:ERROR_CHARS_MAX]
    conn.execute(
        logs.update()
        .where(logs.c.id == log_id)
        .values(status=status, updated_at=utc_now(), **values)
    )


def get_recent_logs(
    target: Database | Connection, *, hours: float = 1, limit: int = 100
) -> list[SyncLog]:
    """The seed's getRecentLogs: attempts started in the last `hours`, newest first."""
    since = utc_now() - timedelta(hours=hours)
    with reading(target) as conn:
        rows = conn.execute(
            sa.select(logs)
            .where(logs.c.started_at >= since)
            .order_by(logs.c.started_at.desc(), logs.c.id.desc())
            .limit(min(limit, RECENT_LOGS_MAX))
        )
        return [SyncLog.model_validate(row) for row in rows]
