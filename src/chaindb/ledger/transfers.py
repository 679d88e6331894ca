"""Transfers: single, two-phase (pending -> post | void) and batches, exact and idempotent.

Each call is one transaction (the write path is ledger.engine; on PostgreSQL a lone plain
transfer given a Database is first tried in one statement, ledger.plain_transfer, which leaves
anything else to the engine). With a Database, a PostgreSQL deadlock or a lost race on a unique
key is retried whole (bounded); SQLite's BEGIN IMMEDIATE makes one writer at a time, and there
is nothing to retry.
"""

# No `from __future__ import annotations` here: evaluated annotations let help() and
# inspect.signature() show the values a Literal parameter allows (kind).

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from chaindb.database import Database, reading, writing
from chaindb.errors import ConnectionLost, InvalidInput
from chaindb.ledger import plain_transfer
from chaindb.ledger.accounts import CREATED_IN_BULK, POINTS, AccountKey
from chaindb.ledger.engine import apply
from chaindb.ledger.leaderboard import after_write, rebalance_all
from chaindb.ledger.requests import (
    InsufficientFunds,
    Item,
    Kind,
    PostRequest,
    Request,
    RowsWithHold,
    Transfer,
    TransferItem,
    TransferRequest,
    VoidRequest,
    as_item,
    parse_requests,
    plain_transfer_item,
)
from chaindb.ledger.schema import ledger_holds, ledger_transfers
from chaindb.types import utc_now
from chaindb.validation import validated

RETRIES_MAX = 5
EXPIRY_SWEEPS_MAX = 1_000  # cleanup: at most this many sweeps of EXPIRED_HOLDS_PER_SWEEP_MAX
BATCH_SIZE_MAX = 10_000
EXPIRED_HOLDS_PER_SWEEP_MAX = 1_000
_RETRYABLE_SQLSTATES = {"40P01", "40001"}  # deadlock, serialization failure
_RETRYABLE_UNIQUE = {
    "uq_ledger_transfers_idempotency_key",
    "uq_ledger_accounts_owner",
    "uq_ledger_transfers_resolve_once",
}


def transfer(
    target: Database | Connection,
    *,
    debit: str | AccountKey,
    credit: str | AccountKey,
    amount: int,
    kind: Kind,
    asset: str = POINTS,
    pending: bool = False,
    expires_at: datetime | None = None,
    idempotency_key: str | None = None,
    reason: str | None = None,
    challenge_id: int | None = None,
    chain_tx_hash: str | None = None,
) -> Transfer:
    """Move `amount` of `asset` from `debit` to `credit` ('user:<id>' or 'system:<name>').
    With pending=True the amount is only held (post_pending or void_pending settles it).
    Repeating an idempotency_key returns the first transfer and changes nothing."""
    # The common call, accounts, amount and kind alone, needs no model when its values are
    # plainly valid; anything else (and every error) is TransferRequest's.
    optional = (expires_at, idempotency_key, reason, challenge_id, chain_tx_hash)
    if asset == POINTS and pending is False and optional == _UNSET:
        plain = plain_transfer_item(debit, credit, amount, kind)
        if plain is not None:
            return run(target, [plain])[0]
    request = validated(
        TransferRequest,
        debit=debit,
        credit=credit,
        amount=amount,
        kind=kind,
        asset=asset,
        pending=pending,
        expires_at=expires_at,
        idempotency_key=idempotency_key,
        reason=reason,
        challenge_id=challenge_id,
        chain_tx_hash=chain_tx_hash,
    )
    return run(target, [request])[0]


_UNSET = (None,) * 5  # transfer()'s optional values, expires_at ... chain_tx_hash, by default


def post_pending(
    target: Database | Connection,
    pending_id: int,
    *,
    amount: int | None = None,
    kind: Kind = "released_escrow",
    idempotency_key: str | None = None,
    reason: str | None = None,
    chain_tx_hash: str | None = None,
) -> Transfer:
    """Settle a hold: the held amount (or `amount`, less, releasing the rest) moves for good."""
    request = validated(
        PostRequest,
        pending_id=pending_id,
        amount=amount,
        kind=kind,
        idempotency_key=idempotency_key,
        reason=reason,
        chain_tx_hash=chain_tx_hash,
    )
    return run(target, [request])[0]


def void_pending(
    target: Database | Connection,
    pending_id: int,
    *,
    kind: Kind = "refunded",
    idempotency_key: str | None = None,
    reason: str | None = None,
    chain_tx_hash: str | None = None,
) -> Transfer:
    """Release a hold: nothing moves, the held amount is available again."""
    request = validated(
        VoidRequest,
        pending_id=pending_id,
        kind=kind,
        idempotency_key=idempotency_key,
        reason=reason,
        chain_tx_hash=chain_tx_hash,
    )
    return run(target, [request])[0]


def transfer_batch(
    target: Database | Connection,
    requests: Iterable[Request | Mapping[str, Any]],
    *,
    savepoint: bool = True,
) -> list[Transfer]:
    """Many transfers in one transaction: all are written or none. A mapping's `action` is
    'transfer' (default), 'post' or 'void'; its other keys are that call's arguments.
    savepoint=False, given a Connection in a transaction: join it without a savepoint of its
    own, for a caller that rolls its whole transaction back on any error (two statements
    fewer: a bet is a hold and a few rows, and the savepoint cost as much as those rows)."""
    items = list(requests)
    if len(items) > BATCH_SIZE_MAX:
        raise InvalidInput("requests", len(items), f"at most {BATCH_SIZE_MAX} per batch")
    if not items:
        return []
    return run(target, parse_requests(items), name_positions=True, savepoint=savepoint)


def hold_with(
    conn: Connection,
    request: Mapping[str, Any],
    rows: RowsWithHold,
    *,
    asset_id: int | None = None,
) -> Transfer:
    """PostgreSQL: one hold (a pending transfer, as transfer_batch takes it, without an
    idempotency key) in the caller's transaction, joined as it is (as transfer_batch with
    savepoint=False: the caller rolls its whole transaction back on any error), and the
    caller's rows written by the statement that writes the hold's own row: one round trip
    where they were two (a bet is a hold and a few rows). asset_id: the request's asset's
    id, when the caller read it (asset_id_sql) in a statement it ran anyway: one round trip
    fewer again (None: looked up here)."""
    if conn.dialect.name != "postgresql" or not conn.in_transaction():
        raise InvalidInput("conn", conn.dialect.name, "must be PostgreSQL, in a transaction")
    (item,) = map(as_item, parse_requests([request]))
    if not isinstance(item, TransferItem) or not item.pending or item.idempotency_key:
        raise InvalidInput("request", request, "must be a hold without an idempotency_key")
    known = {item.asset: asset_id} if asset_id is not None else None
    return apply(conn, [item], skip_resolved=False, rows_with_hold=rows, asset_ids_known=known)[0]


def get_transfer(target: Database | Connection, transfer_id: int) -> Transfer | None:
    with reading(target) as conn:
        row = conn.execute(
            sa.select(ledger_transfers).where(ledger_transfers.c.id == transfer_id)
        ).first()
    return None if row is None else Transfer.of(row._mapping)


class HoldState(NamedTuple):
    """A hold (a pending transfer) as its owner's records see it."""

    amount: int
    open: bool  # neither posted nor voided yet


HOLDS_PER_QUERY_MAX = 500


def get_hold_states(
    target: Database | Connection, pending_ids: Sequence[int]
) -> dict[int, HoldState]:
    """The amount of each hold among `pending_ids`, and whether it is still open; ids that
    are not pending transfers are absent."""
    t = ledger_transfers
    states: dict[int, HoldState] = {}
    with reading(target) as conn:
        for start in range(0, len(pending_ids), HOLDS_PER_QUERY_MAX):
            chunk = list(pending_ids[start : start + HOLDS_PER_QUERY_MAX])
            rows = conn.execute(
                sa.select(t.c.id, t.c.amount, ledger_holds.c.transfer_id.label("open_hold"))
                .outerjoin(ledger_holds, ledger_holds.c.transfer_id == t.c.id)
                .where(t.c.id.in_(chunk), t.c.phase == "pending")
            )
            states.update(
                {row.id: HoldState(row.amount, row.open_hold is not None) for row in rows}
            )
    return states


def expire_holds(
    target: Database | Connection,
    *,
    account_ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> int:
    """Void holds past their expiry (kind 'expired'); returns how many. Bounded per call."""
    now = now or utc_now()
    query = sa.select(ledger_holds.c.transfer_id).where(ledger_holds.c.expires_at <= now)
    if account_ids is not None:
        query = query.where(ledger_holds.c.debit_account_id.in_(list(account_ids)))
    with reading(target) as conn:
        due = conn.execute(query.limit(EXPIRED_HOLDS_PER_SWEEP_MAX)).scalars().all()
    voids = [VoidRequest(pending_id=hold, kind="expired", reason="hold expired") for hold in due]
    return len(run(target, voids, skip_resolved=True)) if voids else 0


def cleanup(db: Database) -> list[str]:
    """maintenance --cleanup: void every hold past its expiry, a bounded sweep at a time."""
    voided = 0
    for _ in range(EXPIRY_SWEEPS_MAX):
        swept = expire_holds(db)
        voided += swept
        if swept < EXPIRED_HOLDS_PER_SWEEP_MAX:
            break
    return [f"ledger: voided {voided} expired holds"] + [
        f"ledger: leaderboard of {line}" for line in rebalance_all(db)
    ]


# --- the engine -------------------------------------------------------------------------------


T = TypeVar("T")


def run(
    target: Database | Connection,
    requests: Sequence[Request | Item],
    *,
    skip_resolved: bool = False,
    name_positions: bool = False,
    savepoint: bool = True,
) -> list[Transfer]:
    """Apply `requests` in one transaction; with a Database, retry transient failures whole.
    With name_positions, an error about one request names its position (`requests[3].amount`).
    Without savepoint, a Connection's transaction is joined as it is (see transfer_batch)."""
    items = [as_item(request) for request in requests]
    if not isinstance(target, Database) and not savepoint and target.in_transaction():
        return apply(target, items, skip_resolved=skip_resolved, name_positions=name_positions)
    if not isinstance(target, Database):
        with writing(target) as conn:
            return apply(conn, items, skip_resolved=skip_resolved, name_positions=name_positions)

    plain = plain_transfer.takes(target, items)

    created_in_bulk: set[int] = set()

    def attempt() -> list[Transfer]:
        if plain is not None:
            done = plain_transfer.try_transfer(target, plain)
            if done is not None:
                return [done]
        with target.transaction() as conn:
            conn.info.pop(CREATED_IN_BULK, None)
            written = apply(conn, items, skip_resolved=skip_resolved, name_positions=name_positions)
            created_in_bulk.update(conn.info.pop(CREATED_IN_BULK, ()))
        return written

    # SQLite's single writer cannot deadlock: only PostgreSQL needs the retries.
    once = with_retries if target.backend == "postgresql" else _call
    try:
        written = once(attempt)
    except InsufficientFunds as error:
        if not error.expired_holds:
            raise
        # The account has holds past their expiry still counted: void them, then try once more.
        expire_holds(target)
        written = once(attempt)
    after_write(target, map(_ASSET_ID, written), created_in_bulk=created_in_bulk)
    return written


_ASSET_ID = operator.attrgetter("asset_id")


def _call(action: Callable[[], T]) -> T:
    return action()


def with_retries(action: Callable[[], T]) -> T:
    """`action`, run again (bounded) after a deadlock, a lost race or a lost connection."""
    try:
        return action()  # the common case, without tenacity's per-call bookkeeping
    except Exception as error:
        if not _is_transient(error):
            raise
    return _RETRYING(action)


_RETRYING = Retrying(  # shared: tenacity keeps each call's state apart (thread-local)
    retry=retry_if_exception(lambda error: _is_transient(error)),
    stop=stop_after_attempt(RETRIES_MAX - 1),
    wait=wait_random_exponential(multiplier=0.01, max=0.5),
    reraise=True,
)


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, ConnectionLost):  # before its commit: nothing was written
        return True
    if not isinstance(error, DBAPIError):
        return False
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return True
    diag = getattr(error.orig, "diag", None)
    return sqlstate == "23505" and getattr(diag, "constraint_name", None) in _RETRYABLE_UNIQUE


__all__ = [
    "HoldState",
    "InsufficientFunds",
    "PostRequest",
    "Request",
    "RowsWithHold",
    "Transfer",
    "TransferRequest",
    "VoidRequest",
    "expire_holds",
    "get_hold_states",
    "get_transfer",
    "hold_with",
    "post_pending",
    "run",
    "transfer",
    "transfer_batch",
    "void_pending",
    "with_retries",
]
