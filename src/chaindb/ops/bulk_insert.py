"""An import's typed rows into their table, a batch per statement, on both backends.

    writer = BatchWriter(conn, table, on_conflict="update")
    writer.write(conn, [row, ...])   # dicts of typed values; RowRefused names the row refused

Each value goes through its column type's bind processor (as SQLAlchemy would do it), once.
Then:
- SQLite: one executemany of a statement compiled once per table, outside any savepoint (a
  savepoint around an upsert cost SQLite four times the upsert: measured, bench/ops.py). The
  rows are handed over one at a time, so the one SQLite refused is the last handed over; the
  rows before it are written, but the caller's transaction is rolled back.
- PostgreSQL: one COPY into a temporary staging table and one INSERT … SELECT with the ON
  CONFLICT clause (a statement per row cost PostgreSQL several times a COPY), in a savepoint:
  a refused batch is rolled back to it, and its rows tried one by one to find the one.
Rows that lack a column (a hand-written file: the columns' Python defaults must apply) and
batches that hold a key twice on update (ON CONFLICT DO UPDATE refuses to update a row twice
in one statement, where a statement per row let the later row win) go through SQLAlchemy, one
statement per row.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.catalog import primary_key_columns
from chaindb.database import dialect_insert

OnConflict = Literal["error", "skip", "update"]
REFUSED = (sa.exc.IntegrityError, sa.exc.DataError)  # what the database says of a bad row
STAGING_PREFIX = "chaindb_import_"
Bind = Callable[[Any], Any]
Row = dict[str, Any]


class RowRefused(Exception):
    """The database refused rows[index] of a batch (`reason`: its first line of error)."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


class BatchWriter:
    """How one table's rows are written, worked out once per import."""

    def __init__(self, conn: Connection, table: sa.Table, on_conflict: OnConflict) -> None:
        self.table = table
        self.statement = _upsert(conn, dialect_insert(conn, table), table, on_conflict)
        self.columns = [column.name for column in table.columns]
        self._keys = primary_key_columns(conn, table) if on_conflict == "update" else []
        self._staged: sa.Table | None = None
        self._sql = ""
        order = self.columns
        if conn.dialect.name == "postgresql":
            self._staged = _staging_table(conn, table)
            from_staging = dialect_insert(conn, table).from_select(order, sa.select(self._staged))
            self._from_staging = _upsert(conn, from_staging, table, on_conflict)
        else:
            compiled = self.statement.compile(dialect=conn.dialect, column_keys=order)
            assert compiled.positiontup is not None, "SQLite's parameters are positional"
            self._sql, order = compiled.string, list(compiled.positiontup)
        self._values_of = _getter(order)
        binds = [(n, _bind_of(table.c[name], conn.dialect)) for n, name in enumerate(order)]
        self._binds: list[tuple[int, Bind]] = [(n, bind) for n, bind in binds if bind]

    def write(self, conn: Connection, rows: Sequence[Row]) -> None:
        """Write `rows`, or raise RowRefused naming the first the database refused."""
        if any(len(row) != len(self.columns) for row in rows) or self._repeats_a_key(rows):
            self._write_one_by_one(conn, rows)
        elif self._staged is None:
            self._write_sqlite(conn, rows)
        else:
            self._write_postgres(conn, rows)

    def _repeats_a_key(self, rows: Sequence[Row]) -> bool:
        if not self._keys:
            return False
        keys = [tuple(row[name] for name in self._keys) for row in rows]
        return len(set(keys)) != len(keys)

    def _bound(self, row: Row) -> tuple[Any, ...]:
        """The row's values in the statement's order, as their types bind them (None too: a
        JSON column binds it as JSON's null, as SQLAlchemy does)."""
        values = list(self._values_of(row))
        for n, bind in self._binds:
            values[n] = bind(values[n])
        return tuple(values)

    def _write_one_by_one(self, conn: Connection, rows: Sequence[Row]) -> None:
        for index, row in enumerate(rows):
            try:
                conn.execute(self.statement, [row])  # SQLAlchemy applies the Python defaults
            except REFUSED as error:
                raise RowRefused(index, _first_line(error.orig)) from None

    def _write_sqlite(self, conn: Connection, rows: Sequence[Row]) -> None:
        handed: list[int] = []

        def one_at_a_time() -> Iterator[tuple[Any, ...]]:
            for index, row in enumerate(rows):
                handed.append(index)
                yield self._bound(row)

        driver = conn.connection.driver_connection
        dbapi = conn.dialect.loaded_dbapi
        try:
            driver.executemany(self._sql, one_at_a_time())  # type: ignore[union-attr]
        except (dbapi.IntegrityError, dbapi.DataError) as error:
            raise RowRefused(handed[-1], _first_line(error)) from None

    def _write_postgres(self, conn: Connection, rows: Sequence[Row]) -> None:
        assert self._staged is not None
        quote = conn.dialect.identifier_preparer.quote
        staged = quote(self._staged.name)
        copy_sql = f"COPY {staged} ({', '.join(map(quote, self.columns))}) FROM STDIN"
        dbapi = conn.dialect.loaded_dbapi
        try:
            with conn.begin_nested():
                driver = conn.connection.driver_connection
                with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:  # type: ignore[union-attr]
                    for row in rows:
                        copy.write_row(self._bound(row))
                conn.execute(self._from_staging)
                conn.exec_driver_sql(f"TRUNCATE {staged}")  # DELETE would leave dead rows
        except (*REFUSED, dbapi.IntegrityError, dbapi.DataError):
            raise self._first_refused(conn, rows) from None

    def _first_refused(self, conn: Connection, rows: Sequence[Row]) -> RowRefused:
        """Which row of a refused batch the database refused: each again, alone, in a
        savepoint (the batch's was rolled back)."""
        for index, row in enumerate(rows):
            try:
                with conn.begin_nested():
                    conn.execute(self.statement, [row])
            except REFUSED as error:
                return RowRefused(index, _first_line(error.orig))
        return RowRefused(0, "the database refused the batch, and none of its rows alone")


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0]


def _getter(names: list[str]) -> Callable[[Row], tuple[Any, ...]]:
    if len(names) == 1:  # itemgetter of one name gives the value, not a tuple
        return lambda row: (row[names[0]],)
    return operator.itemgetter(*names)


def _bind_of(column: sa.Column[Any], dialect: sa.Dialect) -> Bind | None:
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def _upsert(conn: Connection, statement: Any, table: sa.Table, on_conflict: OnConflict) -> Any:
    if on_conflict == "skip":
        return statement.on_conflict_do_nothing()
    keys = primary_key_columns(conn, table)
    if on_conflict != "update" or not keys:
        return statement
    updated = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    if not updated:  # a table of keys alone has nothing to update: the row is there
        return statement.on_conflict_do_nothing()
    return statement.on_conflict_do_update(index_elements=keys, set_=updated)


def _staging_table(conn: Connection, table: sa.Table) -> sa.Table:
    """PostgreSQL: a temporary table of the table's columns and types, without its
    constraints (the INSERT from it meets them), dropped when the import's transaction ends."""
    name = f"{STAGING_PREFIX}{table.name}"
    quote = conn.dialect.identifier_preparer.quote
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {quote(name)} ON COMMIT DROP AS "
        f"SELECT * FROM {quote(table.name)} WITH NO DATA"
    )
    return sa.Table(name, sa.MetaData(), *(sa.Column(c.name, c.type) for c in table.columns))
