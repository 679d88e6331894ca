"""Is the database there, how fast does it answer, and where do its migrations stand."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from chaindb.database import Database, elapsed_ms
from chaindb.errors import ChaindbError

LATENCY_SAMPLES = 3


def check_health(db: Database) -> dict[str, Any]:
    """reachable, server_version, latency_ms, migrations; `healthy` sums it up."""
    report: dict[str, Any] = {"database": db.display_url, "backend": db.backend}
    if not db.exists():
        report.update(reachable=False, healthy=False, error="SQLite database file does not exist")
        return report
    try:
        with db.read() as conn:
            report["server_version"] = _server_version(db, conn)
            report["latency_ms"] = _latency_ms(conn)
    except (ChaindbError, DBAPIError) as error:
        report.update(reachable=False, healthy=False, error=db.describe_error(error))
        return report
    report["reachable"] = True
    from chaindb.migrations.status import status

    state = status(db)
    report["migrations"] = {
        module.name: {
            "current": module.current,
            "head": module.head,
            "pending": len(module.pending),
        }
        for module in state.modules
    }
    report["migration_problems"] = [str(problem) for problem in state.problems]
    report["up_to_date"] = state.up_to_date
    report["healthy"] = not state.problems
    return report


def _server_version(db: Database, conn: sa.Connection) -> str:
    if db.backend == "postgresql":
        return str(conn.execute(sa.text("SHOW server_version")).scalar_one())
    return f"SQLite {sqlite3.sqlite_version}"


def _latency_ms(conn: sa.Connection) -> float:
    """Best of a few round trips of SELECT 1 on an open connection."""
    samples = []
    for _ in range(LATENCY_SAMPLES):
        started = time.perf_counter()
        conn.execute(sa.text("SELECT 1")).scalar_one()
        samples.append(elapsed_ms(started))
    return min(samples)
