"""JSON Lines made by the database itself: one SELECT per table whose single column is the
finished line, so that an export costs about what reading the rows costs (building each
row's JSON in Python cost ten times the reading, measured: bench/ops.py).

The values are written as `export.portable` writes them: amounts as decimal strings,
timestamps ISO 8601 UTC as PostgreSQL's JSON gives them (the fraction's trailing zeros cut),
bytes as 0x-hex, decimals as their text, JSON nested, booleans and integers as JSON's. A table
with a column of another kind, or too many columns for one JSON call, is left to the Python
writer (`sql_of` returns None); a test compares both on every table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from itertools import islice
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.types import AmountType, DecimalText, UtcDateTime

# json_build_object and json_object take at most 100 arguments: a name and a value a column.
COLUMNS_MAX = 49
ROWS_PER_FETCH = 1_000  # what one write carries; memory stays this size whatever the table
# A CHECK listing a column's values, as the modules write it: `kind IN ('deposit', 'transfer')`.
LISTED_VALUES = re.compile(r'\s*"?(\w+)"?\s+IN\s*\((.*)\)\s*', re.ASCII | re.DOTALL)
PLAIN_VALUE = re.compile(r"'[\w .:/+-]*'", re.ASCII)  # nothing JSON escapes, no quote inside


class Chunk(NamedTuple):
    """Whole JSON Lines, each ended by a newline, as bytes; and how many."""

    lines: bytes
    rows: int


def chunks_by_the_database(
    conn: Connection, table: sa.Table, *, where: str | None = None
) -> Iterator[Chunk] | None:
    """The table's JSON Lines as the database writes them, ROWS_PER_FETCH at a time (those
    `where` keeps, if given: export_split's key ranges); None for a table left to Python."""
    return chunks_of(conn.connection.driver_connection, conn.dialect, table, where=where)


def chunks_of(
    driver: Any, dialect: sa.Dialect, table: sa.Table, *, where: str | None = None
) -> Iterator[Chunk] | None:
    """As chunks_by_the_database, on a driver's connection (export_split's helpers, each in a
    thread of its own: SQLAlchemy's Connection is not to be shared between threads)."""
    sql = sql_of(table, dialect, where=where)
    if sql is None:
        return None
    if dialect.name != "postgresql":
        return _selected(driver, sql)
    driver.execute("SET LOCAL TimeZone = 'UTC'")  # timestamps in JSON's own form, as UTC
    return _streamed(driver, sql) if _streams_by_chunks() else _copied(driver, sql)


def _selected(driver: Any, sql: str) -> Iterator[Chunk]:
    cursor = driver.execute(sql)
    while rows := cursor.fetchmany(ROWS_PER_FETCH):
        yield Chunk(("\n".join(row[0] for row in rows) + "\n").encode(), len(rows))


def _streamed(driver: Any, sql: str) -> Iterator[Chunk]:
    """PostgreSQL: one query whose rows come ROWS_PER_FETCH to a result (libpq's chunked
    mode): the server writes on while Python joins, with neither COPY's scan of every line
    for its quoting nor a Python call per row in the driver's COPY reader (bench/ops.py at 1M
    rows, with _listed_plainly: 0.31 -> 0.64 of COPY's floor, under load)."""
    as_bytes = driver.info.encoding == "utf-8"  # else a session set another: decode, encode
    with driver.cursor() as cursor:
        if as_bytes:
            # Each line as the server's bytes (a text value's binary form is the text in the
            # client's encoding, UTF-8, which the bytea loader hands over as it is): no decode
            # to str and encode back per row (bench/ops.py: 0.49 -> 0.64 of COPY's floor).
            cursor.adapters.register_loader("text", _bytes_loader())
        rows = cursor.stream(sql, binary=as_bytes, size=ROWS_PER_FETCH)
        try:
            while lines := [row[0] for row in islice(rows, ROWS_PER_FETCH)]:
                joined = b"\n".join(lines) if as_bytes else "\n".join(lines).encode()
                yield Chunk(joined + b"\n", len(lines))
        finally:  # a stream holds the connection's lock until it is closed (or read to its end)
            rows.close()


def _bytes_loader() -> Any:
    from psycopg.types.string import ByteaBinaryLoader

    return ByteaBinaryLoader


def _streams_by_chunks() -> bool:
    """Whether the driver can stream a result by chunks (psycopg 3.2 on libpq 17 and later)."""
    import psycopg  # only where PostgreSQL is used: the driver is an optional extra

    capabilities = getattr(psycopg, "capabilities", None)
    return capabilities is not None and capabilities.has_stream_chunked()


def _copied(driver: Any, sql: str) -> Iterator[Chunk]:
    """PostgreSQL, where libpq streams no chunks: COPY the lines out as CSV whose quote and
    delimiter are characters JSON always escapes, so that each line arrives as the database
    wrote it (the text format would double every backslash). The server sends one CopyData
    message per row (the protocol says so), a line with its newline: the messages are joined,
    never split or decoded."""
    copy_sql = f"COPY ({sql}) TO STDOUT (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"
    encoding = driver.info.encoding
    with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
        rows: list[Any] = []
        for row in copy:
            rows.append(row)
            if len(rows) == ROWS_PER_FETCH:
                yield Chunk(_utf_8(b"".join(rows), encoding), len(rows))
                rows = []
        if rows:
            yield Chunk(_utf_8(b"".join(rows), encoding), len(rows))


def _utf_8(lines: bytes, encoding: str) -> bytes:
    """The lines in UTF-8 (chaindb's connections ask for it; a session may have set another)."""
    return lines if encoding == "utf-8" else lines.decode(encoding).encode()


def sql_of(table: sa.Table, dialect: sa.Dialect, *, where: str | None = None) -> str | None:
    """`SELECT <the row's JSON line> FROM table [WHERE where] ORDER BY <key>` for this
    dialect, or None."""
    columns = list(table.columns)
    if len(columns) > COLUMNS_MAX:
        return None
    quote = dialect.identifier_preparer.quote
    render = _postgres if dialect.name == "postgresql" else _sqlite
    values = []
    for column in columns:
        expression = render(column, quote(column.name))
        if expression is None:
            return None
        values.append(expression)
    if dialect.name == "postgresql":
        line = _postgres_line(table, values)
    else:
        pairs = ", ".join(f"'{c.name}', {value}" for c, value in zip(columns, values, strict=True))
        line = f"json_object('table', '{table.name}', 'row', json_object({pairs}))"
    order = ", ".join(quote(c.name) for c in (table.primary_key.columns or columns))
    source = dialect.identifier_preparer.format_table(table)
    kept = f" WHERE {where}" if where else ""
    return f"SELECT {line} FROM {source}{kept} ORDER BY {order}"


def _postgres_line(table: sa.Table, values: list[str]) -> str:
    """The line json_build_object('table', …, 'row', json_build_object(…)) writes, byte for
    byte, as literal text and each value's JSON joined by ||: json_build_object looks each
    argument's type up again on every row, the keys' too, and cost PostgreSQL twice what this
    does (measured on ledger_transfers: 4.5 µs a row, 2.2)."""
    parts: list[str] = []  # literal text, a value, literal text…
    text = f"{{{_json_key('table')} : {_json_key(table.name)}, {_json_key('row')} : {{"
    for n, (column, value) in enumerate(zip(table.columns, values, strict=True)):
        text += f"{', ' if n else ''}{_json_key(column.name)} : "
        parts += [_sql_text(text), _postgres_json(column, value)]
        text = ""
    parts.append(_sql_text(text + "}}"))
    return " || ".join(parts)


def _postgres_json(column: sa.Column, value: str) -> str:
    """A value's JSON text as json_build_object writes it, 'null' for NULL (every value is
    coalesced: one NULL would make the whole line NULL). to_json, a type lookup per row, only
    for what needs JSON's escaping or formatting."""
    kind = column.type
    if isinstance(kind, AmountType | DecimalText) or _is(kind, sa.LargeBinary):
        text = f"'\"' || {value} || '\"'"  # digits or hex: nothing to escape
    elif _is(kind, sa.Integer | sa.JSON):  # a JSON value's text is its JSON
        text = f"{value}::text"
    elif _is(kind, sa.Boolean):
        text = f"CASE WHEN {value} THEN 'true' WHEN NOT {value} THEN 'false' END"
    elif _is(kind, sa.String) and _listed_plainly(column):
        text = f"'\"' || {value} || '\"'"
    else:  # text, timestamps, days, floats: JSON's own forms
        text = f"to_json({value})::text"
    return f"coalesce({text}, 'null')"


def _listed_plainly(column: sa.Column) -> bool:
    """Whether a CHECK of the table holds the column to listed values that JSON quotes as they
    are (`kind IN ('deposit', 'transfer')`): those are quoted without to_json, whose type
    lookup on every row was a fifth of the server's work on ledger_transfers (two such
    columns; measured: 0.39 -> 0.31 s of its CPU for 200k rows)."""
    for constraint in column.table.constraints:
        if not isinstance(constraint, sa.CheckConstraint):
            continue
        if not isinstance(constraint.sqltext, sa.TextClause):
            continue  # a dialect's own SQL (types.DialectSQL): not a list
        listed = LISTED_VALUES.fullmatch(constraint.sqltext.text)
        if listed is None or listed[1] != column.name:
            continue
        values = [value.strip() for value in listed[2].split(",") if value.strip()]
        if values and all(PLAIN_VALUE.fullmatch(value) for value in values):
            return True
    return False


def _postgres(column: sa.Column, name: str) -> str | None:
    kind = column.type
    if isinstance(kind, AmountType | DecimalText):
        return f"{name}::text"
    if isinstance(kind, UtcDateTime):  # JSON's own ISO form, under TimeZone = 'UTC'
        return name
    return _plain(column, name, binary=f"'0x' || encode({name}, 'hex')")


def _json_key(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sqlite(column: sa.Column, name: str) -> str | None:
    kind = column.type
    if isinstance(kind, AmountType):
        return (
            f"CASE WHEN {name} IS NULL THEN NULL WHEN ltrim({name}, '0') = '' THEN '0' "
            f"ELSE ltrim({name}, '0') END"
        )
    if isinstance(kind, DecimalText):
        return name
    if isinstance(kind, UtcDateTime):  # 'YYYY-MM-DD HH:MM:SS[.ffffff]': the fraction trimmed
        trimmed = (
            f"CASE WHEN length({name}) > 19 THEN rtrim(rtrim({name}, '0'), '.') ELSE {name} END"
        )
        return (
            f"CASE WHEN {name} IS NULL THEN NULL ELSE replace({trimmed}, ' ', 'T') || '+00:00' END"
        )
    if _is(kind, sa.Float):  # 17 digits: the same double as Python's shortest form
        return f"json(printf('%!.17g', {name}))"
    if _is(kind, sa.Boolean):
        return (
            f"CASE WHEN {name} IS NULL THEN NULL WHEN {name} THEN json('true') "
            "ELSE json('false') END"
        )
    if _is(kind, sa.JSON):
        return f"json({name})"
    return _plain(column, name, binary=f"'0x' || lower(hex({name}))")


def _plain(column: sa.Column, name: str, *, binary: str) -> str | None:
    """Text, integers, booleans, days and JSON go as they are; anything else to Python."""
    kind = column.type
    if _is(kind, sa.LargeBinary):
        return binary
    # a Date is ISO text on SQLite and renders so in PostgreSQL's JSON, as Python writes it
    if _is(kind, sa.String | sa.Integer | sa.Boolean | sa.JSON | sa.Float | sa.Date):
        return name
    return None


def _is(kind: sa.types.TypeEngine, families: type | tuple[type, ...] | object) -> bool:
    if isinstance(kind, sa.types.TypeDecorator):
        kind = kind.impl_instance
    return isinstance(kind, families)  # type: ignore[arg-type]
