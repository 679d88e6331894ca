"""What a rollback or reset would take away: the tables its SQL drops, and their rows.

Shown before a user confirms, so that "roll back to core_0001" reads as "drops users (12,408
rows)". The tables come from the downgrades rendered offline, as lint reads upgrades.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.catalog import table_names
from chaindb.database import Database
from chaindb.migrations import bookkeeping
from chaindb.migrations.lint import DESTRUCTIVE, RULES, Finding
from chaindb.migrations.modules import BUILTIN_MODULES

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
    derived = _derived_tables()  # rebuilt from others by their triggers: nothing is lost
    losing = [f for f in findings if f.kind == DESTRUCTIVE and f.table not in derived]
    counted = {table.name: table.rows for table in _counted(db, [f.table for f in losing])}
    return [
        replace(finding, message=f"{finding.message} ({counted[finding.table]:,} rows)")
        for finding in losing
        if counted.get(finding.table, 0) > 0
    ]


def _derived_tables() -> set[str]:
    """The tables chaindb's modules derive from others (their faces' `derived_tables`)."""
    names: set[str] = set()
    for module in BUILTIN_MODULES:
        face = importlib.import_module(f"chaindb.{module}")
        names.update(getattr(face, "derived_tables", ()))
    return names


def bookkeeping_tables(db: Database) -> list[DroppedTable]:
    """chaindb's own tables (the applied set, the history, the lock), as reset drops them."""
    return _counted(db, list(bookkeeping.metadata.tables))


def _counted(db: Database, names: list[str]) -> list[DroppedTable]:
    names = list(dict.fromkeys(names))
    if not names or not db.exists():
        return []
    with db.read() as conn:
        existing = set(table_names(conn))
        return [DroppedTable(name, _rows(conn, name)) for name in names if name in existing]


def _rows(conn: Connection, name: str) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one())
