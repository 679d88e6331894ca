"""The seed's UserRepository: a player is a core user with an ed25519 public key (32 bytes,
what their consensus votes verify against) and a reputation from 0.00 to 5.00."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from chaindb import core
from chaindb.database import Database, reading, writing
from chaindb.errors import Conflict, InvalidInput, NotFound
from chaindb.games.audit import SYSTEM_ACTOR, audit
from chaindb.games.schema import PUBLIC_KEY_BYTES, REPUTATION_MAX, games_players
from chaindb.text import USERNAME_CHARS_MAX, identifier
from chaindb.types import UserId, utc_now
from chaindb.validation import Input, Row, validated

Username = identifier(USERNAME_CHARS_MAX)
Reputation = Annotated[Decimal, Field(ge=0, le=REPUTATION_MAX, decimal_places=2)]


class Player(Row):
    """The seed's users row: core's id and username with the games fields."""

    id: str
    username: str | None
    public_key: bytes
    reputation: Decimal
    created_at: datetime
    updated_at: datetime


class _NewPlayer(Input):
    user_id: UserId
    username: Username
    public_key: bytes


class _Reputation(Input):
    user_id: UserId
    reputation: Reputation


def public_key_rule(value: object, field: str = "public_key") -> bytes:
    """32 raw bytes (or 64 hex digits, with or without 0x): an ed25519 public key."""
    if isinstance(value, str):
        text = value.removeprefix("0x")
        try:
            value = bytes.fromhex(text)
        except ValueError:
            raise InvalidInput(field, value, "must be 32 bytes or 64 hex digits") from None
    if not isinstance(value, bytes | bytearray) or len(value) != PUBLIC_KEY_BYTES:
        raise InvalidInput(
            field, value, f"must be an ed25519 public key of {PUBLIC_KEY_BYTES} bytes"
        )
    return bytes(value)


def create_user(
    target: Database | Connection,
    user_id: str,
    username: str,
    public_key: bytes | str,
    *,
    actor: str = SYSTEM_ACTOR,
) -> Player:
    """The seed's create_user(id, username, public_key): a core user (created if missing)
    registered as a player with this key. A key already registered to another player, or a
    second registration with a different key, is a Conflict."""
    new = validated(
        _NewPlayer,
        user_id=user_id,
        username=username,
        public_key=public_key_rule(public_key),
    )
    with writing(target) as conn:
        user = core.ensure_user(conn, new.user_id, new.username)
        if user.username != new.username:
            raise Conflict(f"user {new.user_id!r} exists with username {user.username!r}")
        existing = _player_row(conn, new.user_id)
        if existing is not None:
            if existing.public_key != new.public_key:
                raise Conflict(f"user {new.user_id!r} is registered with another public key")
            return existing
        try:
            with conn.begin_nested():
                conn.execute(
                    games_players.insert().values(user_id=new.user_id, public_key=new.public_key)
                )
        except IntegrityError:
            raise Conflict("public_key: this key is registered to another player") from None
        player = _player_row(conn, new.user_id)
        assert player is not None
        audit(
            conn,
            actor=actor,
            entity_type="player",
            entity_id=new.user_id,
            action="create",
            before=None,
            after={"public_key": player.public_key, "reputation": str(player.reputation)},
        )
    return player


def get_user(target: Database | Connection, user_id: str) -> Player | None:
    """The seed's get_user: the player, or None."""
    with reading(target) as conn:
        return _player_row(conn, user_id)


def update_reputation(
    target: Database | Connection,
    user_id: str,
    reputation: Decimal | str | float,
    *,
    actor: str = SYSTEM_ACTOR,
) -> Player:
    """Set a player's reputation: 0.00 to 5.00, at most two decimals (4.5 is 4.50)."""
    if isinstance(reputation, float):
        reputation = Decimal(str(reputation))  # 4.5 as written, not its binary expansion
    new = validated(_Reputation, user_id=user_id, reputation=reputation)
    with writing(target) as conn:
        before = _player_row(conn, new.user_id, lock=True)
        if before is None:
            raise NotFound(f"user_id: {new.user_id!r} is not a registered player")
        conn.execute(
            games_players.update()
            .where(games_players.c.user_id == new.user_id)
            .values(reputation=new.reputation, updated_at=utc_now())
        )
        audit(
            conn,
            actor=actor,
            entity_type="player",
            entity_id=new.user_id,
            action="reputation",
            before={"reputation": str(before.reputation)},
            after={"reputation": str(new.reputation.quantize(Decimal("0.01")))},
        )
        player = _player_row(conn, new.user_id)
    assert player is not None
    return player


def public_keys(conn: Connection, user_ids: list[str]) -> dict[str, bytes]:
    """The registered key of each player among `user_ids` (primary-key lookups)."""
    rows = conn.execute(
        sa.select(games_players.c.user_id, games_players.c.public_key).where(
            games_players.c.user_id.in_(user_ids)
        )
    )
    return {row.user_id: bytes(row.public_key) for row in rows}


def _player_row(conn: Connection, user_id: str, *, lock: bool = False) -> Player | None:
    usernames = core.get_usernames(conn, [user_id])
    if user_id not in usernames:
        return None
    query = sa.select(games_players).where(games_players.c.user_id == user_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        return None
    return Player(
        id=row.user_id,
        username=usernames[user_id],
        public_key=bytes(row.public_key),
        reputation=row.reputation,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
