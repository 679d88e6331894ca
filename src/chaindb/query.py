"""Ad hoc SQL that can only read: what `chaindb query` runs, on either backend.

    from chaindb.query import run_query
    result = run_query(db, "SELECT id, amount FROM ledger_transfers ORDER BY id DESC", limit=10)
    result.columns, result.rows, result.more

One statement per call, in a transaction that refuses to write and is always rolled back:
- PostgreSQL: `SET TRANSACTION READ ONLY` (INSERT, UPDATE, DELETE, DDL, nextval() refused by
  the server); the statement is parsed on its own first (a second statement is refused there,
  so a `COMMIT; DELETE …` cannot end the read-only transaction), and its rows are streamed in
  chunks, so `limit` bounds what reaches the client, not only what is printed.
- SQLite: a deferred transaction with `PRAGMA query_only` on for the statement (restored
  after); the driver runs one statement at a time, and ATTACH (which would create a file) is
  refused by an authorizer.
Only a statement that starts as a read may run (SELECT, WITH, VALUES, TABLE, EXPLAIN, SHOW; on
SQLite also PRAGMA): a read-only transaction still lets PostgreSQL's COPY … TO write a file on
the server, for a superuser. Connect `query` as a role without superuser rights all the same:
a superuser's functions (pg_read_file, lo_export) read and write the server's files.
The connection it ran on is closed afterwards, never returned to the pool: whatever the
statement changed in its session (a PRAGMA, a SET, an advisory lock) ends with it.

Amounts come back as Python ints. On PostgreSQL a NUMERIC without fraction digits (an amount
column, or a sum of them) is a Decimal the driver gives, read as int. On SQLite an amount is
stored as text of exactly 78 digits, zero-padded (types.AmountType; a CHECK constraint holds
every amount column to that shape), and text of that exact shape is read as the int it spells:
the rule follows the value through aliases, views, subqueries, min() and max(), where a rule on
column names would not. SQLite's own sum() of amounts is not exact (past 2**63 it fails with
"integer overflow"): sum them exactly with
`chaindb_uint_sum(amount)` (its digits come back as text).
"""

from __future__ import annotations

import contextlib
import itertools
import re
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

from chaindb.database import Database
from chaindb.errors import InvalidInput
from chaindb.sqlite_engine import dbapi_of
from chaindb.types import UINT256_DIGITS

QUERY_LIMIT_DEFAULT = 1000
QUERY_LIMIT_MAX = 100_000
# Rows the server sends to the client at a time (PostgreSQL with libpq >= 17; else one by one).
STREAM_CHUNK_ROWS = 1000
_POSTGRES_READ_ONLY_SQLSTATE = "25006"


class QueryResult(NamedTuple):
    columns: list[str]  # empty for a statement that returns no rows
    rows: list[tuple[Any, ...]]
    more: bool  # the statement had rows beyond `limit` (neither fetched nor returned)


class WriteRefused(InvalidInput):
    """The statement tried to write: refused by the read-only transaction. Nothing changed."""


def run_query(db: Database, sql: str, *, limit: int = QUERY_LIMIT_DEFAULT) -> QueryResult:
    """Run one SQL statement read-only and return at most `limit` of its rows, amounts as ints.
    A statement that writes raises WriteRefused; one that fails raises InvalidInput with the
    database's reason."""
    if not isinstance(sql, str) or not sql.strip():
        raise InvalidInput("sql", sql, "must be one SQL statement")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= QUERY_LIMIT_MAX:
        raise InvalidInput("limit", limit, f"must be a whole number from 1 to {QUERY_LIMIT_MAX}")
    _refuse_non_reads(sql, db.backend)
    run, read_amount = _BACKENDS[db.backend]
    with db.connection() as conn:
        try:
            columns, rows = run(conn.connection.driver_connection, sql, limit + 1)
        finally:
            conn.invalidate()
    shown = [tuple(map(read_amount, row)) for row in rows[:limit]]
    return QueryResult(columns, shown, more=len(rows) > limit)


_READS = {"select", "with", "values", "table", "explain", "show"}
_READS_OF = {"sqlite": _READS | {"pragma"}, "postgresql": _READS}
_FIRST_WORD = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/|\()*([A-Za-z]+)", re.DOTALL)


def _refuse_non_reads(sql: str, backend: str) -> None:
    match = _FIRST_WORD.match(sql)
    word = match[1].lower() if match else ""
    if word not in _READS_OF[backend]:
        allowed = ", ".join(sorted(word.upper() for word in _READS_OF[backend]))
        raise WriteRefused("sql", sql, f"a query may only read: it must start with {allowed}")


# --- SQLite ----------------------------------------------------------------------------------


def _sqlite_rows(driver: Any, sql: str, count: int) -> tuple[list[str], list[Any]]:
    driver.execute("BEGIN DEFERRED")
    driver.execute("PRAGMA query_only = ON")
    driver.set_authorizer(_refuse_attach)
    try:
        cursor = driver.execute(sql)
        columns = [column[0] for column in cursor.description or ()]
        return columns, cursor.fetchmany(count) if columns else []
    except (dbapi_of(driver).Error, dbapi_of(driver).Warning) as error:
        # Two statements: sqlite3 raises ProgrammingError, SQLCipher's binding a Warning.
        raise _sqlite_refusal(sql, error) from None
    finally:
        driver.set_authorizer(None)
        if driver.in_transaction:  # the statement may have been a COMMIT (nothing was written)
            driver.execute("ROLLBACK")
        driver.execute("PRAGMA query_only = OFF")


def _refuse_attach(action: int, *_names: object) -> int:
    # SQLite's own codes: the same numbers in sqlite3 and SQLCipher's module
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _sqlite_refusal(sql: str, error: Exception) -> InvalidInput:
    reason = str(error)
    if getattr(error, "sqlite_errorname", None) in ("SQLITE_READONLY", "SQLITE_AUTH"):
        return WriteRefused("sql", sql, f"a query may only read (the database said: {reason})")
    if "one statement" in reason:
        return InvalidInput("sql", sql, "must be one statement (run them one at a time)")
    return InvalidInput("sql", sql, reason)


def _sqlite_amount(value: Any) -> Any:
    """Text of exactly 78 ASCII digits is how SQLite stores an amount: the int it spells."""
    if type(value) is str and len(value) == UINT256_DIGITS and value.isascii() and value.isdigit():
        return int(value)
    return value


# --- PostgreSQL ------------------------------------------------------------------------------


def _postgresql_rows(driver: Any, sql: str, count: int) -> tuple[list[str], list[Any]]:
    import psycopg

    pooled = _pooled(driver)
    try:
        with driver.cursor() as cursor:
            cursor.execute("SET TRANSACTION READ ONLY")
            if pooled:
                cursor.execute(f"SAVEPOINT {_SAVEPOINT}")
            columns = _postgresql_columns(driver, sql)
            if not columns:  # run for its errors: a write is refused here
                # Prepared, as a second statement never runs; not when pooled: a named
                # statement would outlive the transaction (the parse above already refused a
                # second statement).
                cursor.execute(sql, prepare=None if pooled else True)
                return [], []
            chunked = psycopg.capabilities.has_stream_chunked()
            stream = cursor.stream(sql, size=min(count, STREAM_CHUNK_ROWS) if chunked else 1)
            try:
                return columns, list(itertools.islice(stream, count))
            finally:
                stream.close()  # cancels the statement if rows remain
    except psycopg.Error as error:
        raise _postgresql_refusal(sql, error.sqlstate, str(error)) from None
    finally:
        if pooled:
            _end_session_changes(driver)
        driver.rollback()


_SAVEPOINT = "chaindb_query"


def _pooled(driver: Any) -> bool:
    """Behind a transaction pooler: chaindb connects with no prepare threshold exactly then
    (database.py)."""
    return driver.prepare_threshold is None


def _end_session_changes(driver: Any) -> None:
    """Behind a transaction pooler, closing our connection does not end the server's session:
    what outlives a rollback (a session advisory lock) is undone in the same transaction,
    after a rollback to the savepoint that revives it if the statement failed."""
    import psycopg

    with contextlib.suppress(psycopg.Error):  # a connection lost: the pooler ends its session
        driver.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        driver.execute("SELECT pg_advisory_unlock_all()")


def _postgresql_columns(driver: Any, sql: str) -> list[str]:
    """The statement's result columns, from parsing it alone (nothing runs). Parsing refuses a
    second statement. (The stream gives no column names when there are no rows.)"""
    from psycopg import pq

    encoding = driver.info.encoding
    parsed = driver.pgconn.prepare(b"", sql.encode(encoding))
    if parsed.status != pq.ExecStatus.COMMAND_OK:
        sqlstate = parsed.error_field(pq.DiagnosticField.SQLSTATE)
        message = parsed.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or b"cannot be parsed"
        raise _postgresql_refusal(
            sql, sqlstate.decode() if sqlstate else None, message.decode(encoding)
        )
    described = driver.pgconn.describe_prepared(b"")
    return [described.fname(n).decode(encoding) for n in range(described.nfields)]


def _postgresql_refusal(sql: str, sqlstate: str | None, reason: str) -> InvalidInput:
    first_line = reason.splitlines()[0] if reason else "failed"
    if sqlstate == _POSTGRES_READ_ONLY_SQLSTATE:
        return WriteRefused("sql", sql, f"a query may only read (the database said: {first_line})")
    if "multiple commands" in first_line:
        return InvalidInput("sql", sql, "must be one statement (run them one at a time)")
    return InvalidInput("sql", sql, first_line)


def _postgresql_amount(value: Any) -> Any:
    """A NUMERIC with no fraction digits (an amount, a sum of amounts) is a whole number."""
    if type(value) is Decimal and value.is_finite() and value.as_tuple().exponent >= 0:  # type: ignore[operator]
        return int(value)
    return value


_BACKENDS: dict[str, tuple[Callable[[Any, str, int], tuple[list[str], list[Any]]], Any]] = {
    "sqlite": (_sqlite_rows, _sqlite_amount),
    "postgresql": (_postgresql_rows, _postgresql_amount),
}
