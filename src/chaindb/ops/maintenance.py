"""Maintenance (seed 002's `maintenance [--vacuum] [--analyze] [--check]`), plus repair and
cleanup.

What a module can verify, repair or clean up it says itself, through its face (ops/modules.py
finds the hooks): adding a module never changes this file. --check also runs the database's
own integrity check on SQLite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from chaindb.database import Database
from chaindb.ops.modules import installed_faces

Progress = Callable[[str], None]


@dataclass
class MaintenanceReport:
    checked: list[str] = field(default_factory=list)  # what --check verified
    problems: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)  # what repair, cleanup, vacuum, analyze did

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
    analyze: bool = False,
    on_step: Progress | None = None,
) -> MaintenanceReport:
    """Cleanup first (so that a check sees its result), then repair or check, vacuum, analyze.
    `on_step` hears what is about to run (for progress)."""
    db.require_exists()
    say = on_step or (lambda _step: None)
    report = MaintenanceReport()
    faces = installed_faces(db)
    for name, face in faces:
        if cleanup and hasattr(face, "cleanup"):
            say(f"cleaning up {name}")
            report.done += face.cleanup(db)
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
    for statement, wanted in (("VACUUM", vacuum), ("ANALYZE", analyze)):
        if wanted:
            say(statement.lower())
            _outside_transaction(db, statement)
            report.done.append(statement.lower())
    return report


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
