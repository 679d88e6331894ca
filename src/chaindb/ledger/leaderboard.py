"""The leaderboard: top holders of an asset, and one user's rank, read from an index.

ix_ledger_accounts_leaderboard (asset_id, balance DESC, id) WHERE owner_type = 'user' serves
the top N directly, and a user's rank as a count of the index entries above their balance.
Ranks are competition ranks: equal balances share a rank (1, 2, 2, 4).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb import core
from chaindb.database import Database, reading
from chaindb.ledger.accounts import POINTS, asset_ids, parse_asset_code
from chaindb.ledger.schema import ledger_accounts
from chaindb.text import parse_user_id
from chaindb.validation import parse_limit

LEADERBOARD_LIMIT_MAX = 1000


class LeaderboardEntry(NamedTuple):
    """One row of the board (a named tuple: cheap to build, a hundred at a time)."""

    rank: int
    user_id: str
    username: str | None
    balance: int


def _top_statement() -> sa.Select[Any]:
    a = ledger_accounts.c
    return (
        sa.select(a.owner_id, a.balance)
        .where(a.asset_id == sa.bindparam("asset_id"), a.owner_type == "user")
        .order_by(a.balance.desc(), a.id)
        .limit(sa.bindparam("limit"))
    )


_TOP = _top_statement()  # built once: the board is read far more often than it changes


def leaderboard(
    target: Database | Connection, *, limit: int = 100, asset: str = POINTS
) -> list[LeaderboardEntry]:
    """The top `limit` users by available balance of `asset`."""
    limit = parse_limit(limit, LEADERBOARD_LIMIT_MAX)
    asset = parse_asset_code(asset)
    with reading(target, stale_ok=True) as conn:
        asset_id = asset_ids(conn, {asset})[asset]
        rows = conn.execute(_TOP, {"asset_id": asset_id, "limit": limit}).all()
        usernames = core.get_usernames(conn, [user_id for user_id, _balance in rows])
    entries: list[LeaderboardEntry] = []
    rank, previous = 0, None
    for position, (user_id, balance) in enumerate(rows, start=1):
        if balance != previous:  # equal balances share the rank of the first of them
            rank, previous = position, balance
        entries.append(LeaderboardEntry(rank, user_id, usernames.get(user_id), balance))
    return entries


def user_rank(target: Database | Connection, user_id: str, *, asset: str = POINTS) -> int | None:
    """1 + the number of users holding more; None when the user has no account."""
    user_id, asset = parse_user_id(user_id), parse_asset_code(asset)
    a = ledger_accounts.c
    with reading(target, stale_ok=True) as conn:
        asset_id = asset_ids(conn, {asset})[asset]
        balance = conn.execute(
            sa.select(a.balance).where(
                a.asset_id == asset_id, a.owner_type == "user", a.owner_id == user_id
            )
        ).scalar()
        if balance is None:
            return None
        above = conn.execute(
            sa.select(sa.func.count()).where(
                a.asset_id == asset_id, a.owner_type == "user", a.balance > balance
            )
        ).scalar_one()
    return int(above) + 1
