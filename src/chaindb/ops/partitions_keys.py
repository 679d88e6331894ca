"""The key table of a partitioned table (ops/partitions_postgres.py makes it): `<table>_keys`,
unpartitioned, holding what must stay unique across partitions (the primary key's columns,
the time, the unique columns) and what foreign keys into the table name, kept in step by
statement triggers on the parent; and, after retention, the dropped rows' key rows pruned.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.catalog import KEY_TABLE_COMMENT, KEY_TABLE_SUFFIX
from chaindb.ops.partitions_shape import (
    TableShape,
    copy_statistics_targets,
    literal,
    partition_column,
)

_FOREIGN_COLUMNS = re.compile(r"FOREIGN KEY \(([^)]*)\)")


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


def key_table(
    conn: Connection, table: str, column: str, shape: TableShape, *, claims_keys_first: bool
) -> None:
    """`<table>_keys`: what must stay unique across partitions, and what foreign keys name.
    A writer that claims its key row first takes the row's id there: the key table gets the
    id's default (the table's sequence)."""
    q = conn.dialect.identifier_preparer.quote
    run = conn.exec_driver_sql
    keys = f"{table}{KEY_TABLE_SUFFIX}"
    primary = shape.primary_key[1]
    uniques = [c for _n, columns in shape.global_uniques for c in columns if c not in primary]
    kept = list(dict.fromkeys([*primary, column, *uniques]))
    types = _types(conn, table)
    defaults = _defaults(conn, table) if claims_keys_first else {}
    definitions = [
        f"{q(c)} {types[c]}{' NOT NULL' if c in primary or c == column else ''}"
        + (f" DEFAULT {defaults[c]}" if c in primary and c in defaults else "")
        for c in kept
    ]
    definitions.append(f"PRIMARY KEY ({listed(q, primary)})")
    definitions += [
        f"CONSTRAINT {q(name)} UNIQUE ({listed(q, columns)})"
        for name, columns in shape.global_uniques
    ]
    run(f"CREATE TABLE {q(keys)} ({', '.join(definitions)})")
    copy_statistics_targets(conn, table, keys)  # a row per row of the table: analyzed as often
    run(f"COMMENT ON TABLE {q(keys)} IS {literal(KEY_TABLE_COMMENT + table)}")
    run(f"CREATE INDEX {q('ix_' + keys + '_' + column)} ON {q(keys)} ({q(column)})")  # pruning
    every = listed(q, kept)
    run(f"INSERT INTO {q(keys)} ({every}) SELECT {every} FROM {q(table)}")
    # The self-reference (a post names its hold) points at the key table too, and lives there
    # when the key table holds its columns (pending_id does): checking it is then one index
    # probe, where on the parent it would probe every partition.
    for name, definition in _self_keys(conn, shape, table):
        columns = _FOREIGN_COLUMNS.search(definition)
        local = columns is not None and all(
            c.strip().strip('"') in kept for c in columns.group(1).split(",")
        )
        owner = keys if local else table
        run(f"ALTER TABLE {q(owner)} ADD CONSTRAINT {q(name)} {retarget(definition, table, keys)}")
    _key_triggers(conn, table, keys, kept, primary, claims_keys_first=claims_keys_first)
    for statement in shape.grants:
        run(statement.replace(f" ON {q(table)} ", f" ON {q(keys)} ", 1))


def _self_keys(conn: Connection, shape: TableShape, table: str) -> list[tuple[str, str]]:
    found = [(n, d) for referrer, n, d in shape.incoming_keys if referrer == table]
    shape.incoming_keys = [k for k in shape.incoming_keys if k[0] != table]
    return found


def _key_triggers(
    conn: Connection,
    table: str,
    keys: str,
    kept: list[str],
    primary: list[str],
    *,
    claims_keys_first: bool,
) -> None:
    """Statement triggers (one INSERT per statement, a COPY of 1,000 rows included) keep the
    key table in step with the parent, whichever partition a row lands in. Where writers
    claim key rows first, a new row's key row found there already, identical, is not added
    again (any other clash is refused by the key table's keys, as always)."""
    q = conn.dialect.identifier_preparer.quote
    columns = listed(q, kept)
    joined = " AND ".join(f"k.{q(c)} = o.{q(c)}" for c in primary)
    updated = ", ".join(f"{q(c)} = n.{q(c)}" for c in kept if c not in primary)
    matched = " AND ".join(f"k.{q(c)} = n.{q(c)}" for c in primary)
    same = " AND ".join(
        f"k.{q(c)} = n.{q(c)}" if c in primary else f"k.{q(c)} IS NOT DISTINCT FROM n.{q(c)}"
        for c in kept
    )
    claimed = f" n WHERE NOT EXISTS (SELECT 1 FROM {q(keys)} k WHERE {same})"
    bodies = {
        "insert": f"INSERT INTO {q(keys)} ({columns}) SELECT {columns} FROM new_rows"
        + (claimed if claims_keys_first else ""),
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


def _defaults(conn: Connection, table: str) -> dict[str, str]:
    """column -> its default expression (`nextval('plays_id_seq'::regclass)`)."""
    return dict(
        conn.execute(
            sa.text(
                "SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d"
                " JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum"
                " WHERE d.adrelid = CAST(:t AS regclass)"
            ),
            {"t": table},
        ).all()
    )


def retarget(definition: str, table: str, keys: str) -> str:
    return re.sub(
        rf'REFERENCES (\w+\.)?"?{re.escape(table)}"?\(', f"REFERENCES {keys}(", definition
    )


def listed(quote: object, columns: list[str]) -> str:
    return ", ".join(quote(c) for c in columns)  # type: ignore[operator]


def taken(conn: Connection, table: str, rows: list[dict[str, Any]]) -> list[bool]:
    """For each row meant for `table` (its column values): whether a key its key table keeps
    unique (the primary key, an idempotency key...) is taken already, there or by an earlier
    row of `rows`; what ON CONFLICT DO NOTHING skips on a plain table, and cannot see on a
    partitioned one. All False when `table` has no key table."""
    keys = f"{table}{KEY_TABLE_SUFFIX}"
    found = [False] * len(rows)
    if conn.execute(sa.text("SELECT to_regclass(:k) IS NULL"), {"k": keys}).scalar_one():
        return found
    types = _types(conn, keys)
    for columns in _unique_keys(conn, keys):
        candidates = [
            i for i, row in enumerate(rows) if all(row.get(c) is not None for c in columns)
        ]
        for i in _taken_in(conn, keys, columns, types, rows, candidates):
            found[i] = True
        seen: set[tuple[Any, ...]] = set()
        for i in candidates:
            value = tuple(rows[i][c] for c in columns)
            found[i] = found[i] or value in seen
            seen.add(value)
    return found


def _taken_in(
    conn: Connection,
    keys: str,
    columns: list[str],
    types: dict[str, str],
    rows: list[dict[str, Any]],
    candidates: list[int],
) -> list[int]:
    """The candidates whose `columns` values are in the key table (one query, from arrays)."""
    if not candidates:
        return []
    q = conn.dialect.identifier_preparer.quote
    arrays = ", ".join(f"CAST(:c{n} AS {types[c]}[])" for n, c in enumerate(columns))
    names = ", ".join(f"c{n}" for n in range(len(columns)))
    same = " AND ".join(f"k.{q(c)} = v.c{n}" for n, c in enumerate(columns))
    values: dict[str, Any] = {
        f"c{n}": [rows[i][c] for i in candidates] for n, c in enumerate(columns)
    }
    values["i"] = candidates
    return list(
        conn.execute(
            sa.text(
                f"SELECT v.i FROM unnest({arrays}, CAST(:i AS integer[])) AS v({names}, i)"
                f" WHERE EXISTS (SELECT 1 FROM {q(keys)} k WHERE {same})"
            ),
            values,
        ).scalars()
    )


def _unique_keys(conn: Connection, keys: str) -> list[list[str]]:
    return [
        list(columns)
        for (columns,) in conn.execute(
            sa.text(
                "SELECT ARRAY(SELECT attname FROM unnest(conkey) WITH ORDINALITY k(n, i)"
                "  JOIN pg_attribute a ON a.attrelid = conrelid AND a.attnum = k.n ORDER BY k.i)"
                " FROM pg_constraint WHERE conrelid = CAST(:k AS regclass)"
                " AND contype IN ('p', 'u') ORDER BY conname"
            ),
            {"k": keys},
        )
    ]


def _types(conn: Connection, table: str) -> dict[str, str]:
    return dict(
        conn.execute(
            sa.text(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
                " WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 AND NOT attisdropped"
            ),
            {"t": table},
        ).all()
    )
