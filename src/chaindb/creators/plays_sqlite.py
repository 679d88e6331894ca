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
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.creators.schema import plays, tracks
from chaindb.driver import SQLITE_PARAMETERS_MAX, DriverStatement

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
