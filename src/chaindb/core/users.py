"""Users: the people (or services) that own wallets, transactions and balances."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from chaindb.core.schema import user_wallet_addresses, users
from chaindb.database import Database, dialect_insert, reading, writing
from chaindb.errors import Conflict, InvalidInput, NotFound
from chaindb.text import USERNAME_CHARS_MAX, UserId, identifier, parse_user_id
from chaindb.validation import Input, Row, validated

Username = identifier(USERNAME_CHARS_MAX)


class NewUser(Input):
    user_id: UserId
    username: Username | None = None


class User(Row):
    id: str
    username: str | None
    created_at: datetime
    updated_at: datetime


def create_user(target: Database | Connection, user_id: str, username: str | None = None) -> User:
    """Create a user; a taken id or username is a Conflict and writes nothing."""
    new = validated(NewUser, user_id=user_id, username=username)
    try:
        with writing(target) as conn:
            row = conn.execute(
                users.insert().values(id=new.user_id, username=new.username).returning(users)
            ).one()
    except IntegrityError:
        raise Conflict(
            f"user_id {new.user_id!r} or username {new.username!r} is already taken"
        ) from None
    return User.model_validate(row)


def ensure_user(target: Database | Connection, user_id: str, username: str | None = None) -> User:
    """The user with this id, created if missing (safe to call from many workers at once)."""
    new = validated(NewUser, user_id=user_id, username=username)
    with writing(target) as conn:
        conn.execute(
            dialect_insert(conn, users)
            .values(id=new.user_id, username=new.username)
            .on_conflict_do_nothing()
        )
        row = conn.execute(sa.select(users).where(users.c.id == new.user_id)).first()
    if row is None:
        raise Conflict(f"username {new.username!r} is already taken by another user")
    return User.model_validate(row)


def get_user(target: Database | Connection, user_id: str) -> User | None:
    user_id = parse_user_id(user_id)
    with reading(target) as conn:
        row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
    return None if row is None else User.model_validate(row)


USERNAMES_PER_READ_MAX = 1000


def username_of(user_id: sa.ColumnElement[str]) -> sa.ScalarSelect[str | None]:
    """The username of the user `user_id` names, as a column of another module's query (a
    correlated lookup by primary key): a read that lists users names them in the same
    statement, where get_usernames costs a second round trip."""
    return sa.select(users.c.username).where(users.c.id == user_id).scalar_subquery()


def get_usernames(target: Database | Connection, user_ids: Sequence[str]) -> dict[str, str | None]:
    """Each existing user's username (None when it has none), by id, in one indexed read."""
    if len(user_ids) > USERNAMES_PER_READ_MAX:
        raise InvalidInput("user_ids", len(user_ids), f"at most {USERNAMES_PER_READ_MAX} at once")
    if not user_ids:
        return {}
    with reading(target) as conn:
        rows = conn.execute(sa.select(users.c.id, users.c.username).where(users.c.id.in_(user_ids)))
        return {row.id: row.username for row in rows}


def require_user(conn: Connection, user_id: str, field: str = "user_id") -> None:
    """Refuse early, with the field named, instead of letting a foreign key fail later."""
    if conn.execute(sa.select(users.c.id).where(users.c.id == user_id)).first() is None:
        raise NotFound(f"{field}: user {user_id!r} does not exist (create it first)")


def erase_user_personal_data(target: Database | Connection, user_id: str) -> int:
    """GDPR erasure of what core keeps on a person: the username is wiped and every wallet
    address of the user is released (deleted, so another user may register it). The user's
    id stays: ledger accounts, transactions and other modules' rows refer to it. Returns how
    many wallets were released. Erasing again changes nothing."""
    user_id = parse_user_id(user_id)
    with writing(target) as conn:
        require_user(conn, user_id)
        conn.execute(users.update().where(users.c.id == user_id).values(username=None))
        released = conn.execute(
            user_wallet_addresses.delete().where(user_wallet_addresses.c.user_id == user_id)
        ).rowcount
    return released
