"""The write path: one transaction, a fixed number of statements, whatever the batch size.

Lock the accounts the requests touch (one SELECT ... ORDER BY id FOR UPDATE: writers never
deadlock on each other), look up their idempotency keys and open holds, apply every request to
the accounts' counters in memory (TigerBeetle's rules, refusing overdrafts), then insert the
transfers and update the accounts. A balance is never recomputed from history here.
(On PostgreSQL, ledger.plain_transfer writes a lone plain transfer in one statement, by
the same rules and lock order, and leaves everything else to this engine.)
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.errors import ChaindbError, Conflict, InvalidInput, NotFound
from chaindb.ledger import statements
from chaindb.ledger.accounts import BOARDS_CLOSED, AccountKey, asset_ids, lock_accounts
from chaindb.ledger.batch import Batch
from chaindb.ledger.leaderboard import refill_closed_boards
from chaindb.ledger.requests import (
    Item,
    PostRequest,
    RowsWithHold,
    Transfer,
    TransferItem,
    VoidRequest,
)
from chaindb.ledger.schema import ledger_holds, ledger_transfers
from chaindb.types import utc_now


def apply(
    conn: Connection,
    requests: list[Item],
    *,
    skip_resolved: bool,
    name_positions: bool = False,
    rows_with_hold: RowsWithHold | None = None,
    asset_ids_known: Mapping[str, int] | None = None,
) -> list[Transfer]:
    """With name_positions, an error about one request names its position in `requests`.
    rows_with_hold: a lone hold's caller's rows, written with the hold's own (PostgreSQL);
    asset_ids_known: ids by code the caller read already (ledger.asset_id_sql)."""
    now = utc_now()
    conn.info.pop(BOARDS_CLOSED, None)  # a rolled-back transaction's, on this connection
    singles = [r for r in requests if isinstance(r, TransferItem)]
    named = set(map(_ASSET, singles))
    if asset_ids_known is not None and named <= asset_ids_known.keys():
        codes = {code: asset_ids_known[code] for code in named}
    else:
        codes = asset_ids(conn, named)
    pendings = _load_pending(
        conn, {r.pending_id for r in requests if not isinstance(r, TransferItem)}
    )
    accounts = lock_accounts(
        conn,
        _account_keys(singles, codes),
        {p[side] for p in pendings.values() for side in ("debit_account_id", "credit_account_id")},
    )
    ids_by_key = {
        (a["asset_id"], AccountKey(a["owner_type"], a["owner_id"])): i for i, a in accounts.items()
    }
    earlier = _by_idempotency_key(conn, set(map(_IDEMPOTENCY_KEY, requests)))
    holds = _lock_holds(conn, set(pendings))
    batch = Batch(
        accounts,
        {asset_id: code for code, asset_id in codes.items()},
        _transfer_ids(conn, len(requests)),
        functools.partial(_has_expired, conn, now=now),
    )
    planned: list[Transfer] = []
    seen_keys: dict[str, Transfer] = {}
    for position, request in enumerate(requests):
        key = request.idempotency_key
        try:
            if key is not None and (key in earlier or key in seen_keys):
                planned.append(_repeated(request, earlier, seen_keys, ids_by_key, codes))
                continue
            if isinstance(request, TransferItem):
                row = _plan_single(request, batch, ids_by_key, codes, now)
            else:
                row = _plan_resolution(request, batch, pendings, holds, now, skip_resolved)
                if row is None:
                    continue
        except (InvalidInput, NotFound, Conflict) as error:
            if not name_positions:
                raise
            raise _at(error, position) from None
        batch.rows.append(row)
        planned.append(row)
        if key is not None:
            seen_keys[key] = row
    _write(conn, batch, rows_with_hold)
    refill_closed_boards(conn)  # boards closed while accounts were created in bulk
    # A lone request's transfer got its id from the insert: the row _write stored is the one.
    return batch.rows if len(requests) == 1 and batch.rows else planned


def _at(error: InvalidInput | NotFound | Conflict, position: int) -> ChaindbError:
    """The error, naming the request of a batch it is about."""
    where = f"requests[{position}]"
    if isinstance(error, InvalidInput):
        return InvalidInput(f"{where}.{error.field}", error.value, error.rule)
    return type(error)(f"{where}: {error}")


def _account_keys(
    singles: list[TransferItem], codes: dict[str, int]
) -> set[tuple[int, AccountKey]]:
    """The (asset, account) pairs the transfers name. (A batch names the same few accounts
    over and over, mostly in one asset: collect the distinct keys first.)"""
    if len(codes) == 1:
        (asset_id,) = codes.values()
        named = {*map(_DEBIT, singles), *map(_CREDIT, singles)}
        return {(asset_id, key) for key in named}
    return {(codes[r.asset], key) for r in singles for key in (r.debit, r.credit)}


# Collected in C, over batches of thousands.
_DEBIT, _CREDIT = operator.attrgetter("debit"), operator.attrgetter("credit")
_ASSET, _IDEMPOTENCY_KEY = operator.attrgetter("asset"), operator.attrgetter("idempotency_key")


def _transfer_ids(conn: Connection, count: int) -> Iterator[int]:
    """The ids of a write's transfers, taken as they are planned. A lone transfer's comes from
    its insert (0 until then): no statement to ask for it, no round trip."""
    if count == 1:
        return itertools.repeat(0)
    return iter(statements.allocate_ids(conn, count))


def _repeated(
    request: Item,
    earlier: dict[str, Transfer],
    seen_keys: dict[str, Transfer],
    ids_by_key: dict[tuple[int, AccountKey], int],
    codes: dict[str, int],
) -> Transfer:
    """A request whose idempotency key is taken, stored before or earlier in this write: what
    was written under the key (and an error if the request asks for something else)."""
    key = request.idempotency_key
    existing = earlier[key] if key in earlier else seen_keys[key]
    _refuse_different(request, existing, ids_by_key, codes)
    return existing


def _plan_single(
    request: TransferItem,
    batch: Batch,
    ids_by_key: dict[tuple[int, AccountKey], int],
    codes: dict[str, int],
    now: datetime,
) -> Transfer:
    asset_id = codes[request.asset]
    debit_id = ids_by_key[(asset_id, request.debit)]
    credit_id = ids_by_key[(asset_id, request.credit)]
    if debit_id == credit_id:
        raise InvalidInput("credit", str(request.credit), "must differ from debit")
    if request.expires_at is not None and not request.pending:
        raise InvalidInput("expires_at", request.expires_at, "only a pending transfer expires")
    phase = "pending" if request.pending else "single"
    batch.move(debit_id, credit_id, request.amount, phase)
    # The values in Transfer's field order, straight into the tuple: batches build thousands
    # (the named tuple's own constructor costs 2x; with keywords, 4x).
    return _transfer_of_values(
        (
            next(batch.ids),
            asset_id,
            debit_id,
            credit_id,
            request.amount,
            request.kind,
            phase,
            None,  # pending_id
            request.expires_at,
            request.idempotency_key,
            request.reason,
            request.challenge_id,
            request.chain_tx_hash,
            now,  # created_at: the write's time, as PostgreSQL's now() is the transaction's
        )
    )


_transfer_of_values = functools.partial(tuple.__new__, Transfer)


def _plan_resolution(
    request: PostRequest | VoidRequest,
    batch: Batch,
    pendings: dict[int, dict[str, Any]],
    holds: dict[int, dict[str, Any]],
    now: datetime,
    skip_resolved: bool,
) -> Transfer | None:
    pending = pendings.get(request.pending_id)
    if pending is None:
        raise NotFound(f"pending_id: transfer {request.pending_id} does not exist")
    if pending["phase"] != "pending":
        raise InvalidInput("pending_id", request.pending_id, "is not a pending transfer")
    hold = holds.pop(request.pending_id, None)
    if hold is None:
        if skip_resolved:
            return None
        raise Conflict(f"pending_id: hold {request.pending_id} was already posted or voided")
    held = hold["amount"]
    if isinstance(request, PostRequest):
        if hold["expires_at"] is not None and hold["expires_at"] <= now:
            raise Conflict(f"pending_id: hold {request.pending_id} expired at {hold['expires_at']}")
        amount = held if request.amount is None else request.amount
        if amount > held:
            raise InvalidInput("amount", amount, f"must be <= the held amount {held}")
        phase = "post"
    else:
        amount, phase = 0, "void"
    batch.move(pending["debit_account_id"], pending["credit_account_id"], amount, phase, held)
    return Transfer(
        id=next(batch.ids),
        asset_id=pending["asset_id"],
        debit_account_id=pending["debit_account_id"],
        credit_account_id=pending["credit_account_id"],
        amount=amount if phase == "post" else held,
        kind=request.kind,
        phase=phase,
        pending_id=request.pending_id,
        expires_at=None,
        idempotency_key=request.idempotency_key,
        reason=request.reason,
        challenge_id=pending["challenge_id"],
        chain_tx_hash=request.chain_tx_hash,
        created_at=now,
    )


def _write(conn: Connection, batch: Batch, rows_with_hold: RowsWithHold | None = None) -> None:
    if not batch.rows:
        return
    accounts = batch.changed()
    counters = batch.changed_counters(accounts)
    if batch.rows[0].id == 0:  # a lone transfer: the insert gives its id
        batch.rows[0] = statements.insert_one(conn, batch.rows[0], accounts, counters)
    else:
        statements.insert_many(conn, batch.rows, accounts, counters)
    new_holds = [
        {
            "transfer_id": row.id,
            "debit_account_id": row.debit_account_id,
            "credit_account_id": row.credit_account_id,
            "amount": row.amount,
            "expires_at": row.expires_at,
        }
        for row in batch.rows
        if row.phase == "pending"
    ]
    if rows_with_hold is not None:  # hold_with: one request, a hold (checked there)
        statements.insert_hold_with(conn, new_holds[0], rows_with_hold)
    elif new_holds:
        conn.execute(statements.INSERT_HOLDS, new_holds)
    holds_ended = [row.pending_id for row in batch.rows if row.pending_id]
    if holds_ended:
        conn.execute(statements.END_HOLDS, {"ids": holds_ended})


def _load_pending(conn: Connection, pending_ids: set[int]) -> dict[int, dict[str, Any]]:
    if not pending_ids:
        return {}
    rows = conn.execute(
        sa.select(ledger_transfers).where(ledger_transfers.c.id.in_(pending_ids))
    ).mappings()
    # (An id that is missing, or not a hold, is refused when its request is planned.)
    return {row["id"]: dict(row) for row in rows}


def _lock_holds(conn: Connection, pending_ids: set[int]) -> dict[int, dict[str, Any]]:
    if not pending_ids:
        return {}
    rows = conn.execute(
        sa.select(ledger_holds)
        .where(ledger_holds.c.transfer_id.in_(pending_ids))
        .order_by(ledger_holds.c.transfer_id)
        .with_for_update()
    ).mappings()
    return {row["transfer_id"]: dict(row) for row in rows}


def _has_expired(conn: Connection, account_id: int, now: datetime) -> bool:
    """Asked only when a transfer is refused: does the account hold funds past their expiry?"""
    return (
        conn.execute(
            sa.select(ledger_holds.c.transfer_id)
            .where(ledger_holds.c.debit_account_id == account_id, ledger_holds.c.expires_at <= now)
            .limit(1)
        ).first()
        is not None
    )


def _by_idempotency_key(conn: Connection, keys: set[str | None]) -> dict[str, Transfer]:
    wanted = {key for key in keys if key}
    if not wanted:
        return {}
    rows = conn.execute(statements.BY_IDEMPOTENCY_KEY, {"keys": list(wanted)})
    return {row.idempotency_key: Transfer.of(row._mapping) for row in rows}


def _refuse_different(
    request: Item,
    existing: Transfer,
    ids_by_key: dict[tuple[int, AccountKey], int],
    codes: dict[str, int],
) -> None:
    """The same idempotency key with a different payload is an error, not a silent success."""
    if isinstance(request, TransferItem):
        asset_id = codes[request.asset]
        expected = {
            "phase": "pending" if request.pending else "single",
            "asset_id": asset_id,
            "debit_account_id": ids_by_key[(asset_id, request.debit)],
            "credit_account_id": ids_by_key[(asset_id, request.credit)],
            "amount": request.amount,
            "kind": request.kind,
        }
    else:
        expected = {
            "phase": "post" if isinstance(request, PostRequest) else "void",
            "pending_id": request.pending_id,
            "kind": request.kind,
        }
        if isinstance(request, PostRequest) and request.amount is not None:
            expected["amount"] = request.amount
    different = sorted(k for k, v in expected.items() if getattr(existing, k) != v)
    if different:
        raise Conflict(
            f"idempotency_key {request.idempotency_key!r} was used for a different transfer "
            f"(differs in {', '.join(different)})"
        )
