"""Wallets: many per user, at most one primary per user and chain (a unique index says so)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from pydantic import ValidationInfo, field_validator
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from chaindb.core.schema import user_wallet_addresses as wallets
from chaindb.core.schema import users
from chaindb.core.users import Username, require_user
from chaindb.database import Database, dialect_insert, reading, writing
from chaindb.errors import Conflict, InvalidInput, NotFound
from chaindb.networks import network_address_rule, parse_network_address
from chaindb.text import parse_user_id, spelled
from chaindb.types import (
    Amount,
    ChainId,
    RowId,
    UserId,
    address_rule,
    parse_chain_id,
    utc_now,
)
from chaindb.validation import Input, Row, validated

WalletType = spelled(
    r"^[a-z][a-z0-9_-]{0,31}$",
    "must be a lowercase letter, then lowercase letters, digits, _ or - (at most 32 characters)",
)
WALLET_USER_ID_PREFIX = "wallet:"
BALANCE_FIELDS = ("usdc_balance", "usdt_balance", "points_balance", "eth_balance")


def _address_of_its_network(cls: type, value: object, info: ValidationInfo) -> str:
    """EVM or Solana on most chains; CKB on ckb:*, Bitcoin on bip122:* (chaindb.networks).
    (chain_id is declared before wallet_address, so it is validated first.)"""
    chain = info.data.get("chain_id")
    return network_address_rule(value, chain) if chain else address_rule(value)


class NewWallet(Input):
    user_id: UserId
    chain_id: ChainId
    wallet_address: str
    wallet_type: WalletType = "external"
    is_primary: bool | None = None

    _of_its_network = field_validator("wallet_address", mode="before")(_address_of_its_network)


class WalletBalances(Input):
    wallet_id: RowId
    usdc_balance: Amount | None = None
    usdt_balance: Amount | None = None
    points_balance: Amount | None = None
    eth_balance: Amount | None = None


class _PrimaryChoice(Input):
    user_id: UserId
    wallet_id: RowId


class Wallet(Row):
    id: int
    user_id: str
    wallet_address: str
    wallet_type: str
    chain_id: str
    is_primary: bool
    usdc_balance: int
    usdt_balance: int
    points_balance: int
    eth_balance: int
    balances_updated_at: datetime | None
    created_at: datetime
    updated_at: datetime


def add_user_wallet(
    target: Database | Connection,
    *,
    user_id: str,
    wallet_address: str,
    chain_id: int | str,
    wallet_type: str = "external",
    is_primary: bool | None = None,
) -> Wallet:
    """Register a wallet. It becomes primary when asked, or when it is the user's first on
    that chain; making it primary demotes the previous one in the same transaction."""
    new = validated(
        NewWallet,
        user_id=user_id,
        wallet_address=wallet_address,
        chain_id=chain_id,
        wallet_type=wallet_type,
        is_primary=is_primary,
    )
    try:
        with writing(target) as conn:
            require_user(conn, new.user_id)
            _lock_user_chain(conn, new.user_id, new.chain_id)
            has_primary = _primary_id(conn, new.user_id, new.chain_id) is not None
            primary = new.is_primary if new.is_primary is not None else not has_primary
            if primary:
                _demote_primary(conn, new.user_id, new.chain_id)
            row = conn.execute(
                wallets.insert()
                .values(
                    user_id=new.user_id,
                    wallet_address=new.wallet_address,
                    chain_id=new.chain_id,
                    wallet_type=new.wallet_type,
                    is_primary=primary,
                )
                .returning(wallets)
            ).one()
    except IntegrityError:
        raise Conflict(
            f"wallet_address {new.wallet_address} is already registered on {new.chain_id}"
        ) from None
    return Wallet.model_validate(row)


class _WalletUser(Input):
    chain_id: ChainId
    wallet_address: str
    username: Username | None = None

    _of_its_network = field_validator("wallet_address", mode="before")(_address_of_its_network)


def wallet_user_id(chain_id: str, wallet_address: str) -> str:
    """The id ensure_wallet_user gives the user of a wallet: the same for the same (canonical)
    address on the same chain, on every machine, so that concurrent calls agree. A hash: a CKB
    address (~100 characters) is longer than a user id may be."""
    digest = hashlib.blake2b(f"{chain_id}|{wallet_address}".encode(), digest_size=16)
    return WALLET_USER_ID_PREFIX + digest.hexdigest()


def ensure_wallet_user(
    target: Database | Connection,
    *,
    wallet_address: str,
    chain_id: int | str,
    username: str | None = None,
) -> Wallet:
    """Seed 003's user, identified by its wallet: the wallet registered at this address on this
    chain, with its user. When nobody has it, a user (id from wallet_user_id) and the wallet, its
    primary on that chain, are created together. Idempotent, also under concurrent calls: each
    insert does nothing on a conflict, then the wallet is read back."""
    new = validated(
        _WalletUser, chain_id=chain_id, wallet_address=wallet_address, username=username
    )
    with writing(target) as conn:
        if _find_wallet(conn, new.chain_id, new.wallet_address) is None:
            user_id = wallet_user_id(new.chain_id, new.wallet_address)
            conn.execute(
                dialect_insert(conn, users)
                .values(id=user_id, username=new.username)
                .on_conflict_do_nothing()
            )
            if conn.execute(sa.select(users.c.id).where(users.c.id == user_id)).first() is None:
                raise Conflict(f"username {new.username!r} is already taken by another user")
            conn.execute(
                dialect_insert(conn, wallets)
                .values(
                    user_id=user_id,
                    wallet_address=new.wallet_address,
                    chain_id=new.chain_id,
                    is_primary=_primary_id(conn, user_id, new.chain_id) is None,
                )
                .on_conflict_do_nothing()
            )
        found = _find_wallet(conn, new.chain_id, new.wallet_address)
    assert found is not None, "inserted, or found taken, in this very transaction"
    return found


def _find_wallet(conn: Connection, chain_id: str, wallet_address: str) -> Wallet | None:
    row = conn.execute(
        sa.select(wallets).where(
            wallets.c.chain_id == chain_id, wallets.c.wallet_address == wallet_address
        )
    ).first()
    return None if row is None else Wallet.model_validate(row)


def get_user_wallets(
    target: Database | Connection, user_id: str, chain_id: int | str | None = None
) -> list[Wallet]:
    """The user's wallets, primary ones first, then oldest first."""
    query = sa.select(wallets).where(wallets.c.user_id == parse_user_id(user_id))
    if chain_id is not None:
        query = query.where(wallets.c.chain_id == parse_chain_id(chain_id))
    query = query.order_by(wallets.c.is_primary.desc(), wallets.c.created_at, wallets.c.id)
    with reading(target) as conn:
        return [Wallet.model_validate(row) for row in conn.execute(query)]


def get_wallet_owner(
    target: Database | Connection, *, chain_id: int | str, wallet_address: str
) -> str | None:
    """The id of the user who registered `wallet_address` on `chain_id`, if anyone did."""
    chain = parse_chain_id(chain_id)
    address = parse_network_address(wallet_address, chain, "wallet_address")
    with reading(target) as conn:
        return conn.execute(
            sa.select(wallets.c.user_id).where(
                wallets.c.chain_id == chain, wallets.c.wallet_address == address
            )
        ).scalar()


PRIMARY_WALLETS_PER_READ_MAX = 1000


def get_primary_wallets(
    target: Database | Connection, *, user_ids: Sequence[str], chain_id: int | str
) -> dict[str, Wallet]:
    """Each of these users' primary wallet on `chain_id` (users without one are absent), in one
    read on the unique index of primaries (user_id, chain_id)."""
    if len(user_ids) > PRIMARY_WALLETS_PER_READ_MAX:
        raise InvalidInput(
            "user_ids", len(user_ids), f"at most {PRIMARY_WALLETS_PER_READ_MAX} at once"
        )
    chain = parse_chain_id(chain_id)
    if not user_ids:
        return {}
    with reading(target) as conn:
        rows = conn.execute(
            sa.select(wallets).where(
                wallets.c.user_id.in_(list(user_ids)),
                wallets.c.chain_id == chain,
                wallets.c.is_primary,
            )
        )
        return {row.user_id: Wallet.model_validate(row) for row in rows}


def get_user_primary_wallet(
    target: Database | Connection, user_id: str, chain_id: int | str | None = None
) -> Wallet | None:
    """The primary wallet on `chain_id` (or the user's oldest primary on any chain)."""
    for wallet in get_user_wallets(target, user_id, chain_id):
        if wallet.is_primary:
            return wallet
    return None


def set_primary_wallet(target: Database | Connection, *, user_id: str, wallet_id: int) -> Wallet:
    """Make `wallet_id` the user's primary on its chain. Atomic: readers see the old primary or
    the new one, never none and never two."""
    chosen = validated(_PrimaryChoice, user_id=user_id, wallet_id=wallet_id)
    user_id, wallet_id = chosen.user_id, chosen.wallet_id
    with writing(target) as conn:
        wallet = _owned_wallet(conn, user_id, wallet_id)
        _lock_user_chain(conn, user_id, wallet.chain_id)
        _demote_primary(conn, user_id, wallet.chain_id, except_id=wallet_id)
        row = conn.execute(
            wallets.update()
            .where(wallets.c.id == wallet_id)
            .values(is_primary=True, updated_at=utc_now())
            .returning(wallets)
        ).one()
    return Wallet.model_validate(row)


def update_wallet_balances(
    target: Database | Connection,
    wallet_id: int,
    *,
    usdc_balance: int | None = None,
    usdt_balance: int | None = None,
    points_balance: int | None = None,
    eth_balance: int | None = None,
) -> Wallet:
    """Replace the cached on-chain balances given (exact base units); others stay as they are."""
    update = validated(
        WalletBalances,
        wallet_id=wallet_id,
        usdc_balance=usdc_balance,
        usdt_balance=usdt_balance,
        points_balance=points_balance,
        eth_balance=eth_balance,
    )
    values = {name: getattr(update, name) for name in BALANCE_FIELDS}
    values = {name: value for name, value in values.items() if value is not None}
    if not values:
        raise InvalidInput("balances", None, "give at least one of " + ", ".join(BALANCE_FIELDS))
    now = utc_now()
    with writing(target) as conn:
        row = conn.execute(
            wallets.update()
            .where(wallets.c.id == update.wallet_id)
            .values(**values, balances_updated_at=now, updated_at=now)
            .returning(wallets)
        ).first()
    if row is None:
        raise NotFound(f"wallet_id: wallet {wallet_id} does not exist")
    return Wallet.model_validate(row)


def _owned_wallet(conn: Connection, user_id: str, wallet_id: int) -> Wallet:
    row = conn.execute(
        sa.select(wallets).where(wallets.c.id == wallet_id, wallets.c.user_id == user_id)
    ).first()
    if row is None:
        raise NotFound(f"wallet_id: wallet {wallet_id} does not exist or is not {user_id!r}'s")
    return Wallet.model_validate(row)


def _lock_user_chain(conn: Connection, user_id: str, chain_id: str) -> None:
    """Serialise primary changes per user and chain (PostgreSQL row locks, in id order;
    SQLite's BEGIN IMMEDIATE already serialises every writer)."""
    conn.execute(
        sa.select(wallets.c.id)
        .where(wallets.c.user_id == user_id, wallets.c.chain_id == chain_id)
        .order_by(wallets.c.id)
        .with_for_update()
    ).all()


def _primary_id(conn: Connection, user_id: str, chain_id: str) -> int | None:
    return conn.execute(
        sa.select(wallets.c.id).where(
            wallets.c.user_id == user_id, wallets.c.chain_id == chain_id, wallets.c.is_primary
        )
    ).scalar()


def _demote_primary(
    conn: Connection, user_id: str, chain_id: str, except_id: int | None = None
) -> None:
    query = wallets.update().where(
        wallets.c.user_id == user_id, wallets.c.chain_id == chain_id, wallets.c.is_primary
    )
    if except_id is not None:
        query = query.where(wallets.c.id != except_id)
    conn.execute(query.values(is_primary=False, updated_at=utc_now()))
