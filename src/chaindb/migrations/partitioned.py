"""Rolling back a migration that touches a partitioned table with a key table (PostgreSQL,
ops/partitions.py: ledger_transfers, plays) is refused, saying what to run first.

A module's migrations are written for its plain tables: a downgrade that drops such a table
would leave its key table and trigger functions behind (and the next upgrade would build a
plain table beside them, its writers still claiming keys in the old key table), one that
alters its keys cannot apply to it. A partitioned log has no key table: dropping or altering
it is PostgreSQL's own business, and runs as always, as does a downgrade whose SQL names no
such table. `chaindb partitions disable TABLE` makes a table plain again, rows and all; once
migrated up again, `partitions enable` partitions it anew.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable

import sqlalchemy as sa

from chaindb.catalog import KEY_TABLE_SUFFIX
from chaindb.database import Database
from chaindb.errors import MigrationError
from chaindb.migrations.modules import BUILTIN_MODULES, RevisionGraph
from chaindb.migrations.render import render_statements

_PARTITIONED = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind = 'p' AND NOT c.relispartition
  AND to_regclass(quote_ident(c.relname || :suffix)) IS NOT NULL
ORDER BY c.relname
"""


def refuse_partitioned(db: Database, graph: RevisionGraph, revisions: Iterable[str]) -> None:
    """Refuse to roll back `revisions` when one's downgrade names a partitioned table that
    has a key table."""
    wanted = list(revisions)
    if db.backend != "postgresql" or not wanted or not db.exists():
        return
    with db.read() as conn:
        found = conn.execute(sa.text(_PARTITIONED), {"suffix": KEY_TABLE_SUFFIX})
        partitioned = list(found.scalars())
    for revision in wanted if partitioned else []:
        touched = _touched(graph, revision, partitioned)
        if touched:
            raise MigrationError(
                f"cannot roll back {revision}: it changes {', '.join(touched)}, partitioned, "
                "and migrations are written for plain tables: run "
                + ", ".join(f"`chaindb partitions disable {t}`" for t in touched)
                + " first (and `partitions enable` again once migrated up)"
            )


def _touched(graph: RevisionGraph, revision: str, partitioned: list[str]) -> list[str]:
    """The partitioned tables `revision`'s downgrade names; when its SQL cannot be rendered
    offline, those its module partitions (its face's PARTITION_KEYS)."""
    try:
        sql = "\n".join(render_statements(graph.revisions[revision], "postgresql", "downgrade"))
    except MigrationError:
        module = graph.module_of(revision)
        face = importlib.import_module(f"chaindb.{module}") if module in BUILTIN_MODULES else None
        owned = getattr(face, "PARTITION_KEYS", {})
        return [table for table in partitioned if table in owned]
    return [table for table in partitioned if re.search(rf"\b{re.escape(table)}\b", sql)]
