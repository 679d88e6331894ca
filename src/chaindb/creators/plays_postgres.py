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

When plays is partitioned (creators/partitions.py), its client ids are unique in plays_keys,
not in plays: the same statements then claim each client id there first and insert only the
plays they claimed (`_KEYED_*`). Which of the two a connection sends is read from the catalog
once per connection (`keyed`); a connection that read it before the table changed gets an
error naming the missing key or table, and forgets what it read (plays.py retries once).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

_TRACK = """
WITH track AS (
    SELECT id, creator_id FROM tracks WHERE id = %(track_id)s AND deleted_at IS NULL FOR UPDATE
)"""

_PLAY = """, play AS (
    INSERT INTO plays (track_id, user_id, played_at, listened_s, source, client_id, ip_hash,
                       user_agent_hash, recorded_at)
    SELECT track.id, %(user_id)s, %(played_at)s, %(listened_s)s, %(source)s, %(client_id)s,
           %(ip_hash)s, %(user_agent_hash)s, %(recorded_at)s
    FROM track
    ON CONFLICT (client_id) DO NOTHING
    RETURNING track_id
)"""

# Plays older than the newest day a partition drop took are not counted (their client ids
# may have gone with it): creators/partitions.py.
_HORIZON = """
coalesce((SELECT (max(day) + 1)::timestamp AT TIME ZONE 'UTC' FROM plays_dropped_totals),
         '-infinity')"""

_KEYED_PLAY = f""", claimed AS (
    INSERT INTO plays_keys (played_at, client_id)
    SELECT %(played_at)s, %(client_id)s FROM track WHERE %(played_at)s >= {_HORIZON}
    ON CONFLICT (client_id) DO NOTHING
    RETURNING id, played_at
), play AS (
    INSERT INTO plays (id, track_id, user_id, played_at, listened_s, source, client_id, ip_hash,
                       user_agent_hash, recorded_at)
    SELECT claimed.id, track.id, %(user_id)s, claimed.played_at, %(listened_s)s, %(source)s,
           %(client_id)s, %(ip_hash)s, %(user_agent_hash)s, %(recorded_at)s
    FROM track, claimed
    RETURNING track_id
)"""

_COUNTERS = """, counted AS (
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

ONE_PLAY = _TRACK + _PLAY + _COUNTERS
KEYED_ONE_PLAY = _TRACK + _KEYED_PLAY + _COUNTERS

LOCK_TRACKS = """
SELECT id, creator_id, deleted_at IS NOT NULL AS deleted
FROM tracks WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id FOR UPDATE
"""

_ARRAYS = """unnest(%(track_id)s::bigint[], %(user_id)s::varchar[],
       %(played_at)s::timestamptz[], %(listened_s)s::integer[], %(source)s::varchar[],
       %(client_id)s::varchar[], %(ip_hash)s::bytea[], %(user_agent_hash)s::bytea[],
       %(recorded_at)s::timestamptz[])"""

INSERT_PLAYS = f"""
INSERT INTO plays (track_id, user_id, played_at, listened_s, source, client_id, ip_hash,
                   user_agent_hash, recorded_at)
SELECT * FROM {_ARRAYS}
ON CONFLICT (client_id) DO NOTHING
RETURNING client_id
"""

KEYED_INSERT_PLAYS = f"""
WITH sent AS (
    SELECT * FROM {_ARRAYS} AS sent(track_id, user_id, played_at, listened_s, source,
                                    client_id, ip_hash, user_agent_hash, recorded_at)
), claimed AS (
    INSERT INTO plays_keys (played_at, client_id)
    SELECT played_at, client_id FROM sent WHERE played_at >= {_HORIZON}
    ON CONFLICT (client_id) DO NOTHING
    RETURNING id, client_id
)
INSERT INTO plays (id, track_id, user_id, played_at, listened_s, source, client_id, ip_hash,
                   user_agent_hash, recorded_at)
SELECT claimed.id, sent.track_id, sent.user_id, sent.played_at, sent.listened_s, sent.source,
       sent.client_id, sent.ip_hash, sent.user_agent_hash, sent.recorded_at
FROM sent JOIN claimed ON claimed.client_id = sent.client_id
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


# conn.info: (generation, whether plays keeps its client ids in plays_keys), read once per
# connection and again once any connection of the process found it stale.
_KEYED = "chaindb.creators.plays_keyed"
_generation = 0
# What PostgreSQL says to a statement written for plays as it was before it changed: no unique
# key for ON CONFLICT (client_id) (now partitioned), or no plays_keys (partitioned no more).
STALE_SQLSTATES = ("42P10", "42P01")
_KEYED_NOW = """
SELECT coalesce((SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass('plays')), false)
       AND to_regclass('plays_keys') IS NOT NULL
"""


def keyed(conn: Connection) -> bool:
    """Whether plays keeps its client ids in plays_keys (partitioned: creators/partitions.py)."""
    cached = conn.info.get(_KEYED)
    if cached is None or cached[0] != _generation:
        found = conn.exec_driver_sql(_KEYED_NOW).scalar_one()
        cached = conn.info[_KEYED] = (_generation, bool(found))
    return bool(cached[1])


def forget_keyed() -> None:
    """Every connection reads it again (the table was partitioned, or back, meanwhile)."""
    global _generation
    _generation += 1


def record_one(conn: Connection, row: dict[str, Any]) -> Any:
    """The single play in one statement: the result row (live_track 0: no live track;
    id None: a known client id; else the creator's counters after it)."""
    params = {**row, "day": row["played_at"].date()}
    statement = KEYED_ONE_PLAY if keyed(conn) else ONE_PLAY
    return conn.exec_driver_sql(statement, params).one()


def lock_tracks(conn: Connection, track_ids: list[int]) -> list[tuple[int, int, bool]]:
    rows = conn.exec_driver_sql(LOCK_TRACKS, {"ids": track_ids})
    return [(row.id, row.creator_id, row.deleted) for row in rows]


def insert_plays(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """The client ids of the rows inserted (the others were known)."""
    arrays = {name: [row[name] for row in rows] for name in PLAY_COLUMNS}
    statement = KEYED_INSERT_PLAYS if keyed(conn) else INSERT_PLAYS
    return {row.client_id for row in conn.exec_driver_sql(statement, arrays)}


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
