"""Partitioned append-only tables on PostgreSQL: range partitions by time, created ahead by
maintenance, and retention by dropping whole partitions instead of deleting rows.

Opt-in, per table, among those the modules name (their faces' PARTITION_KEYS: table -> time
column): ledger_transfers, plays, games_audit_log, performance_metrics, blockchain_audit_logs,
oracle_sync_logs. `enable` converts a table with its rows in one transaction under the
migration lock (ops/partitions_postgres.py says how, and how unique keys and foreign keys stay
whole); `disable` makes it a plain table again the same way (ops/partitions_disable.py);
`create_ahead` (run by `maintenance --cleanup`) keeps partitions ready for the coming
intervals; `drop_older` drops the partitions wholly older than a cutoff, after the module's
`before_partition_drop` hook (the ledger folds the dropped transfers' totals so that its check
stays exact, the creators module its plays'). Partitioning is PostgreSQL's: on SQLite each
call says so.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.database import Database
from chaindb.errors import Conflict, InvalidInput
from chaindb.migrations.lock import migration_lock
from chaindb.ops import partitions_postgres as pg
from chaindb.ops.modules import installed_faces
from chaindb.ops.partitions_disable import revert
from chaindb.ops.partitions_shape import capture
from chaindb.types import utc_now

INTERVALS = ("month", "week", "day")
AHEAD_DEFAULT = 3  # intervals ready beyond the current one
AHEAD_MAX = 120
PARTITIONS_PER_CALL_MAX = 1_000  # a conversion or a catch-up creates at most this many
AGE_MAX_DAYS = 36_500
PRUNE_BATCH_SIZE = 10_000  # key rows per transaction when a partition's keys go
PRUNE_BATCHES_MAX = 100_000  # 10^9 key rows: more than any one partition holds
_AGE = re.compile(r"^\s*(\d+)\s*([dwh])\s*$")
_AGE_UNITS = {"d": "days", "w": "weeks", "h": "hours"}


@dataclass
class PartitionStatus:
    name: str
    lower: str | None  # ISO 8601, UTC; None: the DEFAULT partition
    upper: str | None
    rows_estimate: int


@dataclass
class TableStatus:
    table: str
    module: str
    time_column: str
    partitioned: bool
    interval: str | None = None
    key_table: str | None = None
    partitions: list[PartitionStatus] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DroppedPartition:
    table: str
    partition: str
    upper: str  # every row it held was older than this
    rows: int
    keys_pruned: int = 0  # its rows' key rows deleted (or released, when still named)
    drop_s: float = 0.0  # the module's hook and the DROP: the table is locked meanwhile
    keys_s: float = 0.0  # pruning the key rows, in batches: writers go on


def partitionable_tables(db: Database) -> dict[str, tuple[str, str]]:
    """table -> (module, time column) for the installed modules that offer partitioning."""
    found = {}
    for name, face in installed_faces(db):
        for table, column in getattr(face, "PARTITION_KEYS", {}).items():
            found[table] = (name, column)
    return found


def status(db: Database) -> list[TableStatus]:
    """Each partitionable table: partitioned or not, its interval and partitions."""
    tables = _partitionable(db)
    with db.connection() as conn:
        _utc(conn)
        return [_status(conn, table, module, column) for table, (module, column) in tables.items()]


def enable(
    db: Database, *, table: str, interval: str = "month", ahead: int = AHEAD_DEFAULT
) -> TableStatus:
    """Convert `table` into one partitioned by its time column, rows and all, in one
    transaction (writers wait for it: the table is locked meanwhile)."""
    tables = _partitionable(db)
    _check_table(table, tables)
    _check_interval(interval)
    _check_ahead(ahead)
    module, column = tables[table]
    claims = table in getattr(dict(installed_faces(db))[module], "CLAIMS_KEYS_FIRST", ())
    with migration_lock(db), db.transaction() as conn:
        _utc(conn)
        conn.exec_driver_sql("SET LOCAL statement_timeout = 0")  # moves every row
        if pg.relkind(conn, table) == "p":
            raise Conflict(f"{table} is already partitioned (`chaindb partitions status`)")
        conn.exec_driver_sql(f"LOCK TABLE {_quote(conn, table)} IN ACCESS EXCLUSIVE MODE")
        shape = capture(conn, table, column)
        ranges = _ranges_for(conn, table, column, interval, ahead)
        pg.convert(
            conn, table=table, column=column, shape=shape, ranges=ranges, claims_keys_first=claims
        )
        conn.exec_driver_sql(f"ANALYZE {_quote(conn, table)}")
        return _status(conn, table, module, column)


def disable(db: Database, *, table: str) -> TableStatus:
    """Make partitioned `table` a plain table again, rows and all, with the keys, indexes,
    foreign keys, triggers, views and grants it had before `enable`, in one transaction
    (ops/partitions_disable.py says how); its key table goes."""
    tables = _partitionable(db)
    _check_table(table, tables)
    module, column = tables[table]
    declared = dict(installed_faces(db))[module].metadata.tables[table]
    with migration_lock(db), db.transaction() as conn:
        _utc(conn)
        conn.exec_driver_sql("SET LOCAL statement_timeout = 0")  # moves every row
        _lock_partitions_of(conn, table)
        if pg.relkind(conn, table) != "p":
            raise Conflict(f"{table} is not partitioned (`chaindb partitions status`)")
        conn.exec_driver_sql(f"LOCK TABLE {_quote(conn, table)} IN ACCESS EXCLUSIVE MODE")
        revert(conn, table=table, primary_key=[c.name for c in declared.primary_key.columns])
        conn.exec_driver_sql(f"ANALYZE {_quote(conn, table)}")
        return _status(conn, table, module, column)


def create_ahead(db: Database, *, count: int = AHEAD_DEFAULT) -> list[str]:
    """Create the partitions of the current interval and the `count` after it (and any
    missed since the last one), for every partitioned table; their names."""
    _check_ahead(count)
    _partitionable(db)  # refused on SQLite, saying why
    created: list[str] = []
    for table in _partitioned(db):
        with db.transaction() as conn:
            _utc(conn)
            created += _ahead(conn, table, count)
    return created


def drop_older(
    db: Database, *, older_than: timedelta, dry_run: bool = False
) -> list[DroppedPartition]:
    """Drop every partition whose rows are all older than now - `older_than`, one
    transaction each (the module's hook first); the DEFAULT partition is never dropped."""
    if older_than <= timedelta(0):
        raise InvalidInput("older_than", older_than, "must be positive")
    tables = _partitionable(db)
    faces = dict(installed_faces(db))
    cutoff = utc_now() - older_than
    dropped = []
    for table in _partitioned(db):
        module = faces[tables[table][0]]
        with db.connection() as conn:
            _utc(conn)
            old = [p for p in pg.partition_bounds(conn, table) if p[2] and p[2] <= cutoff]
        for name, lower, upper in old:
            assert upper is not None
            started = time.perf_counter()
            rows = _drop_one(db, module, table, name, upper, dry_run=dry_run)
            if rows is None:  # another process dropped it meanwhile
                continue
            dropped_at = time.perf_counter()
            keys = 0 if dry_run else _prune_keys(db, table, lower, upper)
            timing = (round(dropped_at - started, 3), round(time.perf_counter() - dropped_at, 3))
            dropped.append(DroppedPartition(table, name, upper.isoformat(), rows, keys, *timing))
    return dropped


def parse_age(text: str) -> timedelta:
    """'90d', '12w', '36h' -> a timedelta; anything else is refused, saying the form."""
    match = _AGE.match(text)
    if match is None:
        raise InvalidInput(
            "older-than", text, "must be a number of days, weeks or hours: 90d, 12w, 36h"
        )
    number, unit = int(match.group(1)), match.group(2)
    age = timedelta(**{_AGE_UNITS[unit]: number})
    if age <= timedelta(0) or age > timedelta(days=AGE_MAX_DAYS):
        raise InvalidInput("older-than", text, f"must be more than 0 and at most {AGE_MAX_DAYS}d")
    return age


def maintenance_step(db: Database) -> list[str]:
    """maintenance --cleanup: partitions ahead for every partitioned table."""
    if db.backend != "postgresql":
        return []
    created = create_ahead(db)
    return [f"partitions: created {', '.join(created)}"] if created else []


# --- intervals --------------------------------------------------------------------------------


def floor_to(moment: datetime, interval: str) -> datetime:
    """The start (UTC midnight) of the interval `moment` falls in; weeks start on Monday."""
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "month":
        return day.replace(day=1)
    if interval == "week":
        return day - timedelta(days=day.weekday())
    return day


def next_start(start: datetime, interval: str) -> datetime:
    if interval == "month":
        days = calendar.monthrange(start.year, start.month)[1]
        return start + timedelta(days=days)
    return start + timedelta(days=7 if interval == "week" else 1)


def interval_of(lower: datetime, upper: datetime) -> str:
    days = (upper - lower).days
    return "day" if days == 1 else "week" if days == 7 else "month"


def ranges_between(
    start: datetime, end: datetime, interval: str
) -> list[tuple[datetime, datetime]]:
    """[lower, upper) ranges from the interval holding `start` to the one holding `end`."""
    ranges: list[tuple[datetime, datetime]] = []
    lower = floor_to(start, interval)
    while lower <= end:
        if len(ranges) >= PARTITIONS_PER_CALL_MAX:
            raise InvalidInput(
                "interval",
                interval,
                f"would need more than {PARTITIONS_PER_CALL_MAX} partitions: take a longer one",
            )
        upper = next_start(lower, interval)
        ranges.append((lower, upper))
        lower = upper
    return ranges


# --- the steps --------------------------------------------------------------------------------


def _ranges_for(
    conn: Connection, table: str, column: str, interval: str, ahead: int
) -> list[tuple[datetime, datetime]]:
    now = utc_now()
    time, quoted = _quote(conn, column), _quote(conn, table)
    oldest, newest = conn.exec_driver_sql(f"SELECT min({time}), max({time}) FROM {quoted}").one()
    end = floor_to(now, interval)
    for _ in range(ahead):
        end = next_start(end, interval)
    return ranges_between(oldest or now, max(end, newest or end), interval)


def _ahead(conn: Connection, table: str, count: int) -> list[str]:
    _lock_partitions_of(conn, table)
    bounded = [p for p in pg.partition_bounds(conn, table) if p[1] is not None]
    if not bounded:
        return []
    _name, lower, upper = bounded[-1]
    assert lower is not None and upper is not None
    interval = interval_of(lower, upper)
    end = floor_to(utc_now(), interval)
    for _ in range(count):
        end = next_start(end, interval)
    return [
        pg.create_partition(conn, table=table, lower=start, upper=stop)
        for start, stop in ranges_between(upper, end, interval)
        if start >= upper
    ]


def _drop_one(
    db: Database, module: Any, table: str, name: str, upper: datetime, *, dry_run: bool
) -> int | None:
    with db.transaction() as conn:
        _utc(conn)
        _lock_partitions_of(conn, table)
        if pg.relkind(conn, name) is None:
            return None
        if dry_run:
            return int(
                conn.exec_driver_sql(f"SELECT count(*) FROM {_quote(conn, name)}").scalar_one()
            )
        hook = getattr(module, "before_partition_drop", None)
        if hook is not None:
            hook(conn, table=table, partition=name, upper_bound=upper)
        return pg.drop_partition(conn, partition=name)


def _prune_keys(db: Database, table: str, lower: datetime | None, upper: datetime) -> int:
    """The dropped rows' key rows, in batches of their own transactions: the foreign keys
    into the key table are checked once per row (writers go on meanwhile)."""
    with db.connection() as conn:
        if pg.relkind(conn, f"{table}_keys") is None:
            return 0
    pruned = 0
    for _ in range(PRUNE_BATCHES_MAX):
        with db.transaction() as conn:
            done = pg.prune_keys(
                conn, table=table, lower=lower, upper=upper, batch_size=PRUNE_BATCH_SIZE
            )
        pruned += done
        if done == 0:  # a batch may free a key row the next one can take (a post's hold)
            return pruned
    return pruned


def _status(conn: Connection, table: str, module: str, column: str) -> TableStatus:
    report = TableStatus(table, module, column, partitioned=pg.relkind(conn, table) == "p")
    if not report.partitioned:
        return report
    keys = f"{table}_keys"
    report.key_table = keys if pg.relkind(conn, keys) is not None else None
    estimates = dict(
        conn.execute(
            sa.text(
                "SELECT c.relname, greatest(c.reltuples, 0)::bigint FROM pg_inherits i"
                " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = CAST(:t AS regclass)"
            ),
            {"t": table},
        ).all()
    )
    for name, lower, upper in pg.partition_bounds(conn, table):
        report.partitions.append(
            PartitionStatus(
                name,
                lower.isoformat() if lower else None,
                upper.isoformat() if upper else None,
                int(estimates.get(name, 0)),
            )
        )
        if lower is not None and upper is not None:
            report.interval = interval_of(lower, upper)
    return report


def _partitionable(db: Database) -> dict[str, tuple[str, str]]:
    if db.backend != "postgresql":
        raise InvalidInput(
            "database",
            db.display_url,
            "is SQLite: partitioned tables are PostgreSQL's (declarative partitioning)",
        )
    return partitionable_tables(db)


def _partitioned(db: Database) -> list[str]:
    tables = partitionable_tables(db)
    with db.connection() as conn:
        return [table for table in tables if pg.relkind(conn, table) == "p"]


def _check_table(table: str, tables: dict[str, tuple[str, str]]) -> None:
    if table not in tables:
        known = ", ".join(sorted(tables)) or "none installed"
        raise InvalidInput(
            "table", table, f"cannot be partitioned: the tables that can are {known}"
        )


def _check_interval(interval: str) -> None:
    if interval not in INTERVALS:
        raise InvalidInput("interval", interval, f"must be one of {', '.join(INTERVALS)}")


def _check_ahead(count: int) -> None:
    if not 0 <= count <= AHEAD_MAX:
        raise InvalidInput("ahead", count, f"must be from 0 to {AHEAD_MAX}")


def _lock_partitions_of(conn: Connection, table: str) -> None:
    """One process at a time creates or drops a table's partitions (two maintenance runs at
    once would both create the same one); held to the end of the transaction."""
    conn.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtext('chaindb.partitions.' || :t))"),
        {"t": table},
    )


def _utc(conn: Connection) -> None:
    """Partition bounds read and written in UTC, whatever the server's time zone."""
    conn.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)
