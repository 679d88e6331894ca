"""GDPR erasure (seed 004: "User Data: GDPR-compliant with soft deletion").

Erasing a user wipes what identifies them and keeps what the platform's figures stand on: their
plays stay, anonymous (no listener, no IP or user-agent hash); their likes, follows and
comments stay counted, without them (a comment loses its text); their playlists go; a creator
profile keeps its tracks, counters and revenue distributions under a neutral name; core wipes
the username and releases the wallet addresses (core.erase_user_personal_data). Every
counter, daily statistic and ledger balance is left as it was. One transaction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from chaindb import core
from chaindb.creators.schema import comments, creators, follows, likes, playlists, plays
from chaindb.database import Database
from chaindb.text import parse_user_id
from chaindb.types import utc_now


@dataclass(frozen=True)
class Erasure:
    user_id: str
    plays_anonymized: int
    likes_anonymized: int
    comments_wiped: int
    follows_anonymized: int
    playlists_deleted: int
    creator_profile_wiped: bool
    wallets_released: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def erase_user(db: Database, user_id: str) -> Erasure:
    """Erase the user's personal data (see the module's doc). Erasing again changes nothing."""
    user_id = parse_user_id(user_id)
    with db.transaction() as conn:
        wallets = core.erase_user_personal_data(conn, user_id)
        anonymous = {"user_id": None}
        counts = {
            "plays_anonymized": conn.execute(
                plays.update()
                .where(plays.c.user_id == user_id)
                .values(user_id=None, ip_hash=None, user_agent_hash=None)
            ).rowcount,
            "likes_anonymized": conn.execute(
                likes.update().where(likes.c.user_id == user_id).values(anonymous)
            ).rowcount,
            "comments_wiped": conn.execute(
                comments.update()
                .where(comments.c.user_id == user_id)
                .values(user_id=None, body=None)
            ).rowcount,
            "follows_anonymized": conn.execute(
                follows.update().where(follows.c.follower_id == user_id).values(follower_id=None)
            ).rowcount,
            "playlists_deleted": conn.execute(
                playlists.delete().where(playlists.c.owner_id == user_id)
            ).rowcount,
        }
        profile = conn.execute(
            creators.update()
            .where(creators.c.user_id == user_id, creators.c.deleted_at.is_(None))
            .values(
                stage_name=sa.literal("deleted creator ") + sa.cast(creators.c.id, sa.String),
                bio=None,
                genres=None,
                deleted_at=utc_now(),
                updated_at=utc_now(),
            )
        ).rowcount
    return Erasure(
        user_id=user_id, creator_profile_wiped=bool(profile), wallets_released=wallets, **counts
    )
