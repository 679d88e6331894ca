"""What has been applied: the applied set, the append-only history, and file checksums.

`chaindb_migrations` holds one row per applied revision (what the database is now);
`chaindb_migration_history` keeps every apply and rollback ever run. Both are written in the
migration's own transaction, so they never disagree with the schema.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.types import UtcDateTime, utc_now

APPLIED_TABLE = "chaindb_migrations"
HISTORY_TABLE = "chaindb_migration_history"

bookkeeping = sa.MetaData()

applied_migrations = sa.Table(
    APPLIED_TABLE,
    bookkeeping,
    sa.Column("revision", sa.String(64), primary_key=True),
    sa.Column("module", sa.String(64), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("applied_at", UtcDateTime, nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("applied_by", sa.Text, nullable=False),
)

migration_history = sa.Table(
    HISTORY_TABLE,
    bookkeeping,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("revision", sa.String(64), nullable=False, index=True),
    sa.Column("module", sa.String(64), nullable=False),
    sa.Column("action", sa.String(10), nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("applied_at", UtcDateTime, nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("applied_by", sa.Text, nullable=False),
    sa.CheckConstraint("action IN ('upgrade', 'downgrade')", name="ck_history_action"),
)


@dataclass(frozen=True)
class AppliedMigration:
    revision: str
    module: str
    description: str
    checksum: str
    applied_at: datetime
    duration_ms: float
    applied_by: str


def file_checksum(path: str | Path) -> str:
    """sha256 of a migration file, the same whatever its line endings or BOM."""
    text = Path(path).read_bytes().decode("utf-8-sig")
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def actor() -> str:
    """Who applies a migration: user@host, process id and chaindb version."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()} pid={os.getpid()} chaindb={chaindb_version()}"


def chaindb_version() -> str:
    try:
        return version("chaindb")
    except PackageNotFoundError:
        return "unknown"


def ensure_tables(conn: Connection) -> None:
    bookkeeping.create_all(conn, checkfirst=True)


def tables_exist(conn: Connection) -> bool:
    return sa.inspect(conn).has_table(APPLIED_TABLE)


def read_applied(conn: Connection) -> dict[str, AppliedMigration]:
    """Every applied revision, in one query (status and validate stay O(files))."""
    if not tables_exist(conn):
        return {}
    rows = conn.execute(sa.select(applied_migrations)).mappings()
    return {row["revision"]: AppliedMigration(**row) for row in rows}


def record(
    conn: Connection,
    *,
    revision: str,
    module: str,
    description: str,
    action: str,
    checksum: str,
    duration_ms: float,
) -> None:
    """Write one apply or rollback into the applied set and the history, in the caller's tx."""
    now = utc_now()
    by = actor()
    if action == "upgrade":
        conn.execute(
            applied_migrations.insert().values(
                revision=revision,
                module=module,
                description=description,
                checksum=checksum,
                applied_at=now,
                duration_ms=duration_ms,
                applied_by=by,
            )
        )
    else:
        conn.execute(applied_migrations.delete().where(applied_migrations.c.revision == revision))
    conn.execute(
        migration_history.insert().values(
            revision=revision,
            module=module,
            action=action,
            checksum=checksum,
            applied_at=now,
            duration_ms=duration_ms,
            applied_by=by,
        )
    )
