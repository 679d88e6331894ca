"""PostgreSQL: a large table's JSON Lines built by two server backends at once.

One backend builds a line in about 1.3 µs where COPY takes 0.55 (export_json): the server
sets an export's pace. A table of SPLIT_ROWS_MIN rows or more, with an integer key, is read
in PARTS key ranges, each on its own connection: the export's own reads the first range and
its lines go straight out; each other range is read by a helper connection in a thread of its
own and spooled to a temporary file beside the output (the system's temporary directory when
the export goes to stdout; not memory), which is appended when the ranges before it are out.
The lines come in key order, as unsplit.

Every helper imports the export's snapshot (pg_export_snapshot, SET TRANSACTION SNAPSHOT):
all ranges, and all tables, see the database as of one moment. A helper first takes its lock
on the table NOWAIT: the export's transaction holds its own, and a DDL statement queued
behind it would make a waiting helper wait for ever (the export waits for its helpers);
without the lock, or without a spare connection, the table is read unsplit.

On any error (a helper's read or spool, the export's read or write), the helpers' queries
are cancelled and their threads joined before their connections are closed: a stream holds
its connection's lock until it ends, and a rollback would wait on it.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager, suppress
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from chaindb.ops.export_json import Chunk, chunks_by_the_database, chunks_of, sql_of

SPLIT_ROWS_MIN = 100_000  # below, a second connection's set-up costs more than it saves
PARTS = 2  # one backend a core, on the 2-core machine measured (bench/ops.py)


@dataclass
class _Part:
    """A key range read by a helper connection into its spool."""

    where: str
    driver: Any
    dialect: sa.Dialect
    spool: IO[bytes]
    sizes: list[tuple[int, int]] = field(default_factory=list)  # (bytes, rows) a chunk
    error: BaseException | None = None
    thread: threading.Thread | None = None


def split_chunks(
    conn: Connection, table: sa.Table, *, spool_dir: Path | None = None
) -> Iterator[Chunk] | None:
    """The table's JSON Lines built by PARTS connections on the export's snapshot, or None
    where it is not worth it (SQLite, a small table, a key that is not one integer). The
    helpers' spools go to `spool_dir` (None: the system's temporary directory)."""
    if conn.dialect.name != "postgresql" or sql_of(table, conn.dialect) is None:
        return None
    key = _integer_key(table)
    if key is None:
        return None
    quoted = conn.dialect.identifier_preparer.quote(key.name)
    bounds = _bounds(conn, table, quoted)
    if bounds is None:
        return None
    return _in_parts(conn, table, _ranges(quoted, bounds), spool_dir)


def _integer_key(table: sa.Table) -> sa.Column | None:
    keys = list(table.primary_key.columns)
    if len(keys) != 1:
        return None
    kind = keys[0].type
    if isinstance(kind, sa.types.TypeDecorator):
        kind = kind.impl_instance
    return keys[0] if isinstance(kind, sa.Integer) else None


def _bounds(conn: Connection, table: sa.Table, key: str) -> list[int] | None:
    """The keys where ranges end (the last range has none), from the key's least and
    greatest (its index: two probes); None for a table under SPLIT_ROWS_MIN rows: as the
    planner estimates them (every partition's), or by the key's span if never analyzed."""
    name = conn.dialect.identifier_preparer.format_table(table)
    estimate, low, high = conn.exec_driver_sql(
        "SELECT (SELECT sum(c.reltuples) FILTER (WHERE c.reltuples >= 0)"
        "   FROM pg_partition_tree(%(table)s::regclass) p JOIN pg_class c ON c.oid = p.relid"
        "   WHERE p.isleaf),"
        f" min({key}), max({key}) FROM {name}",
        {"table": name},
    ).one()
    if low is None:
        return None
    rows = estimate if estimate is not None else high - low + 1
    if rows < max(SPLIT_ROWS_MIN, PARTS):
        return None
    return [low + (high - low) * n // PARTS for n in range(1, PARTS)]


def _ranges(key: str, bounds: list[int]) -> list[str]:
    """WHERE clauses: up to the first bound, between each two, past the last."""
    ranges = [f"{key} <= {bounds[0]}"]
    ranges += [f"{key} > {low} AND {key} <= {high}" for low, high in pairwise(bounds)]
    return [*ranges, f"{key} > {bounds[-1]}"]


def _in_parts(
    conn: Connection, table: sa.Table, ranges: list[str], spool_dir: Path | None
) -> Iterator[Chunk]:
    with ExitStack() as stack:
        parts = _helpers(stack, conn, table, ranges[1:], spool_dir)
        if parts is None:  # no lock or no connection to be had: unsplit
            yield from _closing(stack, chunks_by_the_database(conn, table))
            return
        stop = threading.Event()
        stack.callback(_stopped, parts, stop)  # out first: before any helper is closed
        for part in parts:
            part.thread = threading.Thread(
                target=_spool_part, args=(part, table, stop), name="chaindb-export", daemon=True
            )
            part.thread.start()
        for chunk in _closing(stack, chunks_by_the_database(conn, table, where=ranges[0])):
            _raise_failed(parts)  # a helper's error surfaces now, not at the end
            yield chunk
        for part in parts:
            assert part.thread is not None
            part.thread.join()
            _raise_failed([part])
            yield from _replayed(part)


def _helpers(
    stack: ExitStack, conn: Connection, table: sa.Table, ranges: list[str], spool_dir: Path | None
) -> list[_Part] | None:
    """A helper connection for each range, on the export's snapshot, its table locked; None
    if one cannot be had (those opened are closed with the stack)."""
    if not _spare_connections(conn.engine, len(ranges)):
        return None
    snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
    parts = []
    for where in ranges:
        driver = stack.enter_context(_helper(conn.engine, snapshot, table))
        if driver is None:
            return None
        spool = tempfile.TemporaryFile(prefix="chaindb-export-", dir=spool_dir)  # noqa: SIM115 (the stack's)
        stack.enter_context(spool)
        parts.append(_Part(where, driver, conn.dialect, spool))
    return parts


def _spare_connections(engine: Engine, wanted: int) -> bool:
    """Whether the pool can lend `wanted` more connections now, without waiting for one."""
    pool = engine.pool
    if not isinstance(pool, sa.pool.QueuePool):
        return True
    overflow = pool._max_overflow  # no public reader; -1: no limit
    return overflow < 0 or pool.checkedout() + wanted <= pool.size() + overflow


@contextmanager
def _helper(engine: Engine, snapshot: str, table: sa.Table) -> Iterator[Any]:
    """A connection's driver in a transaction on `snapshot`, the table locked for reading;
    None if the lock or the connection cannot be had at once."""
    try:
        helper = engine.connect().execution_options(isolation_level="REPEATABLE READ")
    except (DBAPIError, sa.exc.TimeoutError):  # the server's max_connections, or the pool's
        # (another thread took the spare connection since it was counted): unsplit
        yield None
        return
    try:
        helper.begin()
        helper.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        helper.exec_driver_sql("SET LOCAL statement_timeout = 0")  # as the export's own read
        name = helper.dialect.identifier_preparer.format_table(table)
        helper.exec_driver_sql(f"LOCK TABLE {name} IN ACCESS SHARE MODE NOWAIT")
    except DBAPIError:
        _close(helper)
        yield None
        return
    try:
        yield helper.connection.driver_connection
    finally:
        _close(helper)


def _close(helper: Connection) -> None:
    """Rolled back and given back; invalidated if that fails (a lost connection), so that an
    error there never hides the one that ended the export."""
    try:
        helper.rollback()
        helper.close()
    except Exception:
        with suppress(Exception):
            helper.invalidate()
            helper.close()


def _spool_part(part: _Part, table: sa.Table, stop: threading.Event) -> None:
    """In the helper's thread: its range's lines into its spool, until done or stopped."""
    try:
        chunks = chunks_of(part.driver, part.dialect, table, where=part.where)
        assert chunks is not None  # split_chunks checked sql_of
        with closing(chunks):  # the stream ends here, in the thread that reads it
            for chunk in chunks:
                if stop.is_set():
                    break
                part.spool.write(chunk.lines)
                part.sizes.append((len(chunk.lines), chunk.rows))
    except BaseException as error:  # raised in the export's own thread (_raise_failed)
        part.error = error


def _stopped(parts: list[_Part], stop: threading.Event) -> None:
    """The helpers stopped: their queries cancelled (each stream then ends at once) and their
    threads joined, before their connections are rolled back."""
    stop.set()
    for part in parts:
        if part.thread is not None and part.thread.is_alive():
            with suppress(Exception):  # a lost connection has nothing to cancel
                getattr(part.driver, "cancel_safe", part.driver.cancel)()  # psycopg < 3.2
    for part in parts:
        if part.thread is not None:
            part.thread.join()


def _raise_failed(parts: list[_Part]) -> None:
    for part in parts:
        if part.error is not None:
            raise part.error


def _replayed(part: _Part) -> Iterator[Chunk]:
    part.spool.seek(0)
    for size, rows in part.sizes:
        yield Chunk(part.spool.read(size), rows)


def _closing(stack: ExitStack, chunks: Iterator[Chunk] | None) -> Iterator[Chunk]:
    """`chunks`, closed with the stack (a stream left open holds its connection's lock)."""
    assert chunks is not None  # split_chunks checked sql_of
    return stack.enter_context(closing(chunks))
