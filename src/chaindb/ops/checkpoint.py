"""`maintenance --checkpoint`: the write-ahead log written into the database, with the WAL's
size before and after.

SQLite: `PRAGMA wal_checkpoint(TRUNCATE)`, waiting as long as the busy timeout
(CHAINDB_CONNECTION_TIMEOUT_S) for readers and writers in the way; the -wal file is emptied when
it finishes. (The same checkpoint runs by itself every CHAINDB_CHECKPOINT_INTERVAL_S, without
waiting: see sqlite_engine.py.)

PostgreSQL: `CHECKPOINT` (a superuser, or a member of pg_checkpoint since PostgreSQL 15); the
server's checkpointer already runs one every `checkpoint_timeout`, which is the server's own
setting. The WAL position comes from pg_current_wal_lsn(), the WAL directory's size from
pg_ls_waldir() (a superuser or pg_monitor): a checkpoint recycles segments rather than
deleting them, so the directory need not shrink.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from chaindb.database import Database
from chaindb.errors import ChaindbError
from chaindb.sqlite_engine import sqlite_path, wal_checkpoint

_INSUFFICIENT_PRIVILEGE = "42501"
_CHECKPOINT_ROLE_HINT = (
    "CHECKPOINT needs a superuser or a member of pg_checkpoint (PostgreSQL 15+): "
    "GRANT pg_checkpoint TO <role>; the server's checkpointer still runs one every "
    "checkpoint_timeout"
)


class CheckpointRefused(ChaindbError):
    """The server would not run a checkpoint for this role."""


@dataclass
class CheckpointReport:
    backend: str
    complete: bool  # everything in the WAL is now in the database (SQLite: the WAL emptied)
    wal_bytes_before: int | None  # None: the size could not be read (see note)
    wal_bytes_after: int | None
    wal_lsn_before: str | None = None  # PostgreSQL's WAL position
    wal_lsn_after: str | None = None
    checkpoint_timeout: str | None = None  # PostgreSQL: the server's own interval
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line for `maintenance`: what the WAL weighed before and after."""
        line = f"checkpoint: WAL {_size(self.wal_bytes_before)} -> {_size(self.wal_bytes_after)}"
        if self.wal_lsn_after:
            line += f" (position {self.wal_lsn_before} -> {self.wal_lsn_after})"
        return f"{line}; {self.note}" if self.note else line


def checkpoint(db: Database) -> CheckpointReport:
    """Write the WAL into the database now and report the WAL's size before and after."""
    db.require_exists()
    if db.backend == "sqlite":
        return _sqlite_checkpoint(db)
    return _postgres_checkpoint(db)


def _size(size_bytes: int | None) -> str:
    if size_bytes is None:
        return "?"
    if size_bytes < 1024:
        return f"{size_bytes} B"
    if size_bytes < 1024 * 1024:
        return f"{size_bytes / 1024:.1f} KB"
    return f"{size_bytes / 1024 / 1024:.1f} MB"


# --- SQLite ----------------------------------------------------------------------------------


def _sqlite_checkpoint(db: Database) -> CheckpointReport:
    path = sqlite_path(db.url)
    wal = path.with_name(path.name + "-wal") if path else None
    before = _file_size(wal)
    with db.connection() as conn:
        result = wal_checkpoint(conn.connection.driver_connection, wait=True)
    note = ""
    if result.wal_frames < 0:
        note = "this database has no WAL (in memory)"
    elif result.busy:
        note = (
            "a reader or writer kept it from finishing within the busy timeout "
            "(CHAINDB_CONNECTION_TIMEOUT_S): the rest waits for the next checkpoint"
        )
    return CheckpointReport("sqlite", not result.busy, before, _file_size(wal), note=note)


def _file_size(path: Path | None) -> int | None:
    if path is None:
        return None
    return path.stat().st_size if path.exists() else 0  # no -wal file: nothing in the WAL


# --- PostgreSQL ------------------------------------------------------------------------------


def _postgres_checkpoint(db: Database) -> CheckpointReport:
    with db.connection() as plain:
        conn = plain.execution_options(isolation_level="AUTOCOMMIT")  # each its own statement
        lsn_before, bytes_before = _wal_position(conn), _wal_directory_bytes(conn)
        try:
            conn.exec_driver_sql("CHECKPOINT")
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) == _INSUFFICIENT_PRIVILEGE:
                role = plain.engine.url.username
                raise CheckpointRefused(f"{_CHECKPOINT_ROLE_HINT} (role {role})") from None
            raise
        lsn_after, bytes_after = _wal_position(conn), _wal_directory_bytes(conn)
        interval = conn.exec_driver_sql("SHOW checkpoint_timeout").scalar_one()
    note = "" if bytes_after is not None else "the WAL's size needs a superuser or pg_monitor"
    return CheckpointReport(
        "postgresql", True, bytes_before, bytes_after, lsn_before, lsn_after, interval, note
    )


def _wal_position(conn: sa.Connection) -> str | None:
    try:
        return str(conn.exec_driver_sql("SELECT pg_current_wal_lsn()").scalar_one())
    except DBAPIError:  # a standby in recovery has no WAL position of its own
        return None


def _wal_directory_bytes(conn: sa.Connection) -> int | None:
    try:
        size = conn.exec_driver_sql("SELECT coalesce(sum(size), 0) FROM pg_ls_waldir()")
        return int(size.scalar_one())
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) == _INSUFFICIENT_PRIVILEGE:
            return None
        raise
