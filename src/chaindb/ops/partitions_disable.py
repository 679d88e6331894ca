"""PostgreSQL's side of `partitions disable` (ops/partitions.py): a partitioned table made a
plain one again, rows and all, in the caller's transaction (the table locked meanwhile).

What enable changed is undone from the catalog: the primary key loses the time column it
gained (back to the columns the module declares), the unique keys kept in the key table come
back to the table under their own names (their lookup indexes on the parent go), foreign keys
that named the key table name the table again, and the key table and its trigger functions
go. Everything else (columns, defaults, CHECKs, indexes, other foreign keys, triggers, row-
level security, grants, comment, the views over it) is read from the parent as it is and put
back on the plain table, as enable did the other way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.catalog import KEY_TABLE_SUFFIX
from chaindb.errors import Conflict
from chaindb.ops.partitions_keys import listed, retarget
from chaindb.ops.partitions_postgres import own_sequences, set_aside
from chaindb.ops.partitions_shape import (
    TableShape,
    capture,
    copy_statistics_targets,
    literal,
    partition_column,
)

PARTITIONED_SUFFIX = "__partitioned"  # the table's partitioned self, for the length of it
KEY_TRIGGER_EVENTS = ("insert", "delete", "update")


@dataclass
class _Keys:
    """What the key table holds that the plain table takes back."""

    uniques: list[tuple[str, list[str]]] = field(default_factory=list)  # name, columns
    incoming: list[tuple[str, str, str]] = field(default_factory=list)  # table, name, def
    own: list[tuple[str, str]] = field(default_factory=list)  # its self-reference: name, def


def revert(conn: Connection, *, table: str, primary_key: list[str]) -> None:
    """Rebuild partitioned `table` as a plain table with `primary_key` (the declared one)."""
    keys = f"{table}{KEY_TABLE_SUFFIX}"
    held = _keys(conn, keys, table) if _exists(conn, keys) else None
    shape = capture(conn, table, partition_column(conn, table))
    incoming = list((held or _Keys()).incoming)
    old = set_aside(conn, table, shape, incoming=incoming, suffix=PARTITIONED_SUFFIX)
    q = conn.dialect.identifier_preparer.quote
    run = conn.exec_driver_sql
    run(
        f"CREATE TABLE {q(table)} (LIKE {q(old)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
        f" INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS)"
    )
    copy_statistics_targets(conn, old, table)
    run(f"INSERT INTO {q(table)} SELECT * FROM {q(old)}")
    own_sequences(conn, old, table)
    run(f"DROP TABLE {q(old)}")
    if held is not None:
        run(f"DROP TABLE {q(keys)}")
        for event in KEY_TRIGGER_EVENTS:
            run(f"DROP FUNCTION IF EXISTS {q(f'{keys}_{event}')}()")
    _constrain(conn, table, primary_key, shape, held or _Keys())
    _put_back(conn, table, shape, [t for t in shape.triggers if not _is_key_trigger(t, keys)])


def _constrain(
    conn: Connection, table: str, primary_key: list[str], shape: TableShape, held: _Keys
) -> None:
    """The keys, indexes and foreign keys of the plain table: the primary key as declared,
    the key table's unique keys under their names (their lookup indexes not), references
    into the key table back into the table."""
    q = conn.dialect.identifier_preparer.quote
    run = conn.exec_driver_sql
    keys = f"{table}{KEY_TABLE_SUFFIX}"
    name = shape.primary_key[0]
    run(f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} PRIMARY KEY ({listed(q, primary_key)})")
    for name, columns in shape.local_uniques + held.uniques:
        run(f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} UNIQUE ({listed(q, columns)})")
    lookups = {"ix_" + name.removeprefix("uq_") for name, _columns in held.uniques}
    for name, definition in shape.indexes:
        if name not in lookups:  # read from the parent: ON ONLY it, which a plain table is
            run(definition.replace(" ON ONLY ", " ON ", 1))
    for name, definition in shape.outgoing_keys:
        run(f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} {retarget(definition, keys, table)}")
    own = [(q(table), name, definition) for name, definition in held.own]
    for referrer, name, definition in own + held.incoming:
        _refer_again(conn, referrer, name, retarget(definition, keys, table), table)


def _refer_again(conn: Connection, referrer: str, name: str, definition: str, table: str) -> None:
    """A foreign key into the key table, into the table again. It fails where a row names a
    row that retention dropped (a post naming its dropped hold: its key row was kept)."""
    q = conn.dialect.identifier_preparer.quote
    try:
        with conn.begin_nested():
            conn.exec_driver_sql(f"ALTER TABLE {referrer} ADD CONSTRAINT {q(name)} {definition}")
    except sa.exc.IntegrityError:
        raise Conflict(
            f"{referrer} has rows that name rows of {table} dropped by retention ({name}): "
            f"{table} cannot be a plain table while they do; nothing was changed"
        ) from None


def _keys(conn: Connection, keys: str, table: str) -> _Keys:
    held = _Keys()
    for name, kind, definition, columns, referrer in conn.execute(
        sa.text(
            "SELECT conname, contype, pg_get_constraintdef(oid),"
            " ARRAY(SELECT attname FROM unnest(conkey) WITH ORDINALITY k(n, i)"
            "  JOIN pg_attribute a ON a.attrelid = conrelid AND a.attnum = k.n ORDER BY k.i),"
            " conrelid::regclass::text"
            " FROM pg_constraint WHERE (conrelid = CAST(:k AS regclass) AND contype = 'u')"
            " OR (confrelid = CAST(:k AS regclass) AND contype = 'f' AND conparentid = 0)"
            " ORDER BY conname"
        ),
        {"k": keys},
    ):
        if kind == "u":
            held.uniques.append((name, list(columns)))
        elif referrer == keys:  # the table's own reference (a post's hold), kept there
            held.own.append((name, definition))
        elif referrer != table:  # the table's own, kept on it: read with its other keys
            held.incoming.append((referrer, name, definition))
    return held


def _put_back(conn: Connection, table: str, shape: TableShape, triggers: list[str]) -> None:
    q = conn.dialect.identifier_preparer.quote
    run = conn.exec_driver_sql
    for statement in triggers + shape.security + shape.policies + shape.grants:
        run(statement)
    if shape.comment:
        run(f"COMMENT ON TABLE {q(table)} IS {literal(shape.comment)}")
    for view in sorted(shape.views, key=lambda v: v.depth):
        options = f" WITH ({', '.join(view.options)})" if view.options else ""
        run(f"CREATE VIEW {q(view.name)}{options} AS {view.definition}")
        for statement in view.extras:
            run(statement)


def _is_key_trigger(definition: str, keys: str) -> bool:
    return any(
        definition.startswith(f"CREATE TRIGGER {name} ") or f'TRIGGER "{name}" ' in definition
        for name in (f"{keys}_{event}" for event in KEY_TRIGGER_EVENTS)
    )


def _exists(conn: Connection, name: str) -> bool:
    return conn.execute(sa.text("SELECT to_regclass(:t) IS NOT NULL"), {"t": name}).scalar_one()
