"""The tables a database has, as its users think of them: a partitioned table is one table.

On PostgreSQL a partitioned table (ops/partitions.py) is a parent with one child table per
range of time, and, when it keeps keys unique across its partitions, a key table beside it.
SQLAlchemy's inspector lists them all; every tool that walks a database's tables (backup
counts, export, restore, maintenance, schema comparison) asks here instead, so that a
partitioned table is counted, exported and compared once, under its own name.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

# The key table of a partitioned table (ops/partitions.py) is named so: `<table>_keys`.
KEY_TABLE_SUFFIX = "_keys"
KEY_TABLE_COMMENT = "chaindb: keys of partitioned table "

_PARTS = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema()
  AND (c.relispartition
       OR coalesce(obj_description(c.oid, 'pg_class'), '') LIKE :comment || '%')
"""


def table_names(conn: Connection) -> list[str]:
    """The database's tables, without the partitions and key tables of partitioned ones."""
    names = sa.inspect(conn).get_table_names()
    if conn.dialect.name != "postgresql":
        return names
    hidden = set(conn.execute(sa.text(_PARTS), {"comment": KEY_TABLE_COMMENT}).scalars())
    return [name for name in names if name not in hidden]


def primary_key_columns(conn: Connection, table: sa.Table) -> list[str]:
    """The columns of `table`'s primary key in the database: a partitioned table's also holds
    its time column (PostgreSQL wants the partition key in every unique key)."""
    declared = [c.name for c in table.primary_key.columns]
    if conn.dialect.name != "postgresql":
        return declared
    partitioned = conn.execute(
        sa.text("SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = :t)"),
        {"t": _oid(conn, table.name)},
    ).scalar_one()
    if not partitioned:
        return declared
    return sa.inspect(conn).get_pk_constraint(table.name)["constrained_columns"] or declared


def _oid(conn: Connection, name: str) -> int | None:
    return conn.execute(sa.text("SELECT to_regclass(:t)::oid"), {"t": name}).scalar_one()
