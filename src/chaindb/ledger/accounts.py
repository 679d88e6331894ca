"""Assets and accounts: who may hold what, and the rows the write path locks."""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Annotated, Any, NamedTuple

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from chaindb.database import Database, dialect_insert, reading, writing
from chaindb.driver import DriverStatement
from chaindb.errors import InvalidInput, NotFound
from chaindb.ledger.schema import (
    ACCOUNT_COUNTERS,
    BOARD_LOCK_CLASS,
    POINTS_ASSET_ID,
    ledger_accounts,
    ledger_assets,
    ledger_holds,
    ledger_leaderboard,
    ledger_leaderboard_floors,
)
from chaindb.text import (
    IDENTIFIER_CHAR_PYTHON,
    USER_ID_CHARS_MAX,
    identifier_rule,
    parse_identifier,
    spelled,
)
from chaindb.types import UINT256_MAX, Address, ChainId, amount_sum, utc_now
from chaindb.validation import Input, Row, validated

USERS_NAMED_MAX = 10  # an error names a batch's first users, not thousands

ISSUANCE = "issuance"  # where new units come from: the only account allowed to overdraw
BURN = "burn"
ESCROW = "escrow"
POINTS = "points"
_ACCOUNT_KEY = re.compile(rf"(user|system):({IDENTIFIER_CHAR_PYTHON}{{1,{USER_ID_CHARS_MAX}}})")
_SYSTEM_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_ACCOUNT_RULE = "must be 'user:<user id>' or 'system:<name>'"
ASSET_CODE_CHARS_MAX = 120  # ledger_assets.code, VARCHAR(120)
Symbol = spelled(r"^[A-Za-z0-9.$_-]{1,16}$", "must be 1 to 16 letters, digits or . $ _ - (ASCII)")


class AccountKey(NamedTuple):
    """An account named by its owner: 'user:<user id>' or 'system:<name>'. (A named tuple: the
    write path hashes two keys per transfer, and a tuple's hash is computed in C.)"""

    owner_type: str
    owner_id: str

    @classmethod
    def parse(cls, value: object, field: str = "account") -> AccountKey:
        if isinstance(value, AccountKey):
            return value
        key = key_from_text(value) if isinstance(value, str) else None
        if key is None:
            raise InvalidInput(field, value, _why_not_a_key(value))
        return key

    def __str__(self) -> str:
        return f"{self.owner_type}:{self.owner_id}"


@functools.lru_cache(maxsize=65_536)
def key_from_text(value: str) -> AccountKey | None:
    """Batches name the same few accounts over and over: parse each spelling once."""
    match = _ACCOUNT_KEY.fullmatch(value)
    if match is None or (match[1] == "system" and not _SYSTEM_NAME.fullmatch(match[2])):
        return None
    return AccountKey(match[1], match[2])


def _why_not_a_key(value: object) -> str:
    """The rule an account's spelling broke, in words (only asked when it broke one)."""
    if isinstance(value, str) and value.startswith("user:"):
        try:
            identifier_rule(value.removeprefix("user:"), USER_ID_CHARS_MAX)
        except ValueError as error:
            return f"{_ACCOUNT_RULE}: the user id {error}"
    if isinstance(value, str) and value.startswith("system:"):
        return f"{_ACCOUNT_RULE}: a system name is [a-z][a-z0-9_]{{0,63}}"
    return _ACCOUNT_RULE


class NewTokenAsset(Input):
    chain_id: ChainId
    token_address: Address | None = None
    symbol: Symbol
    decimals: Annotated[int, Field(strict=True, ge=0, le=77)]


class Asset(Row):
    id: int
    code: str
    kind: str
    chain_id: str | None
    token_address: str | None
    symbol: str
    decimals: int


class Account(Row):
    id: int
    asset_id: int
    owner_type: str
    owner_id: str
    user_id: str | None
    allow_overdraft: bool
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    balance: int | None
    issued: int
    burned: int
    transfer_count: int
    created_at: datetime
    updated_at: datetime

    @property
    def key(self) -> AccountKey:
        return AccountKey(self.owner_type, self.owner_id)


class Balance(Row):
    """An account's amounts; `available` treats holds past their expiry as already voided."""

    posted: int
    held: int
    available: int


def token_asset_code(chain_id: str, token_address: str | None) -> str:
    return f"{chain_id}/{token_address.lower()}" if token_address else f"{chain_id}/native"


def ensure_token_asset(
    target: Database | Connection,
    *,
    chain_id: int | str,
    token_address: str | None,
    symbol: str,
    decimals: int,
) -> Asset:
    """The asset for an ERC-20 (or the chain's native coin when token_address is None).
    Its code, used in transfers, reads '<caip2>/<address>' or '<caip2>/native'."""
    new = validated(
        NewTokenAsset,
        chain_id=chain_id,
        token_address=token_address,
        symbol=symbol,
        decimals=decimals,
    )
    code = token_asset_code(new.chain_id, new.token_address)
    with writing(target) as conn:
        conn.execute(
            dialect_insert(conn, ledger_assets)
            .values(
                code=code,
                kind="token" if new.token_address else "native",
                chain_id=new.chain_id,
                token_address=new.token_address,
                symbol=new.symbol,
                decimals=new.decimals,
            )
            .on_conflict_do_nothing()
        )
        row = conn.execute(sa.select(ledger_assets).where(ledger_assets.c.code == code)).one()
    asset = Asset.model_validate(row)
    if (asset.symbol, asset.decimals) != (new.symbol, new.decimals):
        raise InvalidInput(
            "decimals",
            decimals,
            f"{code} is already registered as {asset.symbol} with {asset.decimals} decimals",
        )
    return asset


class NewAppAsset(Input):
    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*/[A-Za-z0-9:._/-]+$", max_length=120)]
    symbol: Symbol
    decimals: Annotated[int, Field(strict=True, ge=0, le=77)]


def ensure_app_asset(
    target: Database | Connection, *, code: str, symbol: str, decimals: int
) -> Asset:
    """An asset the application keeps off-chain under its own `code` ('<module>/<key>', e.g.
    'tokens/7': a token whose on-chain identity is no ERC-20 address, such as an RGB++ xUDT).
    Stored as kind 'points' (no chain fields); the same code again returns it."""
    new = validated(NewAppAsset, code=code, symbol=symbol, decimals=decimals)
    with writing(target) as conn:
        conn.execute(
            dialect_insert(conn, ledger_assets)
            .values(code=new.code, kind="points", symbol=new.symbol, decimals=new.decimals)
            .on_conflict_do_nothing()
        )
        row = conn.execute(sa.select(ledger_assets).where(ledger_assets.c.code == new.code)).one()
    asset = Asset.model_validate(row)
    if (asset.symbol, asset.decimals) != (new.symbol, new.decimals):
        raise InvalidInput(
            "code", code, f"already registered as {asset.symbol} with {asset.decimals} decimals"
        )
    return asset


def get_asset(
    target: Database | Connection, code: str | None = None, *, asset_id: int | None = None
) -> Asset:
    """The asset with this `code` ('points', or a token's) or this `asset_id`."""
    if (code is None) == (asset_id is None):
        raise InvalidInput("code", code, "give either code or asset_id")
    column, value = (
        (ledger_assets.c.code, code) if asset_id is None else (ledger_assets.c.id, asset_id)
    )
    with reading(target) as conn:
        row = conn.execute(sa.select(ledger_assets).where(column == value)).first()
    if row is None:
        raise NotFound(f"asset: {value!r} is unknown (register tokens with ensure_token_asset)")
    return Asset.model_validate(row)


def parse_asset_code(value: object, field: str = "asset") -> str:
    """An asset code given to a lookup ('points', '<caip2>/<address>', '<caip2>/native')."""
    return parse_identifier(value, field, ASSET_CODE_CHARS_MAX)


def asset_ids(conn: Connection, codes: set[str]) -> dict[str, int]:
    """Asset ids by code, in one query; an unknown code is an error naming it."""
    found: dict[str, int] = {}
    if POINTS in codes:
        found[POINTS] = POINTS_ASSET_ID
    rest = codes - found.keys()
    if len(rest) == 1 and conn.in_transaction():  # the write path's case: one asset, by the
        # driver (an IN list through SQLAlchemy is rendered again on every call: measured,
        # 0.25 ms of a hold's CPU on PostgreSQL)
        (code,) = rest
        row = _asset_id(conn.dialect).execute(conn, {"code": code}).fetchone()
        if row is not None:
            found[code] = row[0]
    elif rest:
        rows = conn.execute(
            sa.select(ledger_assets.c.code, ledger_assets.c.id).where(
                ledger_assets.c.code.in_(rest)
            )
        ).all()
        found.update({row.code: row.id for row in rows})
    missing = codes - found.keys()
    if missing:
        raise NotFound(
            f"asset: {sorted(missing)[0]!r} is unknown (register tokens with ensure_token_asset)"
        )
    return found


def asset_id_sql(code: str) -> sa.ScalarSelect[int]:
    """The asset's id (NULL when unknown) as a SQL expression, for a caller that reads it in
    a statement of its own and hands it to hold_with: one round trip fewer."""
    a = ledger_assets.c
    # A literal, not a parameter: the caller's statement may be compiled once for every call.
    # Without quotes or backslashes, its spelling is the same whatever the server's settings.
    code = parse_asset_code(code)
    if "'" in code or "\\" in code:
        raise InvalidInput("asset", code, "must hold no quote or backslash for asset_id_sql")
    literal = sa.literal(code, sa.String()).compile(compile_kwargs={"literal_binds": True})
    return sa.select(a.id).where(a.code == sa.literal_column(literal.string)).scalar_subquery()


@functools.lru_cache(maxsize=8)
def _asset_id(dialect: sa.Dialect) -> DriverStatement:
    a = ledger_assets.c
    statement = sa.select(a.id).where(a.code == sa.bindparam("code", type_=a.code.type))
    return DriverStatement(statement, dialect, [a.id])


def create_accounts(conn: Connection, keys: set[tuple[int, AccountKey]]) -> None:
    """Create the accounts that do not exist yet (a user account needs an existing user)."""
    rows = [
        {
            "asset_id": asset_id,
            "owner_type": key.owner_type,
            "owner_id": key.owner_id,
            "user_id": key.owner_id if key.owner_type == "user" else None,
            "allow_overdraft": key == AccountKey("system", ISSUANCE),
            "balance": None if key == AccountKey("system", ISSUANCE) else 0,
        }
        for asset_id, key in sorted(keys, key=lambda item: (item[0], str(item[1])))
    ]
    in_bulk = len(rows) >= ACCOUNTS_CREATED_IN_BULK_MIN
    if in_bulk:
        close_boards(conn, {asset_id for asset_id, _key in keys})
    try:
        with conn.begin_nested():
            conn.execute(dialect_insert(conn, ledger_accounts).on_conflict_do_nothing(), rows)
    except IntegrityError:
        users = sorted(key.owner_id for _asset, key in keys if key.owner_type == "user")
        named = users if len(users) <= USERS_NAMED_MAX else [*users[:USERS_NAMED_MAX], "…"]
        raise NotFound(
            f"account: a user among {len(users)} ({', '.join(named)}) does not exist "
            "(create it first)"
        ) from None
    if in_bulk:
        _after_bulk_creation(conn, {asset_id for asset_id, _key in keys})


ACCOUNTS_CREATED_IN_BULK_MIN = 1_000
# conn.info keys: the assets whose accounts this transaction created in bulk (the write path
# checks their leaderboards once it has committed), and those whose boards it closed for that
# (the engine refills them before it commits).
CREATED_IN_BULK = "chaindb.ledger.accounts_created_in_bulk"
BOARDS_CLOSED = "chaindb.ledger.boards_closed"
# A floor above every key: no account ranks at or above it, so a closed board holds nothing.
_CLOSED_FLOOR = {"floor_balance": UINT256_MAX, "floor_account_id": 0}


def close_boards(conn: Connection, assets: set[int]) -> None:
    """Before accounts are created in bulk: each asset's leaderboard board emptied and its
    floor set above every key, so that neither the new accounts nor the transfers funding
    them enter it. Else each of them entered the board, and the rebalance after the commit
    trimmed it back to 1,500: on PostgreSQL its index kept the pages (a B-tree never gives
    them back), ~10x its packed size for good. The same transaction refills the board from
    the final balances before it commits (ledger.leaderboard.refill_closed_boards: the
    engine calls it; so must a bulk import by SQL that calls this): no reader sees it closed.
    PostgreSQL: only where the board's lock is free at once, taken alone until the commit
    (the asset's other writers wait for this transaction); a board whose lock another
    writer holds stays open, as before."""
    closing = sorted(assets)
    if conn.dialect.name == "postgresql":
        closing = [asset for asset in closing if _try_board_lock(conn, asset)]
    if not closing:
        return
    conn.execute(sa.delete(ledger_leaderboard).where(ledger_leaderboard.c.asset_id.in_(closing)))
    conn.execute(
        dialect_insert(conn, ledger_leaderboard_floors)
        .values([{"asset_id": asset, **_CLOSED_FLOOR} for asset in closing])
        .on_conflict_do_update(index_elements=["asset_id"], set_=_CLOSED_FLOOR)
    )
    conn.info.setdefault(BOARDS_CLOSED, set()).update(closing)


def _try_board_lock(conn: Connection, asset_id: int) -> bool:
    """The board's lock alone, if no other transaction holds it (never waits: this
    transaction already holds row locks that a waiting writer may need)."""
    return bool(
        conn.execute(
            sa.text("SELECT pg_try_advisory_xact_lock(:class, CAST(:asset AS integer))"),
            {"class": BOARD_LOCK_CLASS, "asset": asset_id},
        ).scalar_one()
    )


def _after_bulk_creation(conn: Connection, assets: set[int]) -> None:
    """PostgreSQL: fresh statistics for the planner at once, rather than after autoanalyze
    (until then the first batches ran at a third of their rate). ANALYZE in the transaction
    counts its own new rows; its statistics are seen by others once it commits. (SQLite keeps
    no statistics unless asked: chaindb's queries there are planned by their indexes.)"""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ANALYZE ledger_accounts")
    conn.info.setdefault(CREATED_IN_BULK, set()).update(assets)


def lock_accounts(
    conn: Connection, keys: set[tuple[int, AccountKey]], ids: set[int]
) -> dict[int, dict[str, Any]]:
    """Lock the accounts named by key or id, in id order (so concurrent writers never deadlock
    on each other), and return them by id. Missing keyed accounts are created first."""
    if not keys and not ids:  # every request names a hold that does not exist
        return {}
    rows = _select_locked(conn, keys, ids)
    found = {(row["asset_id"], AccountKey(row["owner_type"], row["owner_id"])) for row in rows}
    if keys - found:
        create_accounts(conn, keys - found)
        rows = _select_locked(conn, keys, ids)
    return {row["id"]: row for row in rows}


# What the write path needs of an account (timestamps are never read there: parsing them costs).
_LOCKED_COLUMNS = [
    ledger_accounts.c[name]
    for name in ("id", "asset_id", "owner_type", "owner_id", *ACCOUNT_COUNTERS)
]


@functools.lru_cache(maxsize=256)
def _lock_statement(dialect: str, group_sizes: tuple[int, ...], id_count: int) -> sa.Select[Any]:
    """The locking SELECT for this shape of request, built once: one (asset, owner type, owner
    ids) condition per group, each served by the unique index. SQLite gets plain parameters
    (cheap to bind on every transfer); PostgreSQL one array per group, so the statement stays
    short and the driver prepares it once whatever the number of accounts."""
    a = ledger_accounts.c

    def one_of(
        column: sa.Column[Any], name: str, count: int, item: sa.types.TypeEngine[Any]
    ) -> Any:
        if dialect == "postgresql":
            return column == sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(item)))
        return column.in_([sa.bindparam(f"{name}_{n}") for n in range(count)])

    conditions = [
        sa.and_(
            a.asset_id == sa.bindparam(f"asset_{g}"),
            a.owner_type == sa.bindparam(f"type_{g}"),
            one_of(a.owner_id, f"owner_{g}", size, sa.String()),
        )
        for g, size in enumerate(group_sizes)
    ]
    if id_count:
        conditions.append(one_of(a.id, "id", id_count, sa.BigInteger()))
    return sa.select(*_LOCKED_COLUMNS).where(sa.or_(*conditions)).order_by(a.id).with_for_update()


def _select_locked(
    conn: Connection, keys: set[tuple[int, AccountKey]], ids: set[int]
) -> list[dict[str, Any]]:
    groups: dict[tuple[int, str], list[str]] = {}
    for asset_id, key in keys:
        groups.setdefault((asset_id, key.owner_type), []).append(key.owner_id)
    ordered = sorted(groups.items())
    dialect = conn.dialect.name
    params: dict[str, Any] = {}
    _add_list(params, dialect, "id", sorted(ids))
    for g, ((asset_id, owner_type), owners) in enumerate(ordered):
        params.update({f"asset_{g}": asset_id, f"type_{g}": owner_type})
        _add_list(params, dialect, f"owner_{g}", owners)
    if dialect == "sqlite":
        shape, id_count = tuple(len(owners) for _group, owners in ordered), len(ids)
    else:  # PostgreSQL takes arrays: the statement's shape does not depend on their sizes
        shape, id_count = tuple(0 for _group in ordered), int(bool(ids))
    return _driver_lock(conn.dialect, shape, id_count).mappings(conn, params)


@functools.lru_cache(maxsize=256)
def _driver_lock(dialect: sa.Dialect, shape: tuple[int, ...], id_count: int) -> DriverStatement:
    statement = _lock_statement(dialect.name, shape, id_count)
    return DriverStatement(statement, dialect, _LOCKED_COLUMNS)


def _add_list(params: dict[str, Any], dialect: str, name: str, values: list[Any]) -> None:
    if dialect == "postgresql":
        params[name] = values
    else:
        params.update({f"{name}_{n}": value for n, value in enumerate(values)})


def account_keys(conn: Connection, ids: set[int]) -> dict[int, str]:
    """'user:<id>' or 'system:<name>' for each account id (primary-key lookups)."""
    if not ids:
        return {}
    a = ledger_accounts.c
    rows = conn.execute(sa.select(a.id, a.owner_type, a.owner_id).where(a.id.in_(sorted(ids))))
    return {row.id: f"{row.owner_type}:{row.owner_id}" for row in rows}


def account_id(conn: Connection, asset_id: int, owner: AccountKey) -> int | None:
    """The id of the account `owner` holds in `asset_id`, if it exists (no lock, no creation)."""
    return conn.execute(
        sa.select(ledger_accounts.c.id).where(
            ledger_accounts.c.asset_id == asset_id,
            ledger_accounts.c.owner_type == owner.owner_type,
            ledger_accounts.c.owner_id == owner.owner_id,
        )
    ).scalar()


def get_account(
    target: Database | Connection, owner: str | AccountKey, asset: str = POINTS
) -> Account | None:
    key = AccountKey.parse(owner)
    asset = parse_asset_code(asset)
    with reading(target) as conn:
        asset_id = asset_ids(conn, {asset})[asset]
        row = conn.execute(
            sa.select(ledger_accounts).where(
                ledger_accounts.c.asset_id == asset_id,
                ledger_accounts.c.owner_type == key.owner_type,
                ledger_accounts.c.owner_id == key.owner_id,
            )
        ).first()
    return None if row is None else Account.model_validate(row)


def get_balance(
    target: Database | Connection, owner: str | AccountKey, asset: str = POINTS
) -> Balance:
    """Posted, held and available amounts. A hold past its expiry counts as void here even
    before a sweeper (or the next write) voids it."""
    with reading(target) as conn:
        account = get_account(conn, owner, asset)
        if account is None:
            return Balance(posted=0, held=0, available=0)
        expired = conn.execute(
            sa.select(amount_sum(ledger_holds.c.amount)).where(
                ledger_holds.c.debit_account_id == account.id,
                ledger_holds.c.expires_at <= utc_now(),
            )
        ).scalar_one()
    posted = account.credits_posted - account.debits_posted
    held = account.debits_pending - expired
    return Balance(posted=posted, held=held, available=posted - held)
