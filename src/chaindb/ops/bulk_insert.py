"""An import's typed rows into their table, a batch per statement, on both backends.

    writer = BatchWriter(conn, table, on_conflict="update")
    writer.write(conn, [row, ...])        # dicts of typed values, every column of the table

Each column's value goes through its type's bind processor (what SQLAlchemy would do), once;
then SQLite gets one executemany of a statement compiled once per table, and PostgreSQL one
COPY into a temporary staging table and one INSERT … SELECT with the ON CONFLICT clause (a
statement per row cost PostgreSQL five times a COPY: measured, bench/ops.py). SQLAlchemy's own
executemany, which builds every row's parameters anew, is left to rows that lack a column (a
hand-written file), where the columns' Python defaults must apply.

A refused batch raises SQLAlchemy's IntegrityError or DataError; the batch is in a savepoint, so
the caller may then try its rows one by one with `statement` to find the one refused.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.catalog import primary_key_columns
from chaindb.database import dialect_insert

OnConflict = Literal["error", "skip", "update"]
REFUSED = (sa.exc.IntegrityError, sa.exc.DataError)  # a batch the database would not take
STAGING_PREFIX = "chaindb_import_"
Bind = Callable[[Any], Any]


class BatchWriter:
    """How one table's rows are written, worked out once per import."""

    def __init__(self, conn: Connection, table: sa.Table, on_conflict: OnConflict) -> None:
        self.table = table
        self.statement = _upsert(conn, dialect_insert(conn, table), table, on_conflict)
        self.columns = [column.name for column in table.columns]
        # ON CONFLICT DO UPDATE refuses to update a row twice in one statement, where one
        # statement per row let the later row win: such a batch goes row by row.
        self._keys = primary_key_columns(conn, table) if on_conflict == "update" else []
        dialect = conn.dialect
        order = self.columns
        self._staged: sa.Table | None = None
        self._sql = ""
        if dialect.name == "postgresql":
            self._staged = _staging_table(conn, table)
            self._from_staging = _upsert(
                conn,
                dialect_insert(conn, table).from_select(self.columns, sa.select(self._staged)),
                table,
                on_conflict,
            )
        else:
            compiled = self.statement.compile(dialect=dialect, column_keys=self.columns)
            assert compiled.positiontup is not None, "SQLite's parameters are positional"
            self._sql = compiled.string
            order = list(compiled.positiontup)
        self._values_of = _getter(order)
        binds = [(n, _bind_of(table.c[name], dialect)) for n, name in enumerate(order)]
        self._binds: list[tuple[int, Bind]] = [(n, bind) for n, bind in binds if bind]

    def write(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Write `rows` (inside the caller's savepoint), or raise one of REFUSED."""
        if any(len(row) != len(self.columns) for row in rows) or self._repeats_a_key(rows):
            conn.execute(self.statement, list(rows))  # SQLAlchemy applies the Python defaults
            return
        values = [self._bound(row) for row in rows]
        if self._staged is None:
            conn.exec_driver_sql(self._sql, values)
        else:
            self._write_through_staging(conn, values)

    def _repeats_a_key(self, rows: Sequence[dict[str, Any]]) -> bool:
        if not self._keys:
            return False
        keys = [tuple(row[name] for name in self._keys) for row in rows]
        return len(set(keys)) != len(keys)

    def _bound(self, row: dict[str, Any]) -> tuple[Any, ...]:
        """The row's values, in the statement's order, as its types bind them (None too: a
        JSON column binds it as JSON's null, as SQLAlchemy does)."""
        values = list(self._values_of(row))
        for n, bind in self._binds:
            values[n] = bind(values[n])
        return tuple(values)

    def _write_through_staging(self, conn: Connection, values: list[tuple[Any, ...]]) -> None:
        assert self._staged is not None
        quote = conn.dialect.identifier_preparer.quote
        staged = quote(self._staged.name)
        copy_sql = f"COPY {staged} ({', '.join(map(quote, self.columns))}) FROM STDIN"
        driver = conn.connection.driver_connection
        try:
            with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:  # type: ignore[union-attr]
                for row in values:
                    copy.write_row(row)
        except conn.dialect.loaded_dbapi.Error as error:  # as SQLAlchemy would have raised it
            raise sa.exc.DBAPIError.instance(
                copy_sql, None, error, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
            ) from None
        conn.execute(self._from_staging)
        conn.exec_driver_sql(f"TRUNCATE {staged}")  # DELETE would leave the dead rows to scan


def _getter(names: list[str]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
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
