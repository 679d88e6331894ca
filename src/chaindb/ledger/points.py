"""Seed 000's points utilities, over the ledger's 'points' asset.

A user's points live in the account 'user:<id>'. Earning moves points from 'system:issuance',
burning moves them to 'system:burn', locking for escrow holds them towards 'system:escrow'.
"""

# No `from __future__ import annotations`: evaluated annotations let help() show the
# allowed transaction types.
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.database import Database, reading, writing
from chaindb.errors import InvalidInput
from chaindb.ledger.accounts import (
    BURN,
    ESCROW,
    ISSUANCE,
    POINTS,
    AccountKey,
    account_id,
    get_balance,
    lock_accounts,
)
from chaindb.ledger.schema import (
    POINTS_ASSET_ID,
    ledger_accounts,
    ledger_transfers,
    user_points_ledgers,
)
from chaindb.ledger.transfers import Transfer, transfer
from chaindb.ledger.verify import repair_account
from chaindb.text import parse_user_id
from chaindb.types import amount_sum
from chaindb.validation import Row, parse_limit

HISTORY_LIMIT_MAX = 500
# Which accounts each seed transaction type moves points between ('user' is the user).
PointsTransactionType = Literal[
    "earned_challenge",
    "adjustment",
    "deposit",
    "burned_usage",
    "withdrawal",
    "locked_escrow",
    "claimed",
    "payout",
    "transfer",
]
_ROUTES: dict[str, tuple[str, str]] = {
    "earned_challenge": (f"system:{ISSUANCE}", "user"),
    "adjustment": (f"system:{ISSUANCE}", "user"),
    "deposit": (f"system:{ISSUANCE}", "user"),
    "burned_usage": ("user", f"system:{BURN}"),
    "withdrawal": ("user", f"system:{BURN}"),
    "locked_escrow": ("user", f"system:{ESCROW}"),
    "claimed": (f"system:{ESCROW}", "user"),
    "payout": (f"system:{ESCROW}", "user"),
    "transfer": ("user", "counterparty"),
}


class PointsLedger(Row):
    """A row of the seed's user_points_ledgers."""

    id: int
    user_id: str
    points_balance: int
    total_earned: int
    total_burned: int
    locked_points: int
    transaction_count: int
    created_at: datetime
    last_updated_at: datetime


class HistoryEntry(Row):
    id: int
    transaction_type: str
    direction: str
    phase: str
    amount: int
    reason: str | None
    challenge_id: int | None
    blockchain_tx_hash: str | None
    created_at: datetime


class HistoryPage(Row):
    items: list[HistoryEntry]
    next_before_id: int | None


def ensure_user_points_ledger(target: Database | Connection, user_id: str) -> PointsLedger:
    """The user's points ledger, created (empty) if missing. The user must exist."""
    with writing(target) as conn:
        lock_accounts(conn, {(POINTS_ASSET_ID, AccountKey("user", user_id))}, set())
        row = conn.execute(
            sa.select(user_points_ledgers).where(user_points_ledgers.c.user_id == user_id)
        ).one()
    return PointsLedger.model_validate(row)


def record_points_transaction(
    target: Database | Connection,
    *,
    user_id: str,
    transaction_type: PointsTransactionType,
    amount: int,
    challenge_id: int | None = None,
    reason: str | None = None,
    blockchain_tx_hash: str | None = None,
    idempotency_key: str | None = None,
    counterparty: str | None = None,
    expires_at: datetime | None = None,
) -> Transfer:
    """Record a points movement for `user_id` (seed: recordPointsTransaction). The balance
    moves in the same transaction. 'locked_escrow' places a hold (settle it with post_pending
    or void_pending); 'transfer' needs the receiving `counterparty` user."""
    if transaction_type not in _ROUTES:
        raise InvalidInput(
            "transaction_type",
            transaction_type,
            f"must be one of {', '.join(sorted(_ROUTES))} (settle holds with post/void_pending)",
        )
    if transaction_type == "transfer" and counterparty is None:
        raise InvalidInput("counterparty", None, "a transfer needs the receiving user's id")
    sides = {"user": f"user:{user_id}", "counterparty": f"user:{counterparty}"}
    debit, credit = (sides.get(side, side) for side in _ROUTES[transaction_type])
    fields: dict[str, Any] = {
        "asset": POINTS,
        "debit": debit,
        "credit": credit,
        "amount": amount,
        "kind": transaction_type,
        "pending": transaction_type == "locked_escrow",
        "expires_at": expires_at,
        "idempotency_key": idempotency_key,
        "reason": reason,
        "challenge_id": challenge_id,
        "chain_tx_hash": blockchain_tx_hash,
    }
    return transfer(target, **{k: v for k, v in fields.items() if v is not None})


def update_user_points_balance(target: Database | Connection, user_id: str) -> int | None:
    """Recompute the user's points from their transfers and store it (seed's procedure).
    chaindb keeps balances in step on every write, so this is a repair, not a routine step."""
    with writing(target) as conn:
        account_id = _points_account_id(conn, user_id)
        if account_id is None:
            return None
        return repair_account(conn, account_id)["balance"]


def get_user_points_balance(target: Database | Connection, user_id: str) -> int:
    """Points available to spend (holds past their expiry count as released)."""
    return get_balance(target, f"user:{user_id}", POINTS).available


def get_points_statistics(target: Database | Connection) -> dict[str, Any]:
    """Platform overview: issued, burned, circulating, locked, holders, transfers by type."""
    a = ledger_accounts.c
    with reading(target) as conn:
        users = conn.execute(
            sa.select(
                amount_sum(a.balance),
                amount_sum(a.debits_pending),
                sa.func.count().filter(a.balance > 0),
                sa.func.count(),
            ).where(a.asset_id == POINTS_ASSET_ID, a.owner_type == "user")
        ).one()
        system = {
            row.owner_id: row
            for row in conn.execute(
                sa.select(a.owner_id, a.debits_posted, a.credits_posted).where(
                    a.asset_id == POINTS_ASSET_ID, a.owner_type == "system"
                )
            )
        }
        t = ledger_transfers.c
        by_type = conn.execute(
            sa.select(t.kind, sa.func.count(), amount_sum(t.amount))
            .where(t.asset_id == POINTS_ASSET_ID)
            .group_by(t.kind)
        ).all()
    issuance, burn = system.get(ISSUANCE), system.get(BURN)
    return {
        "total_issued": (issuance.debits_posted - issuance.credits_posted) if issuance else 0,
        "total_burned": (burn.credits_posted - burn.debits_posted) if burn else 0,
        "circulating": users[0] + users[1],
        "available": users[0],
        "locked": users[1],
        "holders": users[2],
        "ledgers": users[3],
        "transfers": sum(row[1] for row in by_type),
        "by_type": {row[0]: {"count": row[1], "amount": row[2]} for row in by_type},
    }


def get_user_points_transaction_history(
    target: Database | Connection,
    user_id: str,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> HistoryPage:
    """The user's points movements, newest first, a page at a time: pass the page's
    next_before_id to get the next one. Each page costs two index range scans."""
    limit = parse_limit(limit, HISTORY_LIMIT_MAX)
    user_id = parse_user_id(user_id)
    t = ledger_transfers.c
    with reading(target) as conn:
        account_id = _points_account_id(conn, user_id)
        if account_id is None:
            return HistoryPage(items=[], next_before_id=None)
        entries: list[HistoryEntry] = []
        for direction, column in (("debit", t.debit_account_id), ("credit", t.credit_account_id)):
            query = sa.select(ledger_transfers).where(column == account_id)
            if before_id is not None:
                query = query.where(t.id < before_id)
            for row in conn.execute(query.order_by(t.id.desc()).limit(limit + 1)):
                entries.append(_history_entry(row, direction))
    entries.sort(key=lambda entry: entry.id, reverse=True)
    page, more = entries[:limit], len(entries) > limit
    return HistoryPage(items=page, next_before_id=page[-1].id if more and page else None)


def _history_entry(row: sa.Row[Any], direction: str) -> HistoryEntry:
    return HistoryEntry(
        id=row.id,
        transaction_type=row.kind,
        direction=direction,
        phase=row.phase,
        amount=row.amount,
        reason=row.reason,
        challenge_id=row.challenge_id,
        blockchain_tx_hash=row.chain_tx_hash,
        created_at=row.created_at,
    )


def _points_account_id(conn: Connection, user_id: str) -> int | None:
    return account_id(conn, POINTS_ASSET_ID, AccountKey("user", user_id))
