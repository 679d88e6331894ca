"""Diagnostics: the seeds' monitoring queries, corrected, as findings ranked by severity.

    report = diagnose(db)          # chaindb diagnose [--json]
    report.findings                # critical first; report.critical says whether to page someone

PostgreSQL (ops/diagnose_postgres.py): sizes, unused indexes, tables read by sequential scans,
dead rows and the last (auto)vacuum, long-running queries and old open transactions,
connections against max_connections, transaction id age, the slowest statements when
pg_stat_statements is there (how to enable it when not), settings against seed 001's
recommendations, each read replica's lag (CHAINDB_READ_URLS; every other figure is the
primary's, where the writes are). SQLite: sizes per table, free pages, the WAL's size, journal
mode and synchronous, and quick_check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from chaindb.database import Database, sqlite_path
from chaindb.health import check_health
from chaindb.sqlite_engine import dbapi_of

Severity = Literal["critical", "warning", "info"]
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
FREE_PAGES_SHARE_MAX = 0.25  # of the file: VACUUM would give that much back
WAL_BYTES_MAX = 64 * 1024 * 1024  # a WAL this big means checkpoints cannot catch up
TABLES_SHOWN_MAX = 100  # every table chaindb's modules make (about 60) and some of the app's


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str  # stable, for alerting rules: 'dead-rows', 'long-query', ...
    subject: str  # the table, index, query or setting
    message: str
    advice: str = ""

    def __str__(self) -> str:
        advice = f" ({self.advice})" if self.advice else ""
        return f"{self.severity}: {self.subject}: {self.message}{advice}"


@dataclass
class TableSize:
    name: str
    rows: int | None
    total_bytes: int
    index_bytes: int | None = None


@dataclass
class DiagnoseReport:
    database: str
    backend: str
    findings: list[Finding] = field(default_factory=list)
    tables: list[TableSize] = field(default_factory=list)
    slowest_statements: list[dict[str, Any]] = field(default_factory=list)
    replicas: list[dict[str, Any]] = field(default_factory=list)  # url, reachable, lag_s, ...

    @property
    def critical(self) -> bool:
        return any(finding.severity == "critical" for finding in self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "critical": self.critical}


LONG_QUERY_S = 60.0


def diagnose(db: Database, *, long_query_s: float = LONG_QUERY_S) -> DiagnoseReport:
    """Every check of the database's backend, its findings ranked critical, warning, info.
    A query or open transaction running longer than `long_query_s` is named (PostgreSQL)."""
    db.require_exists()
    report = DiagnoseReport(database=db.display_url, backend=db.backend)
    if db.backend == "postgresql":
        from chaindb.ops.diagnose_postgres import diagnose_postgres

        diagnose_postgres(db, report, long_query_s=long_query_s)
    else:
        _diagnose_sqlite(db, report)
    report.findings.sort(key=lambda f: (SEVERITY_ORDER[f.severity], f.code, f.subject))
    return report


# --- SQLite ----------------------------------------------------------------------------------


def _diagnose_sqlite(db: Database, report: DiagnoseReport) -> None:
    health = check_health(db)
    if health.integrity not in (None, "ok") and not str(health.integrity).startswith("not"):
        report.findings.append(
            Finding(
                "critical",
                "integrity",
                "database file",
                f"quick_check: {health.integrity}",
                "restore the last good backup (chaindb restore --clean)",
            )
        )
    with db.connection() as conn:
        driver = conn.connection.driver_connection
        # int(): SQLCipher answers page_size as text
        page_size = int(driver.execute("PRAGMA page_size").fetchone()[0])
        pages = driver.execute("PRAGMA page_count").fetchone()[0]
        free = driver.execute("PRAGMA freelist_count").fetchone()[0]
        journal = driver.execute("PRAGMA journal_mode").fetchone()[0]
        synchronous = driver.execute("PRAGMA synchronous").fetchone()[0]
        report.tables = _sqlite_sizes(driver)
    if pages and free / pages > FREE_PAGES_SHARE_MAX:
        report.findings.append(
            Finding(
                "warning",
                "free-pages",
                "database file",
                f"{free * page_size:,} bytes ({free / pages:.0%}) are free pages",
                "chaindb maintenance --vacuum gives them back",
            )
        )
    _sqlite_wal(db, report)
    if journal != "wal":
        report.findings.append(
            Finding("warning", "journal-mode", "journal_mode", f"is {journal}, not wal")
        )
    if synchronous < 2:  # FULL is 2
        report.findings.append(
            Finding(
                "info",
                "synchronous",
                "synchronous",
                "is NORMAL: the last commits may be lost on a power cut",
                "CHAINDB_SQLITE_SYNCHRONOUS=FULL (the default) keeps every committed payment",
            )
        )


def _sqlite_sizes(driver: Any) -> list[TableSize]:
    """Bytes per table and its indexes, from the dbstat virtual table (when SQLite has it)."""
    try:
        rows = driver.execute(
            "SELECT coalesce(m.tbl_name, s.name), sum(s.pgsize), "
            "sum(CASE WHEN m.type = 'index' THEN s.pgsize ELSE 0 END) "
            "FROM dbstat s LEFT JOIN sqlite_master m ON m.name = s.name "
            "GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
    except dbapi_of(driver).OperationalError:  # built without DBSTAT_VTAB
        return []
    tables = {r[0] for r in driver.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    sizes = []
    for name, total, index_bytes in rows[:TABLES_SHOWN_MAX]:
        if name in tables and not name.startswith("sqlite_"):
            count = driver.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            sizes.append(TableSize(name, count, total, index_bytes))
    return sizes


def _sqlite_wal(db: Database, report: DiagnoseReport) -> None:
    path = sqlite_path(db.url)
    wal = path.with_name(path.name + "-wal") if path is not None else None
    if wal is None or not wal.exists():
        return
    size = wal.stat().st_size
    if size > WAL_BYTES_MAX:
        report.findings.append(
            Finding(
                "warning",
                "wal-size",
                wal.name,
                f"is {size:,} bytes: a long-lived reader keeps checkpoints from catching up",
                "find the connection that holds a read open; PRAGMA wal_checkpoint(TRUNCATE)",
            )
        )
