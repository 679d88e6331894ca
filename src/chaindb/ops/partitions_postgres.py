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
  the constraint's own name, exactly as it did on the table: callers see no difference;
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

from chaindb.catalog import KEY_TABLE_COMMENT, KEY_TABLE_SUFFIX
from chaindb.ops.partitions_shape import TableShape, literal

OLD_SUFFIX = "__unpartitioned"  # the table's old self, for the length of the conversion
DEFAULT_SUFFIX = "_default"  # rows outside every range land here, never refused
_FOREIGN_COLUMNS = re.compile(r"FOREIGN KEY \(([^)]*)\)")
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
) -> None:
    """Rebuild `table` as partitioned by `column` over `ranges` (plus a DEFAULT partition),
    its rows moved, in the caller's transaction (the table locked against everyone)."""
    old = _set_aside(conn, table, shape)
    q = conn.dialect.identifier_preparer.quote
    conn.exec_driver_sql(
        f"CREATE TABLE {q(table)} (LIKE {q(old)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
        f" INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS)"
        f" PARTITION BY RANGE ({q(column)})"
    )
    _keys_and_indexes(conn, table, column, shape)
    for lower, upper in ranges:
        create_partition(conn, table=table, lower=lower, upper=upper)
    conn.exec_driver_sql(
        f"CREATE TABLE {q(table + DEFAULT_SUFFIX)} PARTITION OF {q(table)} DEFAULT"
    )
    conn.exec_driver_sql(f"INSERT INTO {q(table)} SELECT * FROM {q(old)}")
    _own_sequences(conn, old, table)
    conn.exec_driver_sql(f"DROP TABLE {q(old)}")
    if shape.needs_keys:
        _key_table(conn, table, column, shape)
    _put_back(conn, table, shape)


def _set_aside(conn: Connection, table: str, shape: TableShape) -> str:
    """Free every name the new table will take (its views go, to come back over the new one);
    the old table's new name."""
    q = conn.dialect.identifier_preparer.quote
    run = conn.exec_driver_sql
    for view in sorted(shape.views, key=lambda v: v.depth):
        run(f"DROP VIEW IF EXISTS {q(view.name)} CASCADE")
    for referrer, name, _definition in shape.incoming_keys:
        run(f"ALTER TABLE {referrer} DROP CONSTRAINT {q(name)}")
    for name, _definition in shape.indexes:
        run(f"DROP INDEX {q(name)}")
    for name in shape.index_constraints:
        run(f"ALTER TABLE {q(table)} DROP CONSTRAINT {q(name)}")
    old = f"{table}{OLD_SUFFIX}"
    run(f"ALTER TABLE {q(table)} RENAME TO {q(old)}")
    return old


def _put_back(conn: Connection, table: str, shape: TableShape) -> None:
    """Foreign keys into the table (now to its key table), its triggers, row-level security,
    grants and comment, and the views over it."""
    q = conn.dialect.identifier_preparer.quote
    run = conn.exec_driver_sql
    keys = f"{table}{KEY_TABLE_SUFFIX}"
    for referrer, name, definition in shape.incoming_keys:
        run(f"ALTER TABLE {referrer} ADD CONSTRAINT {q(name)} {_retarget(definition, table, keys)}")
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
        return name
    # Moved between partitions directly: the parent's triggers (its key table) do not fire.
    conn.exec_driver_sql(
        f"CREATE TABLE {q(name)} (LIKE {q(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    )
    conn.execute(
        sa.text(
            f"WITH moved AS (DELETE FROM {q(default)} WHERE {q(column)} >= :lower"
            f" AND {q(column)} < :upper RETURNING *) INSERT INTO {q(name)} SELECT * FROM moved"
        ),
        {"lower": lower, "upper": upper},
    )
    conn.exec_driver_sql(f"ALTER TABLE {q(table)} ATTACH PARTITION {q(name)} {bounds}")
    return name


def partition_name(table: str, lower: datetime) -> str:
    return f"{table}_p{lower:%Y%m%d}"


def partition_column(conn: Connection, table: str) -> str:
    return conn.execute(
        sa.text(
            "SELECT a.attname FROM pg_partitioned_table p JOIN pg_attribute a"
            " ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]"
            " WHERE p.partrelid = CAST(:t AS regclass)"
        ),
        {"t": table},
    ).scalar_one()


def drop_partition(conn: Connection, *, partition: str) -> int:
    """Drop one partition; the number of rows it held. Its rows' key rows stay until
    prune_keys: deleting them here would check every foreign key into the key table once per
    row (~170 µs each on the ledger) while the DROP holds the parent locked."""
    q = conn.dialect.identifier_preparer.quote
    rows = conn.exec_driver_sql(f"SELECT count(*) FROM {q(partition)}").scalar_one()
    conn.exec_driver_sql(f"DROP TABLE {q(partition)}")
    return int(rows)


def prune_keys(
    conn: Connection, *, table: str, lower: datetime | None, upper: datetime, batch_size: int
) -> int:
    """Delete up to `batch_size` key rows of [lower, upper) whose row is gone (a dropped
    partition's), except those another row still names through a foreign key (a stake's
    hold, a post kept in a newer partition naming its hold): those keep their identity (id,
    time) so that the foreign key stays true, their unique keys released. The rows handled."""
    q = conn.dialect.identifier_preparer.quote
    keys = f"{table}{KEY_TABLE_SUFFIX}"
    column = q(partition_column(conn, table))
    still_there = f"SELECT 1 FROM {q(table)} t WHERE t.id = k.id AND t.{column} = k.{column}"
    gone = (
        f"k.{column} < :upper AND (CAST(:lower AS timestamptz) IS NULL OR k.{column} >= :lower)"
        f" AND NOT EXISTS ({still_there})"
    )
    named = " OR ".join(
        f"EXISTS (SELECT 1 FROM {referrer} r WHERE r.{q(name)} = k.id)"
        for referrer, name in _referrers(conn, keys)
    )
    free = f" AND NOT ({named})" if named else ""
    bounds = {"lower": lower, "upper": upper, "size": batch_size}
    deleted = conn.execute(
        sa.text(
            f"DELETE FROM {q(keys)} WHERE id IN (SELECT k.id FROM {q(keys)} k"
            f" WHERE {gone}{free} LIMIT :size)"
        ),
        bounds,
    ).rowcount
    released = [c for c in _columns(conn, keys) if c not in ("id", partition_column(conn, table))]
    if not released or deleted >= batch_size:
        return int(deleted)
    held = " OR ".join(f"k.{q(c)} IS NOT NULL" for c in released)
    cleared = ", ".join(f"{q(c)} = NULL" for c in released)
    kept = conn.execute(
        sa.text(
            f"UPDATE {q(keys)} SET {cleared} WHERE id IN (SELECT k.id FROM {q(keys)} k"
            f" WHERE {gone} AND ({held}) LIMIT :size)"
        ),
        bounds,
    ).rowcount
    return int(deleted + kept)


def _referrers(conn: Connection, keys: str) -> list[tuple[str, str]]:
    """(table, column) of each single-column foreign key into the key table."""
    return [
        (referrer, column)
        for referrer, column in conn.execute(
            sa.text(
                "SELECT conrelid::regclass::text, a.attname FROM pg_constraint c"
                " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
                " WHERE c.contype = 'f' AND c.confrelid = CAST(:k AS regclass)"
                " AND cardinality(c.conkey) = 1 AND c.conparentid = 0"  # not a partition's copy
            ),
            {"k": keys},
        )
    ]


def _columns(conn: Connection, table: str) -> list[str]:
    return list(
        conn.execute(
            sa.text(
                "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass)"
                " AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
            ),
            {"t": table},
        ).scalars()
    )


# --- the pieces of convert -----------------------------------------------------------------


def _keys_and_indexes(conn: Connection, table: str, column: str, shape: TableShape) -> None:
    q = conn.dialect.identifier_preparer.quote
    run = conn.exec_driver_sql
    name, columns = shape.primary_key
    with_time = columns if column in columns else [*columns, column]
    run(f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} PRIMARY KEY ({_listed(q, with_time)})")
    for name, columns in shape.local_uniques:
        run(f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} UNIQUE ({_listed(q, columns)})")
    for _name, definition in shape.indexes:
        run(definition)  # read while the table had this name: it names the new one
    for name, columns in shape.global_uniques:
        # Unique in the key table; here an index for the lookups (a replay's key).
        index = q("ix_" + name.removeprefix("uq_"))
        run(f"CREATE INDEX {index} ON {q(table)} ({_listed(q, columns)})")
    for name, definition in shape.outgoing_keys:
        run(f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} {definition}")


def _key_table(conn: Connection, table: str, column: str, shape: TableShape) -> None:
    """`<table>_keys`: what must stay unique across partitions, and what foreign keys name."""
    q = conn.dialect.identifier_preparer.quote
    run = conn.exec_driver_sql
    keys = f"{table}{KEY_TABLE_SUFFIX}"
    primary = shape.primary_key[1]
    uniques = [c for _n, columns in shape.global_uniques for c in columns if c not in primary]
    kept = list(dict.fromkeys([*primary, column, *uniques]))
    types = dict(
        conn.execute(
            sa.text(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
                " WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 AND NOT attisdropped"
            ),
            {"t": table},
        ).all()
    )
    definitions = [
        f"{q(c)} {types[c]}{' NOT NULL' if c in primary or c == column else ''}" for c in kept
    ]
    definitions.append(f"PRIMARY KEY ({_listed(q, primary)})")
    definitions += [
        f"CONSTRAINT {q(name)} UNIQUE ({_listed(q, columns)})"
        for name, columns in shape.global_uniques
    ]
    run(f"CREATE TABLE {q(keys)} ({', '.join(definitions)})")
    run(f"COMMENT ON TABLE {q(keys)} IS {literal(KEY_TABLE_COMMENT + table)}")
    run(f"CREATE INDEX {q('ix_' + keys + '_' + column)} ON {q(keys)} ({q(column)})")  # pruning
    listed = _listed(q, kept)
    run(f"INSERT INTO {q(keys)} ({listed}) SELECT {listed} FROM {q(table)}")
    # The self-reference (a post names its hold) points at the key table too, and lives there
    # when the key table holds its columns (pending_id does): checking it is then one index
    # probe, where on the parent it would probe every partition.
    for name, definition in _self_keys(conn, shape, table):
        columns = _FOREIGN_COLUMNS.search(definition)
        local = columns is not None and all(
            c.strip().strip('"') in kept for c in columns.group(1).split(",")
        )
        owner = keys if local else table
        run(f"ALTER TABLE {q(owner)} ADD CONSTRAINT {q(name)} {_retarget(definition, table, keys)}")
    _key_triggers(conn, table, keys, kept, primary)
    for statement in shape.grants:
        run(statement.replace(f" ON {q(table)} ", f" ON {q(keys)} ", 1))


def _self_keys(conn: Connection, shape: TableShape, table: str) -> list[tuple[str, str]]:
    found = [(n, d) for referrer, n, d in shape.incoming_keys if referrer == table]
    shape.incoming_keys = [k for k in shape.incoming_keys if k[0] != table]
    return found


def _key_triggers(
    conn: Connection, table: str, keys: str, kept: list[str], primary: list[str]
) -> None:
    """Statement triggers (one INSERT per statement, a COPY of 1,000 rows included) keep the
    key table in step with the parent, whichever partition a row lands in."""
    q = conn.dialect.identifier_preparer.quote
    listed = _listed(q, kept)
    joined = " AND ".join(f"k.{q(c)} = o.{q(c)}" for c in primary)
    updated = ", ".join(f"{q(c)} = n.{q(c)}" for c in kept if c not in primary)
    matched = " AND ".join(f"k.{q(c)} = n.{q(c)}" for c in primary)
    bodies = {
        "insert": f"INSERT INTO {q(keys)} ({listed}) SELECT {listed} FROM new_rows",
        "delete": f"DELETE FROM {q(keys)} k USING old_rows o WHERE {joined}",
        "update": f"UPDATE {q(keys)} k SET {updated} FROM new_rows n WHERE {matched}",
    }
    transition = {
        "insert": "NEW TABLE AS new_rows",
        "delete": "OLD TABLE AS old_rows",
        "update": "NEW TABLE AS new_rows",
    }
    for event, body in bodies.items():
        function = f"{keys}_{event}"
        conn.exec_driver_sql(
            f"CREATE FUNCTION {q(function)}() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN {body}; RETURN NULL; END $$"
        )
        conn.exec_driver_sql(
            f"CREATE TRIGGER {q(function)} AFTER {event.upper()} ON {q(table)}"
            f" REFERENCING {transition[event]} FOR EACH STATEMENT EXECUTE FUNCTION {q(function)}()"
        )


def _own_sequences(conn: Connection, old: str, table: str) -> None:
    """The id sequence belonged to the old table: give it to the new one before the drop."""
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


def _retarget(definition: str, table: str, keys: str) -> str:
    return re.sub(
        rf'REFERENCES (\w+\.)?"?{re.escape(table)}"?\(', f"REFERENCES {keys}(", definition
    )


def _listed(quote: object, columns: list[str]) -> str:
    return ", ".join(quote(c) for c in columns)  # type: ignore[operator]
