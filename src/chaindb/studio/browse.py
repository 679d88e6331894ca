"""The table browser's queries: every table of every module, a page of rows, one row, and the
rows that point at it. Read through a caller's connection (the studio's read transaction).

Pages are keyset pages (WHERE key > last ORDER BY key LIMIT n), never OFFSET: the next page of
a 10M-row table costs what the first one does. The cursor is the primary key of the last row
shown; the sort column's value is read back from that row by its key, so the cursor carries no
value that would have to survive a trip through text (a datetime, a uint256).
"""

from __future__ import annotations

import functools
import importlib
import json
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Connection

from chaindb.errors import InvalidInput, NotFound
from chaindb.migrations.modules import BUILTIN_MODULES
from chaindb.models import models_for
from chaindb.types import AmountType

PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 500
REFERENCES_COUNTED_MAX = 100  # past this a referencing table shows "100+": counting is O(rows)


@dataclass(frozen=True)
class ModuleTables:
    module: str
    tables: list[sa.Table]


@dataclass(frozen=True)
class Reference:
    """A foreign key seen from one row: the column, and the table and column it meets."""

    column: str
    table: str
    target_column: str
    value: Any
    rows: int | None = None  # incoming references: how many (up to the bound, then bound + 1)


@dataclass
class TablePage:
    table: sa.Table
    rows: list[dict[str, Any]]  # typed as the table's select model reads them
    keys: list[list[Any]]  # each row's primary key, as the cursor and the row link carry it
    next_after: list[Any] | None  # the cursor of the next page; None: this is the last


@dataclass
class RowView:
    table: sa.Table
    row: dict[str, Any]
    outgoing: list[Reference] = field(default_factory=list)
    incoming: list[Reference] = field(default_factory=list)


@functools.cache
def modules_tables() -> list[ModuleTables]:
    """Each built-in module's tables, through its face's `metadata`, in the modules' order."""
    found = []
    for module in BUILTIN_MODULES:
        face = importlib.import_module(f"chaindb.{module}")
        found.append(ModuleTables(module, sorted(face.metadata.tables.values(), key=_name)))
    return found


def _name(table: sa.Table) -> str:
    return table.name


def find_table(name: str) -> sa.Table:
    for module in modules_tables():
        for table in module.tables:
            if table.name == name:
                return table
    raise NotFound(f"no table {name!r} in chaindb's modules")


@functools.cache
def indexed_columns(table: sa.Table) -> frozenset[str]:
    """The columns a keyset page can read in order from an index: the primary key's first
    column and each column that leads an index or a unique constraint. Sorting by any other
    column sorts the whole table (bounded by the studio's time limit)."""
    leading = [next(iter(table.primary_key.columns)).name]
    for index in table.indexes:
        leading += [column.name for column in list(index.columns)[:1]]
    for constraint in table.constraints:
        if isinstance(constraint, sa.UniqueConstraint) and constraint.columns:
            leading.append(next(iter(constraint.columns)).name)
    return frozenset(leading)


def parse_value(column: sa.Column[Any], text: str) -> Any:
    """A value typed in the browser, as the column's type binds it (refused when it is not)."""
    kind = column.type
    try:
        if isinstance(kind, sa.Boolean):
            return _parse_bool(text)
        if isinstance(kind, AmountType | sa.Integer):
            return int(text.strip())
        if isinstance(kind, sa.DateTime):
            return datetime.fromisoformat(text.strip())
        if isinstance(kind, sa.Date):  # PostgreSQL compares no date with text
            return date.fromisoformat(text.strip())
        if isinstance(kind, sa.LargeBinary):  # shown as 0x + hex
            return bytes.fromhex(text.strip().removeprefix("0x"))
        if isinstance(kind, sa.Float):
            return float(text)
        if isinstance(kind, sa.Numeric):
            return Decimal(text.strip())
    except (ValueError, InvalidOperation):
        raise InvalidInput(column.name, text, f"must be a {_type_word(kind)}") from None
    return text


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    raise ValueError(text)


def _type_word(kind: sa.types.TypeEngine[Any]) -> str:
    if isinstance(kind, sa.Boolean):
        return "boolean (true or false)"
    if isinstance(kind, sa.LargeBinary):
        return "0x followed by hex digits"
    if isinstance(kind, AmountType):
        return "whole number of base units"
    if isinstance(kind, sa.Integer):
        return "whole number"
    if isinstance(kind, sa.DateTime):
        return "ISO 8601 time (2025-01-31T12:00:00+00:00)"
    if isinstance(kind, sa.Date):
        return "ISO 8601 day (2025-01-31)"
    return "number"


# Datasette's spelling: ?amount__gte=100. Each compares in the column's own type (an amount as
# its padded text on SQLite, which orders as the number does).
OPERATORS: dict[str, tuple[str, Callable[[Any, Any], Any]]] = {
    "exact": ("=", operator.eq),
    "not": ("≠", operator.ne),
    "gt": (">", operator.gt),
    "gte": ("≥", operator.ge),
    "lt": ("<", operator.lt),
    "lte": ("≤", operator.le),
}


def split_filter(name: str) -> tuple[str, str]:
    """`amount__gte` -> ("amount", "gte"); a bare column name is `exact`."""
    column, _sep, op = name.partition("__")
    return column, op or "exact"


def condition(table: sa.Table, name: str, value: Any) -> Any:
    column, op = split_filter(name)
    return OPERATORS[op][1](table.c[column], value)


def read_page(
    conn: Connection,
    table: sa.Table,
    *,
    filters: dict[str, Any],
    sort: str | None = None,
    descending: bool = False,
    after: list[Any] | None = None,
    size: int = PAGE_SIZE_DEFAULT,
) -> TablePage:
    """Rows matching every filter (`column` or `column__op`: value, see OPERATORS), ordered by
    `sort` (then the primary key), the `size` after the row whose primary key is `after`."""
    key = list(table.primary_key.columns)
    sort_column = table.c[sort] if sort else None
    query = sa.select(table).where(*(condition(table, name, v) for name, v in filters.items()))
    if after is not None:
        query = query.where(_after(table, key, sort_column, descending, after))
    query = query.order_by(*_order(key, sort_column, descending)).limit(size + 1)
    found = conn.execute(query).all()
    page = found[:size]
    keys = [[row._mapping[column.name] for column in key] for row in page]
    more = len(found) > size
    return TablePage(
        table, [typed_row(table, row._mapping) for row in page], keys, _next(keys, more)
    )


def _next(keys: list[list[Any]], more: bool) -> list[Any] | None:
    return keys[-1] if more and keys else None


def _order(
    key: list[sa.Column[Any]], sort_column: sa.Column[Any] | None, descending: bool
) -> list[Any]:
    direction = sa.desc if descending else sa.asc
    order = [direction(column) for column in key]
    if sort_column is None or sort_column is key[0]:
        return order
    if sort_column.nullable:  # NULLs last both ways: the same on SQLite and PostgreSQL
        return [sort_column.is_(None), direction(sort_column), *order]
    return [direction(sort_column), *order]


def _after(
    table: sa.Table,
    key: list[sa.Column[Any]],
    sort_column: sa.Column[Any] | None,
    descending: bool,
    after: list[Any],
) -> Any:
    if len(after) != len(key):
        raise InvalidInput("_after", after, f"must be the {len(key)} values of the primary key")
    values = [
        sa.bindparam(None, value, type_=column.type)
        for column, value in zip(key, after, strict=True)
    ]
    past = _greater if not descending else _less
    key_past = (
        past(sa.tuple_(*key), sa.tuple_(*values)) if len(key) > 1 else past(key[0], values[0])
    )
    if sort_column is None or sort_column is key[0]:
        return key_past
    last = (
        sa.select(sort_column)
        .where(*(column == value for column, value in zip(key, values, strict=True)))
        .scalar_subquery()
    )
    if not sort_column.nullable:  # a row value comparison an index on (column, key) serves
        return past(sa.tuple_(sort_column, *key), sa.tuple_(last, *values))
    return sa.or_(
        sa.and_(
            last.is_not(None),
            sa.or_(
                past(sort_column, last),
                sa.and_(sort_column == last, key_past),
                sort_column.is_(None),
            ),
        ),
        sa.and_(last.is_(None), sort_column.is_(None), key_past),
    )


def _greater(left: Any, right: Any) -> Any:
    return left > right


def _less(left: Any, right: Any) -> Any:
    return left < right


def typed_row(table: sa.Table, row: Any) -> dict[str, Any]:
    """A row as the table's select model types it (amounts as ints, addresses as chaindb shows
    them); a row the model refuses (data written around chaindb) is shown as it is stored."""
    values = dict(row)
    try:
        return models_for(table.name).select.model_validate(values).model_dump()
    except ValidationError:
        return values


def read_row(conn: Connection, table: sa.Table, key: list[Any]) -> RowView:
    """One row by its primary key, with its foreign keys followed both ways."""
    columns = list(table.primary_key.columns)
    found = conn.execute(
        sa.select(table).where(
            *(column == value for column, value in zip(columns, key, strict=True))
        )
    ).first()
    if found is None:
        shown = ", ".join(f"{c.name}={v}" for c, v in zip(columns, key, strict=True))
        raise NotFound(f"no row of {table.name} with {shown}")
    raw = dict(found._mapping)
    view = RowView(table, typed_row(table, raw))
    view.outgoing = _outgoing(table, raw)
    view.incoming = _incoming(conn, table, raw)
    return view


def _outgoing(table: sa.Table, raw: dict[str, Any]) -> list[Reference]:
    found = []
    for fk in sorted(table.foreign_keys, key=lambda fk: fk.parent.name):
        target_table, target_column = fk.target_fullname.rsplit(".", 1)
        if raw[fk.parent.name] is not None:
            found.append(
                Reference(fk.parent.name, target_table, target_column, raw[fk.parent.name])
            )
    return found


def _incoming(conn: Connection, table: sa.Table, raw: dict[str, Any]) -> list[Reference]:
    """Every column of every module's tables whose foreign key meets this table, with how many
    rows carry this row's value there (counted up to a bound)."""
    found = []
    for module in modules_tables():
        for other in module.tables:
            for fk in sorted(other.foreign_keys, key=lambda fk: fk.parent.name):
                target_table, target_column = fk.target_fullname.rsplit(".", 1)
                if target_table != table.name or raw.get(target_column) is None:
                    continue
                value = raw[target_column]
                rows = _count_bounded(conn, fk.parent, value)
                found.append(Reference(fk.parent.name, other.name, target_column, value, rows))
    return found


def _count_bounded(conn: Connection, column: sa.Column[Any], value: Any) -> int:
    inner = (
        sa.select(sa.literal(1))
        .select_from(column.table)
        .where(column == value)
        .limit(REFERENCES_COUNTED_MAX + 1)
        .subquery()
    )
    return conn.execute(sa.select(sa.func.count()).select_from(inner)).scalar_one()


def encode_key(key: list[Any]) -> str:
    """A primary key as the URL carries it (the cursor, a row's link)."""
    return json.dumps(key, default=_key_text, separators=(",", ":"))


def _key_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return "0x" + bytes(value).hex()
    return str(value)  # a datetime, a Decimal: parse_value reads it back by the column's type


def decode_key(text: str, table: sa.Table) -> list[Any]:
    columns = list(table.primary_key.columns)
    try:
        values = json.loads(text)
    except ValueError:
        values = None
    if not isinstance(values, list) or len(values) != len(columns):
        raise InvalidInput("key", text, f"must be the {len(columns)} values of the primary key")
    return [
        parse_value(column, value) if isinstance(value, str) else value
        for column, value in zip(columns, values, strict=True)
    ]
