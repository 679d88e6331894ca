"""The CRAP token (seed 002's token economy) kept in the ledger.

CRAP is the native token of the BitCraps mesh, registered in the ledger as the native asset of
the CAIP-2 chain `bitcraps:mesh` (code `bitcraps:mesh/native`, 6 decimals). Its accounts:
'user:<id>' per player, 'system:games_house' (pays winning bets, takes losing ones),
'system:games_staking' (receives staking holds and early-exit penalties),
'system:games_rewards' (pays staking rewards); new CRAP comes from 'system:issuance'.

The seed's TransactionRepository reads the ledger: `get_transaction_history` (the account's
transfers, newest first) and `get_token_balance` (the token_balances view).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb import ledger
from chaindb.database import Database, reading, writing
from chaindb.errors import InvalidInput
from chaindb.games.audit import SYSTEM_ACTOR, audit
from chaindb.games.schema import token_balances
from chaindb.text import identifier
from chaindb.types import Amount, UserId
from chaindb.validation import Input, Row, validated

CRAP_CHAIN_ID = "bitcraps:mesh"
CRAP_SYMBOL = "CRAP"
CRAP_DECIMALS = 6
CRAP = f"{CRAP_CHAIN_ID}/native"  # the ledger asset code
HOUSE = "system:games_house"
STAKING = "system:games_staking"
REWARDS = "system:games_rewards"
ISSUANCE = f"system:{ledger.ISSUANCE}"
IdempotencyKey = identifier(160)
SystemPool = Literal["house", "rewards"]
_POOLS = {"house": HOUSE, "rewards": REWARDS}
PLAYERS_PER_READ_MAX = 500


class TokenBalance(Row):
    """The seed's token_balances row: balance is what the player can bet or stake now;
    locked_balance is held by open bets, staked_balance by staking positions."""

    user_id: str
    balance: int
    locked_balance: int
    staked_balance: int
    last_updated: datetime | None


class _Deposit(Input):
    user_id: UserId
    amount: Amount
    idempotency_key: IdempotencyKey | None = None


class _Funding(Input):
    pool: SystemPool
    amount: Amount
    idempotency_key: IdempotencyKey | None = None


def ensure_crap_asset(target: Database | Connection) -> ledger.Asset:
    """The CRAP asset in the ledger (registered on first use)."""
    return ledger.ensure_token_asset(
        target,
        chain_id=CRAP_CHAIN_ID,
        token_address=None,
        symbol=CRAP_SYMBOL,
        decimals=CRAP_DECIMALS,
    )


def deposit(
    target: Database | Connection,
    *,
    user_id: str,
    amount: int,
    idempotency_key: str | None = None,
    actor: str = SYSTEM_ACTOR,
) -> ledger.Transfer:
    """Credit a player `amount` new CRAP (base units) from issuance. The same idempotency_key
    again returns the first transfer."""
    new = validated(_Deposit, user_id=user_id, amount=amount, idempotency_key=idempotency_key)
    if new.amount == 0:
        raise InvalidInput("amount", amount, "must be > 0")
    with writing(target) as conn:
        ensure_crap_asset(conn)
        before = get_token_balance(conn, new.user_id)
        done = ledger.transfer(
            conn,
            debit=ISSUANCE,
            credit=f"user:{new.user_id}",
            amount=new.amount,
            kind="deposit",
            asset=CRAP,
            idempotency_key=new.idempotency_key and f"games:deposit:{new.idempotency_key}",
        )
        after = get_token_balance(conn, new.user_id)
        if after != before:
            audit_balance(conn, actor, new.user_id, "deposit", before, after)
    return done


def fund_pool(
    target: Database | Connection,
    *,
    pool: SystemPool,
    amount: int,
    idempotency_key: str | None = None,
) -> ledger.Transfer:
    """Issue `amount` CRAP to the house (which pays winning bets) or to the rewards pool
    (which pays staking rewards)."""
    new = validated(_Funding, pool=pool, amount=amount, idempotency_key=idempotency_key)
    if new.amount == 0:
        raise InvalidInput("amount", amount, "must be > 0")
    with writing(target) as conn:
        ensure_crap_asset(conn)
        return ledger.transfer(
            conn,
            debit=ISSUANCE,
            credit=_POOLS[new.pool],
            amount=new.amount,
            kind="deposit",
            asset=CRAP,
            idempotency_key=new.idempotency_key and f"games:fund:{new.idempotency_key}",
        )


def hold_request(
    user_id: str, amount: int, toward: str, idempotency_key: str | None = None
) -> dict[str, Any]:
    """A player's CRAP held towards a games account (a bet: HOUSE; a staking position:
    STAKING), as a mapping for ledger.transfer_batch (which validates many in one call)."""
    request: dict[str, Any] = {
        "debit": f"user:{user_id}",
        "credit": toward,
        "amount": amount,
        "kind": "locked_escrow",
        "asset": CRAP,
        "pending": True,
    }
    if idempotency_key is not None:
        request["idempotency_key"] = idempotency_key
    return request


def pool_balance(target: Database | Connection, pool: SystemPool) -> ledger.Balance:
    """What the house or the rewards pool holds."""
    if pool not in _POOLS:
        raise InvalidInput("pool", pool, "must be 'house' or 'rewards'")
    with reading(target) as conn:
        ensure_known = _asset_exists(conn)
        if not ensure_known:
            return ledger.Balance(posted=0, held=0, available=0)
        return ledger.get_balance(conn, _POOLS[pool], CRAP)


def get_token_balance(target: Database | Connection, user_id: str) -> TokenBalance:
    """The player's row of token_balances (zeros when they never held CRAP)."""
    with reading(target) as conn:
        row = conn.execute(
            sa.select(token_balances).where(token_balances.c.user_id == user_id)
        ).first()
    if row is None:
        return TokenBalance(
            user_id=user_id, balance=0, locked_balance=0, staked_balance=0, last_updated=None
        )
    return TokenBalance.model_validate(row)


def get_transaction_history(
    target: Database | Connection,
    user_id: str,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> ledger.AccountHistory:
    """The seed's TransactionRepository history: the player's CRAP transfers, newest first."""
    with reading(target) as conn:
        if not _asset_exists(conn):
            return ledger.AccountHistory(
                account=f"user:{user_id}", asset=CRAP, items=[], next_before_id=None
            )
        return ledger.account_history(
            conn, f"user:{user_id}", asset=CRAP, limit=limit, before_id=before_id
        )


def audit_balance(
    conn: Connection,
    actor: str,
    user_id: str,
    action: str,
    before: TokenBalance,
    after: TokenBalance,
) -> None:
    fields = ("balance", "locked_balance", "staked_balance")
    audit(
        conn,
        actor=actor,
        entity_type="balance",
        entity_id=user_id,
        action=action,
        before={name: getattr(before, name) for name in fields},
        after={name: getattr(after, name) for name in fields},
    )


def token_balances_of(conn: Connection, players: list[str]) -> dict[str, TokenBalance]:
    found: dict[str, TokenBalance] = {}
    for start in range(0, len(players), PLAYERS_PER_READ_MAX):
        chunk = players[start : start + PLAYERS_PER_READ_MAX]
        rows = conn.execute(sa.select(token_balances).where(token_balances.c.user_id.in_(chunk)))
        found.update({row.user_id: TokenBalance.model_validate(row) for row in rows})
    empty = {"balance": 0, "locked_balance": 0, "staked_balance": 0, "last_updated": None}
    return {p: found.get(p) or TokenBalance(user_id=p, **empty) for p in players}


def _asset_exists(conn: Connection) -> bool:
    try:
        ledger.get_asset(conn, CRAP)
    except LookupError:
        return False
    return True
