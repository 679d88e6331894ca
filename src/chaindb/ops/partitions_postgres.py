"""PostgreSQL's side of ops/partitions.py: turning a table into a partitioned one, in the
caller's transaction (what the table carries is read first: ops/partitions_shape.py).

A table becomes a parent `PARTITION BY RANGE (<time column>)` with the same columns, defaults,
CHECK constraints, indexes, foreign keys, triggers, row-level security and grants. PostgreSQL
requires every unique constraint of a partitioned table to include its partition key, so:
- the primary key gains the time column;
- a unique constraint without it (ledger_transfers' idempotency key, the hold a post resolves)
  moves, under the same name, to an unpartitioned key table `<table>_keys` (the primary key's
  columns, the time, the unique columns), which statement triggers on the parent keep in step
  in the writer's transaction. A second writer of a taken key fails on that table's index with
  the constraint's own name, exactly as it did on the table: callers see no difference.
  A module whose writers claim the key row first (its face's CLAIMS_KEYS_FIRST: plays, by
  `INSERT INTO plays_keys ... ON CONFLICT DO NOTHING RETURNING id`) gets a key table whose id
  draws from the table's sequence, and an insert trigger that adds only the key rows not
  claimed already (ops/partitions_keys.py);
- foreign keys into the table (escrow records, bets, holds, and its own pending_id) point at
  the key table's primary key: each still refuses a row naming a transfer that does not exist.
The views over the table (the seeds' views) are dropped and created again from their own
definitions, with their triggers, rules and grants.
"""

from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.catalog import KEY_TABLE_SUFFIX
from chaindb.ops.partitions_keys import key_table, listed, prune_keys, retarget
from chaindb.ops.partitions_shape import (
    TableShape,
    copy_statistics_targets,
    literal,
    partition_column,
)

__all__ = ["partition_column", "prune_keys"]  # ops/partitions.py reads them here too

OLD_SUFFIX = "__unpartitioned"  # the table's old self, for the length of the conversion
DEFAULT_SUFFIX = "_default"  # rows outside every range land here, never refused
_BOUNDS = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


def partition_bounds(
    conn: Connection, table: str
) -> list[tuple[str, datetime | None, datetime | None]]:
    """(name, lower, upper) of each partition of `table`, oldest first; the DEFAULT partition
    has no bounds. The session's time zone is UTC (set by the caller)."""
    rows = conn.execute(
        sa.text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = CAST(:t AS regclass)"
        ),
        {"t": table},
    ).all()
    found = []
    for name, bound in rows:
        match = _BOUNDS.search(bound)
        if match is None:
            found.append((name, None, None))
        else:
            lower, upper = (datetime.fromisoformat(text) for text in match.groups())
            found.append((name, lower, upper))
    return sorted(found, key=lambda p: (p[1] is not None, p[1] or datetime.min))


def relkind(conn: Connection, table: str) -> str | None:
    """'r' a plain table, 'p' a partitioned one, None: no such table."""
    return conn.execute(
        sa.text(
            "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relname = :t"
        ),
        {"t": table},
    ).scalar_one_or_none()


def convert(
    conn: Connection,
    *,
    table: str,
    column: str,
    shape: TableShape,
    ranges: list[tuple[datetime, datetime]],
    claims_keys_first: bool = False,
) -> None:
    """Rebuild `table` as partitioned by `column` over `ranges` (plus a DEFAULT partition),
    its rows moved, in the caller's transaction (the table locked against everyone).
    `claims_keys_first`: the module's writers insert a row's key row before the row (plays)."""
    old = set_aside(conn, table, shape, incoming=list(shape.incoming_keys))
    q = conn.dialect.identifier_preparer.quote
    conn.exec_driver_sql(
        f"CREATE TABLE {q(table)} (LIKE {q(old)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
        f" INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS)"
        f" PARTITION BY RANGE ({q(column)})"
    )
    copy_statistics_targets(conn, old, table)
    _keys_and_indexes(conn, table, column, shape)
    for lower, upper in ranges:
        create_partition(conn, table=table, lower=lower, upper=upper)
    conn.exec_driver_sql(
        f"CREATE TABLE {q(table + DEFAULT_SUFFIX)} PARTITION OF {q(table)} DEFAULT"
    )
    copy_statistics_targets(conn, table, table + DEFAULT_SUFFIX)
    conn.exec_driver_sql(f"INSERT INTO {q(table)} SELECT * FROM {q(old)}")
    own_sequences(conn, old, table)
    conn.exec_driver_sql(f"DROP TABLE {q(old)}")
    if shape.needs_keys:
        key_table(conn, table, column, shape, claims_keys_first=claims_keys_first)
    _put_back(conn, table, shape)


def set_aside(
    conn: Connection,
    table: str,
    shape: TableShape,
    *,
    incoming: list[tuple[str, str, str]],
    suffix: str = OLD_SUFFIX,
) -> str:
    """Free every name the table's next self will take (its views go, to come back over it;
    the foreign keys `incoming` into it are dropped); the old table's new name: + `suffix`."""
    q = conn.dialect.identifier_preparer.quote
    run = conn.exec_driver_sql
    for view in sorted(shape.views, key=lambda v: v.depth):
        run(f"DROP VIEW IF EXISTS {q(view.name)} CASCADE")
    for referrer, name, _definition in incoming:
        run(f"ALTER TABLE {referrer} DROP CONSTRAINT {q(name)}")
    for name, _definition in shape.indexes:
        run(f"DROP INDEX {q(name)}")
    for name in shape.index_constraints:
        run(f"ALTER TABLE {q(table)} DROP CONSTRAINT {q(name)}")
    old = f"{table}{suffix}"
    run(f"ALTER TABLE {q(table)} RENAME TO {q(old)}")
    return old


def _put_back(conn: Connection, table: str, shape: TableShape) -> None:
    """Foreign keys into the table (now to its key table), its triggers, row-level security,
    grants and comment, and the views over it."""
    q = conn.dialect.identifier_preparer.quote
    run = conn.exec_driver_sql
    keys = f"{table}{KEY_TABLE_SUFFIX}"
    for referrer, name, definition in shape.incoming_keys:
        run(f"ALTER TABLE {referrer} ADD CONSTRAINT {q(name)} {retarget(definition, table, keys)}")
    for statement in shape.triggers + shape.security + shape.policies + shape.grants:
        run(statement)
    if shape.comment:
        run(f"COMMENT ON TABLE {q(table)} IS {literal(shape.comment)}")
    for view in sorted(shape.views, key=lambda v: v.depth):
        options = f" WITH ({', '.join(view.options)})" if view.options else ""
        run(f"CREATE VIEW {q(view.name)}{options} AS {view.definition}")
        for statement in view.extras:
            run(statement)


def create_partition(conn: Connection, *, table: str, lower: datetime, upper: datetime) -> str:
    """The partition of `table` for [lower, upper); rows of that range already in the DEFAULT
    partition move into it (PostgreSQL refuses the new range otherwise)."""
    q = conn.dialect.identifier_preparer.quote
    name = partition_name(table, lower)
    bounds = f"FOR VALUES FROM ('{lower.isoformat()}') TO ('{upper.isoformat()}')"
    column = partition_column(conn, table)
    default = f"{table}{DEFAULT_SUFFIX}"
    stray = (
        relkind(conn, default) is not None
        and conn.execute(
            sa.text(
                f"SELECT EXISTS (SELECT 1 FROM {q(default)} WHERE {q(column)} >= :lower"
                f" AND {q(column)} < :upper)"
            ),
            {"lower": lower, "upper": upper},
        ).scalar_one()
    )
    if not stray:
        conn.exec_driver_sql(f"CREATE TABLE {q(name)} PARTITION OF {q(table)} {bounds}")
    else:  # moved between partitions directly: the parent's triggers (its key table) do not fire
        conn.exec_driver_sql(
            f"CREATE TABLE {q(name)} (LIKE {q(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        conn.execute(
            sa.text(
                f"WITH moved AS (DELETE FROM {q(default)} WHERE {q(column)} >= :lower AND"
                f" {q(column)} < :upper RETURNING *) INSERT INTO {q(name)} SELECT * FROM moved"
            ),
            {"lower": lower, "upper": upper},
        )
        conn.exec_driver_sql(f"ALTER TABLE {q(table)} ATTACH PARTITION {q(name)} {bounds}")
    copy_statistics_targets(conn, table, name)
    return name


def partition_name(table: str, lower: datetime) -> str:
    return f"{table}_p{lower:%Y%m%d}"


def drop_partition(conn: Connection, *, partition: str) -> int:
    """Drop one partition; the number of rows it held. Its rows' key rows stay until
    prune_keys: deleting them here would check every foreign key into the key table once per
    row (~170 µs each on the ledger) while the DROP holds the parent locked."""
    q = conn.dialect.identifier_preparer.quote
    rows = conn.exec_driver_sql(f"SELECT count(*) FROM {q(partition)}").scalar_one()
    conn.exec_driver_sql(f"DROP TABLE {q(partition)}")
    return int(rows)


# --- the pieces of convert -----------------------------------------------------------------


def _keys_and_indexes(conn: Connection, table: str, column: str, shape: TableShape) -> None:
    q = conn.dialect.identifier_preparer.quote
    run = conn.exec_driver_sql
    name, columns = shape.primary_key
    with_time = columns if column in columns else [*columns, column]
    run(f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} PRIMARY KEY ({listed(q, with_time)})")
    for name, columns in shape.local_uniques:
        run(f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} UNIQUE ({listed(q, columns)})")
    for _name, definition in shape.indexes:
        run(definition)  # read while the table had this name: it names the new one
    for name, columns in shape.global_uniques:
        # Unique in the key table; here an index for the lookups (a replay's key).
        index = q("ix_" + name.removeprefix("uq_"))
        run(f"CREATE INDEX {index} ON {q(table)} ({listed(q, columns)})")
    for name, definition in shape.outgoing_keys:
        run(f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} {definition}")


def own_sequences(conn: Connection, old: str, table: str) -> None:
    """The id sequence belongs to the old table: give it to the new one before the drop."""
    q = conn.dialect.identifier_preparer.quote
    for column, sequence in conn.execute(
        sa.text(
            "SELECT attname, pg_get_serial_sequence(:old, attname) FROM pg_attribute"
            " WHERE attrelid = CAST(:old AS regclass) AND attnum > 0 AND NOT attisdropped"
        ),
        {"old": old},
    ):
        if sequence is not None:
            conn.exec_driver_sql(f"ALTER SEQUENCE {sequence} OWNED BY {q(table)}.{q(column)}")
