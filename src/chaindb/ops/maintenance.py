"""Maintenance (seed 002's `maintenance [--vacuum] [--analyze] [--check]`), plus repair.

--check verifies what each installed module can verify: the database's own integrity check
(SQLite), every ledger balance against its transfers, and escrow records against their holds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa

from chaindb.database import Database
from chaindb.ledger.transfers import expire_holds
from chaindb.ledger.verify import check_ledger


@dataclass
class MaintenanceReport:
    checked: bool = False
    problems: list[str] = field(default_factory=list)
    ledger: dict[str, Any] | None = None
    repaired_accounts: int = 0
    expired_holds: int = 0
    done: list[str] = field(default_factory=list)

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
    expire: bool = False,
    vacuum: bool = False,
    analyze: bool = False,
) -> MaintenanceReport:
    report = MaintenanceReport()
    has_ledger = _has_table(db, "ledger_accounts")
    if expire and has_ledger:
        report.expired_holds = expire_holds(db)
        report.done.append(f"voided {report.expired_holds} expired holds")
    if check or repair:
        report.checked = True
        report.problems += _integrity_problems(db)
        if has_ledger:
            ledger = check_ledger(db, repair=repair)
            report.ledger = ledger.as_dict()
            report.repaired_accounts = ledger.repaired_accounts
            if not repair:
                report.problems += ledger.problems()
        if _has_table(db, "challenge_escrow_records"):
            from chaindb.challenges.verify import escrow_problems

            with db.read() as conn:
                report.problems += escrow_problems(conn)
    if vacuum:
        _outside_transaction(db, "VACUUM")
        report.done.append("vacuum")
    if analyze:
        _outside_transaction(db, "ANALYZE")
        report.done.append("analyze")
    return report


def _has_table(db: Database, name: str) -> bool:
    if not db.exists():
        return False
    with db.connection() as conn:
        return sa.inspect(conn).has_table(name)


def _integrity_problems(db: Database) -> list[str]:
    if db.backend != "sqlite" or not db.exists():
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
