"""Transfers: single, two-phase (pending -> post | void) and batches, exact and idempotent.

One write, whatever its size, is one transaction doing a fixed number of statements: lock the
accounts it touches (one SELECT ... ORDER BY id FOR UPDATE, so writers never deadlock on each
other), look up its idempotency keys, insert the transfers, update the accounts' counters.
A balance is never recomputed from history on this path. On PostgreSQL a deadlock or a lost
race on a unique key is retried whole (bounded); on SQLite BEGIN IMMEDIATE makes one writer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

import sqlalchemy as sa
from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from chaindb.database import Database, reading, writing
from chaindb.errors import ChaindbError, Conflict, InvalidInput, NotFound
from chaindb.ledger.accounts import BURN, ISSUANCE, AccountKey, asset_ids, lock_accounts
from chaindb.ledger.schema import (
    ACCOUNT_COUNTERS,
    IDEMPOTENCY_KEY_LENGTH,
    TRANSFER_KINDS,
    ledger_accounts,
    ledger_holds,
    ledger_transfers,
)
from chaindb.types import UINT256_MAX, RowId, TxHash, UtcDatetime, amount_rule, utc_now
from chaindb.validation import Input, validated

RETRIES_MAX = 5
BATCH_SIZE_MAX = 10_000
EXPIRED_HOLDS_PER_SWEEP_MAX = 1_000
_RETRYABLE_SQLSTATES = {"40P01", "40001"}  # deadlock, serialization failure
_RETRYABLE_UNIQUE = {
    "uq_ledger_transfers_idempotency_key",
    "uq_ledger_accounts_owner",
    "uq_ledger_transfers_resolve_once",
}

Kind = Literal[TRANSFER_KINDS]  # type: ignore[valid-type]
PositiveAmount = Annotated[int, BeforeValidator(amount_rule), Field(gt=0)]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=IDEMPOTENCY_KEY_LENGTH)]
Reason = Annotated[str, StringConstraints(max_length=1000)]


def _account_rule(value: object) -> AccountKey:
    try:
        return AccountKey.parse(value)
    except InvalidInput as error:
        raise ValueError(error.rule) from None


AccountRef = Annotated[AccountKey, BeforeValidator(_account_rule)]


class InsufficientFunds(ChaindbError):
    """A transfer would take an account that forbids overdraft below zero. Nothing was written."""

    def __init__(
        self, account: str, asset: str, available: int, amount: int, expired: bool
    ) -> None:
        self.account = account
        self.available = available
        self.amount = amount
        self.expired_holds = expired
        super().__init__(
            f"insufficient funds: {account} has {available} {asset} available, "
            f"the transfer needs {amount}"
        )


class TransferRequest(Input):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    debit: AccountRef
    credit: AccountRef
    amount: PositiveAmount
    kind: Kind
    asset: Annotated[str, StringConstraints(min_length=1, max_length=120)] = "points"
    pending: bool = False
    expires_at: UtcDatetime | None = None
    idempotency_key: IdempotencyKey | None = None
    reason: Reason | None = None
    challenge_id: RowId | None = None
    chain_tx_hash: TxHash | None = None


class PostRequest(Input):
    pending_id: RowId
    amount: PositiveAmount | None = None
    kind: Kind = "released_escrow"
    idempotency_key: IdempotencyKey | None = None
    reason: Reason | None = None
    chain_tx_hash: TxHash | None = None


class VoidRequest(Input):
    pending_id: RowId
    kind: Kind = "refunded"
    idempotency_key: IdempotencyKey | None = None
    reason: Reason | None = None
    chain_tx_hash: TxHash | None = None


Request = TransferRequest | PostRequest | VoidRequest
_REQUEST_TYPES: dict[str, type[Request]] = {
    "transfer": TransferRequest,
    "post": PostRequest,
    "void": VoidRequest,
}


@dataclass(frozen=True, slots=True)
class Transfer:
    """One immutable ledger entry. (A dataclass, not a pydantic model: batches make thousands.)"""

    id: int
    asset_id: int
    debit_account_id: int
    credit_account_id: int
    amount: int
    kind: str
    phase: str
    pending_id: int | None
    expires_at: datetime | None
    idempotency_key: str | None
    reason: str | None
    challenge_id: int | None
    chain_tx_hash: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Transfer:
        return cls(**{name: row[name] for name in _TRANSFER_FIELDS})


_TRANSFER_FIELDS = tuple(field.name for field in dataclasses.fields(Transfer))


def transfer(target: Database | Connection, **fields: Any) -> Transfer:
    """Move `amount` of `asset` from `debit` to `credit` ('user:<id>' or 'system:<name>').
    With pending=True the amount is only held (post_pending or void_pending settles it).
    Repeating an idempotency_key returns the first transfer and changes nothing."""
    return run(target, [validated(TransferRequest, **fields)])[0]


def post_pending(target: Database | Connection, pending_id: int, **fields: Any) -> Transfer:
    """Settle a hold: the held amount (or `amount`, less, releasing the rest) moves for good."""
    return run(target, [validated(PostRequest, pending_id=pending_id, **fields)])[0]


def void_pending(target: Database | Connection, pending_id: int, **fields: Any) -> Transfer:
    """Release a hold: nothing moves, the held amount is available again."""
    return run(target, [validated(VoidRequest, pending_id=pending_id, **fields)])[0]


def transfer_batch(
    target: Database | Connection, requests: Iterable[Request | Mapping[str, Any]]
) -> list[Transfer]:
    """Many transfers in one transaction: all are written or none. A mapping's `action` is
    'transfer' (default), 'post' or 'void'; its other keys are that call's arguments."""
    parsed = [_parse_request(index, item) for index, item in enumerate(requests)]
    if len(parsed) > BATCH_SIZE_MAX:
        raise InvalidInput("requests", len(parsed), f"at most {BATCH_SIZE_MAX} per batch")
    return run(target, parsed) if parsed else []


def get_transfer(target: Database | Connection, transfer_id: int) -> Transfer | None:
    with reading(target) as conn:
        row = conn.execute(
            sa.select(ledger_transfers).where(ledger_transfers.c.id == transfer_id)
        ).first()
    return None if row is None else Transfer.of(row._mapping)


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


# --- the engine -------------------------------------------------------------------------------

T = TypeVar("T")


def run(
    target: Database | Connection, requests: list[Request], *, skip_resolved: bool = False
) -> list[Transfer]:
    """Apply `requests` in one transaction; with a Database, retry transient failures whole."""
    if not isinstance(target, Database):
        with writing(target) as conn:
            return _apply(conn, requests, skip_resolved=skip_resolved)

    def attempt() -> list[Transfer]:
        with target.transaction() as conn:
            return _apply(conn, requests, skip_resolved=skip_resolved)

    # SQLite's single writer cannot deadlock: only PostgreSQL needs the retries.
    once = with_retries if target.backend == "postgresql" else _call
    try:
        return once(attempt)
    except InsufficientFunds as error:
        if not error.expired_holds:
            raise
    # The account has holds past their expiry still counted: void them, then try once more.
    expire_holds(target)
    return once(attempt)


def _call(action: Callable[[], T]) -> T:
    return action()


def with_retries(action: Callable[[], T]) -> T:
    retrying = Retrying(
        retry=retry_if_exception(_is_transient),
        stop=stop_after_attempt(RETRIES_MAX),
        wait=wait_random_exponential(multiplier=0.01, max=0.5),
        reraise=True,
    )
    return retrying(action)


def _is_transient(error: BaseException) -> bool:
    if not isinstance(error, DBAPIError):
        return False
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return True
    diag = getattr(error.orig, "diag", None)
    return sqlstate == "23505" and getattr(diag, "constraint_name", None) in _RETRYABLE_UNIQUE


def _parse_request(index: int, item: Request | Mapping[str, Any]) -> Request:
    if isinstance(item, TransferRequest | PostRequest | VoidRequest):
        return item
    fields = dict(item)
    action = fields.pop("action", "transfer")
    if action not in _REQUEST_TYPES:
        raise InvalidInput(f"requests[{index}].action", action, "must be transfer, post or void")
    try:
        return validated(_REQUEST_TYPES[action], **fields)
    except InvalidInput as error:
        raise InvalidInput(f"requests[{index}].{error.field}", error.value, error.rule) from None


class _Batch:
    """The accounts of one write, locked, and the rows it will insert."""

    def __init__(self, accounts: dict[int, dict[str, Any]], codes: dict[int, str]) -> None:
        self.accounts = accounts
        self.codes = codes
        self.changed: set[int] = set()
        self.rows: list[dict[str, Any]] = []

    def move(self, debit_id: int, credit_id: int, amount: int, phase: str, held: int = 0) -> None:
        """Apply one transfer's effect on both accounts' counters (TigerBeetle's rules)."""
        debit, credit = self.accounts[debit_id], self.accounts[credit_id]
        if phase == "single":
            self._add(debit, "debits_posted", amount)
            self._add(credit, "credits_posted", amount)
            self._shift_balance(debit, -amount)
            self._shift_balance(credit, amount)
        elif phase == "pending":
            self._add(debit, "debits_pending", amount)
            self._add(credit, "credits_pending", amount)
            self._shift_balance(debit, -amount)
        else:  # post (amount <= held) or void (amount == 0): the hold ends either way
            self._add(debit, "debits_pending", -held)
            self._add(credit, "credits_pending", -held)
            self._add(debit, "debits_posted", amount)
            self._add(credit, "credits_posted", amount)
            self._shift_balance(debit, held - amount)
            self._shift_balance(credit, amount)
        if amount and phase in ("single", "post"):
            # Net figures: a return to issuance (or out of burn) undoes an issue (or a burn).
            if _is_system(debit, ISSUANCE):
                self._add(credit, "issued", amount)
            if _is_system(credit, ISSUANCE):
                self._take(debit, "issued", amount, "was issued")
            if _is_system(credit, BURN):
                self._add(debit, "burned", amount)
            if _is_system(debit, BURN):
                self._take(credit, "burned", amount, "was burned")
        for account in (debit, credit):
            account["transfer_count"] += 1
            self.changed.add(account["id"])

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

    @staticmethod
    def _shift_balance(account: dict[str, Any], amount: int) -> None:
        if account["balance"] is not None:
            account["balance"] += amount


def _is_system(account: dict[str, Any], name: str) -> bool:
    return account["owner_type"] == "system" and account["owner_id"] == name


def _apply(conn: Connection, requests: list[Request], *, skip_resolved: bool) -> list[Transfer]:
    now = utc_now()
    singles = [r for r in requests if isinstance(r, TransferRequest)]
    codes = asset_ids(conn, {r.asset for r in singles})
    pendings = _load_pending(
        conn, {r.pending_id for r in requests if not isinstance(r, TransferRequest)}
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
    planned: list[tuple[Request, dict[str, Any] | Transfer]] = []
    seen_keys: dict[str, dict[str, Any]] = {}
    for request in requests:
        if request.idempotency_key in earlier:
            existing = earlier[request.idempotency_key]
            _refuse_different(request, existing, ids_by_key, codes)
            planned.append((request, existing))
            continue
        if request.idempotency_key in seen_keys:
            row = seen_keys[request.idempotency_key]
            _refuse_different(request, Transfer.of(row | {"id": 0}), ids_by_key, codes)
            planned.append((request, row))
            continue
        if isinstance(request, TransferRequest):
            row = _plan_single(
                request, batch, ids_by_key, codes, lambda a: _has_expired(conn, a, now)
            )
        else:
            row = _plan_resolution(request, batch, pendings, holds, now, skip_resolved)
            if row is None:
                continue
        batch.rows.append(row)
        planned.append((request, row))
        if request.idempotency_key:
            seen_keys[request.idempotency_key] = row
    _write(conn, batch, holds_ended=[r["pending_id"] for r in batch.rows if r["pending_id"]])
    # Rows built here from validated requests: no need to validate them again.
    return [item if isinstance(item, Transfer) else Transfer(**item) for _r, item in planned]


def _plan_single(
    request: TransferRequest,
    batch: _Batch,
    ids_by_key: dict[tuple[int, AccountKey], int],
    codes: dict[str, int],
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
        "created_at": utc_now(),
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


# Built once: every write runs them.
_INSERT_TRANSFERS = sa.insert(ledger_transfers)
_INSERT_HOLDS = sa.insert(ledger_holds)
_END_HOLDS = sa.delete(ledger_holds).where(
    ledger_holds.c.transfer_id.in_(sa.bindparam("ids", expanding=True))
)
_UPDATE_ACCOUNT = (
    sa.update(ledger_accounts)
    .where(ledger_accounts.c.id == sa.bindparam("account_id"))
    .values(
        {name: sa.bindparam(name) for name in ACCOUNT_COUNTERS}
        | {"updated_at": sa.bindparam("now")}
    )
)
_BY_KEY = sa.select(ledger_transfers).where(
    ledger_transfers.c.idempotency_key.in_(sa.bindparam("keys", expanding=True))
)
_NEXT_IDS = {
    # Sequence values, taken up front so the inserts need no RETURNING round trip.
    "postgresql": sa.text(
        "SELECT nextval(pg_get_serial_sequence('ledger_transfers', 'id')) "
        "FROM generate_series(1, :n)"
    ),
    # The transaction holds SQLite's only write lock: nobody else can take these ids.
    "sqlite": sa.text("SELECT coalesce(max(id), 0) FROM ledger_transfers"),
}


def _allocate_ids(conn: Connection, count: int) -> list[int]:
    if conn.dialect.name == "postgresql":
        return sorted(conn.execute(_NEXT_IDS["postgresql"], {"n": count}).scalars())
    last = conn.execute(_NEXT_IDS["sqlite"]).scalar_one()
    return list(range(last + 1, last + 1 + count))


def _write(conn: Connection, batch: _Batch, holds_ended: list[int]) -> None:
    if not batch.rows:
        return
    if len(batch.rows) == 1:  # the insert reports its own id: one statement fewer
        (row,) = batch.rows
        row["id"] = conn.execute(_INSERT_TRANSFERS, row).inserted_primary_key[0]
    else:
        for row, transfer_id in zip(batch.rows, _allocate_ids(conn, len(batch.rows)), strict=True):
            row["id"] = transfer_id
        conn.execute(_INSERT_TRANSFERS, batch.rows)
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
        conn.execute(_INSERT_HOLDS, new_holds)
    if holds_ended:
        conn.execute(_END_HOLDS, {"ids": holds_ended})
    now = utc_now()
    conn.execute(
        _UPDATE_ACCOUNT,
        [
            {"account_id": account_id, "now": now}
            | {name: batch.accounts[account_id][name] for name in ACCOUNT_COUNTERS}
            for account_id in sorted(batch.changed)
        ],
    )


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
    rows = conn.execute(_BY_KEY, {"keys": list(wanted)})
    return {row.idempotency_key: Transfer.of(row._mapping) for row in rows}


def _refuse_different(
    request: Request,
    existing: Transfer,
    ids_by_key: dict[tuple[int, AccountKey], int],
    codes: dict[str, int],
) -> None:
    """The same idempotency key with a different payload is an error, not a silent success."""
    if isinstance(request, TransferRequest):
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
