"""The ledger's shortcut past SQLAlchemy: statements compiled once and run on the driver's own
connection (sqlite3 or psycopg), values still through the columns' types.

For the write path only, where SQLAlchemy's per-call bookkeeping costs about as much as the
database's own work. Everything else goes through SQLAlchemy (database.py).
"""

from __future__ import annotations

import contextlib
import itertools
import operator
import select
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import ManagesConnection

SQLITE_PARAMETERS_MAX = 999  # per statement: SQLite's limit before 3.32 (32,766 since)


class DriverStatement:
    """A statement compiled once and run on the driver's own connection (sqlite3 or psycopg).

    For the ledger's write path, which runs two or three statements per transfer: SQLAlchemy's
    per-call bookkeeping costs about as much as SQLite's own work there, and as much as a round
    trip to PostgreSQL. Values still go through the columns' types (their bind and result
    processors), so what is stored and read back is what SQLAlchemy would store and read, and
    errors are SQLAlchemy's. The connection must be in a transaction, or in autocommit.
    """

    def __init__(
        self,
        statement: sa.Executable,
        dialect: sa.Dialect,
        results: list[sa.ColumnElement[Any]],
        *,
        fields: Sequence[str] | None = None,
    ) -> None:
        """`fields`: the parameters come as sequences (named tuples) of these fields, in this
        order, instead of mappings."""
        compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        self.sql: str = compiled.string
        # sqlite3 takes positional parameters (qmark), psycopg named ones (pyformat).
        self._positional = compiled.positiontup is not None
        self._names = list(compiled.positiontup if self._positional else compiled.binds)
        self._bound = _Binder(
            self._names, [compiled.binds[name].type for name in self._names], dialect, fields
        )
        self._dialect = dialect
        self._results = results
        # Result converters depend on the column types the server reports: set on first read.
        self._converters: list[tuple[str, Any]] | None = None
        self._driver_error = dialect.loaded_dbapi.Error

    def execute(self, conn: Connection, params: Mapping[str, Any] | Sequence[Any]) -> Any:
        """Run the statement; returns the driver's cursor."""
        return self.execute_on(conn.connection.driver_connection, params)

    def execute_on(self, driver: Any, params: Mapping[str, Any] | Sequence[Any]) -> Any:
        """Run the statement on the driver's own connection; returns the driver's cursor."""
        values = self._values(params)
        try:
            return driver.execute(self.sql, values)
        except self._driver_error as error:  # the same exceptions as through SQLAlchemy
            raise DBAPIError.instance(self.sql, values, error, self._driver_error) from error

    def executemany(
        self, conn: Connection, many_params: Sequence[Mapping[str, Any] | Sequence[Any]]
    ) -> None:
        """The statement once per set of parameters, in the driver's own loop (sqlite3). The
        values are made as the driver asks for them: no list of them all stays alive."""
        driver = conn.connection.driver_connection
        values = self._bound if self._positional else self._values  # one call less per row
        try:
            driver.executemany(self.sql, map(values, many_params))  # type: ignore[union-attr]
        except self._driver_error as error:
            raise DBAPIError.instance(self.sql, None, error, self._driver_error) from error

    def insert_rows(
        self, conn: Connection, rows: Sequence[Mapping[str, Any] | Sequence[Any]]
    ) -> None:
        """SQLite, for an INSERT ... VALUES (?, ...): many rows per statement, VALUES (...),
        (...), ..., as many as SQLite's parameter limit allows. SQLite sets a statement up
        (a cursor on the table and on each index, its checks) once per execution, not per row:
        for the ledger's transfers this took a fifth off SQLite's own time per row (measured:
        15 against 19.5 ms per 1,000)."""
        head, values = self.sql.rsplit(" VALUES ", 1)
        per_statement = SQLITE_PARAMETERS_MAX // len(self._names)
        driver = conn.connection.driver_connection
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            # One text per chunk size: sqlite3 keeps it prepared, like any statement it ran.
            sql = f"{head} VALUES {', '.join([values] * len(chunk))}"
            flat = list(itertools.chain.from_iterable(map(self._bound, chunk)))
            try:
                driver.execute(sql, flat)  # type: ignore[union-attr]
            except self._driver_error as error:  # shown as the one-row statement: shorter
                raise DBAPIError.instance(self.sql, None, error, self._driver_error) from error

    def _values(self, params: Mapping[str, Any] | Sequence[Any]) -> list[Any] | dict[str, Any]:
        values = self._bound(params)
        return values if self._positional else dict(zip(self._names, values, strict=True))

    def mappings(self, conn: Connection, params: dict[str, Any]) -> list[dict[str, Any]]:
        cursor = self.execute(conn, params)
        converters = self._converters or self._converters_for(cursor.description)
        return [
            {
                name: value if convert is None else convert(value)
                for (name, convert), value in zip(converters, row, strict=True)
            }
            for row in cursor
        ]

    def _converters_for(self, description: Any) -> list[tuple[str, Any]]:
        self._converters = [
            (
                column.key,
                column.type.dialect_impl(self._dialect).result_processor(self._dialect, d[1]),
            )
            for column, d in zip(self._results, description, strict=True)
        ]
        return self._converters


class LibpqStatement:
    """PostgreSQL: one statement run by libpq itself (psycopg's `pgconn`), prepared once per
    connection, its values sent as text.

    For a hot path of one statement and one short row (the ledger's plain transfer). psycopg's
    own execute (a cursor, its adapters, its prepared-statement bookkeeping, its wait loop)
    cost a plain transfer about 130 us of CPU where libpq's costs 55 (measured on 2 shared
    cores, where that CPU is taken from the server). The values still go through the columns'
    bind processors, and errors are SQLAlchemy's, with the server's diagnostics (sqlstate,
    constraint name). libpq waits for the result without holding the GIL; a Ctrl-C is seen
    once the statement ends (the statement timeout bounds it). Not so at a connection's first
    run, whose wait is in select (with its prepare, in pipeline mode): a Ctrl-C there ends the
    wait, the statement may still commit, and the pool drops the connection, its transaction
    still active.

    The statement runs outside any transaction block: it is its own transaction (autocommit),
    whatever psycopg's autocommit says, so the connection must be idle (as the pool gives it).
    """

    def __init__(self, statement: sa.Executable, dialect: sa.Dialect, name: str) -> None:
        """`name`: the prepared statement's, unique per statement text (psycopg's own are
        _pg3_*)."""
        compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        names = list(compiled.binds)
        # pyformat's %(name)s to libpq's $1 ... ($n: the name's position), %% to %.
        self.sql = compiled.string % {name: f"${n}" for n, name in enumerate(names, start=1)}
        self._sql_bytes = self.sql.encode()
        self._name = name.encode()
        column_types = [compiled.binds[name].type for name in names]
        self._encoders = [
            (name, _text_encoder(t.dialect_impl(dialect).bind_processor(dialect)))
            for name, t in zip(names, column_types, strict=True)
        ]
        self._types = [_type_oid(t, dialect) for t in column_types]
        self._driver_error = dialect.loaded_dbapi.Error
        from psycopg import errors, pq  # here: a SQLite install may have no psycopg

        self._succeeded = frozenset({pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK})
        self._error_of = errors.error_from_result
        self._sqlstate_field = pq.DiagnosticField.SQLSTATE

    def first_row(
        self, pooled: ManagesConnection, params: Mapping[str, Any], *, prepare: bool
    ) -> list[bytes | None] | None:
        """The first row of the result, as the server's text, or None when there is none.
        `pooled`: a pooled connection (its `info` notes what is prepared on it, and is emptied
        with it). `prepare`: False behind a transaction pooler, where the next statement may
        reach another server connection (the statement is then parsed each time)."""
        result = self._run(pooled, params, prepare=prepare)
        if result.ntuples == 0:
            return None
        return [result.get_value(0, column) for column in range(result.nfields)]

    def rows(
        self, pooled: ManagesConnection, params: Mapping[str, Any], *, prepare: bool
    ) -> list[list[bytes | None]]:
        """Every row of the result, as the server's text (as first_row)."""
        result = self._run(pooled, params, prepare=prepare)
        get, columns = result.get_value, range(result.nfields)
        return [[get(row, column) for column in columns] for row in range(result.ntuples)]

    def _run(self, pooled: ManagesConnection, params: Mapping[str, Any], *, prepare: bool) -> Any:
        texts = [encode(params[name]) for name, encode in self._encoders]
        driver = pooled.driver_connection
        try:
            if prepare:
                result = self._exec_prepared(pooled, driver, texts)
            else:
                result = driver.pgconn.exec_params(self._sql_bytes, texts, self._types)  # type: ignore[union-attr]
            self._check(driver, result)
        except self._driver_error as error:  # the same exceptions as through SQLAlchemy
            raise DBAPIError.instance(self.sql, params, error, self._driver_error) from error
        return result

    def _exec_prepared(self, pooled: ManagesConnection, driver: Any, texts: list[Any]) -> Any:
        """Prepared on this connection at its first use, and again when it is gone: psycopg
        deallocates every prepared statement after a ROLLBACK or a DROP it runs (its cache
        may be stale then). The server refuses a missing statement before running anything."""
        pgconn = driver.pgconn
        if self._name in pooled.info:
            result = pgconn.exec_prepared(self._name, texts)
            if result.error_field(self._sqlstate_field) != _NO_SUCH_STATEMENT:
                return result
        prepared, result = self._prepare_and_run(pgconn, texts)
        self._check(driver, prepared)
        pooled.info[self._name] = True
        return result

    def _prepare_and_run(self, pgconn: Any, texts: list[Any]) -> tuple[Any, Any]:
        """Parse, then bind and execute, sent together before one Sync (libpq's pipeline
        mode): one round trip, and one implicit transaction on the server where a prepare of
        its own is a transaction too (a short-lived process's one transfer cost two). The
        prepare's result, and the statement's: the first error after the prepare if there is
        one (an error at the implicit commit comes after the statement's own success)."""
        pgconn.enter_pipeline_mode()
        try:
            pgconn.send_prepare(self._name, self._sql_bytes, self._types)
            pgconn.send_query_prepared(self._name, texts)
            pgconn.pipeline_sync()
            _flush(pgconn)
            results = _results_to_sync(pgconn)
        finally:
            _leave_pipeline(pgconn, self._driver_error)
        prepared, after = results[0], results[1:]
        if prepared.status not in self._succeeded:
            return prepared, prepared
        failed = [result for result in after if result.status not in self._succeeded]
        if failed:
            return prepared, failed[0]
        if not after:
            raise _connection_lost(pgconn)
        return prepared, after[0]

    def _check(self, driver: Any, result: Any) -> None:
        """Raise psycopg's error for a failed result, as its own execute would."""
        if result.status not in self._succeeded:
            raise self._error_of(result, encoding=driver.info.encoding)


_NO_SUCH_STATEMENT = b"26000"  # invalid_sql_statement_name
_PIPELINE_SYNC = 10  # pq.ExecStatus.PIPELINE_SYNC
_CONNECTION_OK = 0  # pq.ConnStatus.OK


def _flush(pgconn: Any) -> None:
    """Send what libpq holds (psycopg's connections are non-blocking: a flush may stop short
    when the socket's buffer is full)."""
    while pgconn.flush():
        select.select([], [pgconn.socket], [])


def _next_result(pgconn: Any) -> Any:
    """libpq's next result, waited for in select (which lets go of the GIL: get_result blocked
    in libpq holds it, and the thread whose commit the server waits for could not run)."""
    while pgconn.is_busy():
        select.select([pgconn.socket], [], [])
        pgconn.consume_input()
    return pgconn.get_result()


def _results_to_sync(pgconn: Any) -> list[Any]:
    """Every result up to the pipeline's Sync (libpq ends each command's with None), or up to
    the connection's loss."""
    results: list[Any] = []
    while True:
        result = _next_result(pgconn)
        if result is None:
            if pgconn.status != _CONNECTION_OK:  # no more results will come
                break
            continue
        if result.status == _PIPELINE_SYNC:
            break
        results.append(result)
    if not results:
        raise _connection_lost(pgconn)
    return results


def _leave_pipeline(pgconn: Any, driver_error: type[Exception]) -> None:
    """Out of pipeline mode when the connection allows it. It does not after a loss, or an
    interrupt (Ctrl-C) in the wait, with results still to come: the error raising then is the
    one to see, and the connection, its transaction still active, is one the pool drops."""
    if pgconn.pipeline_status and pgconn.status == _CONNECTION_OK and not pgconn.is_busy():
        with contextlib.suppress(driver_error):
            pgconn.exit_pipeline_mode()


def _connection_lost(pgconn: Any) -> Exception:
    from psycopg import OperationalError, pq

    return OperationalError(f"no result from the server: {pq.error_message(pgconn)}")


# Parameter types as psycopg sends them: numeric and timestamptz by their oid (an operator such
# as `-$1` needs one), the others as 'unknown' (the statement's context or cast gives theirs).
_NUMERIC_OID, _TIMESTAMPTZ_OID, _TIMESTAMP_OID, _UNKNOWN_OID = 1700, 1184, 1114, 0


def _type_oid(column_type: sa.types.TypeEngine[Any], dialect: sa.Dialect) -> int:
    if isinstance(column_type, sa.types.TypeDecorator):
        column_type = column_type.load_dialect_impl(dialect)
    if isinstance(column_type, sa.Numeric) and not isinstance(column_type, sa.Float):
        return _NUMERIC_OID
    if isinstance(column_type, sa.DateTime):
        return _TIMESTAMPTZ_OID if column_type.timezone else _TIMESTAMP_OID
    return _UNKNOWN_OID


def _text_encoder(process: Callable[[Any], Any] | None) -> Callable[[Any], bytes | None]:
    """A value's text, after its column type's bind processor."""
    if process is None:
        return _as_text
    return lambda value: _as_text(process(value))


def _as_text(value: Any) -> bytes | None:
    """PostgreSQL's input syntax for the types a LibpqStatement sends; anything else is refused
    (TypeError), not sent in a spelling the server may misread."""
    kind = type(value)
    if kind is str:
        return value.encode()
    if kind is int or kind is Decimal:  # a Decimal from an int: plain digits, no exponent
        return str(value).encode()
    if kind is datetime:
        if value.tzinfo is None:
            raise TypeError("a naive datetime: its time zone would be the server's")
        return value.isoformat().encode()
    if value is None:
        return None
    raise TypeError(f"no text for a {kind.__name__} here")


class CopyStatement:
    """PostgreSQL: rows into a table by one binary COPY, on the driver's own connection.

    For the ledger's batches. The driver encodes each row in C, where the array parameters of
    an `INSERT ... SELECT FROM unnest(...)` are encoded element by element in Python (measured
    here: 26 against 34 us a row, the statement alone). As with DriverStatement, the values go
    through the columns' bind processors and errors are SQLAlchemy's.
    """

    def __init__(
        self,
        table: sa.Table,
        columns: tuple[str, ...],
        dialect: sa.Dialect,
        *,
        fields: Sequence[str] | None = None,
    ) -> None:
        """`fields`: as for DriverStatement, the rows are sequences of these fields."""
        quote = dialect.identifier_preparer
        names = ", ".join(quote.quote(name) for name in columns)
        self.sql = f"COPY {quote.format_table(table)} ({names}) FROM STDIN (FORMAT BINARY)"
        column_types = [table.c[name].type for name in columns]
        self._bound = _Binder(list(columns), column_types, dialect, fields)
        # The binary format needs every column's type: its name, less any modifiers.
        self._type_names = [
            t.dialect_impl(dialect).compile(dialect=dialect).split("(")[0].lower()
            for t in column_types
        ]
        self._driver_error = dialect.loaded_dbapi.Error

    def copy(self, conn: Connection, rows: Iterable[Mapping[str, Any] | Sequence[Any]]) -> None:
        driver = conn.connection.driver_connection
        try:
            with driver.cursor() as cursor, cursor.copy(self.sql) as copy:  # type: ignore[union-attr]
                copy.set_types(self._type_names)
                for row in rows:
                    copy.write_row(self._bound(row))
        except self._driver_error as error:  # the same exceptions as through SQLAlchemy
            raise DBAPIError.instance(self.sql, None, error, self._driver_error) from error


class _Binder:
    """A row's values for `names`, in order, each through its type's bind processor (as
    SQLAlchemy would send them). The row is a mapping, or a sequence of `fields`. Plain values
    are picked by one itemgetter; only the typed ones go through a function."""

    def __init__(
        self,
        names: list[str],
        types: list[sa.types.TypeEngine[Any]],
        dialect: sa.Dialect,
        fields: Sequence[str] | None = None,
    ) -> None:
        processors = [t.dialect_impl(dialect).bind_processor(dialect) for t in types]
        self._processed = [(n, p) for n, p in enumerate(processors) if p is not None]
        keys: list[Any] = names if fields is None else [fields.index(name) for name in names]
        self._pick = operator.itemgetter(*keys) if len(keys) > 1 else _one_item_getter(keys)

    def __call__(self, params: Mapping[str, Any] | Sequence[Any]) -> list[Any]:
        values = list(self._pick(params))
        for position, process in self._processed:
            values[position] = process(values[position])
        return values


def _one_item_getter(keys: list[Any]) -> Callable[[Any], tuple[Any, ...]]:
    """What itemgetter gives for many keys, for none or one: always a tuple."""
    return lambda params: tuple(params[key] for key in keys)
