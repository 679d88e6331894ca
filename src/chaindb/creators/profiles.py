"""Creators and their followers: a creator is a core user who creates; a follow is unique
per (follower, creator), and nobody follows themselves (a CHECK says so too)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from chaindb.core import get_usernames, require_user
from chaindb.creators import counters
from chaindb.creators.schema import creators, follows
from chaindb.database import Database, reading, writing
from chaindb.errors import Conflict, InvalidInput, NotFound
from chaindb.text import free_text, identifier
from chaindb.types import RowId, UserId, utc_now
from chaindb.validation import Input, Row, validated

STAGE_NAME_CHARS_MAX = 100
BIO_CHARS_MAX = 2_000
GENRES_MAX = 10
GENRE_CHARS_MAX = 50
FOLLOWERS_PER_CALL_MAX = 10_000
USERS_PER_LOOKUP = 1_000  # core.get_usernames' bound
StageName = free_text(STAGE_NAME_CHARS_MAX, chars_min=1)
Genre = identifier(GENRE_CHARS_MAX)


class NewCreator(Input):
    user_id: UserId
    stage_name: StageName
    bio: free_text(BIO_CHARS_MAX) | None = None  # type: ignore[valid-type]
    genres: list[Genre] = Field(default_factory=list, max_length=GENRES_MAX)


class FollowInput(Input):
    follower_id: UserId
    creator_id: RowId


class Creator(Row):
    id: int
    user_id: str
    stage_name: str
    bio: str | None
    genres: list[str] | None
    is_verified: bool
    verified_at: datetime | None
    total_plays: int
    follower_count: int
    like_count: int
    comment_count: int
    track_count: int
    coin_status: str | None
    coin_chain_id: str | None
    coin_address: str | None
    coin_symbol: str | None
    coin_tx_hash: str | None
    coin_created_at: datetime | None
    coin_market_cap_wei: int
    revenue_sharing: bool
    needs_sync: bool
    sync_sequence: int
    synced_sequence: int
    sync_tx_hash: str | None
    last_sync_at: datetime | None
    sync_error_count: int
    last_sync_error: str | None
    deleted_at: datetime | None
    created_at: datetime
    updated_at: datetime


def create_creator(
    target: Database | Connection,
    *,
    user_id: str,
    stage_name: str,
    bio: str | None = None,
    genres: list[str] | None = None,
) -> Creator:
    """The user becomes a creator (once: a second profile for the same user is a Conflict)."""
    new = validated(
        NewCreator, user_id=user_id, stage_name=stage_name, bio=bio, genres=genres or []
    )
    try:
        with writing(target) as conn:
            require_user(conn, new.user_id)
            row = conn.execute(
                creators.insert()
                .values(
                    user_id=new.user_id,
                    stage_name=new.stage_name,
                    bio=new.bio,
                    genres=list(new.genres),
                )
                .returning(creators)
            ).one()
    except IntegrityError:
        raise Conflict(f"user_id: user {new.user_id!r} is already a creator") from None
    return Creator.model_validate(row)


def get_creator(target: Database | Connection, creator_id: int) -> Creator | None:
    with reading(target) as conn:
        row = conn.execute(sa.select(creators).where(creators.c.id == creator_id)).first()
    return None if row is None else Creator.model_validate(row)


def get_creator_of_user(target: Database | Connection, user_id: str) -> Creator | None:
    with reading(target) as conn:
        row = conn.execute(sa.select(creators).where(creators.c.user_id == user_id)).first()
    return None if row is None else Creator.model_validate(row)


def verify_creator(target: Database | Connection, creator_id: int) -> Creator:
    """Mark the creator verified (once; verifying again changes nothing)."""
    with writing(target) as conn:
        creator = require_creator(conn, creator_id)
        if creator.is_verified:
            return creator
        return update_creator(conn, creator_id, is_verified=True, verified_at=utc_now())


def follow(target: Database | Connection, *, follower_id: str, creator_id: int) -> bool:
    """`follower_id` follows the creator; False when they already did. The follower count and
    the day's statistics move in the same transaction; crossing a followers milestone is
    recorded there too."""
    new = validated(FollowInput, follower_id=follower_id, creator_id=creator_id)
    with writing(target) as conn:
        require_user(conn, new.follower_id, "follower_id")
        creator = require_creator(conn, new.creator_id)
        if creator.user_id == new.follower_id:
            raise InvalidInput("follower_id", new.follower_id, "a creator cannot follow themselves")
        inserted = conn.execute(
            counters.insert_ignoring_duplicates(conn, follows)
            .values(
                follower_id=new.follower_id,
                creator_id=new.creator_id,
                creator_user_id=creator.user_id,
            )
            .returning(follows.c.id)
        ).first()
        if inserted is None:
            return False
        counters.add_followers(conn, new.creator_id, 1)
    return True


def follow_many(
    target: Database | Connection, *, creator_id: int, follower_ids: Sequence[str]
) -> int:
    """Many users follow the creator at once (an audience imported from elsewhere), in one
    transaction: those who already followed are skipped; returns how many follows are new.
    Counted, and milestones seen, as `follow` does."""
    if len(follower_ids) > FOLLOWERS_PER_CALL_MAX:
        raise InvalidInput("follower_ids", len(follower_ids), f"at most {FOLLOWERS_PER_CALL_MAX}")
    wanted = [validated(FollowInput, follower_id=f, creator_id=creator_id) for f in follower_ids]
    ids = sorted({new.follower_id for new in wanted})
    with writing(target) as conn:
        creator = require_creator(conn, creator_id)
        if creator.user_id in ids:
            raise InvalidInput(
                "follower_ids", creator.user_id, "a creator cannot follow themselves"
            )
        for start in range(0, len(ids), USERS_PER_LOOKUP):
            chunk = ids[start : start + USERS_PER_LOOKUP]
            missing = sorted(set(chunk) - set(get_usernames(conn, chunk)))
            if missing:
                raise NotFound(f"follower_ids: user {missing[0]!r} does not exist")
        rows = [
            {"follower_id": f, "creator_id": creator_id, "creator_user_id": creator.user_id}
            for f in ids
        ]
        if not rows:
            return 0
        statement = counters.insert_ignoring_duplicates(conn, follows).returning(follows.c.id)
        added = len(conn.execute(statement, rows).all())
        if added:
            counters.add_followers(conn, creator_id, added)
    return added


def unfollow(target: Database | Connection, *, follower_id: str, creator_id: int) -> bool:
    """Stop following; False when they did not follow."""
    new = validated(FollowInput, follower_id=follower_id, creator_id=creator_id)
    with writing(target) as conn:
        deleted = conn.execute(
            follows.delete()
            .where(follows.c.follower_id == new.follower_id, follows.c.creator_id == creator_id)
            .returning(follows.c.id)
        ).first()
        if deleted is None:
            return False
        counters.add_followers(conn, new.creator_id, -1)
    return True


def require_creator(conn: Connection, creator_id: int, field: str = "creator_id") -> Creator:
    row = conn.execute(sa.select(creators).where(creators.c.id == creator_id)).first()
    if row is None:
        raise NotFound(f"{field}: creator {creator_id} does not exist")
    return Creator.model_validate(row)


def update_creator(conn: Connection, creator_id: int, **values: Any) -> Creator:
    row = conn.execute(
        creators.update()
        .where(creators.c.id == creator_id)
        .values(updated_at=utc_now(), **values)
        .returning(creators)
    ).one()
    return Creator.model_validate(row)
