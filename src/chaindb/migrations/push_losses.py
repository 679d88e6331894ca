"""What each change of a push would do to the rows already there, counted in the database.

The seed's four warnings (drop column, type change, nullable to NOT NULL, drop default) and a
dropped table are counted the way the change would meet the rows: non-null values in a column
that goes, rows in a table that goes, NULLs under a new NOT NULL, values the new type cannot
hold (longer than a new VARCHAR length, or failing the cast the change makes: PostgreSQL's
`USING col::type`, SQLite's `CAST` in Alembic's table rebuild, which would turn 'abc' into 0).
Some changes cannot run without losing or changing rows whatever a user accepts (NULLs under a
new NOT NULL, values that do not fit, a NOT NULL column added to a table with rows): those are
`blocked`, with the way out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from alembic.operations import ops
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

# The change codes are lint's (see lint.RULES), so a push and a migration read alike.
ADD_TABLE, DROP_TABLE, ADD_COLUMN, DROP_COLUMN = (
    "add-table",
    "drop-table",
    "add-column",
    "drop-column",
)
TYPE_CHANGE, SET_NOT_NULL, DROP_DEFAULT = "type-change", "set-not-null", "drop-default"
ADD_NOT_NULL_COLUMN, ALTER_COLUMN = "add-not-null-column", "alter-column"

# PostgreSQL before 16 has no pg_input_is_valid: a cast is tried in a function of the session's
# own (pg_temp), catching the error per value. Dropped again before the push goes on.
_PG_FITS = sa.text("""
CREATE FUNCTION pg_temp.chaindb_push_fits(value text, old_type text, new_type text)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('SELECT %L::%s::%s', value, old_type, new_type);
  RETURN true;
EXCEPTION WHEN others THEN
  RETURN false;
END $$
""")
_PG_FITS_DROP = sa.text("DROP FUNCTION pg_temp.chaindb_push_fits(text, text, text)")


@dataclass
class Change:
    """One change of a push. `rows`: the rows it loses data of (or that stop it), counted;
    `blocked`: why it cannot run even with data loss accepted, and what to do instead."""

    code: str
    table: str
    detail: str
    column: str | None = None
    rows: int | None = None
    loses_data: bool = False
    blocked: str | None = None

    def __str__(self) -> str:
        return f"{self.detail} ({self.blocked})" if self.blocked else self.detail

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def describe(conn: Connection, op: ops.MigrateOperation, table: str) -> list[Change]:
    """The changes `op` makes to `table`, each loss counted on `conn`."""
    if isinstance(op, ops.CreateTableOp):
        return [Change(ADD_TABLE, table, f"create table {table}")]
    if isinstance(op, ops.DropTableOp):
        rows = _count(conn, table)
        return [Change(DROP_TABLE, table, f"drop table {table} ({_rows(rows)})", None, rows, True)]
    if isinstance(op, ops.AddColumnOp):
        return [_added_column(conn, table, op.column)]
    if isinstance(op, ops.DropColumnOp):
        rows = _count(conn, table, sa.column(op.column_name).is_not(None))
        detail = f"drop column {table}.{op.column_name} ({_values(rows)})"
        return [Change(DROP_COLUMN, table, detail, op.column_name, rows, True)]
    if isinstance(op, ops.AlterColumnOp):
        return _altered_column(conn, table, op)
    return [Change(_code(op), table, _plain(op, table))]


def _added_column(conn: Connection, table: str, column: sa.Column[Any]) -> Change:
    detail = f"add column {table}.{column.name}"
    if column.nullable or column.server_default is not None:
        return Change(ADD_COLUMN, table, detail, column.name)
    rows = _count(conn, table)
    blocked = (
        f"{_rows(rows)} would have no value for it: give it a server_default, or add it "
        "nullable, fill it, then make it NOT NULL"
        if rows
        else None
    )
    return Change(
        ADD_NOT_NULL_COLUMN, table, f"{detail} NOT NULL", column.name, rows, False, blocked
    )


def _altered_column(conn: Connection, table: str, op: ops.AlterColumnOp) -> list[Change]:
    name = op.column_name
    changes = []
    if op.modify_type is not None:
        rows = _misfits(conn, table, name, op.existing_type, op.modify_type)
        new_type = op.modify_type.compile(dialect=conn.dialect)
        old_type = op.existing_type.compile(dialect=conn.dialect) if op.existing_type else "?"
        detail = (
            f"change type of {table}.{name} from {old_type} to {new_type} "
            f"({rows:,} {'value' if rows == 1 else 'values'} would not fit)"
        )
        blocked = "change or clear the values that do not fit first" if rows else None
        changes.append(Change(TYPE_CHANGE, table, detail, name, rows, True, blocked))
    if op.modify_nullable is False and op.existing_nullable is not False:
        rows = _count(conn, table, sa.column(name).is_(None))
        blocked = "give the rows with NULL a value first" if rows else None
        detail = f"make {table}.{name} NOT NULL ({_rows(rows)} with NULL)"
        changes.append(Change(SET_NOT_NULL, table, detail, name, rows, True, blocked))
    if op.modify_server_default is None and op.existing_server_default:
        default = _default_text(op.existing_server_default)
        rows = _holding_default(conn, table, name, default)
        held = f"{_rows(rows)} with it" if rows is not None else "rows with it not counted"
        detail = (
            f"drop the default {default} of {table}.{name} ({held}; inserts that leave it out "
            "get NULL, or fail if it is NOT NULL)"
        )
        changes.append(Change(DROP_DEFAULT, table, detail, name, rows, True))
    if not changes or _other_alterations(op):
        changes.append(Change(ALTER_COLUMN, table, f"alter column {table}.{name}", name))
    return changes


def _other_alterations(op: ops.AlterColumnOp) -> bool:
    """Changes that lose nothing: NOT NULL dropped, a default set or changed, a comment."""
    relaxed = op.modify_nullable is True
    default_set = op.modify_server_default not in (None, False)
    return relaxed or default_set or op.modify_comment is not False


def _misfits(
    conn: Connection,
    table: str,
    name: str,
    old: sa.types.TypeEngine[Any] | None,
    new: sa.types.TypeEngine[Any],
) -> int:
    """Values of `name` that `new` cannot hold: longer than its length, or failing the cast."""
    column = sa.column(name)
    stored = new.dialect_impl(conn.dialect)
    length = getattr(stored, "length", None)
    if isinstance(stored, sa.String):  # every value casts to text; only the length can fail
        if not length:
            return 0
        return _count(conn, table, sa.func.length(sa.cast(column, sa.Text)) > length)
    new_name = new.compile(dialect=conn.dialect)
    if conn.dialect.name == "sqlite":
        return _count(
            conn,
            table,
            column.is_not(None),
            sa.text(f"CAST({_q(conn, name)} AS {new_name}) IS NOT {_q(conn, name)}"),
        )
    old_name = old.compile(dialect=conn.dialect) if old is not None else "text"
    conn.execute(_PG_FITS)
    try:
        fits = sa.func.pg_temp.chaindb_push_fits(sa.cast(column, sa.Text), old_name, new_name)
        return _count(conn, table, column.is_not(None), sa.not_(fits))
    finally:
        conn.execute(_PG_FITS_DROP)


def _holding_default(conn: Connection, table: str, name: str, default: str) -> int | None:
    """Rows whose value equals the default being dropped (rows written relying on it, most
    likely). The default is the database's own SQL text; one it cannot compare is not counted."""
    try:
        with conn.begin_nested():  # a failed statement must not abort the push's transaction
            return _count(conn, table, sa.text(f"{_q(conn, name)} = ({default})"))
    except DBAPIError:
        return None


def _count(conn: Connection, table: str, *where: sa.ColumnElement[bool]) -> int:
    query = sa.select(sa.func.count()).select_from(sa.table(table))
    return int(conn.execute(query.where(*where)).scalar_one())


def _default_text(default: object) -> str:
    argument = getattr(default, "arg", default)
    return str(getattr(argument, "text", argument))


def _q(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _code(op: ops.MigrateOperation) -> str:
    """'create-index', 'drop-constraint', ... from Alembic's class names."""
    words = [char if char.islower() else f"-{char.lower()}" for char in type(op).__name__[:-2]]
    return "".join(words).lstrip("-")


def _plain(op: ops.MigrateOperation, table: str) -> str:
    """'create index ix_a on t', 'drop foreignkey (user_id) on t' (SQLite's keys have no name)."""
    verb = _code(op).split("-")[0]
    kind = getattr(op, "constraint_type", None) or _code(op).split("-", 1)[-1]
    name = getattr(op, "index_name", None) or getattr(op, "constraint_name", None)
    if name is None and hasattr(op, "to_constraint"):
        name = f"({', '.join(str(c) for c in getattr(op.to_constraint(), 'column_keys', []))})"
    return f"{verb} {kind} {name} on {table}"


def _rows(count: int) -> str:
    return f"{count:,} {'row' if count == 1 else 'rows'}"


def _values(count: int) -> str:
    return f"{count:,} non-null {'value' if count == 1 else 'values'}"
