"""Tracks (audio on Filecoin, addressed by CID), likes and comments.

A track's CID is parsed with py-cid (CIDv0 'Qm…', CIDv1 'bafy…', Filecoin piece CIDs
'baga6ea4sea…' and 'bafkzcib…') and stored in one spelling: v0 as given (base58), v1 in
base32. Deleting a track or a comment is soft: the row stays (plays and counters refer to it),
marked deleted; a deleted track takes no more plays, likes or comments.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import cid as py_cid
import sqlalchemy as sa
from pydantic import BeforeValidator, Field
from sqlalchemy.engine import Connection

from chaindb.core import require_user
from chaindb.creators import counters
from chaindb.creators.profiles import require_creator
from chaindb.creators.schema import comments, creators, likes, tracks
from chaindb.database import Database, reading, writing
from chaindb.errors import Conflict, NotFound
from chaindb.text import free_text, identifier
from chaindb.types import Amount, RowId, UserId, utc_now
from chaindb.validation import Input, Row, validated

CID_CHARS_MAX = 128
TITLE_CHARS_MAX = 200
COMMENT_CHARS_MAX = 2_000
TRACK_DURATION_S_MAX = 24 * 3600


def cid_rule(value: object) -> str:
    """A content identifier, in its canonical spelling (v0 base58btc, v1 base32)."""
    if not isinstance(value, str) or not 1 <= len(value) <= CID_CHARS_MAX:
        raise ValueError(f"must be a CID of at most {CID_CHARS_MAX} characters")
    try:
        parsed = py_cid.make_cid(value)
    except Exception:  # py-cid raises ValueError, KeyError, ... for what is not a CID
        raise ValueError(
            "must be a CID (CIDv0 'Qm…' or CIDv1 such as 'bafy…', 'baga6ea4sea…')"
        ) from None
    if parsed.version == 0:
        return str(parsed)
    return parsed.encode("base32").decode()


FileCid = Annotated[str, BeforeValidator(cid_rule)]


class NewTrack(Input):
    creator_id: RowId
    title: free_text(TITLE_CHARS_MAX, chars_min=1)  # type: ignore[valid-type]
    duration_s: Annotated[int, Field(strict=True, gt=0, le=TRACK_DURATION_S_MAX)]
    file_cid: FileCid
    genre: identifier(50) | None = None  # type: ignore[valid-type]
    file_size_bytes: Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)] | None = None
    price_wei: Amount | None = None


class Reaction(Input):
    user_id: UserId
    track_id: RowId


class NewComment(Reaction):
    body: free_text(COMMENT_CHARS_MAX, chars_min=1)  # type: ignore[valid-type]


class Track(Row):
    id: int
    creator_id: int
    title: str
    genre: str | None
    duration_s: int
    file_cid: str
    file_size_bytes: int | None
    price_wei: int | None
    play_count: int
    like_count: int
    comment_count: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


def create_track(
    target: Database | Connection,
    *,
    creator_id: int,
    title: str,
    duration_s: int,
    file_cid: str,
    genre: str | None = None,
    file_size_bytes: int | None = None,
    price_wei: int | None = None,
) -> Track:
    """A new track of the creator; `price_wei` (attoFIL) makes it a premium track."""
    new = validated(
        NewTrack,
        creator_id=creator_id,
        title=title,
        duration_s=duration_s,
        file_cid=file_cid,
        genre=genre,
        file_size_bytes=file_size_bytes,
        price_wei=price_wei,
    )
    with writing(target) as conn:
        require_creator(conn, new.creator_id)
        row = conn.execute(tracks.insert().values(**new.model_dump()).returning(tracks)).one()
        counters.add_to_creators(conn, "track_count", {new.creator_id: 1})
    return Track.model_validate(row)


def get_track(target: Database | Connection, track_id: int) -> Track | None:
    with reading(target) as conn:
        row = conn.execute(sa.select(tracks).where(tracks.c.id == track_id)).first()
    return None if row is None else Track.model_validate(row)


def delete_track(target: Database | Connection, track_id: int) -> Track:
    """Soft delete: the track stays for its plays and history, takes nothing new, and no
    longer counts among the creator's tracks. Deleting again changes nothing."""
    with writing(target) as conn:
        track = require_track(conn, track_id, live=False)
        if track.deleted_at is not None:
            return track
        row = conn.execute(
            tracks.update()
            .where(tracks.c.id == track_id)
            .values(deleted_at=utc_now(), updated_at=utc_now())
            .returning(tracks)
        ).one()
        counters.add_to_creators(conn, "track_count", {track.creator_id: -1})
    return Track.model_validate(row)


def like_track(target: Database | Connection, *, user_id: str, track_id: int) -> bool:
    """The user likes the track; False when they already did."""
    new = validated(Reaction, user_id=user_id, track_id=track_id)
    with writing(target) as conn:
        require_user(conn, new.user_id)
        track = require_track(conn, new.track_id)
        inserted = conn.execute(
            counters.insert_ignoring_duplicates(conn, likes)
            .values(user_id=new.user_id, track_id=new.track_id)
            .returning(likes.c.id)
        ).first()
        if inserted is None:
            return False
        _count_reaction(conn, track, "like_count", "likes", 1)
    return True


def unlike_track(target: Database | Connection, *, user_id: str, track_id: int) -> bool:
    new = validated(Reaction, user_id=user_id, track_id=track_id)
    with writing(target) as conn:
        track = require_track(conn, new.track_id, live=False)
        deleted = conn.execute(
            likes.delete()
            .where(likes.c.user_id == new.user_id, likes.c.track_id == new.track_id)
            .returning(likes.c.id)
        ).first()
        if deleted is None:
            return False
        _count_reaction(conn, track, "like_count", "likes", -1)
    return True


def add_comment(target: Database | Connection, *, user_id: str, track_id: int, body: str) -> int:
    """A comment on the track; returns its id."""
    new = validated(NewComment, user_id=user_id, track_id=track_id, body=body)
    with writing(target) as conn:
        require_user(conn, new.user_id)
        track = require_track(conn, new.track_id)
        comment_id = conn.execute(
            comments.insert()
            .values(user_id=new.user_id, track_id=new.track_id, body=new.body)
            .returning(comments.c.id)
        ).scalar_one()
        _count_reaction(conn, track, "comment_count", "comments", 1)
    return comment_id


def delete_comment(target: Database | Connection, comment_id: int) -> bool:
    """Soft delete: the body is wiped, the row kept, the counts go down; False if it was
    already deleted."""
    with writing(target) as conn:
        row = conn.execute(
            comments.update()
            .where(comments.c.id == comment_id, comments.c.deleted_at.is_(None))
            .values(deleted_at=utc_now(), body=None)
            .returning(comments.c.track_id)
        ).first()
        if row is None:
            if conn.execute(sa.select(comments.c.id).where(comments.c.id == comment_id)).first():
                return False
            raise NotFound(f"comment_id: comment {comment_id} does not exist")
        track = require_track(conn, row.track_id, live=False)
        _count_reaction(conn, track, "comment_count", "comments", -1)
    return True


def require_track(conn: Connection, track_id: int, *, live: bool = True) -> Track:
    row = conn.execute(sa.select(tracks).where(tracks.c.id == track_id)).first()
    if row is None:
        raise NotFound(f"track_id: track {track_id} does not exist")
    track = Track.model_validate(row)
    if live and track.deleted_at is not None:
        raise Conflict(f"track_id: track {track_id} is deleted")
    return track


def _count_reaction(conn: Connection, track: Track, column: str, stat: str, delta: int) -> None:
    """The track's and its creator's counter, and (when added) the day's statistics."""
    conn.execute(
        tracks.update().where(tracks.c.id == track.id).values({column: tracks.c[column] + delta})
    )
    conn.execute(
        creators.update()
        .where(creators.c.id == track.creator_id)
        .values({column: creators.c[column] + delta, "needs_sync": True})
    )
    if delta > 0:
        today = utc_now().date()
        counters.add_to_days(
            conn,
            creator_days={(track.creator_id, today): {stat: delta}},
            days={today: {stat: delta}},
        )
