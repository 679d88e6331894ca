"""Maintenance (seed 002's `maintenance [--vacuum] [--analyze] [--check]`), plus repair,
cleanup and a WAL checkpoint (ops/checkpoint.py).

What a module can verify, repair or clean up it says itself, through its face (ops/modules.py
finds the hooks): adding a module never changes this file. --check also runs the database's
own integrity check on SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from chaindb.catalog import table_names
from chaindb.database import Database
from chaindb.errors import InvalidInput
from chaindb.ops.checkpoint import checkpoint as checkpoint_wal
from chaindb.ops.modules import installed_faces
from chaindb.ops.partitions import maintenance_step as create_partitions_ahead

Progress = Callable[[str], None]


@dataclass
class MaintenanceReport:
    checked: list[str] = field(default_factory=list)  # what --check verified
    problems: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)  # what repair, cleanup, vacuum, analyze did
    checkpoint: dict[str, Any] | None = None  # the WAL before and after (CheckpointReport)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        report = asdict(self)
        report["ok"] = self.ok
        return report


def run_maintenance(
    db: Database,
    *,
    check: bool = False,
    repair: bool = False,
    cleanup: bool = False,
    vacuum: bool = False,
    vacuum_full: bool = False,
    analyze: bool = False,
    reindex: bool = False,
    checkpoint: bool = False,
    tables: Sequence[str] = (),
    on_step: Progress | None = None,
) -> MaintenanceReport:
    """Cleanup first (so that a check sees its result), then repair or check, reindex, vacuum,
    analyze, and last a WAL checkpoint (so that it takes in what they wrote). `tables` narrows
    reindex, vacuum and analyze to those tables. vacuum_full rewrites tables under an exclusive
    lock (PostgreSQL; on SQLite VACUUM is always full): ask before. `on_step` hears what is
    about to run (for progress)."""
    db.require_exists()
    say = on_step or (lambda _step: None)
    report = MaintenanceReport()
    faces = installed_faces(db)
    for name, face in faces:
        if cleanup and hasattr(face, "cleanup"):
            say(f"cleaning up {name}")
            report.done += face.cleanup(db)
    if cleanup:  # the coming intervals' partitions (PostgreSQL, partitioned tables only)
        report.done += create_partitions_ahead(db)
    if repair:
        for name, face in faces:
            if hasattr(face, "repair"):
                say(f"repairing {name}")
                report.done += face.repair(db)
    if check or repair:
        say("checking the database's integrity")
        report.problems += _integrity_problems(db)
        report.checked.append(f"{db.backend} integrity")
        for name, face in faces:
            if hasattr(face, "verify"):
                say(f"checking {name}")
                report.problems += face.verify(db)
                report.checked.append(name)
    targets = _tables(db, tables)
    for statement, wanted in (
        (_reindex_statement(db), reindex),
        ("VACUUM FULL" if db.backend == "postgresql" else "VACUUM", vacuum_full),
        ("VACUUM", vacuum and not vacuum_full),
        ("ANALYZE", analyze),
    ):
        if wanted:
            say(statement.lower())
            whole_file = db.backend == "sqlite" and statement == "VACUUM"  # no single table
            for target in [""] if whole_file else targets:
                _outside_transaction(db, f"{statement} {target}".strip())
            report.done.append(f"{statement.lower()}{'' if whole_file else _named(tables)}")
    if checkpoint:
        say("checkpoint")
        checkpointed = checkpoint_wal(db)
        report.checkpoint = checkpointed.as_dict()
        report.done.append(checkpointed.summary())
    return report


def _reindex_statement(db: Database) -> str:
    """REINDEX without blocking writes on PostgreSQL (12+); SQLite has one way."""
    return "REINDEX TABLE CONCURRENTLY" if db.backend == "postgresql" else "REINDEX"


def _tables(db: Database, names: Sequence[str]) -> list[str]:
    """The quoted names of `names`, each checked to be a table of the database; none given:
    the statement once, for the whole database (REINDEX TABLE alone needs a name: all)."""
    with db.connection() as conn:
        existing = set(table_names(conn))
    unknown = [name for name in names if name not in existing]
    if unknown:
        raise InvalidInput("table", unknown[0], "is not a table of this database")
    quote = db.engine.dialect.identifier_preparer.quote
    if names:
        return [quote(name) for name in names]
    return [""] if db.backend == "sqlite" else [quote(name) for name in sorted(existing)]


def _named(tables: Sequence[str]) -> str:
    return f" {', '.join(tables)}" if tables else ""


def _integrity_problems(db: Database) -> list[str]:
    if db.backend != "sqlite":
        return []
    with db.read() as conn:
        rows = [row[0] for row in conn.exec_driver_sql("PRAGMA integrity_check")]
    return [] if rows == ["ok"] else [f"sqlite integrity_check: {row}" for row in rows]


def _outside_transaction(db: Database, statement: str) -> None:
    """VACUUM cannot run inside a transaction on either backend."""
    with db.connection() as conn:
        if db.backend == "sqlite":
            conn.connection.driver_connection.execute(statement)  # type: ignore[union-attr]
        else:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(statement)
