"""Read-only views: every view chaindb creates over its tables refuses INSERT, UPDATE and
DELETE with a message naming the API to write through.

PostgreSQL makes a simple view (one table, no aggregate) updatable by itself, so that
`UPDATE user_points_ledgers SET total_earned = 999` would change the ledger's counters behind
its back; SQLite refuses writes to a view but with a message that helps nobody. An INSTEAD OF
trigger on each view, on both backends, refuses them and says where to go. Migrations call
these (stable: an applied migration's behaviour must not change under it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_WRITES = ("INSERT", "UPDATE", "DELETE")


def refuse_writes_sql(dialect: str, view: str, api: str) -> list[str]:
    """Statements that make `view` refuse every write, naming `api` (e.g. 'chaindb.ledger')."""
    message = f"{_checked(view)} is a read-only view: write through {api}".replace("'", "''")
    if dialect == "postgresql":
        function = f"chaindb_refuse_write_{view}"
        return [
            f"""CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{message.replace("%", "%%")}' USING ERRCODE = '55000';
END $$""",
            f"CREATE TRIGGER {view}_read_only INSTEAD OF INSERT OR UPDATE OR DELETE ON {view} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()",
        ]
    return [
        f"CREATE TRIGGER {view}_refuse_{write.lower()} INSTEAD OF {write} ON {view} "
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        for write in _WRITES
    ]


def allow_writes_sql(dialect: str, view: str) -> list[str]:
    """What undoes refuse_writes_sql (a migration's downgrade)."""
    if dialect == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {_checked(view)}_read_only ON {view}",
            f"DROP FUNCTION IF EXISTS chaindb_refuse_write_{view}()",
        ]
    return [f"DROP TRIGGER IF EXISTS {_checked(view)}_refuse_{w.lower()}" for w in _WRITES]


def make_read_only(op: Any, views: Mapping[str, str]) -> None:
    """In a migration's upgrade: each view refuses writes, naming its API (view -> API)."""
    for view, api in views.items():
        for statement in refuse_writes_sql(op.get_context().dialect.name, view, api):
            op.execute(statement)


def make_writable(op: Any, views: Iterable[str]) -> None:
    """In a migration's downgrade: what make_read_only did, undone."""
    for view in views:
        for statement in allow_writes_sql(op.get_context().dialect.name, view):
            op.execute(statement)


def _checked(view: str) -> str:
    if not _IDENTIFIER.match(view):
        raise ValueError(f"view name {view!r} must be a lowercase SQL identifier")
    return view
