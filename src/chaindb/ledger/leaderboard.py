"""The leaderboard: top holders of an asset, and one user's rank, read from the board.

ledger_accounts keeps no index on `balance` (every transfer changes it: on PostgreSQL no
account update could be HOT, and the index grew by an entry per update). The board,
ledger_leaderboard, holds the top of each asset instead: every user account whose key
(balance DESC, id) ranks at or above the asset's floor (ledger_leaderboard_floors; no floor:
every user account of the asset). Triggers on ledger_accounts (ledger_0003) keep it exact in
the writer's own transaction; a transfer touches it only when one of its accounts is on the
board, or enters or leaves it (on PostgreSQL, writers vacuum the board as they check it: see
vacuum_board). `rebalance` moves a floor so that the board holds
BOARD_ENTRIES_MIN to BOARD_ENTRIES_MAX entries: down when it runs short (the one step that
reads every account of the asset), up when it grows long. Writers check an asset every
BOARD_CHECK_EVERY transfers of theirs. A board that is short (rebalance not yet run) is still
exact: a read that wants more than it holds reads ledger_accounts instead. A transaction that
creates accounts in bulk closes their board first and refills it before its commit
(ledger.accounts.close_boards, refill_closed_boards): they never pass through it.

Ranks are competition ranks: equal balances share a rank (1, 2, 2, 4).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from chaindb import core
from chaindb.database import Database, reading
from chaindb.driver import LibpqStatement
from chaindb.ledger.accounts import BOARDS_CLOSED, POINTS, asset_ids, parse_asset_code
from chaindb.ledger.schema import (
    BOARD_LOCK_CLASS,
    ledger_accounts,
    ledger_assets,
    ledger_leaderboard,
    ledger_leaderboard_floors,
)
from chaindb.text import parse_user_id
from chaindb.validation import parse_limit

LEADERBOARD_LIMIT_MAX = 1000
BOARD_ENTRIES_MIN = LEADERBOARD_LIMIT_MAX  # any read up to the limit is served by the board
BOARD_ENTRIES_TARGET = 1_500  # what a new floor leaves (ledger_0003 starts boards there)
BOARD_ENTRIES_MAX = 2_500
BOARD_CHECK_EVERY = 2_000  # a writer checks an asset's board after this many of its transfers
BOARD_LOCK_TIMEOUT_MS = 100  # rebalance gives up (until the next check) rather than wait longer
_LOCK_NOT_AVAILABLE = "55P03"


class LeaderboardEntry(NamedTuple):
    """One row of the board (a named tuple: cheap to build, a hundred at a time)."""

    rank: int
    user_id: str
    username: str | None
    balance: int


_e, _f, _a = ledger_leaderboard.c, ledger_leaderboard_floors.c, ledger_accounts.c
_ASSET = sa.bindparam("asset_id")
_LIMIT = sa.bindparam("limit", type_=sa.Integer)


def _board_top(asset_id: Any) -> sa.Select[Any]:
    """The board's top with each user's name, and (the same snapshot) whether the board holds
    every user of the asset: one statement, one round trip (the names were a second one)."""
    return (
        sa.select(
            _e.user_id,
            _e.balance,
            core.username_of(_e.user_id).label("username"),
            ~sa.exists().where(_f.asset_id == asset_id).label("complete"),
        )
        .where(_e.asset_id == asset_id)
        .order_by(_e.balance.desc(), _e.account_id)
        .limit(_LIMIT)
    )


_TOP = _board_top(_ASSET)
_ASSET_OF_CODE = (
    sa.select(ledger_assets.c.id)
    .where(ledger_assets.c.code == sa.bindparam("asset_code", type_=sa.String))
    .scalar_subquery()
)
# What the board stands for, read from the accounts (a scan of the asset's user accounts).
_TOP_OF_ACCOUNTS = (
    sa.select(_a.owner_id, _a.balance, _a.id)
    .where(_a.asset_id == _ASSET, _a.owner_type == "user", _a.balance.is_not(None))
    .order_by(_a.balance.desc(), _a.id)
    .limit(_LIMIT)
)
_TOP_OF_ACCOUNTS_NAMED = (
    sa.select(_a.owner_id, _a.balance, core.username_of(_a.owner_id).label("username"))
    .where(_a.asset_id == _ASSET, _a.owner_type == "user", _a.balance.is_not(None))
    .order_by(_a.balance.desc(), _a.id)
    .limit(_LIMIT)
)


def leaderboard(
    target: Database | Connection, *, limit: int = 100, asset: str = POINTS
) -> list[LeaderboardEntry]:
    """The top `limit` users by available balance of `asset`."""
    limit = parse_limit(limit, LEADERBOARD_LIMIT_MAX)
    asset = parse_asset_code(asset)
    top = _board_top_plainly(target, asset, limit)
    if top is None:
        top = _top(target, asset, limit)
    entries: list[LeaderboardEntry] = []
    rank, previous = 0, None
    for position, (user_id, balance, username) in enumerate(top, start=1):
        if balance != previous:  # equal balances share the rank of the first of them
            rank, previous = position, balance
        entries.append(LeaderboardEntry(rank, user_id, username, balance))
    return entries


def _board_top_plainly(
    target: Database | Connection, asset: str, limit: int
) -> list[tuple[Any, ...]] | None:
    """PostgreSQL, with no replica to route the read to: the board's top in one prepared
    statement run by libpq itself, as the plain transfer is (SQLAlchemy's and psycopg's
    per-call work was most of a read's 0.5 ms of client CPU, and a reader competing for a
    core waits longer at p99). None when the board cannot answer alone (an unknown asset, a
    short board): the general path then does."""
    if (
        not isinstance(target, Database)
        or target.backend != "postgresql"
        or target.replicas is not None
    ):
        return None
    pooled = target.raw_connection()
    try:
        rows = _top_statement(target.engine.dialect).rows(
            pooled, {"asset_code": asset, "limit": limit}, prepare=not target.settings.pooled
        )
    finally:
        target.give_back_raw(pooled)
    if len(rows) < limit and not (rows and rows[0][3] == b"t"):
        return None
    return [
        (user_id.decode(), int(balance), username and username.decode())  # type: ignore[union-attr, arg-type]
        for user_id, balance, username, _complete in rows
    ]


@functools.lru_cache(maxsize=4)
def _top_statement(dialect: sa.Dialect) -> LibpqStatement:
    return LibpqStatement(_board_top(_ASSET_OF_CODE), dialect, "chaindb_leaderboard_top")


def _top(target: Database | Connection, asset: str, limit: int) -> list[tuple[Any, ...]]:
    """The top `limit` (user_id, balance, username), from the board or else the accounts."""
    # No snapshot shared: each statement answers alone (an asset's id never changes; the
    # accounts' top needs nothing of the board's), and on PostgreSQL the read is one round
    # trip, not three.
    with reading(target, stale_ok=True, snapshot=False) as conn:
        asset_id = asset_ids(conn, {asset})[asset]
        params = {"asset_id": asset_id, "limit": limit}
        rows = conn.execute(_TOP, params).all()
        top: list[tuple[Any, ...]] = [(r.user_id, r.balance, r.username) for r in rows]
        if len(rows) < limit and not (rows and rows[0].complete):
            # The board is short of a floor's rebalance: the accounts say the same, slower.
            top = [tuple(row) for row in conn.execute(_TOP_OF_ACCOUNTS_NAMED, params)]
    return top


def user_rank(target: Database | Connection, user_id: str, *, asset: str = POINTS) -> int | None:
    """1 + the number of users holding more; None when the user has no account. Counted on
    the board for a user on it; for anyone else, over the asset's accounts (a scan)."""
    user_id, asset = parse_user_id(user_id), parse_asset_code(asset)
    with reading(target, stale_ok=True) as conn:
        asset_id = asset_ids(conn, {asset})[asset]
        found = conn.execute(
            sa.select(_a.balance, _e.account_id)
            .select_from(ledger_accounts.outerjoin(ledger_leaderboard, _e.account_id == _a.id))
            .where(_a.asset_id == asset_id, _a.owner_type == "user", _a.owner_id == user_id)
        ).first()
        if found is None or found.balance is None:
            return None
        # Everyone holding more ranks above this user: on the board if the user is on it.
        if found.account_id is not None:
            counted = sa.select(sa.func.count()).where(
                _e.asset_id == asset_id, _e.balance > found.balance
            )
        else:
            counted = sa.select(sa.func.count()).where(
                _a.asset_id == asset_id, _a.owner_type == "user", _a.balance > found.balance
            )
        above = conn.execute(counted).scalar_one()
    return int(above) + 1


# --- keeping each board between BOARD_ENTRIES_MIN and BOARD_ENTRIES_MAX entries ---------------


class _WritesSinceCheck:
    """Per database: the transfers written per asset since its board was last checked."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[int, dict[int, int]] = {}

    def add(self, db: Database, asset_ids: Iterable[int]) -> list[int]:
        """Count the transfers; the assets whose board is due a check. (A dict, not a Counter:
        Counter.update's check for a mapping was most of the cost of counting one transfer.)"""
        with self._lock:
            counts = self._counts.get(id(db))
            if counts is None:  # (not setdefault: a dict built per call, for nothing)
                counts = self._counts[id(db)] = {}
            for asset in asset_ids:
                counts[asset] = counts.get(asset, 0) + 1
            due = [asset for asset, n in counts.items() if n >= BOARD_CHECK_EVERY]
            for asset in due:
                del counts[asset]
        return due


_WRITES = _WritesSinceCheck()


def after_write(
    db: Database, transfer_asset_ids: Iterable[int], *, created_in_bulk: Iterable[int] = ()
) -> None:
    """Called by the write path after a commit: check the boards that are due, and at once
    those of assets that just gained accounts in bulk."""
    due = {*_WRITES.add(db, transfer_asset_ids), *created_in_bulk}
    for asset_id in due:
        rebalance(db, asset_id)
    if due and db.backend == "postgresql":
        vacuum_board(db)


def vacuum_board(db: Database) -> None:
    """PostgreSQL: every update of a board entry is a new entry in its index (the balance is
    its key: no HOT there), and autovacuum wakes at most once a minute (autovacuum_naptime):
    at thousands of transfers a second the board grew to 20x its packed size in between, and
    its reads slowed. A vacuum of the board (a few hundred kB) takes milliseconds; SKIP_LOCKED:
    a writer that finds another's vacuum running leaves it to that one."""
    with db.connection() as conn:
        autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
        autocommit.exec_driver_sql("VACUUM (SKIP_LOCKED) ledger_leaderboard")


def board_size(conn: Connection, asset_id: int, *, up_to: int) -> int:
    """How many entries the asset's board holds, counted up to `up_to` (an index range)."""
    counted = sa.select(sa.literal(1)).where(_e.asset_id == asset_id).limit(up_to).subquery()
    return int(conn.execute(sa.select(sa.func.count()).select_from(counted)).scalar_one())


def rebalance(db: Database, asset_id: int) -> str | None:
    """Move the asset's floor if its board holds fewer than BOARD_ENTRIES_MIN entries (and
    leaves accounts out) or more than BOARD_ENTRIES_MAX, so that it holds
    BOARD_ENTRIES_TARGET; what was done, or None. On PostgreSQL it takes the board's lock
    alone (every writer of the asset waits meanwhile) and gives up after
    BOARD_LOCK_TIMEOUT_MS rather than queue longer: the next check tries again."""
    with db.read() as conn:  # the common case: nothing to do, and no lock for it
        size = board_size(conn, asset_id, up_to=BOARD_ENTRIES_MAX + 1)
        floor = _floor(conn, asset_id)
    if BOARD_ENTRIES_MIN <= size <= BOARD_ENTRIES_MAX or (size < BOARD_ENTRIES_MIN and not floor):
        return None
    try:
        with db.transaction() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {BOARD_LOCK_TIMEOUT_MS}")
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:class, CAST(:asset AS integer))"),
                    {"class": BOARD_LOCK_CLASS, "asset": asset_id},
                )
            return move_floor(conn, asset_id)
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
            return None
        raise


def _floor(conn: Connection, asset_id: int) -> Any:
    return conn.execute(
        sa.select(_f.floor_balance, _f.floor_account_id).where(_f.asset_id == asset_id)
    ).first()


def refill_closed_boards(conn: Connection) -> None:
    """Before the commit of a transaction that created accounts in bulk: the boards it closed
    for that (ledger.accounts), filled from the accounts' final balances, under the lock it
    took to close them."""
    for asset_id in sorted(conn.info.pop(BOARDS_CLOSED, ())):
        move_floor(conn, asset_id)


def move_floor(conn: Connection, asset_id: int) -> str | None:
    """Under the board's lock: no writer changes a balance of the asset meanwhile."""
    size = board_size(conn, asset_id, up_to=BOARD_ENTRIES_MAX + 1)
    floor = _floor(conn, asset_id)
    if size > BOARD_ENTRIES_MAX:
        # The board is exact down to its floor: its own top is the asset's top.
        last = conn.execute(
            sa.select(_e.balance, _e.account_id)
            .where(_e.asset_id == asset_id)
            .order_by(_e.balance.desc(), _e.account_id)
            .offset(BOARD_ENTRIES_TARGET - 1)
            .limit(1)
        ).one()
        _set_floor(conn, asset_id, last.balance, last.account_id)
        gone = conn.execute(
            sa.delete(ledger_leaderboard).where(
                _e.asset_id == asset_id, _below(_e.balance, _e.account_id, last)
            )
        ).rowcount
        return f"asset {asset_id}: floor raised, {gone} entries left the board"
    if size < BOARD_ENTRIES_MIN and floor is not None:
        top = conn.execute(
            _TOP_OF_ACCOUNTS, {"asset_id": asset_id, "limit": BOARD_ENTRIES_TARGET + 1}
        ).all()
        kept = top[:BOARD_ENTRIES_TARGET]
        on_board = set(
            conn.execute(sa.select(_e.account_id).where(_e.asset_id == asset_id)).scalars()
        )
        new = [
            {"account_id": i, "asset_id": asset_id, "user_id": user_id, "balance": balance}
            for user_id, balance, i in kept
            if i not in on_board
        ]
        if new:
            conn.execute(sa.insert(ledger_leaderboard), new)
        if len(top) > BOARD_ENTRIES_TARGET:
            _set_floor(conn, asset_id, kept[-1][1], kept[-1][2])
        else:  # every user account of the asset is on the board now
            conn.execute(sa.delete(ledger_leaderboard_floors).where(_f.asset_id == asset_id))
        return f"asset {asset_id}: floor lowered, {len(new)} entries joined the board"
    return None


def _below(balance: Any, account_id: Any, floor: Any) -> sa.ColumnElement[bool]:
    """Ranks below the floor (balance DESC, id)."""
    return sa.or_(
        balance < floor.balance, sa.and_(balance == floor.balance, account_id > floor.account_id)
    )


def _set_floor(conn: Connection, asset_id: int, balance: int, account_id: int) -> None:
    updated = conn.execute(
        sa.update(ledger_leaderboard_floors)
        .where(_f.asset_id == asset_id)
        .values(floor_balance=balance, floor_account_id=account_id)
    ).rowcount
    if not updated:
        conn.execute(
            sa.insert(ledger_leaderboard_floors).values(
                asset_id=asset_id, floor_balance=balance, floor_account_id=account_id
            )
        )


def rebalance_all(db: Database) -> list[str]:
    """Every asset's board brought into its band (maintenance, and after bulk creation)."""
    with db.read() as conn:
        assets = conn.execute(sa.select(ledger_assets.c.id)).scalars().all()
    done = [rebalance(db, asset_id) for asset_id in assets]
    return [line for line in done if line]


# --- verify: the board against a recomputation from ledger_accounts ----------------------------


def board_problems(conn: Connection, *, repair: bool = False) -> list[str]:
    """Each asset's board against the user accounts that rank at or above its floor (one
    reading of each); with repair, the entries of a board that differs are written again."""
    inside = sa.or_(
        _f.asset_id.is_(None),
        _a.balance > _f.floor_balance,
        sa.and_(_a.balance == _f.floor_balance, _a.id <= _f.floor_account_id),
    )
    expected = conn.execute(
        sa.select(_a.id, _a.asset_id, _a.owner_id, _a.balance)
        .select_from(
            ledger_accounts.outerjoin(ledger_leaderboard_floors, _f.asset_id == _a.asset_id)
        )
        .where(_a.owner_type == "user", _a.balance.is_not(None), inside)
    ).all()
    stored = conn.execute(sa.select(_e.account_id, _e.asset_id, _e.user_id, _e.balance)).all()
    by_asset: dict[int, tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]] = {}
    for rows, side in ((expected, 0), (stored, 1)):
        for row in rows:
            by_asset.setdefault(row[1], (set(), set()))[side].add(tuple(row))
    problems = []
    for asset_id, (should, holds) in sorted(by_asset.items()):
        if should == holds:
            continue
        problems.append(
            f"leaderboard of asset {asset_id}: {len(holds - should)} entries that its accounts"
            f" do not say, {len(should - holds)} missing"
        )
        if repair:
            conn.execute(sa.delete(ledger_leaderboard).where(_e.asset_id == asset_id))
            names = ("account_id", "asset_id", "user_id", "balance")
            rows = [dict(zip(names, entry, strict=True)) for entry in should]
            if rows:
                conn.execute(sa.insert(ledger_leaderboard), rows)
    return problems
