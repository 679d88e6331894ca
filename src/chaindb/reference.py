"""The schema reference (docs/schema.md), generated from each module's schema.py.

    python -m chaindb.reference > docs/schema.md      # scripts/schema-reference does this

A test keeps docs/schema.md equal to what this prints, so the reference never drifts from the
tables (and schema.py never drifts from the migrations: another test compares those).
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Iterator
from types import ModuleType

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from chaindb.migrations import BUILTIN_MODULES

DIALECTS = {"PostgreSQL": postgresql.dialect(), "SQLite": sqlite.dialect()}


def schema_reference() -> str:
    lines = [
        "# Schema reference",
        "",
        "Generated from each module's `schema.py` by `scripts/schema-reference` (a test fails",
        "when this file and the code disagree). Types are given as PostgreSQL and SQLite store",
        "them; amounts are uint256 on both (`NUMERIC(78,0)`, 78-digit zero-padded text).",
        "Every view is read-only: a write names the API to use instead.",
        "",
    ]
    for name in BUILTIN_MODULES:
        lines += _module(name, importlib.import_module(f"chaindb.{name}.schema"))
    return "\n".join(lines).rstrip() + "\n"


def _module(name: str, schema: ModuleType) -> list[str]:
    doc = inspect.cleandoc(schema.__doc__ or "").split("\n\n")[0].replace("\n", " ")
    lines = [f"## Module `{name}`", "", doc, ""]
    for table in schema.metadata.sorted_tables:
        lines += _table(table)
    for view in _views(schema):
        lines += _view(view)
    return lines


def _views(schema: ModuleType) -> Iterator[sa.Table]:
    """Table objects of schema.py outside its metadata: the views (read-only)."""
    for value in vars(schema).values():
        if isinstance(value, sa.Table) and value.metadata is not schema.metadata:
            yield value


def _table(table: sa.Table) -> list[str]:
    lines = [f"### `{table.name}`", "", "| column | PostgreSQL | SQLite | null | default | key |"]
    lines.append("|---|---|---|---|---|---|")
    for column in table.columns:
        lines.append(
            f"| `{column.name}` | {_type(column, 'PostgreSQL')} | {_type(column, 'SQLite')} "
            f"| {'yes' if column.nullable else 'no'} | {_default(column)} | {_keys(column)} |"
        )
    lines.append("")
    lines += [f"- {item}" for item in _constraints(table)]
    return [*lines, ""] if lines[-1] != "" else lines


def _view(view: sa.Table) -> list[str]:
    columns = ", ".join(f"`{column.name}`" for column in view.columns)
    return [f"### `{view.name}` (view)", "", f"Columns: {columns}.", ""]


def _type(column: sa.Column, dialect: str) -> str:
    stored = column.type
    if isinstance(stored, sa.types.TypeDecorator):  # what this dialect stores it as
        stored = stored.load_dialect_impl(DIALECTS[dialect])
    custom = type(column.type).__name__
    compiled = stored.compile(dialect=DIALECTS[dialect])
    return f"`{compiled}`" + (f" ({custom})" if custom != type(stored).__name__ else "")


def _default(column: sa.Column) -> str:
    default = column.server_default
    if default is None or not hasattr(default, "arg"):
        return ""
    text = default.arg if isinstance(default.arg, str) else str(default.arg)
    return f"`{text}`"


def _keys(column: sa.Column) -> str:
    keys = ["PK"] if column.primary_key else []
    keys += [f"→ `{fk.target_fullname}`" for fk in column.foreign_keys]
    return ", ".join(keys)


def _constraints(table: sa.Table) -> list[str]:
    found = []
    for constraint in sorted(table.constraints, key=lambda c: str(c.name)):
        if isinstance(constraint, sa.UniqueConstraint):
            columns = ", ".join(column.name for column in constraint.columns)
            found.append(f"unique `{constraint.name}` ({columns})")
        elif isinstance(constraint, sa.CheckConstraint):
            found.append(f"check `{constraint.name}`: `{_sql(constraint.sqltext)}`")
    for index in sorted(table.indexes, key=lambda i: str(i.name)):
        columns = ", ".join(
            e.name if isinstance(e, sa.Column) else _sql(e) for e in index.expressions
        )
        where = index.dialect_options["postgresql"].get("where")
        kind = "unique index" if index.unique else "index"
        partial = "" if where is None else f" where `{_sql(where)}`"
        found.append(f"{kind} `{index.name}` ({columns}){partial}")
    return found


def _sql(clause: object) -> str:
    text = str(clause.compile(dialect=DIALECTS["PostgreSQL"]))  # type: ignore[attr-defined]
    return " ".join(text.split()).replace("|", "\\|")


if __name__ == "__main__":
    sys.stdout.write(schema_reference())
