"""The counters every write keeps in step, in the writer's own transaction.

A counter moves by an UPDATE that adds to it (`x = x + n`), never by recounting history; the
day's statistics are upserts that add to that day's row. Writers lock rows in one order (tracks
by id, then creators by id, then daily rows by key), so concurrent writers queue instead of
deadlocking. Crossing a milestone is seen here, from the value the UPDATE returns: the row lock
(PostgreSQL) or the write lock (SQLite) makes each writer see its own before and after, so
exactly one writer crosses a threshold, and a unique key backs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.creators import milestones
from chaindb.creators.schema import creator_daily_stats, creators, daily_stats
from chaindb.database import dialect_insert
from chaindb.types import utc_now

CreatorDay = tuple[int, date]


def insert_ignoring_duplicates(conn: Connection, table: sa.Table) -> Any:
    return dialect_insert(conn, table).on_conflict_do_nothing()


def add_to_creators(
    conn: Connection, column: str, by_creator: Mapping[int, int], *, sync: bool = True
) -> list[milestones.Reached]:
    """creators.<column> += n for each creator, in two statements whatever their number: the
    rows are locked and read in id order (SELECT ... FOR UPDATE; SQLite's write lock is the
    whole database), then written back, so each writer sees its own before and after and
    the milestones it crossed. `sync`: the oracle has news to send; needs_sync is written only
    where it was off (setting it on every play would rewrite its partial index's entry each
    time on SQLite, and forbid HOT updates on PostgreSQL)."""
    if not by_creator:
        return []
    ids = sorted(by_creator)
    fields = ("id", "total_plays", "follower_count", "coin_status", "needs_sync")
    rows = conn.execute(
        sa.select(*(creators.c[name] for name in {*fields, column}))
        .where(creators.c.id.in_(ids))
        .order_by(creators.c.id)
        .with_for_update()
    ).all()
    values = {row.id: getattr(row, column) + by_creator[row.id] for row in rows}
    after = [
        _Counters(**{name: getattr(row, name) for name in fields} | _new(column, values[row.id]))
        for row in rows
    ]
    _write_back(conn, column, values)
    news = [{"creator": row.id} for row in after if sync and not row.needs_sync]
    if news:
        conn.execute(
            creators.update()
            .where(creators.c.id == sa.bindparam("creator"))
            .values(needs_sync=True),
            news,
        )
    reached: list[milestones.Reached] = []
    for row in after:
        reached += milestones.on_counters(conn, row, column=column, added=by_creator[row.id])
    return reached


def _write_back(conn: Connection, column: str, values: dict[int, int]) -> None:
    """creators.<column> = value for each creator id (rows already locked, in id order).
    PostgreSQL: one UPDATE from two arrays; SQLite: the driver's executemany."""
    if conn.dialect.name == "postgresql":
        ids = sorted(values)
        conn.exec_driver_sql(
            f"UPDATE creators SET {creators.c[column].name} = written.value "
            "FROM unnest(%(ids)s::bigint[], %(values)s::bigint[]) AS written(id, value) "
            "WHERE creators.id = written.id",
            {"ids": ids, "values": [values[i] for i in ids]},
        )
        return
    conn.execute(
        creators.update()
        .where(creators.c.id == sa.bindparam("creator"))
        .values({column: sa.bindparam("value")}),
        [{"creator": creator, "value": value} for creator, value in values.items()],
    )


def _new(column: str, value: int) -> dict[str, int]:
    return {column: value} if column in ("total_plays", "follower_count") else {}


@dataclass(frozen=True)
class _Counters:
    """A creator's counters after an addition (what milestones look at)."""

    id: int
    total_plays: int
    follower_count: int
    coin_status: str | None
    needs_sync: bool


def add_followers(conn: Connection, creator_id: int, delta: int) -> list[milestones.Reached]:
    reached = add_to_creators(conn, "follower_count", {creator_id: delta})
    if delta > 0:
        today = utc_now().date()
        add_to_days(
            conn,
            creator_days={(creator_id, today): {"new_followers": delta}},
            days={today: {"follows": delta}},
        )
    return reached


def add_to_days(
    conn: Connection,
    *,
    creator_days: Mapping[CreatorDay, Mapping[str, int]],
    days: Mapping[date, Mapping[str, int]],
) -> None:
    """Add counts to creator_daily_stats and daily_stats rows (created on first use)."""
    _upsert(
        conn,
        creator_daily_stats,
        ("creator_id", "day"),
        [{"creator_id": c, "day": d, **counts} for (c, d), counts in sorted(creator_days.items())],
    )
    _upsert(conn, daily_stats, ("day",), [{"day": d, **c} for d, c in sorted(days.items())])


def _upsert(
    conn: Connection, table: sa.Table, keys: tuple[str, ...], rows: list[dict[str, Any]]
) -> None:
    """INSERT the rows; a row that exists gets each count added to it. Rows of one call share
    their columns (grouped so, the driver sends them as one executemany)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    for columns, group in groups.items():
        statement = dialect_insert(conn, table)
        counted = [c for c in columns if c not in keys]
        statement = statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={
                **{c: table.c[c] + statement.excluded[c] for c in counted},
                "updated_at": utc_now(),
            },
        )
        conn.execute(statement, group)


def add_amount(
    conn: Connection, table: sa.Table, key: Mapping[str, Any], column: str, amount: int
) -> int:
    """Add a uint256 amount to one daily row (created if missing) and return its new value.
    Read under the row's lock and written back: SQLite keeps amounts as padded text, which
    SQL cannot add, so both backends add them in Python, exactly."""
    conn.execute(insert_ignoring_duplicates(conn, table).values(**key))
    where = [table.c[name] == value for name, value in key.items()]
    current = conn.execute(sa.select(table.c[column]).where(*where).with_for_update()).scalar_one()
    conn.execute(
        table.update().where(*where).values({column: current + amount, "updated_at": utc_now()})
    )
    return current + amount
