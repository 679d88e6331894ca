"""The shape of a schema as the database reports it, and how two shapes differ.

Used by baseline: the database being adopted against a scratch one built by the migrations.
Both are read by SQLAlchemy's inspector from the same backend, so a type, a default or a CHECK
reads the same on both sides when it is the same. Compared: tables, columns (type, NULL,
default), primary keys, indexes, unique constraints, foreign keys, CHECK constraints, and views
(names and columns). Not compared: triggers, functions, a view's query, comments, grants.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.catalog import table_names

DIFFERENCES_SHOWN_MAX = 20


@dataclass
class TableShape:
    columns: dict[str, str] = field(default_factory=dict)
    # Named after what they are ("index ix_x (a, b) unique"), so a difference reads as text.
    constraints: set[str] = field(default_factory=set)


@dataclass
class SchemaShape:
    tables: dict[str, TableShape]
    views: dict[str, list[str]]


def reflect_shape(
    conn: Connection, *, tables: Iterable[str] | None = None, exclude: Iterable[str] = ()
) -> SchemaShape:
    """The shape of the connection's schema (only `tables` and views of those names, if given)."""
    inspector = sa.inspect(conn)
    skipped = set(exclude)
    wanted = None if tables is None else set(tables)
    names = [
        name
        for name in table_names(conn)
        if name not in skipped and (wanted is None or name in wanted)
    ]
    views = [v for v in inspector.get_view_names() if wanted is None or v in wanted]
    return SchemaShape(
        {name: _table_shape(inspector, conn.dialect, name) for name in names},
        {name: [c["name"] for c in inspector.get_columns(name)] for name in views},
    )


def _table_shape(inspector: sa.Inspector, dialect: sa.Dialect, table: str) -> TableShape:
    shape = TableShape()
    for column in inspector.get_columns(table):
        null = "NULL" if column["nullable"] else "NOT NULL"
        default = f" DEFAULT {_flat(column['default'])}" if column.get("default") else ""
        shape.columns[column["name"]] = f"{_type(column['type'], dialect)} {null}{default}"
    key = inspector.get_pk_constraint(table)["constrained_columns"]
    if key:
        shape.constraints.add(f"primary key ({', '.join(key)})")
    for index in inspector.get_indexes(table):
        columns = index.get("expressions") or index["column_names"]
        unique = " unique" if index["unique"] else ""
        where = _flat(index.get("dialect_options", {}))
        shape.constraints.add(
            f"index {index['name']} ({_listed(columns)}){unique}{' ' + where if where else ''}"
        )
    for unique in inspector.get_unique_constraints(table):
        shape.constraints.add(f"unique {unique['name'] or ''} ({_listed(unique['column_names'])})")
    for key in inspector.get_foreign_keys(table):
        target = f"{key['referred_table']} ({_listed(key['referred_columns'])})"
        options = _flat(key.get("options") or "")
        shape.constraints.add(
            f"foreign key ({_listed(key['constrained_columns'])}) -> {target} {options}".strip()
        )
    for check in inspector.get_check_constraints(table):
        shape.constraints.add(f"check {check['name'] or ''} {_flat(check['sqltext'])}")
    return shape


def differences(expected: SchemaShape, actual: SchemaShape) -> list[str]:
    """What the database (`actual`) has that the migrations (`expected`) would not build, and
    the reverse, one line each. Tables the migrations do not create are not looked at."""
    found: list[str] = []
    for name, table in expected.tables.items():
        if name not in actual.tables:
            found.append(f"table {name} is missing")
        else:
            found.extend(_table_differences(name, table, actual.tables[name]))
    for name, columns in expected.views.items():
        if name not in actual.views:
            found.append(f"view {name} is missing")
        elif actual.views[name] != columns:
            found.append(
                f"view {name} has columns ({', '.join(actual.views[name])}), "
                f"the migrations give ({', '.join(columns)})"
            )
    return found


def _table_differences(name: str, expected: TableShape, actual: TableShape) -> list[str]:
    found = []
    for column, spec in expected.columns.items():
        if column not in actual.columns:
            found.append(f"column {name}.{column} is missing")
        elif actual.columns[column] != spec:
            found.append(
                f"column {name}.{column} is {actual.columns[column]}, the migrations give {spec}"
            )
    found += [
        f"column {name}.{column} is not in the migrations"
        for column in actual.columns
        if column not in expected.columns
    ]
    found += [f"{name}: {c} is missing" for c in sorted(expected.constraints - actual.constraints)]
    found += [
        f"{name}: {c} is not in the migrations"
        for c in sorted(actual.constraints - expected.constraints)
    ]
    return found


def summarise(found: list[str]) -> str:
    """Differences on one line, the first DIFFERENCES_SHOWN_MAX of them."""
    shown = "; ".join(found[:DIFFERENCES_SHOWN_MAX])
    more = len(found) - DIFFERENCES_SHOWN_MAX
    return shown + (f"; and {more} more" if more > 0 else "")


def _type(column_type: sa.types.TypeEngine[Any], dialect: sa.Dialect) -> str:
    try:
        return column_type.compile(dialect=dialect)
    except sa.exc.CompileError:  # a type the dialect reflects but cannot spell back
        return str(column_type)


def _listed(values: Iterable[object]) -> str:
    return ", ".join(str(value) for value in values)


def _given(item: object) -> bool:
    """Not None nor empty. A partial index's WHERE is a clause, which has no truth value."""
    if isinstance(item, list | tuple | dict | str):
        return len(item) > 0
    return item is not None


def _flat(value: object) -> str:
    """Text compared without its layout: whitespace runs as one space."""
    if isinstance(value, dict):
        value = ", ".join(f"{key}={item}" for key, item in sorted(value.items()) if _given(item))
    return " ".join(str(value).split())
