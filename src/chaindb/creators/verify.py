"""Every counter against its history, recounted (what `chaindb maintenance --check` asks).

The write path never recounts; this does, once, by grouping the history in the database:
tracks' plays, likes and comments; creators' sums of their tracks, their live tracks and
followers; each (creator, day) and each day's plays and seconds listened. The plays of dropped
partitions (PostgreSQL's retention, creators/partitions.py) count by their totals.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from chaindb.creators.schema import (
    comments,
    creator_daily_stats,
    creators,
    daily_stats,
    follows,
    likes,
    plays,
    plays_dropped_totals,
    tracks,
)
from chaindb.database import Database

PROBLEMS_MAX = 100


class utc_day(FunctionElement[Any]):  # noqa: N801 - reads as a SQL function
    """The UTC calendar day of a UtcDateTime column."""

    type = sa.Date()
    inherit_cache = True


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"  # stored as UTC text


@compiles(utc_day)
def _utc_day_postgresql(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(timezone('UTC', {compiler.process(element.clauses, **kw)}) AS DATE)"


def verify(db: Database) -> list[str]:
    """The counters that differ from their recount, named (at most PROBLEMS_MAX)."""
    with db.read() as conn:
        problems = [
            *_track_problems(conn),
            *_creator_problems(conn),
            *_creator_day_problems(conn),
            *_day_problems(conn),
        ]
    return problems[:PROBLEMS_MAX]


def _count_by(conn: Connection, key: sa.ColumnElement[Any], *where: Any) -> dict[Any, int]:
    table = key.table  # type: ignore[attr-defined]
    query = sa.select(key, sa.func.count()).select_from(table).where(*where).group_by(key)
    return {row[0]: row[1] for row in conn.execute(query)}


def _track_problems(conn: Connection) -> list[str]:
    played = _count_by(conn, plays.c.track_id)
    dropped = plays_dropped_totals.c
    for track, n in conn.execute(
        sa.select(dropped.track_id, sa.func.sum(dropped.plays)).group_by(dropped.track_id)
    ):
        played[track] = played.get(track, 0) + int(n)
    recounts = {
        "play_count": played,
        "like_count": _count_by(conn, likes.c.track_id),
        "comment_count": _count_by(conn, comments.c.track_id, comments.c.deleted_at.is_(None)),
    }
    rows = conn.execute(
        sa.select(tracks.c.id, *(tracks.c[name] for name in recounts)).order_by(tracks.c.id)
    )
    return [
        f"track {row.id}: {name} is {getattr(row, name)}, its history has {counted.get(row.id, 0)}"
        for row in rows
        for name, counted in recounts.items()
        if getattr(row, name) != counted.get(row.id, 0)
    ]


def _creator_problems(conn: Connection) -> list[str]:
    sums = {
        row.creator_id: row
        for row in conn.execute(
            sa.select(
                tracks.c.creator_id,
                sa.func.sum(tracks.c.play_count).label("total_plays"),
                sa.func.sum(tracks.c.like_count).label("like_count"),
                sa.func.sum(tracks.c.comment_count).label("comment_count"),
                sa.func.count().filter(tracks.c.deleted_at.is_(None)).label("track_count"),
            ).group_by(tracks.c.creator_id)
        )
    }
    followers = _count_by(conn, follows.c.creator_id)
    problems = []
    for row in conn.execute(sa.select(creators).order_by(creators.c.id)):
        expected = sums.get(row.id)
        recount = {
            name: int(getattr(expected, name) or 0) if expected else 0
            for name in ("total_plays", "like_count", "comment_count", "track_count")
        }
        recount["follower_count"] = followers.get(row.id, 0)
        problems += [
            f"creator {row.id}: {name} is {getattr(row, name)}, its history has {value}"
            for name, value in recount.items()
            if getattr(row, name) != value
        ]
    return problems


def _creator_day_problems(conn: Connection) -> list[str]:
    day = utc_day(plays.c.played_at)
    kept_plays = sa.select(
        tracks.c.creator_id,
        day.label("day"),
        sa.func.count().label("plays"),
        sa.func.sum(plays.c.listened_s).label("listened_s"),
    ).select_from(plays.join(tracks, tracks.c.id == plays.c.track_id))
    dropped = plays_dropped_totals.c
    dropped_plays = sa.select(
        tracks.c.creator_id,
        dropped.day,
        sa.func.sum(dropped.plays).label("plays"),
        sa.func.sum(dropped.listened_s).label("listened_s"),
    ).select_from(plays_dropped_totals.join(tracks, tracks.c.id == dropped.track_id))
    recount: dict[Any, dict[str, int]] = {}
    for query, group in ((kept_plays, day), (dropped_plays, dropped.day)):
        for row in conn.execute(query.group_by(tracks.c.creator_id, group)):
            counts = recount.setdefault((row.creator_id, row.day), {"plays": 0, "listened_s": 0})
            counts["plays"] += int(row.plays)
            counts["listened_s"] += int(row.listened_s or 0)
    recounted = {key: SimpleNamespace(**counts) for key, counts in recount.items()}
    kept = {
        (row.creator_id, row.day): row
        for row in conn.execute(
            sa.select(creator_daily_stats).where(creator_daily_stats.c.plays > 0)
        )
    }
    return _compare("creator {0} on {1}", kept, recounted, ("plays", "listened_s"))


def _day_problems(conn: Connection) -> list[str]:
    recount = {
        row.day: row
        for row in conn.execute(
            sa.select(
                creator_daily_stats.c.day,
                sa.func.sum(creator_daily_stats.c.plays).label("plays"),
                sa.func.sum(creator_daily_stats.c.listened_s).label("listened_s"),
            )
            .group_by(creator_daily_stats.c.day)
            .having(sa.func.sum(creator_daily_stats.c.plays) > 0)
        )
    }
    kept = {
        (row.day,): row
        for row in conn.execute(sa.select(daily_stats).where(daily_stats.c.plays > 0))
    }
    return _compare("{0}", kept, {(day,): row for day, row in recount.items()}, ("plays",))


def _compare(
    label: str, kept: dict[Any, Any], recount: dict[Any, Any], columns: tuple[str, ...]
) -> list[str]:
    problems = []
    for key in sorted(set(kept) | set(recount), key=str):
        for name in columns:
            have = int(getattr(kept.get(key), name, 0) or 0)
            want = int(getattr(recount.get(key), name, 0) or 0)
            if have != want:
                problems.append(f"{label.format(*key)}: {name} is {have}, its history has {want}")
    return problems
