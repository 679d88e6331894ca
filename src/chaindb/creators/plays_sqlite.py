"""SQLite's write path for plays, on the driver's own connection (chaindb.driver), as the
ledger's: SQLAlchemy's per-row work on an executemany (building each row's parameters) cost
about as much as SQLite's own. Values still go through the columns' types; the statements are
compiled once per dialect.

SQLite runs one writer at a time (BEGIN IMMEDIATE), so the client ids already recorded are
read first, and the rest inserted plainly, many rows to a statement.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from chaindb.creators.schema import creator_daily_stats, creators, daily_stats, plays, tracks
from chaindb.driver import SQLITE_PARAMETERS_MAX, DriverStatement
from chaindb.types import AmountType, UtcDateTime, amount_zero, utc_now

PLAY_COLUMNS = (
    "track_id",
    "user_id",
    "played_at",
    "listened_s",
    "source",
    "client_id",
    "ip_hash",
    "user_agent_hash",
    "recorded_at",
)
LOOKUP_CHUNK = SQLITE_PARAMETERS_MAX


def known_client_ids(conn: Connection, client_ids: list[str]) -> set[str]:
    """Those of `client_ids` already in plays (uq_plays_client_id)."""
    return {
        row[0] for row in _select_in(conn, "SELECT client_id FROM plays", "client_id", client_ids)
    }


def track_rows(conn: Connection, track_ids: list[int]) -> list[tuple[int, int, bool]]:
    """(id, creator_id, deleted) of the tracks (primary key)."""
    sql = "SELECT id, creator_id, deleted_at IS NOT NULL FROM tracks"
    return [(row[0], row[1], bool(row[2])) for row in _select_in(conn, sql, "id", track_ids)]


def insert_plays(conn: Connection, rows: list[dict[str, Any]]) -> None:
    _insert(conn.dialect).insert_rows(conn, rows)


def add_plays_to_tracks(conn: Connection, by_track: Mapping[int, int]) -> None:
    _add_to_tracks(conn.dialect).executemany(
        conn, [{"track": track, "n": n} for track, n in sorted(by_track.items())]
    )


def add_plays_to_creators(conn: Connection, by_creator: Mapping[int, int]) -> list[Any]:
    """total_plays += n for each creator (in id order); each creator's counters after it
    (id, total_plays, follower_count, coin_status, needs_sync), needs_sync set where it was
    off."""
    add, flag = _add_to_creator(conn.dialect), _needs_sync(conn.dialect)
    after = []
    for creator, n in sorted(by_creator.items()):
        row = _Counted(*add.execute(conn, {"creator": creator, "n": n}).fetchone())
        if not row.needs_sync:
            flag.execute(conn, {"creator": creator})
        after.append(row)
    return after


def add_to_days(
    conn: Connection,
    creator_days: Mapping[tuple[int, date], Mapping[str, int]],
    days: Mapping[date, Mapping[str, int]],
) -> None:
    now = utc_now()
    _upsert_creator_day(conn.dialect).executemany(
        conn,
        [
            {
                "creator_id": c,
                "day": d,
                "plays": v["plays"],
                "listened_s": v["listened_s"],
                "now": now,
            }
            for (c, d), v in sorted(creator_days.items())
        ],
    )
    _upsert_day(conn.dialect).executemany(
        conn,
        [{"day": day, **_counts(counts), "now": now} for day, counts in sorted(days.items())],
    )


def _counts(counts: Mapping[str, int]) -> dict[str, int]:
    return {"plays": counts["plays"], "listened_s": counts["listened_s"]}


class _Counted(NamedTuple):
    id: int
    total_plays: int
    follower_count: int
    coin_status: str | None
    needs_sync: bool


def _select_in(conn: Connection, head: str, column: str, values: list[Any]) -> Iterable[Any]:
    driver = conn.connection.driver_connection
    for start in range(0, len(values), LOOKUP_CHUNK):
        chunk = values[start : start + LOOKUP_CHUNK]
        marks = ", ".join("?" * len(chunk))
        yield from driver.execute(f"{head} WHERE {column} IN ({marks})", chunk)  # type: ignore[union-attr]


@functools.cache
def _insert(dialect: sa.Dialect) -> DriverStatement:
    values = {name: sa.bindparam(name, type_=plays.c[name].type) for name in PLAY_COLUMNS}
    return DriverStatement(plays.insert().values(values), dialect, [])


@functools.cache
def _add_to_tracks(dialect: sa.Dialect) -> DriverStatement:
    statement = (
        tracks.update()
        .where(tracks.c.id == sa.bindparam("track"), tracks.c.deleted_at.is_(None))
        .values(play_count=tracks.c.play_count + sa.bindparam("n", type_=sa.BigInteger))
    )
    return DriverStatement(statement, dialect, [])


@functools.cache
def _add_to_creator(dialect: sa.Dialect) -> DriverStatement:
    statement = (
        creators.update()
        .where(creators.c.id == sa.bindparam("creator"))
        .values(total_plays=creators.c.total_plays + sa.bindparam("n", type_=sa.BigInteger))
        .returning(
            creators.c.id,
            creators.c.total_plays,
            creators.c.follower_count,
            creators.c.coin_status,
            creators.c.needs_sync,
        )
    )
    return DriverStatement(statement, dialect, [])


@functools.cache
def _needs_sync(dialect: sa.Dialect) -> DriverStatement:
    statement = (
        creators.update()
        .where(creators.c.id == sa.bindparam("creator"))
        .values(needs_sync=sa.true())
    )
    return DriverStatement(statement, dialect, [])


def _upsert(table: sa.Table, keys: tuple[str, ...]) -> Any:
    values = {key: sa.bindparam(key, type_=table.c[key].type) for key in keys}
    values |= {
        "plays": sa.bindparam("plays", type_=sa.BigInteger),
        "listened_s": sa.bindparam("listened_s", type_=sa.BigInteger),
        "updated_at": sa.bindparam("now", type_=UtcDateTime),
    }
    for column in table.columns:  # Python-side defaults would be asked for as parameters
        if column.name not in values and column.default is not None:
            zero = amount_zero() if isinstance(column.type, AmountType) else sa.literal_column("0")
            values[column.name] = zero
    statement = sqlite_insert(table).values(values)
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={
            "plays": table.c.plays + statement.excluded.plays,
            "listened_s": table.c.listened_s + statement.excluded.listened_s,
            "updated_at": statement.excluded.updated_at,
        },
    )


@functools.cache
def _upsert_creator_day(dialect: sa.Dialect) -> DriverStatement:
    return DriverStatement(_upsert(creator_daily_stats, ("creator_id", "day")), dialect, [])


@functools.cache
def _upsert_day(dialect: sa.Dialect) -> DriverStatement:
    return DriverStatement(_upsert(daily_stats, ("day",)), dialect, [])
