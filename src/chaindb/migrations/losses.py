"""What a rollback or reset would take away: the tables its SQL drops, and their rows.

Shown before a user confirms, so that "roll back to core_0001" reads as "drops users (12,408
rows)". The tables come from the downgrades rendered offline, as lint reads upgrades.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.database import Database
from chaindb.migrations import bookkeeping
from chaindb.migrations.lint import DESTRUCTIVE, RULES, Finding

_DROP_TABLE = next(rule.pattern for rule in RULES if rule.code == "drop-table")


@dataclass(frozen=True)
class DroppedTable:
    name: str
    rows: int


def dropped_tables(db: Database, statements: Iterable[str]) -> list[DroppedTable]:
    """The tables `statements` drop that exist now, in the order they go, with their rows."""
    names: list[str] = []
    for statement in statements:
        match = _DROP_TABLE.match(" ".join(statement.split()))
        if match and match[1].lower() not in names:
            names.append(match[1].lower())
    return _counted(db, names)


def data_lost(db: Database, findings: Iterable[Finding]) -> list[Finding]:
    """The destructive findings that would take rows away now: those on a table that has
    rows (a downgrade that drops an empty table loses nothing), each saying how many."""
    losing = [finding for finding in findings if finding.kind == DESTRUCTIVE]
    counted = {table.name: table.rows for table in _counted(db, [f.table for f in losing])}
    return [
        replace(finding, message=f"{finding.message} ({counted[finding.table]:,} rows)")
        for finding in losing
        if counted.get(finding.table, 0) > 0
    ]


def bookkeeping_tables(db: Database) -> list[DroppedTable]:
    """chaindb's own tables (the applied set, the history, the lock), as reset drops them."""
    return _counted(db, list(bookkeeping.metadata.tables))


def _counted(db: Database, names: list[str]) -> list[DroppedTable]:
    names = list(dict.fromkeys(names))
    if not names or not db.exists():
        return []
    with db.read() as conn:
        existing = set(sa.inspect(conn).get_table_names())
        return [DroppedTable(name, _rows(conn, name)) for name in names if name in existing]


def _rows(conn: Connection, name: str) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one())
