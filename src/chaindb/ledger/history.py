"""An account's transfers, newest first, and the holds still open: the ledger read back for a
person (what `chaindb ledger history` and `chaindb ledger holds` print), by indexes alone.

A page of history is two range scans of at most `limit + 1` rows, one on each side of the
account (ix_ledger_transfers_debit and _credit, both (account, id)), merged by id. Each row also
carries the account's posted balance after it, worked back from the account's counters (read in
the same snapshot), so no page sums the account's whole history. Open holds are the rows of
ledger_holds (a hold leaves it when posted or voided): one account's through
ix_ledger_holds_debit, an asset's through the table's primary key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.database import Database, reading
from chaindb.errors import InvalidInput
from chaindb.ledger.accounts import POINTS, AccountKey, account_id, account_keys, asset_ids
from chaindb.ledger.schema import ledger_accounts, ledger_holds, ledger_transfers
from chaindb.types import utc_now
from chaindb.validation import Row, parse_limit

ACCOUNT_HISTORY_LIMIT_MAX = 1000
OPEN_HOLDS_LIMIT_MAX = 1000
# A later page (before_id) gives each row its balance after it only if the transfers newer than
# the page number at most this many on each side: the balance is worked back through them.
RUNNING_BALANCE_SCAN_MAX = 10_000
_MOVES_POSTED = ("single", "post")  # a hold and its void leave the posted balance as it was


class AccountHistoryEntry(Row):
    """One transfer as the account sees it."""

    id: int
    created_at: datetime
    direction: str  # 'debit' (out of the account) or 'credit' (into it)
    counterparty: str  # the other account: 'user:<id>' or 'system:<name>'
    kind: str
    phase: str  # single, pending (a hold), post or void (of the hold pending_id)
    amount: int
    posted_after: int | None  # the account's posted balance after this transfer (in id order)
    pending_id: int | None
    expires_at: datetime | None
    reason: str | None
    idempotency_key: str | None
    challenge_id: int | None
    chain_tx_hash: str | None


class AccountHistory(Row):
    account: str
    asset: str
    items: list[AccountHistoryEntry]
    next_before_id: int | None  # pass as before_id for the next (older) page; None: no more


class OpenHold(Row):
    """A hold not yet posted or voided. One past `expires_at` can no longer be posted; reads
    count it as released until a write or `expire_holds` voids it."""

    id: int  # the hold's transfer id: what post_pending and void_pending take
    debit: str
    credit: str
    amount: int
    kind: str
    created_at: datetime
    expires_at: datetime | None
    expired: bool
    reason: str | None
    idempotency_key: str | None
    challenge_id: int | None


class OpenHolds(Row):
    account: str | None
    asset: str
    items: list[OpenHold]
    next_before_id: int | None


def account_history(
    target: Database | Connection,
    account: str | AccountKey,
    *,
    asset: str = POINTS,
    limit: int = 50,
    before_id: int | None = None,
) -> AccountHistory:
    """The account's transfers of `asset`, newest first, `limit` at a time: pass the page's
    next_before_id as `before_id` for the next one. An account that never moved has none."""
    key = AccountKey.parse(account, "account")
    _check_page(limit, before_id, ACCOUNT_HISTORY_LIMIT_MAX)
    with reading(target, stale_ok=True) as conn:
        asset_id = asset_ids(conn, {asset})[asset]
        a = ledger_accounts.c
        found = conn.execute(
            sa.select(a.id, a.credits_posted, a.debits_posted).where(
                a.asset_id == asset_id, a.owner_type == key.owner_type, a.owner_id == key.owner_id
            )
        ).first()
        if found is None:
            return AccountHistory(account=str(key), asset=asset, items=[], next_before_id=None)
        rows = _newest_transfers(conn, found.id, before_id, limit + 1)
        page = rows[:limit]
        newer = 0 if before_id is None else _posted_since(conn, found.id, before_id)
        names = account_keys(conn, {row.counterparty_id for row in page})
    posted = None if newer is None else found.credits_posted - found.debits_posted - newer
    items = []
    for row in page:
        items.append(_history_entry(row, names[row.counterparty_id], posted))
        if posted is not None:  # the balance before this transfer is the one after the next
            posted -= _posted_effect(row.direction, row.phase, row.amount)
    more = len(rows) > limit
    return AccountHistory(
        account=str(key),
        asset=asset,
        items=items,
        next_before_id=items[-1].id if more and items else None,
    )


def open_holds(
    target: Database | Connection,
    *,
    account: str | AccountKey | None = None,
    asset: str = POINTS,
    limit: int = 100,
    before_id: int | None = None,
) -> OpenHolds:
    """Holds not yet posted or voided, newest first: on `account`'s funds (it is the debit
    side; what its balance counts as held), or every hold of `asset` when no account is given."""
    key = None if account is None else AccountKey.parse(account, "account")
    _check_page(limit, before_id, OPEN_HOLDS_LIMIT_MAX)
    h, t = ledger_holds.c, ledger_transfers.c
    query = sa.select(
        h.transfer_id,
        h.debit_account_id,
        h.credit_account_id,
        h.amount,
        h.expires_at,
        t.kind,
        t.created_at,
        t.reason,
        t.idempotency_key,
        t.challenge_id,
    ).join(ledger_transfers, t.id == h.transfer_id)
    if before_id is not None:
        query = query.where(h.transfer_id < before_id)
    with reading(target, stale_ok=True) as conn:
        asset_id = asset_ids(conn, {asset})[asset]
        if key is None:
            query = query.where(t.asset_id == asset_id)
        else:
            holder = account_id(conn, asset_id, key)
            if holder is None:
                return OpenHolds(account=str(key), asset=asset, items=[], next_before_id=None)
            query = query.where(h.debit_account_id == holder)
        rows = conn.execute(query.order_by(h.transfer_id.desc()).limit(limit + 1)).all()
        page = rows[:limit]
        names = account_keys(
            conn, {row.debit_account_id for row in page} | {row.credit_account_id for row in page}
        )
    now = utc_now()
    items = [
        OpenHold(
            id=row.transfer_id,
            debit=names[row.debit_account_id],
            credit=names[row.credit_account_id],
            amount=row.amount,
            kind=row.kind,
            created_at=row.created_at,
            expires_at=row.expires_at,
            expired=row.expires_at is not None and row.expires_at <= now,
            reason=row.reason,
            idempotency_key=row.idempotency_key,
            challenge_id=row.challenge_id,
        )
        for row in page
    ]
    more = len(rows) > limit
    return OpenHolds(
        account=None if key is None else str(key),
        asset=asset,
        items=items,
        next_before_id=items[-1].id if more and items else None,
    )


def _check_page(limit: object, before_id: object, limit_max: int) -> None:
    parse_limit(limit, limit_max)
    if before_id is not None and (not _is_int(before_id) or before_id <= 0):  # type: ignore[operator]
        raise InvalidInput("before_id", before_id, "must be a transfer id (a whole number > 0)")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _newest_transfers(
    conn: Connection, account: int, before_id: int | None, count: int
) -> list[sa.Row[Any]]:
    """The `count` newest transfers of the account below before_id: each side's index range,
    newest first, merged."""
    t = ledger_transfers.c
    rows: list[sa.Row[Any]] = []
    for direction, side, other in (
        ("debit", t.debit_account_id, t.credit_account_id),
        ("credit", t.credit_account_id, t.debit_account_id),
    ):
        query = sa.select(
            ledger_transfers,
            sa.literal(direction).label("direction"),
            other.label("counterparty_id"),
        ).where(side == account)
        if before_id is not None:
            query = query.where(t.id < before_id)
        rows.extend(conn.execute(query.order_by(t.id.desc()).limit(count)))
    rows.sort(key=lambda row: row.id, reverse=True)
    return rows[:count]


def _posted_since(conn: Connection, account: int, since_id: int) -> int | None:
    """How much the transfers from since_id on moved the account's posted balance; None when
    either side has more than RUNNING_BALANCE_SCAN_MAX of them (too many to add up here)."""
    t = ledger_transfers.c
    total = 0
    for direction, side in (("debit", t.debit_account_id), ("credit", t.credit_account_id)):
        rows = conn.execute(
            sa.select(t.phase, t.amount)
            .where(side == account, t.id >= since_id)
            .order_by(t.id)
            .limit(RUNNING_BALANCE_SCAN_MAX + 1)
        ).all()
        if len(rows) > RUNNING_BALANCE_SCAN_MAX:
            return None
        total += sum(_posted_effect(direction, phase, amount) for phase, amount in rows)
    return total


def _posted_effect(direction: str, phase: str, amount: int) -> int:
    if phase not in _MOVES_POSTED:
        return 0
    return amount if direction == "credit" else -amount


def _history_entry(row: sa.Row[Any], counterparty: str, posted: int | None) -> AccountHistoryEntry:
    return AccountHistoryEntry(
        id=row.id,
        created_at=row.created_at,
        direction=row.direction,
        counterparty=counterparty,
        kind=row.kind,
        phase=row.phase,
        amount=row.amount,
        posted_after=posted,
        pending_id=row.pending_id,
        expires_at=row.expires_at,
        reason=row.reason,
        idempotency_key=row.idempotency_key,
        challenge_id=row.challenge_id,
        chain_tx_hash=row.chain_tx_hash,
    )
