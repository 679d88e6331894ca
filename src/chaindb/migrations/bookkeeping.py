"""chaindb's own tables: the applied set, the append-only history, and file checksums.

`chaindb_migrations` holds one row per applied revision (what the database is now);
`chaindb_migration_history` keeps every apply, rollback, baseline, repair and push ever run, with
who ran it and, for a baseline or repair, why (for a push: what it changed). Both are written in
the migration's own transaction, so they never disagree with the schema. `chaindb_pushed_tables`
names the application's tables that `chaindb push` manages (see push.py).
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
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from chaindb.types import UtcDateTime, utc_now

APPLIED_TABLE = "chaindb_migrations"
HISTORY_TABLE = "chaindb_migration_history"
LOCK_TABLE = "chaindb_migration_lock"
PUSHED_TABLE = "chaindb_pushed_tables"
UPGRADE, DOWNGRADE, BASELINE, REPAIR = "upgrade", "downgrade", "baseline", "repair"
# A push is no revision: it changes the history, never the applied set (see push.py).
PUSH = "push"
ACTIONS = (UPGRADE, DOWNGRADE, BASELINE, REPAIR, PUSH)
_ACTION_CHECK = "action IN ({})".format(", ".join(f"'{action}'" for action in ACTIONS))

metadata = sa.MetaData()

applied_migrations = sa.Table(
    APPLIED_TABLE,
    metadata,
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
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("revision", sa.String(64), nullable=False, index=True),
    sa.Column("module", sa.String(64), nullable=False),
    sa.Column("action", sa.String(10), nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("applied_at", UtcDateTime, nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("applied_by", sa.Text, nullable=False),
    sa.Column("reason", sa.Text),
    sa.CheckConstraint(_ACTION_CHECK, name="ck_history_action"),
)


# Who holds the migration lock (one row at most); see lock.py.
lock_table = sa.Table(
    LOCK_TABLE,
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("holder", sa.Text, nullable=False),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("token", sa.String(32), nullable=False),
    sa.Column("acquired_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("id = 1", name="ck_migration_lock_single"),
)


# The application's tables that `chaindb push` created or brought in line with its declaration:
# a table named here that the declaration no longer has is one push drops. Tables outside it
# (chaindb's, or an application's own made by hand or by its migrations) push never drops.
pushed_tables = sa.Table(
    PUSHED_TABLE,
    metadata,
    sa.Column("table_name", sa.String(128), primary_key=True),
    sa.Column("checksum", sa.String(64), nullable=False),  # of the push that last declared it
    sa.Column("pushed_at", UtcDateTime, nullable=False),
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


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    revision: str
    module: str
    action: str
    checksum: str
    applied_at: datetime
    duration_ms: float
    applied_by: str
    reason: str | None


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
    """Create chaindb's tables, or bring those of an older chaindb up to date."""
    metadata.create_all(conn, checkfirst=True)
    if "reason" not in _history_columns(conn):
        _add_history_reason(conn)
    elif f"'{PUSH}'" not in _action_check_text(conn):
        _allow_every_action(conn)


def drop_tables(conn: Connection) -> None:
    metadata.drop_all(conn, checkfirst=True)


def _history_columns(conn: Connection) -> set[str]:
    return {column["name"] for column in sa.inspect(conn).get_columns(HISTORY_TABLE)}


def _add_history_reason(conn: Connection) -> None:
    """A history table from before baseline and repair: add `reason`, allow their actions.
    SQLite cannot alter a CHECK in place; Alembic's batch mode rebuilds the table there."""
    operations = Operations(MigrationContext.configure(conn))
    with operations.batch_alter_table(HISTORY_TABLE) as batch:
        batch.drop_constraint("ck_history_action", type_="check")
        batch.add_column(sa.Column("reason", sa.Text))
        batch.create_check_constraint("ck_history_action", _ACTION_CHECK)


def _action_check_text(conn: Connection) -> str:
    checks = sa.inspect(conn).get_check_constraints(HISTORY_TABLE)
    named = [check for check in checks if check["name"] == "ck_history_action"]
    return " ".join(str(check["sqltext"]) for check in named)


def _allow_every_action(conn: Connection) -> None:
    """A history table from before push: its CHECK lists the actions it knew (rebuilt on
    SQLite by batch mode, as above)."""
    operations = Operations(MigrationContext.configure(conn))
    with operations.batch_alter_table(HISTORY_TABLE) as batch:
        batch.drop_constraint("ck_history_action", type_="check")
        batch.create_check_constraint("ck_history_action", _ACTION_CHECK)


def tables_exist(conn: Connection) -> bool:
    return sa.inspect(conn).has_table(APPLIED_TABLE)


def read_applied(conn: Connection) -> dict[str, AppliedMigration]:
    """Every applied revision, in one query (status and validate stay O(files))."""
    if not tables_exist(conn):
        return {}
    rows = conn.execute(sa.select(applied_migrations)).mappings()
    return {row["revision"]: AppliedMigration(**row) for row in rows}


def read_pushed_tables(conn: Connection) -> list[str]:
    """The application's tables `chaindb push` manages, by name."""
    if not sa.inspect(conn).has_table(PUSHED_TABLE):
        return []
    column = pushed_tables.c.table_name
    return list(conn.execute(sa.select(column).order_by(column)).scalars())


def read_history(
    conn: Connection, *, modules: list[str] | None = None, limit: int | None = None
) -> list[HistoryEntry]:
    """The history, oldest first; with `limit`, its last `limit` entries."""
    if not sa.inspect(conn).has_table(HISTORY_TABLE):
        return []
    table = migration_history
    columns = [c for c in table.c if c.name != "reason" or "reason" in _history_columns(conn)]
    query = sa.select(*columns).order_by(table.c.id.desc())
    if modules:
        query = query.where(table.c.module.in_(modules))
    if limit is not None:
        query = query.limit(limit)
    rows = conn.execute(query).mappings().all()
    return [HistoryEntry(**{"reason": None, **row}) for row in reversed(rows)]


def record(
    conn: Connection,
    *,
    revision: str,
    module: str,
    description: str,
    action: str,
    checksum: str,
    duration_ms: float,
    reason: str | None = None,
) -> None:
    """Write one apply, rollback, baseline or repair into the applied set and the history, in
    the caller's transaction (a push goes into the history alone)."""
    now = utc_now()
    by = actor()
    if action == PUSH:
        pass
    elif action == REPAIR:
        conn.execute(
            applied_migrations.update()
            .where(applied_migrations.c.revision == revision)
            .values(checksum=checksum, description=description)
        )
    elif action in (UPGRADE, BASELINE):
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
            reason=reason,
        )
    )
