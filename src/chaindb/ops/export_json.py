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

import sqlalchemy as sa

from chaindb.types import AmountType, DecimalText, UtcDateTime

# json_build_object and json_object take at most 100 arguments: a name and a value a column.
COLUMNS_MAX = 49


def sql_of(table: sa.Table, dialect: sa.Dialect) -> str | None:
    """`SELECT <the row's JSON line> FROM table ORDER BY <key>` for this dialect, or None."""
    columns = list(table.columns)
    if len(columns) > COLUMNS_MAX:
        return None
    quote = dialect.identifier_preparer.quote
    render = _postgres if dialect.name == "postgresql" else _sqlite
    pairs = []
    for column in columns:
        expression = render(column, quote(column.name))
        if expression is None:
            return None
        pairs.append(f"'{column.name}', {expression}")
    build = "json_build_object" if dialect.name == "postgresql" else "json_object"
    line = f"{build}('table', '{table.name}', 'row', {build}({', '.join(pairs)}))"
    if dialect.name == "postgresql":
        line += "::text"
    order = ", ".join(quote(c.name) for c in (table.primary_key.columns or columns))
    return f"SELECT {line} FROM {dialect.identifier_preparer.format_table(table)} ORDER BY {order}"


def _postgres(column: sa.Column, name: str) -> str | None:
    kind = column.type
    if isinstance(kind, AmountType | DecimalText):
        return f"{name}::text"
    if isinstance(kind, UtcDateTime):  # JSON's own ISO form, under TimeZone = 'UTC'
        return name
    return _plain(column, name, binary=f"'0x' || encode({name}, 'hex')")


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
