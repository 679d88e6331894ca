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
