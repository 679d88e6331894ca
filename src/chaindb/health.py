"""Is the database there, can chaindb write to it, is it intact, are its migrations applied.

    report = chaindb.health.check_health(db)   # chaindb health [--json]
    report.status                               # 'healthy', 'degraded' or 'unhealthy'

- unhealthy (exit 1): not reachable, no SQLite file, read-only, SQLite's quick_check finds
  damage, or an applied migration's file changed or is missing;
- degraded (exit 2): it answers and takes writes, but migrations are pending (code newer
  than the schema), or a read replica (CHAINDB_READ_URLS) is down or lags past
  CHAINDB_REPLICA_LAG_MAX_S (its reads go to the primary meanwhile);
- healthy (exit 0): none of the above.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from chaindb.database import Database, elapsed_ms, sqlite_path
from chaindb.errors import ChaindbError
from chaindb.sqlite_engine import dbapi_of, sqlite_driver

LATENCY_SAMPLES = 3
QUICK_CHECK_BUDGET_S = 0.5  # SQLite's quick_check reads every page: bounded, as a probe must be
QUICK_CHECK_STEP_OPS = 10_000  # virtual machine steps between looks at the clock
QUICK_CHECK_SHOWN_MAX = 5
WRITE_PROBE_WAIT_MS = 200
Status = Literal["healthy", "degraded", "unhealthy"]
EXIT_CODES: dict[str, int] = {"healthy": 0, "unhealthy": 1, "degraded": 2}


@dataclass
class HealthReport:
    database: str
    backend: str
    status: Status = "unhealthy"
    reachable: bool = False
    writable: bool | None = None
    integrity: str | None = None  # SQLite: 'ok', 'not finished in 0.5 s', or what is damaged
    server_version: str | None = None
    latency_ms: float | None = None
    migrations: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: int = 0
    replicas: list[dict[str, Any]] = field(default_factory=list)  # url, reachable, lag_s, ...
    problems: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def healthy(self) -> bool:
        return self.status == "healthy"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "healthy": self.healthy}


def check_health(db: Database) -> HealthReport:
    """Reachable, writable, intact (SQLite), migrations applied; summed up in `status`."""
    report = HealthReport(database=db.display_url, backend=db.backend)
    if not db.exists():
        report.error = f"no database at {sqlite_path(db.url)}"
        return report
    try:
        with db.read() as conn:
            report.server_version = _server_version(db, conn)
            report.latency_ms = _latency_ms(conn)
        report.reachable = True
        report.writable = _writable(db)
        report.integrity = _integrity(db)
        _migrations(db, report)
        report.replicas = [asdict(state) for state in db.replica_states()]
    except (ChaindbError, DBAPIError) as error:
        report.error = db.describe_error(error)
        return report
    report.status = _status(report, lag_max_s=db.settings.replica_lag_max_s)
    return report


def _status(report: HealthReport, *, lag_max_s: float) -> Status:
    if not report.writable:
        report.problems.append("the database is read-only: chaindb cannot write to it")
    if report.integrity not in (None, "ok") and not report.integrity.startswith("not finished"):
        report.problems.append(f"integrity: {report.integrity}")
    if report.problems:
        return "unhealthy"
    replica_trouble = any(_replica_trouble(state, lag_max_s) for state in report.replicas)
    return "degraded" if report.pending or replica_trouble else "healthy"


def _replica_trouble(state: dict[str, Any], lag_max_s: float) -> str | None:
    """Why reads skip this replica now, or None."""
    if state["error"] is not None:
        return str(state["error"])
    if state["lag_s"] is not None and state["lag_s"] > lag_max_s:
        return f"lags {state['lag_s']:g} s (more than CHAINDB_REPLICA_LAG_MAX_S={lag_max_s:g})"
    return None


def _migrations(db: Database, report: HealthReport) -> None:
    from chaindb.migrations import status  # the engine builds on this package's database

    state = status(db)
    report.migrations = {
        module.name: {
            "current": module.current,
            "head": module.head,
            "pending": len(module.pending),
        }
        for module in state.modules
    }
    report.pending = sum(len(module.pending) for module in state.modules)
    report.problems += [f"migration {problem}" for problem in state.problems]


def _server_version(db: Database, conn: sa.Connection) -> str:
    if db.backend == "postgresql":
        return str(conn.execute(sa.text("SHOW server_version")).scalar_one())
    return f"SQLite {sqlite_driver(db.settings).sqlite_version}"


def _latency_ms(conn: sa.Connection) -> float:
    """Best of a few round trips of SELECT 1 on an open connection."""
    samples = []
    for _ in range(LATENCY_SAMPLES):
        started = time.perf_counter()
        conn.execute(sa.text("SELECT 1")).scalar_one()
        samples.append(elapsed_ms(started))
    return min(samples)


def _writable(db: Database) -> bool:
    """Try a write that changes nothing, and roll it back. PostgreSQL: a standby or
    default_transaction_read_only; SQLite: a file or directory chaindb may not write (a writer
    holding the lock is no sign of a read-only database: waited for briefly, then believed)."""
    if db.backend == "postgresql":
        with db.transaction() as conn:
            return conn.exec_driver_sql("SHOW transaction_read_only").scalar_one() == "off"
    with db.connection() as conn:
        driver = conn.connection.driver_connection  # its own BEGIN, its own busy timeout
        busy_ms = driver.execute("PRAGMA busy_timeout").fetchone()[0]  # type: ignore[union-attr]
        driver.execute(f"PRAGMA busy_timeout = {WRITE_PROBE_WAIT_MS}")  # type: ignore[union-attr]
        try:
            driver.execute("BEGIN DEFERRED")  # type: ignore[union-attr]
            version = driver.execute("PRAGMA user_version").fetchone()[0]  # type: ignore[union-attr]
            driver.execute(f"PRAGMA user_version = {int(version)}")  # type: ignore[union-attr]
        except dbapi_of(driver).OperationalError as error:
            if "readonly" in str(error):
                return False
            if "locked" not in str(error):
                raise
        finally:
            if driver.in_transaction:  # type: ignore[union-attr]
                driver.execute("ROLLBACK")  # type: ignore[union-attr]
            driver.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")  # type: ignore[union-attr]
    return True


def _integrity(db: Database) -> str | None:
    """SQLite's quick_check (pages, records, no index cross-check), stopped after a budget."""
    if db.backend != "sqlite":
        return None
    deadline = time.monotonic() + QUICK_CHECK_BUDGET_S
    with db.connection() as conn:
        driver = conn.connection.driver_connection
        driver.set_progress_handler(lambda: time.monotonic() > deadline, QUICK_CHECK_STEP_OPS)  # type: ignore[union-attr]
        try:
            rows = [row[0] for row in driver.execute("PRAGMA quick_check")]  # type: ignore[union-attr]
        except dbapi_of(driver).OperationalError as error:
            if "interrupted" in str(error):
                return f"not finished in {QUICK_CHECK_BUDGET_S} s (maintenance --check runs it all)"
            return str(error)
        except dbapi_of(driver).DatabaseError as error:
            return str(error)
        finally:
            driver.set_progress_handler(None, 0)  # type: ignore[union-attr]
    return "ok" if rows == ["ok"] else "; ".join(rows[:QUICK_CHECK_SHOWN_MAX])
