"""PostgreSQL's diagnostics (see ops/diagnose.py), the seeds' queries corrected for 12+:

- sizes by `relid` (a regclass: the seeds' `pg_total_relation_size(table_name)` breaks on
  mixed-case and schema-qualified names); index usage from pg_stat_user_indexes' `relname` and
  `indexrelname` (the seeds' `tablename`/`indexname` do not exist there);
- pg_stat_statements' times as `total_exec_time`/`mean_exec_time` since 13 (`total_time` and
  `mean_time` before), its columns probed rather than assumed.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.database import Database
from chaindb.ops.diagnose import TABLES_SHOWN_MAX, DiagnoseReport, Finding, TableSize

LIVE_ROWS_FOR_INDEX_ADVICE = 10_000
ROWS_PER_SEQ_SCAN_MIN = 1_000  # fewer: a small lookup table, a sequential scan is right
DEAD_ROWS_MIN = 10_000
DEAD_SHARE_MAX = 0.2  # of the live rows: autovacuum's own default trigger
CONNECTIONS_WARNING_SHARE = 0.8
CONNECTIONS_CRITICAL_SHARE = 0.95
XID_AGE_WARNING = 1_000_000_000
XID_AGE_CRITICAL = 1_500_000_000  # wraparound protection stops writes at ~2.1 billion
SLOWEST_STATEMENTS = 10
UNUSED_INDEX_BYTES_MIN = 1024 * 1024  # smaller: it costs next to nothing to keep
QUERY_SHOWN_CHARS = 120
REPLICA_ADVICE = "its reads go to the primary meanwhile; see the replica's server log"

# Seed 001's postgresql.conf: (value, which way is better, why). Values in pg_settings' units
# (memory in bytes, times in ms) once read.
RECOMMENDED: dict[str, tuple[str, str, str]] = {
    "shared_buffers": ("256MB", "more", "the server's own cache: hot accounts and indexes"),
    "effective_cache_size": ("1GB", "more", "lets the planner count on the OS cache"),
    "work_mem": ("16MB", "more", "sorts and hashes of reports stay in memory"),
    "maintenance_work_mem": ("128MB", "more", "faster VACUUM, CREATE INDEX and REINDEX"),
    "checkpoint_completion_target": ("0.9", "more", "spreads checkpoint writes: no stalls"),
    "wal_buffers": ("16MB", "more", "fewer WAL writes under many small commits"),
    "random_page_cost": ("1.1", "less", "on SSD an index read costs about a sequential one"),
    "effective_io_concurrency": ("200", "more", "SSDs serve many reads at once"),
    "log_min_duration_statement": ("1000", "less", "statements slower than 1 s reach the log"),
}
_UNIT_BYTES = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_SUFFIXES_LONGEST_FIRST = sorted(_UNIT_BYTES.items(), key=lambda item: -len(item[0]))


def diagnose_postgres(db: Database, report: DiagnoseReport, *, long_query_s: float) -> None:
    with db.connection() as plain:
        conn = plain.execution_options(isolation_level="AUTOCOMMIT")
        _tables(conn, report)
        _unused_indexes(conn, report)
        _long_queries(conn, report, long_query_s)
        _connections(conn, report)
        _transaction_age(conn, report)
        _statements(conn, report)
        _settings(conn, report)
    _replicas(db, report)


def _replicas(db: Database, report: DiagnoseReport) -> None:
    """Each replica's lag; one down or lagging past the bound is named (reads skip it)."""
    lag_max_s = db.settings.replica_lag_max_s
    for state in db.replica_states():
        report.replicas.append(asdict(state))
        if state.error is not None:
            report.findings.append(
                Finding("warning", "replica-down", state.url, state.error, REPLICA_ADVICE)
            )
        elif state.lag_s is not None and state.lag_s > lag_max_s:
            message = f"lags {state.lag_s:g} s behind the primary (bound {lag_max_s:g} s)"
            report.findings.append(
                Finding("warning", "replica-lag", state.url, message, REPLICA_ADVICE)
            )
        else:
            message = f"lag {state.lag_s:g} s"
            report.findings.append(Finding("info", "replica-lag", state.url, message))


def _tables(conn: Connection, report: DiagnoseReport) -> None:
    rows = conn.execute(
        sa.text(
            "SELECT relname, n_live_tup, n_dead_tup, pg_total_relation_size(relid) AS total, "
            "pg_indexes_size(relid) AS indexes, seq_scan, seq_tup_read, "
            "coalesce(idx_scan, 0) AS idx_scan, "
            "greatest(last_vacuum, last_autovacuum) AS vacuumed, "
            "greatest(last_analyze, last_autoanalyze) AS analyzed "
            "FROM pg_stat_user_tables WHERE schemaname = current_schema() ORDER BY total DESC"
        )
    ).all()
    report.tables = [
        TableSize(r.relname, r.n_live_tup, r.total, r.indexes) for r in rows[:TABLES_SHOWN_MAX]
    ]
    for r in rows:
        if r.n_dead_tup > DEAD_ROWS_MIN and r.n_dead_tup > DEAD_SHARE_MAX * r.n_live_tup:
            report.findings.append(
                Finding(
                    "warning",
                    "dead-rows",
                    r.relname,
                    f"{r.n_dead_tup:,} dead rows against {r.n_live_tup:,} live; last vacuum "
                    f"{r.vacuumed or 'never'}",
                    f"VACUUM (ANALYZE) {r.relname}; on a busy table lower its "
                    "autovacuum_vacuum_scale_factor",
                )
            )
        seq_heavy = r.seq_scan > r.idx_scan and r.seq_tup_read > ROWS_PER_SEQ_SCAN_MIN * r.seq_scan
        if r.n_live_tup > LIVE_ROWS_FOR_INDEX_ADVICE and seq_heavy:
            report.findings.append(
                Finding(
                    "warning",
                    "sequential-scans",
                    r.relname,
                    f"{r.seq_scan:,} sequential scans (about {r.seq_tup_read // r.seq_scan:,} "
                    f"rows each) against {r.idx_scan:,} index scans",
                    "EXPLAIN the queries on it: one may miss an index",
                )
            )
        if r.analyzed is None and r.n_live_tup > LIVE_ROWS_FOR_INDEX_ADVICE:
            report.findings.append(
                Finding(
                    "warning",
                    "never-analyzed",
                    r.relname,
                    f"{r.n_live_tup:,} rows and no statistics yet: the planner guesses",
                    "chaindb maintenance --analyze",
                )
            )


def _unused_indexes(conn: Connection, report: DiagnoseReport) -> None:
    reset = conn.execute(
        sa.text("SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()")
    ).scalar()
    rows = conn.execute(
        sa.text(
            "SELECT s.relname, s.indexrelname, pg_relation_size(s.indexrelid) AS size "
            "FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid "
            "WHERE s.schemaname = current_schema() AND s.idx_scan = 0 "
            "AND NOT i.indisunique AND NOT i.indisprimary "
            "AND pg_relation_size(s.indexrelid) >= :size_min ORDER BY size DESC"
        ),
        {"size_min": UNUSED_INDEX_BYTES_MIN},
    ).all()
    since = f"since the statistics were reset ({reset})" if reset else "since the server began"
    for r in rows:
        report.findings.append(
            Finding(
                "info",
                "unused-index",
                f"{r.relname}.{r.indexrelname}",
                f"never used {since}; {r.size:,} bytes kept up on every write",
                "if a full business cycle has passed, a migration may drop it",
            )
        )


def _long_queries(conn: Connection, report: DiagnoseReport, long_query_s: float) -> None:
    rows = conn.execute(
        sa.text(
            "SELECT pid, state, now() - coalesce(xact_start, query_start) AS running, query "
            "FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state <> 'idle' "
            "AND now() - coalesce(xact_start, query_start) > make_interval(secs => :limit_s) "
            "ORDER BY running DESC"
        ),
        {"limit_s": long_query_s},
    ).all()
    for r in rows:
        idle = r.state.startswith("idle in transaction")
        report.findings.append(
            Finding(
                "warning",
                "open-transaction" if idle else "long-query",
                f"pid {r.pid}",
                f"{r.state} for {r.running}: {' '.join(r.query.split())[:QUERY_SHOWN_CHARS]}",
                "an open transaction holds locks and keeps VACUUM from cleaning: find its "
                "client, or SELECT pg_terminate_backend(pid)"
                if idle
                else "EXPLAIN it; SELECT pg_cancel_backend(pid) stops it",
            )
        )


def _connections(conn: Connection, report: DiagnoseReport) -> None:
    used = conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity")).scalar_one()
    allowed = int(conn.execute(sa.text("SHOW max_connections")).scalar_one())
    share = used / allowed
    if share >= CONNECTIONS_WARNING_SHARE:
        report.findings.append(
            Finding(
                "critical" if share >= CONNECTIONS_CRITICAL_SHARE else "warning",
                "connections",
                "max_connections",
                f"{used} of {allowed} connections in use ({share:.0%})",
                "lower CHAINDB_POOL_SIZE per process, or put PgBouncer in front",
            )
        )


def _transaction_age(conn: Connection, report: DiagnoseReport) -> None:
    age = conn.execute(
        sa.text("SELECT age(datfrozenxid) FROM pg_database WHERE datname = current_database()")
    ).scalar_one()
    if age >= XID_AGE_WARNING:
        report.findings.append(
            Finding(
                "critical" if age >= XID_AGE_CRITICAL else "warning",
                "xid-age",
                "datfrozenxid",
                f"the oldest unfrozen transaction id is {age:,} transactions old",
                "VACUUM (FREEZE) the oldest tables before PostgreSQL stops taking writes",
            )
        )


def _statements(conn: Connection, report: DiagnoseReport) -> None:
    installed = conn.execute(
        sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
    ).first()
    if installed is None:
        report.findings.append(
            Finding(
                "info",
                "pg-stat-statements",
                "pg_stat_statements",
                "not installed: the slowest statements cannot be listed",
                "shared_preload_libraries = 'pg_stat_statements' in postgresql.conf, a "
                "restart, then CREATE EXTENSION pg_stat_statements",
            )
        )
        return
    columns = {
        row[0]
        for row in conn.execute(
            sa.text(
                "SELECT attname FROM pg_attribute "
                "WHERE attrelid = 'pg_stat_statements'::regclass AND attnum > 0"
            )
        )
    }
    total, mean = (
        ("total_exec_time", "mean_exec_time")
        if "total_exec_time" in columns
        else ("total_time", "mean_time")
    )
    rows = conn.execute(
        sa.text(
            f"SELECT query, calls, {total} AS total_ms, {mean} AS mean_ms "
            f"FROM pg_stat_statements ORDER BY {mean} DESC LIMIT {SLOWEST_STATEMENTS}"
        )
    ).mappings()
    report.slowest_statements = [_statement(row) for row in rows]


def _statement(row: Any) -> dict[str, Any]:
    return {
        "query": " ".join(str(row["query"]).split())[:QUERY_SHOWN_CHARS],
        "calls": int(row["calls"]),
        "total_ms": round(float(row["total_ms"]), 3),
        "mean_ms": round(float(row["mean_ms"]), 3),
    }


def _settings(conn: Connection, report: DiagnoseReport) -> None:
    """Worse than seed 001's recommendation: said, with the reason (a setting better than
    recommended is left alone)."""
    rows = conn.execute(
        sa.text("SELECT name, setting, unit FROM pg_settings WHERE name = ANY(:names)"),
        {"names": list(RECOMMENDED)},
    ).all()
    for name, setting, unit in rows:
        recommended, better, reason = RECOMMENDED[name]
        if better == "more" and setting == "-1":  # wal_buffers' -1: sized from shared_buffers
            continue
        current = _number(setting, unit)
        wanted = _number(recommended, None)
        worse = current < wanted if better == "more" else current > wanted or current < 0
        if worse:
            shown = conn.execute(sa.text(f"SHOW {name}")).scalar_one()
            report.findings.append(
                Finding(
                    "info",
                    "setting",
                    name,
                    f"is {shown}; seed 001 recommends {recommended}: {reason}",
                    f"ALTER SYSTEM SET {name} = '{recommended}' (then reload or restart)",
                )
            )


def _number(value: str, unit: str | None) -> float:
    """A setting's value in a common unit: bytes for memory ('8kB' units, or '16MB'), else
    the number itself (ms for times, as pg_settings gives them)."""
    text = value.strip()
    for suffix, size in _SUFFIXES_LONGEST_FIRST:
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(text[: -len(suffix)]) * size
    number = float(text)
    for suffix, size in _SUFFIXES_LONGEST_FIRST if unit else ():
        if unit.endswith(suffix):  # type: ignore[union-attr]
            return number * float(unit[: -len(suffix)] or 1) * size  # type: ignore[index]
    return number
