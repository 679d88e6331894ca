"""The migration lock: many processes migrating at once apply each migration exactly once.

PostgreSQL: a session-level advisory lock, taken by spinning on pg_try_advisory_lock with a
deadline (a blocking pg_advisory_lock deadlocks against CREATE INDEX CONCURRENTLY in another
session), released in `finally`. SQLite: every step runs in BEGIN IMMEDIATE, which is the
database's single write lock; the step re-reads the applied set after taking it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_random

from chaindb.database import Database
from chaindb.errors import MigrationLockTimeout

LOCK_POLL_MIN_S = 0.05
LOCK_POLL_MAX_S = 0.25


@contextmanager
def migration_lock(db: Database) -> Iterator[None]:
    if db.backend != "postgresql":
        yield
        return
    timeout_s = db.settings.migration_lock_timeout_s
    with db.connection() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        key = _lock_key(conn)
        if not _acquire(conn, key, timeout_s):
            raise MigrationLockTimeout(
                f"another process held the migration lock for over {timeout_s:g} s "
                "(CHAINDB_MIGRATION_LOCK_TIMEOUT_S)"
            )
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})


def _lock_key(conn: Connection) -> int:
    """One lock per schema, so that tenants in separate schemas do not wait for each other."""
    schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
    digest = hashlib.sha256(f"chaindb.migrate:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _acquire(conn: Connection, key: int, timeout_s: float) -> bool:
    retrying = Retrying(
        stop=stop_after_delay(timeout_s),
        wait=wait_random(LOCK_POLL_MIN_S, LOCK_POLL_MAX_S),
        retry=retry_if_result(lambda acquired: not acquired),
        retry_error_callback=lambda _state: False,
    )
    return bool(
        retrying(
            lambda: conn.execute(
                sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": key}
            ).scalar_one()
        )
    )
