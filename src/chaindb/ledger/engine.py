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
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.errors import Conflict, InvalidInput, NotFound
from chaindb.ledger import statements
from chaindb.ledger.accounts import BURN, ISSUANCE, AccountKey, asset_ids, lock_accounts
from chaindb.ledger.requests import (
    InsufficientFunds,
    Item,
    PostRequest,
    Transfer,
    TransferItem,
    VoidRequest,
)
from chaindb.ledger.schema import ACCOUNT_COUNTERS, ledger_holds, ledger_transfers
from chaindb.types import UINT256_MAX, utc_now


class _Batch:
    """The accounts of one write, locked, and the rows it will insert."""

    def __init__(self, accounts: dict[int, dict[str, Any]], codes: dict[int, str]) -> None:
        self.accounts = accounts
        self.codes = codes
        self.changed: set[int] = set()
        self.system = {i for i, account in accounts.items() if account["owner_type"] == "system"}
        self.before = {i: [account[c] for c in ACCOUNT_COUNTERS] for i, account in accounts.items()}
        self.rows: list[dict[str, Any]] = []

    def move(self, debit_id: int, credit_id: int, amount: int, phase: str, held: int = 0) -> None:
        """Apply one transfer's effect on both accounts' counters (TigerBeetle's rules)."""
        debit, credit = self.accounts[debit_id], self.accounts[credit_id]
        if phase == "single":
            debit["debits_posted"] += amount
            credit["credits_posted"] += amount
            debit_available, credit_available = -amount, amount
        elif phase == "pending":
            debit["debits_pending"] += amount
            credit["credits_pending"] += amount
            debit_available, credit_available = -amount, 0
        else:  # post (amount <= held) or void (amount == 0): the hold ends either way
            debit["debits_pending"] -= held
            credit["credits_pending"] -= held
            debit["debits_posted"] += amount
            credit["credits_posted"] += amount
            debit_available, credit_available = held - amount, amount
        # `balance` (what is available) is kept only where overdraft is forbidden.
        if debit["balance"] is not None:
            debit["balance"] += debit_available
        if credit["balance"] is not None:
            credit["balance"] += credit_available
        debit_column, credit_column = _GROWN[phase]  # the only counters that can overflow
        for account, column in ((debit, debit_column), (credit, credit_column)):
            if account[column] > UINT256_MAX:
                raise Conflict(f"{column} of account {account['id']} would exceed 2**256 - 1")
        if amount and phase != "pending" and (debit_id in self.system or credit_id in self.system):
            self._net_figures(debit, credit, amount)
        debit["transfer_count"] += 1
        credit["transfer_count"] += 1
        self.changed.add(debit_id)
        self.changed.add(credit_id)

    def _net_figures(self, debit: dict[str, Any], credit: dict[str, Any], amount: int) -> None:
        """A transfer out of issuance issues (into burn, burns); a return to issuance undoes an
        issue (out of burn, a burn)."""
        if _is_system(debit, ISSUANCE):
            self._add(credit, "issued", amount)
        if _is_system(credit, ISSUANCE):
            self._take(debit, "issued", amount, "was issued")
        if _is_system(credit, BURN):
            self._add(debit, "burned", amount)
        if _is_system(debit, BURN):
            self._take(credit, "burned", amount, "was burned")

    def changed_counters(self) -> tuple[str, ...]:
        """The counters this write changed on some account: the ones to store."""
        return tuple(
            name
            for n, name in enumerate(ACCOUNT_COUNTERS)
            if any(self.accounts[i][name] != self.before[i][n] for i in self.changed)
        )

    def refuse_overdraft(
        self, debit_id: int, amount: int, has_expired_holds: Callable[[int], bool]
    ) -> None:
        debit = self.accounts[debit_id]
        if debit["balance"] is not None and debit["balance"] < 0:
            raise InsufficientFunds(
                f"{debit['owner_type']}:{debit['owner_id']}",
                self.codes.get(debit["asset_id"], f"asset {debit['asset_id']}"),
                debit["balance"] + amount,
                amount,
                debit["debits_pending"] > 0 and has_expired_holds(debit_id),
            )

    @staticmethod
    def _add(account: dict[str, Any], column: str, amount: int) -> None:
        account[column] += amount
        if account[column] > UINT256_MAX:
            raise Conflict(f"{column} of account {account['id']} would exceed 2**256 - 1")

    @staticmethod
    def _take(account: dict[str, Any], column: str, amount: int, what: str) -> None:
        if account[column] < amount:
            raise Conflict(
                f"account {account['owner_type']}:{account['owner_id']} would return {amount}, "
                f"more than {account[column]} that {what}"
            )
        account[column] -= amount


# The counters a transfer of each phase makes grow, on its debit and on its credit account.
_GROWN = {
    "single": ("debits_posted", "credits_posted"),
    "pending": ("debits_pending", "credits_pending"),
    "post": ("debits_posted", "credits_posted"),
    "void": ("debits_posted", "credits_posted"),  # by 0: a void posts nothing
}


def _is_system(account: dict[str, Any], name: str) -> bool:
    return account["owner_type"] == "system" and account["owner_id"] == name


def apply(conn: Connection, requests: list[Item], *, skip_resolved: bool) -> list[Transfer]:
    now = utc_now()
    singles = [r for r in requests if isinstance(r, TransferItem)]
    codes = asset_ids(conn, {r.asset for r in singles})
    pendings = _load_pending(
        conn, {r.pending_id for r in requests if not isinstance(r, TransferItem)}
    )
    accounts = lock_accounts(
        conn,
        {(codes[r.asset], key) for r in singles for key in (r.debit, r.credit)},
        {p[side] for p in pendings.values() for side in ("debit_account_id", "credit_account_id")},
    )
    ids_by_key = {
        (a["asset_id"], AccountKey(a["owner_type"], a["owner_id"])): i for i, a in accounts.items()
    }
    earlier = _by_idempotency_key(conn, {r.idempotency_key for r in requests if r.idempotency_key})
    holds = _lock_holds(conn, set(pendings))
    batch = _Batch(accounts, {asset_id: code for code, asset_id in codes.items()})
    planned: list[dict[str, Any] | Transfer] = []
    seen_keys: dict[str, dict[str, Any]] = {}
    has_expired_holds = functools.partial(_has_expired, conn, now=now)
    for request in requests:
        key = request.idempotency_key
        if key is not None and (key in earlier or key in seen_keys):
            planned.append(_repeated(request, earlier, seen_keys, ids_by_key, codes))
            continue
        if isinstance(request, TransferItem):
            row = _plan_single(request, batch, ids_by_key, codes, now, has_expired_holds)
        else:
            row = _plan_resolution(request, batch, pendings, holds, now, skip_resolved)
            if row is None:
                continue
        batch.rows.append(row)
        planned.append(row)
        if key is not None:
            seen_keys[key] = row
    _write(conn, batch, holds_ended=[r["pending_id"] for r in batch.rows if r["pending_id"]])
    # Rows built here from validated requests: no need to validate them again.
    return [item if isinstance(item, Transfer) else Transfer.of(item) for item in planned]


def _repeated(
    request: Item,
    earlier: dict[str, Transfer],
    seen_keys: dict[str, dict[str, Any]],
    ids_by_key: dict[tuple[int, AccountKey], int],
    codes: dict[str, int],
) -> dict[str, Any] | Transfer:
    """A request whose idempotency key is taken, stored before or earlier in this write: what
    was written under the key (and an error if the request asks for something else)."""
    key = request.idempotency_key
    if key in earlier:
        _refuse_different(request, earlier[key], ids_by_key, codes)
        return earlier[key]
    row = seen_keys[key]
    _refuse_different(request, Transfer.of(row | {"id": 0}), ids_by_key, codes)
    return row


def _plan_single(
    request: TransferItem,
    batch: _Batch,
    ids_by_key: dict[tuple[int, AccountKey], int],
    codes: dict[str, int],
    now: datetime,
    has_expired_holds: Callable[[int], bool],
) -> dict[str, Any]:
    asset_id = codes[request.asset]
    debit_id = ids_by_key[(asset_id, request.debit)]
    credit_id = ids_by_key[(asset_id, request.credit)]
    if debit_id == credit_id:
        raise InvalidInput("credit", str(request.credit), "must differ from debit")
    if request.expires_at is not None and not request.pending:
        raise InvalidInput("expires_at", request.expires_at, "only a pending transfer expires")
    phase = "pending" if request.pending else "single"
    batch.move(debit_id, credit_id, request.amount, phase)
    batch.refuse_overdraft(debit_id, request.amount, has_expired_holds)
    return {
        "asset_id": asset_id,
        "debit_account_id": debit_id,
        "credit_account_id": credit_id,
        "amount": request.amount,
        "kind": request.kind,
        "phase": phase,
        "pending_id": None,
        "expires_at": request.expires_at,
        "idempotency_key": request.idempotency_key,
        "reason": request.reason,
        "challenge_id": request.challenge_id,
        "chain_tx_hash": request.chain_tx_hash,
        "created_at": now,  # the write's time, as PostgreSQL's now() is the transaction's
    }


def _plan_resolution(
    request: PostRequest | VoidRequest,
    batch: _Batch,
    pendings: dict[int, dict[str, Any]],
    holds: dict[int, dict[str, Any]],
    now: datetime,
    skip_resolved: bool,
) -> dict[str, Any] | None:
    pending = pendings[request.pending_id]
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
    return {
        "asset_id": pending["asset_id"],
        "debit_account_id": pending["debit_account_id"],
        "credit_account_id": pending["credit_account_id"],
        "amount": amount if phase == "post" else held,
        "kind": request.kind,
        "phase": phase,
        "pending_id": request.pending_id,
        "expires_at": None,
        "idempotency_key": request.idempotency_key,
        "reason": request.reason,
        "challenge_id": pending["challenge_id"],
        "chain_tx_hash": request.chain_tx_hash,
        "created_at": now,
    }


def _write(conn: Connection, batch: _Batch, holds_ended: list[int]) -> None:
    if not batch.rows:
        return
    accounts = [batch.accounts[account_id] for account_id in sorted(batch.changed)]
    counters = batch.changed_counters()
    if len(batch.rows) == 1:
        statements.insert_one(conn, batch.rows[0], accounts, counters)
    else:
        statements.insert_many(conn, batch.rows, accounts, counters)
    new_holds = [
        {
            "transfer_id": row["id"],
            "debit_account_id": row["debit_account_id"],
            "credit_account_id": row["credit_account_id"],
            "amount": row["amount"],
            "expires_at": row["expires_at"],
        }
        for row in batch.rows
        if row["phase"] == "pending"
    ]
    if new_holds:
        conn.execute(statements.INSERT_HOLDS, new_holds)
    if holds_ended:
        conn.execute(statements.END_HOLDS, {"ids": holds_ended})


def _load_pending(conn: Connection, pending_ids: set[int]) -> dict[int, dict[str, Any]]:
    if not pending_ids:
        return {}
    rows = conn.execute(
        sa.select(ledger_transfers).where(ledger_transfers.c.id.in_(pending_ids))
    ).mappings()
    found = {row["id"]: dict(row) for row in rows}
    for pending_id in sorted(pending_ids):
        if pending_id not in found:
            raise NotFound(f"pending_id: transfer {pending_id} does not exist")
        if found[pending_id]["phase"] != "pending":
            raise InvalidInput("pending_id", pending_id, "is not a pending transfer")
    return found


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
