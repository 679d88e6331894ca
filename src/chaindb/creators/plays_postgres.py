"""PostgreSQL's write path for plays: few statements whatever the batch, arrays as parameters.

- One play: one statement (`ONE_PLAY`, data-modifying CTEs): lock its live track, insert the
  play unless its client id is known, add it to the track, its creator and the day's two rows,
  and return the creator's counters (None: a known client id). A round trip is most of what
  a statement costs here; this is one instead of seven.
- A batch: the tracks locked and read in id order (`= ANY(array)`), the plays inserted from
  arrays (`INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING RETURNING`), and each
  counter table updated or upserted once from arrays. A multi-row VALUES of thousands of
  parameters costs psycopg more to parse than the database to run; nine arrays do not.
Rows are taken in key order (tracks and creators by id, days by key), as every writer does.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

ONE_PLAY = """
WITH track AS (
    SELECT id, creator_id FROM tracks WHERE id = %(track_id)s AND deleted_at IS NULL FOR UPDATE
), play AS (
    INSERT INTO plays (track_id, user_id, played_at, listened_s, source, client_id, ip_hash,
                       user_agent_hash, recorded_at)
    SELECT track.id, %(user_id)s, %(played_at)s, %(listened_s)s, %(source)s, %(client_id)s,
           %(ip_hash)s, %(user_agent_hash)s, %(recorded_at)s
    FROM track
    ON CONFLICT (client_id) DO NOTHING
    RETURNING track_id
), counted AS (
    UPDATE tracks SET play_count = tracks.play_count + 1
    FROM play WHERE tracks.id = play.track_id
    RETURNING tracks.creator_id
), creator AS (
    UPDATE creators SET total_plays = creators.total_plays + 1, needs_sync = true
    FROM counted WHERE creators.id = counted.creator_id
    RETURNING creators.id, creators.total_plays, creators.follower_count, creators.coin_status,
              creators.needs_sync
), creator_day AS (
    INSERT INTO creator_daily_stats (creator_id, day, plays, listened_s, updated_at)
    SELECT creator.id, %(day)s, 1, %(listened_s)s, now() FROM creator
    ON CONFLICT (creator_id, day) DO UPDATE
    SET plays = creator_daily_stats.plays + 1,
        listened_s = creator_daily_stats.listened_s + EXCLUDED.listened_s,
        updated_at = EXCLUDED.updated_at
), platform_day AS (
    INSERT INTO daily_stats (day, plays, listened_s, updated_at)
    SELECT %(day)s, 1, %(listened_s)s, now() FROM creator
    ON CONFLICT (day) DO UPDATE
    SET plays = daily_stats.plays + 1,
        listened_s = daily_stats.listened_s + EXCLUDED.listened_s,
        updated_at = EXCLUDED.updated_at
)
SELECT (SELECT count(*) FROM track) AS live_track, creator.*
FROM (SELECT 1) AS one LEFT JOIN creator ON true
"""

LOCK_TRACKS = """
SELECT id, creator_id, deleted_at IS NOT NULL AS deleted
FROM tracks WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id FOR UPDATE
"""

INSERT_PLAYS = """
INSERT INTO plays (track_id, user_id, played_at, listened_s, source, client_id, ip_hash,
                   user_agent_hash, recorded_at)
SELECT * FROM unnest(%(track_id)s::bigint[], %(user_id)s::varchar[],
                     %(played_at)s::timestamptz[], %(listened_s)s::integer[],
                     %(source)s::varchar[], %(client_id)s::varchar[], %(ip_hash)s::bytea[],
                     %(user_agent_hash)s::bytea[], %(recorded_at)s::timestamptz[])
ON CONFLICT (client_id) DO NOTHING
RETURNING client_id
"""

ADD_TO_TRACKS = """
UPDATE tracks SET play_count = tracks.play_count + added.n
FROM unnest(%(ids)s::bigint[], %(ns)s::bigint[]) AS added(id, n)
WHERE tracks.id = added.id
"""

UPSERT_CREATOR_DAYS = """
INSERT INTO creator_daily_stats (creator_id, day, plays, listened_s, updated_at)
SELECT creator_id, day, plays, listened_s, now()
FROM unnest(%(creator_ids)s::bigint[], %(days)s::date[], %(plays)s::bigint[],
            %(listened)s::bigint[]) AS added(creator_id, day, plays, listened_s)
ORDER BY creator_id, day
ON CONFLICT (creator_id, day) DO UPDATE
SET plays = creator_daily_stats.plays + EXCLUDED.plays,
    listened_s = creator_daily_stats.listened_s + EXCLUDED.listened_s,
    updated_at = EXCLUDED.updated_at
"""

UPSERT_DAYS = """
INSERT INTO daily_stats (day, plays, listened_s, updated_at)
SELECT day, plays, listened_s, now()
FROM unnest(%(days)s::date[], %(plays)s::bigint[], %(listened)s::bigint[])
     AS added(day, plays, listened_s)
ORDER BY day
ON CONFLICT (day) DO UPDATE
SET plays = daily_stats.plays + EXCLUDED.plays,
    listened_s = daily_stats.listened_s + EXCLUDED.listened_s,
    updated_at = EXCLUDED.updated_at
"""

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


def record_one(conn: Connection, row: dict[str, Any]) -> Any:
    """The single play in one statement: the result row (live_track 0: no live track;
    id None: a known client id; else the creator's counters after it)."""
    params = {**row, "day": row["played_at"].date()}
    return conn.exec_driver_sql(ONE_PLAY, params).one()


def lock_tracks(conn: Connection, track_ids: list[int]) -> list[tuple[int, int, bool]]:
    rows = conn.exec_driver_sql(LOCK_TRACKS, {"ids": track_ids})
    return [(row.id, row.creator_id, row.deleted) for row in rows]


def insert_plays(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """The client ids of the rows inserted (the others were known)."""
    arrays = {name: [row[name] for row in rows] for name in PLAY_COLUMNS}
    return {row.client_id for row in conn.exec_driver_sql(INSERT_PLAYS, arrays)}


def add_plays_to_tracks(conn: Connection, by_track: Mapping[int, int]) -> None:
    ids = sorted(by_track)
    conn.exec_driver_sql(ADD_TO_TRACKS, {"ids": ids, "ns": [by_track[i] for i in ids]})


def add_to_days(
    conn: Connection,
    creator_days: Mapping[tuple[int, date], Mapping[str, int]],
    days: Mapping[date, Mapping[str, int]],
) -> None:
    keys = sorted(creator_days)
    conn.exec_driver_sql(
        UPSERT_CREATOR_DAYS,
        {
            "creator_ids": [creator for creator, _ in keys],
            "days": [day for _, day in keys],
            "plays": [creator_days[key]["plays"] for key in keys],
            "listened": [creator_days[key]["listened_s"] for key in keys],
        },
    )
    ordered = sorted(days)
    conn.exec_driver_sql(
        UPSERT_DAYS,
        {
            "days": ordered,
            "plays": [days[day]["plays"] for day in ordered],
            "listened": [days[day]["listened_s"] for day in ordered],
        },
    )
