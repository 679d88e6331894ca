"""Plays, the hot path: record_play and record_plays (batches).

A play carries its track, listener (optional), time, seconds listened, source and the client's
id for it: the same client id counts once, however often it is sent (a unique key, ON CONFLICT
DO NOTHING; on a partitioned plays, its key table's: creators/partitions.py). In the
transaction that inserts the plays, the counters move by what was really inserted: each
track's play_count, each creator's total_plays (milestones seen there), and the
day's rows of creator_daily_stats and daily_stats. Nothing is ever recounted from plays.

What a call costs, whatever the history (plays_postgres and plays_sqlite hold the SQL):
PostgreSQL records one play in one statement, and a batch in a fixed number of statements
from arrays (lock its tracks, insert its plays, then each counter table once); SQLite, on the
driver's own connection, reads the batch's tracks and known client ids, inserts the plays
many rows to a statement, and updates each distinct track, creator and day row by its
primary key. Rows are written in key order so concurrent writers queue, not deadlock.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from chaindb.core import get_usernames
from chaindb.creators import counters, milestones, plays_postgres, plays_sqlite, privacy
from chaindb.creators.milestones import Reached
from chaindb.creators.plays_sqlite import (
    add_plays_to_tracks,
    insert_plays,
    known_client_ids,
    track_rows,
)
from chaindb.database import Database, writing
from chaindb.errors import Conflict, InvalidInput, NotFound
from chaindb.text import free_text, identifier
from chaindb.types import RowId, UserId, UtcDatetime, utc_now
from chaindb.validation import Input, validated, validated_list

PLAYS_PER_CALL_MAX = 10_000
LISTENED_S_MAX = 24 * 3600
CLIENT_ID_CHARS_MAX = 64
USER_AGENT_CHARS_MAX = 1_000
FUTURE_SKEW_MAX = timedelta(hours=1)  # a client's clock may run ahead, not further
USERS_PER_LOOKUP = 1_000
CLIENT_IDS_PER_LOOKUP = 500  # within SQLite's 999 parameters  # core.get_usernames' bound
Source = Literal["direct", "playlist", "search", "profile", "radio", "embed", "other"]


class NewPlay(Input):
    track_id: RowId
    client_id: identifier(CLIENT_ID_CHARS_MAX)  # type: ignore[valid-type]
    listened_s: Annotated[int, Field(strict=True, ge=0, le=LISTENED_S_MAX)]
    played_at: UtcDatetime | None = None
    source: Source = "direct"
    user_id: UserId | None = None
    ip_address: Annotated[str, Field(max_length=64)] | None = None
    user_agent: free_text(USER_AGENT_CHARS_MAX) | None = None  # type: ignore[valid-type]


@dataclass
class PlaysRecorded:
    """recorded: plays inserted; duplicates: client ids already counted (or repeated in the
    call); milestones: those this call crossed."""

    recorded: int = 0
    duplicates: int = 0
    milestones: list[Reached] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "recorded": self.recorded,
            "duplicates": self.duplicates,
            "milestones": [vars(m) for m in self.milestones],
        }


def record_play(
    target: Database | Connection,
    *,
    track_id: int,
    client_id: str,
    listened_s: int,
    played_at: Any = None,
    source: Source = "direct",
    user_id: str | None = None,
    ip_address: str | None = None,
    user_agent: str | None = None,
) -> PlaysRecorded:
    """Record one play (see the module's doc); `played_at` defaults to now. IP address and
    user agent are stored as keyed hashes only (CHAINDB_ANALYTICS_KEY)."""
    play = validated(
        NewPlay,
        track_id=track_id,
        client_id=client_id,
        listened_s=listened_s,
        played_at=played_at,
        source=source,
        user_id=user_id,
        ip_address=ip_address,
        user_agent=user_agent,
    )
    return _record(target, [play], field_prefix="")


def record_plays(
    target: Database | Connection, plays_in: Sequence[Mapping[str, Any]]
) -> PlaysRecorded:
    """Record many plays in one transaction, all or nothing: each a mapping of
    record_play's parameters. A bad one is named by its position (`plays[3].listened_s`)."""
    if len(plays_in) > PLAYS_PER_CALL_MAX:
        raise InvalidInput("plays", len(plays_in), f"at most {PLAYS_PER_CALL_MAX} per call")
    try:
        batch = validated_list(NewPlay, list(plays_in))
    except InvalidInput as error:
        raise InvalidInput(f"plays[{_position(error.field)}", error.value, error.rule) from None
    return _record(target, batch, field_prefix="plays")


def _position(field: str) -> str:
    index, _, rest = field.partition(".")
    return f"{index}].{rest}" if rest else f"{index}]"


def _record(
    target: Database | Connection, batch: list[NewPlay], *, field_prefix: str
) -> PlaysRecorded:
    rows, positions = _rows(batch, field_prefix)
    named = _Namer(rows, positions, field_prefix)
    try:
        try:
            return _write(target, rows, len(batch), named)
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) not in plays_postgres.STALE_SQLSTATES:
                raise
        # plays was partitioned (or back) since this process read how: once more, read anew.
        plays_postgres.forget_keyed()
        return _write(target, rows, len(batch), named)
    except IntegrityError as error:
        raise _refusal(target, rows, named, error) from None


def _write(
    target: Database | Connection, rows: list[dict[str, Any]], sent: int, named: _Namer
) -> PlaysRecorded:
    with writing(target) as conn:
        if len(rows) == 1 and conn.dialect.name == "postgresql":
            return _record_one_postgres(conn, rows[0], sent, named)
        creator_of = _live_tracks(conn, rows, named)
        inserted = _insert(conn, rows)
        reached = _count(conn, inserted, creator_of)
    return PlaysRecorded(len(inserted), sent - len(inserted), reached)


def _rows(batch: list[NewPlay], field_prefix: str) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The rows to insert, one per client id (the first), in client id order; and each client
    id's position in the call."""
    now = utc_now()
    needs_key = any(p.ip_address is not None or p.user_agent is not None for p in batch)
    key = privacy.analytics_key() if needs_key else b""
    rows: dict[str, dict[str, Any]] = {}
    positions: dict[str, int] = {}
    for position, play in enumerate(batch):
        if play.client_id in rows:
            continue
        positions[play.client_id] = position
        where = f"{field_prefix}[{position}]." if field_prefix else ""
        played_at = play.played_at or now
        if played_at > now + FUTURE_SKEW_MAX:
            raise InvalidInput(f"{where}played_at", played_at, "must not be in the future")
        rows[play.client_id] = {
            "track_id": play.track_id,
            "user_id": play.user_id,
            "played_at": played_at,
            "listened_s": play.listened_s,
            "source": play.source,
            "client_id": play.client_id,
            "ip_hash": play.ip_address
            and privacy.ip_hash(key, play.ip_address, f"{where}ip_address"),
            "user_agent_hash": play.user_agent and privacy.keyed_hash(key, play.user_agent),
            "recorded_at": now,
        }
    return [rows[client] for client in sorted(rows)], positions


def _live_tracks(conn: Connection, rows: list[dict[str, Any]], named: _Namer) -> dict[int, int]:
    """track id -> creator id, refusing a track that does not exist or is deleted."""
    wanted = sorted({row["track_id"] for row in rows})
    read = track_rows if conn.dialect.name == "sqlite" else plays_postgres.lock_tracks
    found = {track: (creator, deleted) for track, creator, deleted in read(conn, wanted)}
    for track in wanted:
        if track not in found:
            raise NotFound(f"{named('track_id', track)}: track {track} does not exist")
        if found[track][1]:
            raise Conflict(f"{named('track_id', track)}: track {track} is deleted")
    return {track: creator for track, (creator, _) in found.items()}


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """INSERT the rows; returns those whose client id was new.

    PostgreSQL: ON CONFLICT DO NOTHING RETURNING, which stays exact while another transaction
    inserts the same client id (it waits for it, then skips the row). SQLite runs one writer
    at a time (BEGIN IMMEDIATE): the client ids already there are read first (the unique
    index), and the rest go in through the driver, many rows to a statement (plays_sqlite)."""
    if conn.dialect.name != "sqlite":
        new = plays_postgres.insert_plays(conn, rows)
        return [row for row in rows if row["client_id"] in new]
    seen = known_client_ids(conn, [row["client_id"] for row in rows])
    fresh = [row for row in rows if row["client_id"] not in seen]
    if fresh:
        insert_plays(conn, fresh)
    return fresh


def _count(
    conn: Connection, inserted: list[dict[str, Any]], creator_of: dict[int, int]
) -> list[Reached]:
    per_track_day: Counter[tuple[int, date]] = Counter()
    listened: Counter[tuple[int, date]] = Counter()
    for play in inserted:
        key = (play["track_id"], play["played_at"].date())
        per_track_day[key] += 1
        listened[key] += play["listened_s"]
    by_track: Counter[int] = Counter()
    by_creator: Counter[int] = Counter()
    creator_days: dict[tuple[int, date], Counter[str]] = defaultdict(Counter)
    days: dict[date, Counter[str]] = defaultdict(Counter)
    for (track, day), n in per_track_day.items():
        creator = creator_of[track]
        by_track[track] += n
        by_creator[creator] += n
        for counts in (creator_days[(creator, day)], days[day]):
            counts["plays"] += n
            counts["listened_s"] += listened[(track, day)]
    if conn.dialect.name == "sqlite":
        add_plays_to_tracks(conn, by_track)
        reached = [
            milestone
            for row in plays_sqlite.add_plays_to_creators(conn, by_creator)
            for milestone in milestones.on_counters(
                conn, row, column="total_plays", added=by_creator[row.id]
            )
        ]
        plays_sqlite.add_to_days(conn, creator_days, days)
    else:
        plays_postgres.add_plays_to_tracks(conn, by_track)
        reached = counters.add_to_creators(conn, "total_plays", by_creator)
        plays_postgres.add_to_days(conn, creator_days, days)
    return reached


def _record_one_postgres(
    conn: Connection, row: dict[str, Any], sent: int, named: _Namer
) -> PlaysRecorded:
    """One play, one statement (plays_postgres.ONE_PLAY)."""
    result = plays_postgres.record_one(conn, row)
    if not result.live_track:
        _live_tracks(conn, [row], named)  # raises: no such track, or a deleted one
    if result.id is None:
        return PlaysRecorded(0, sent)
    reached = milestones.on_counters(conn, result, column="total_plays", added=1)
    return PlaysRecorded(1, sent - 1, reached)


def _refusal(
    target: Database | Connection, rows: list[dict[str, Any]], named: _Namer, error: IntegrityError
) -> Exception:
    """What the database refused, named: a listener that is not a user."""
    listeners = sorted({row["user_id"] for row in rows if row["user_id"] is not None})
    for start in range(0, len(listeners), USERS_PER_LOOKUP):
        chunk = listeners[start : start + USERS_PER_LOOKUP]
        known = get_usernames(target, chunk)
        for user in chunk:
            if user not in known:
                where = named("user_id", user)
                return NotFound(f"{where}: user {user!r} does not exist (create it first)")
    return Conflict(f"plays refused by the database: {error.orig}")


@dataclass(frozen=True)
class _Namer:
    """Names the field of the first play whose `name` is `value`: `plays[3].track_id`."""

    rows: list[dict[str, Any]]
    positions: dict[str, int]
    field_prefix: str

    def __call__(self, name: str, value: object) -> str:
        if not self.field_prefix:
            return name
        clients = [row["client_id"] for row in self.rows if row[name] == value]
        position = min(self.positions[client] for client in clients)
        return f"{self.field_prefix}[{position}].{name}"
