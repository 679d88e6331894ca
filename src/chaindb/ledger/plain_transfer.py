"""PostgreSQL: a plain transfer in one statement, the common case of the single-transfer path.

The engine takes two round trips for one transfer: it locks the accounts and reads their
counters, decides in Python, then writes. For a plain transfer (one phase, between two
accounts that exist, neither of them issuance or burn) the decision is one comparison, which
the server can make itself. So this path sends one statement, on its own (autocommit: one
round trip, one server transaction), that locks both accounts in id order (as the engine does:
writers never deadlock on each other), and only when both are there and the debit's balance
suffices adds the amount to their counters in place and inserts the transfer: both accounts
move, or nothing does.

Anything else falls back to the engine, in a new transaction: a request this path does not
take, a statement that moved fewer than both accounts (an account or asset missing, funds
short) or one the database refused (a counter past 2**256 - 1, an idempotency key taken). The
engine then does the write or raises its error, worded as always. The outcome is the engine's
in every case; only the number of round trips differs.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from chaindb.database import Database
from chaindb.driver import LibpqStatement
from chaindb.ledger.accounts import BURN, ISSUANCE, AccountKey
from chaindb.ledger.requests import Item, Transfer, TransferItem
from chaindb.ledger.schema import ledger_accounts, ledger_transfers
from chaindb.ledger.statements import OPTIONAL_COLUMNS
from chaindb.types import utc_now

# The accounts whose transfers also change their net figures (`issued`, `burned`): the engine's.
_NET_FIGURE_ACCOUNTS = frozenset({AccountKey("system", ISSUANCE), AccountKey("system", BURN)})

_MOVE_AND_INSERT = """
WITH locked AS (
    SELECT id, (owner_type = :debit_type AND owner_id = :debit_owner) AS is_debit, balance
    FROM ledger_accounts
    WHERE asset_id = (SELECT id FROM ledger_assets WHERE code = :asset)
      AND ((owner_type = :debit_type AND owner_id = :debit_owner)
        OR (owner_type = :credit_type AND owner_id = :credit_owner))
    ORDER BY id
    FOR UPDATE
), ready AS (
    SELECT count(*) = 2 AND bool_and(NOT is_debit OR balance IS NULL OR balance >= :amount)
        AS both_move
    FROM locked
), moved AS (
    UPDATE ledger_accounts AS a SET
        debits_posted = a.debits_posted + CASE WHEN l.is_debit THEN :amount ELSE 0 END,
        credits_posted = a.credits_posted + CASE WHEN l.is_debit THEN 0 ELSE :amount END,
        balance = a.balance + CASE WHEN l.is_debit THEN -:amount ELSE :amount END,
        transfer_count = a.transfer_count + 1,
        updated_at = :now
    FROM locked AS l
    WHERE a.id = l.id AND (SELECT both_move FROM ready)
    RETURNING a.id, a.asset_id, l.is_debit
)
INSERT INTO ledger_transfers
    (asset_id, debit_account_id, credit_account_id, amount, kind, phase, created_at{columns})
SELECT d.asset_id, d.id, c.id, :amount, :kind, 'single', :now{values}
FROM moved AS d JOIN moved AS c ON d.is_debit AND NOT c.is_debit
RETURNING id, asset_id, debit_account_id, credit_account_id
"""


def takes(database: Database, requests: list[Item]) -> TransferItem | None:
    """The request, if this path can write it: one plain transfer, on PostgreSQL."""
    if database.backend != "postgresql" or len(requests) != 1:
        return None
    request = requests[0]
    plain = (
        isinstance(request, TransferItem)
        and not request.pending
        and request.expires_at is None
        and request.debit != request.credit
        and request.debit not in _NET_FIGURE_ACCOUNTS
        and request.credit not in _NET_FIGURE_ACCOUNTS
    )
    return request if plain else None


def try_transfer(database: Database, request: TransferItem) -> Transfer | None:
    """Write `request` in one statement and transaction; None when the engine must (nothing
    is left written then)."""
    # The optional columns this request sets (a plain transfer has no pending_id or expires_at);
    # most set none.
    columns = () if request[_OPTIONAL] == _UNSET else _columns_set(request)
    now = utc_now()
    params = {
        "debit_type": request.debit.owner_type,
        "debit_owner": request.debit.owner_id,
        "credit_type": request.credit.owner_type,
        "credit_owner": request.credit.owner_id,
        "asset": request.asset,
        "amount": request.amount,
        "kind": request.kind,
        "now": now,
    }
    for name in columns:
        params[f"t_{name}"] = request[_FIELD[name]]
    statement = _statement(database.engine.dialect, columns)
    try:
        # One statement is one transaction: sent alone (outside a transaction block), it is one
        # round trip where BEGIN, the statement and COMMIT were three. It moves both accounts
        # or none.
        pooled = database.raw_connection()
        try:
            stored = statement.first_row(pooled, params, prepare=not database.settings.pooled)
        finally:
            database.give_back_raw(pooled)
    except IntegrityError:
        return None
    if stored is None:
        return None
    transfer_id, asset_id, debit_id, credit_id = map(int, stored)  # type: ignore[arg-type]
    # The values in Transfer's field order, straight into the tuple (as the engine builds it).
    return _transfer_of_values(
        (
            transfer_id,
            asset_id,
            debit_id,
            credit_id,
            request.amount,
            request.kind,
            "single",
            None,  # pending_id
            None,  # expires_at
            request.idempotency_key,
            request.reason,
            request.challenge_id,
            request.chain_tx_hash,
            now,
        )
    )


_transfer_of_values = functools.partial(tuple.__new__, Transfer)
# The optional columns a plain transfer may set (the others are a hold's), and where a request
# holds each: its last fields.
_REQUEST_COLUMNS = tuple(name for name in OPTIONAL_COLUMNS if name in TransferItem._fields)
_FIELD = {name: TransferItem._fields.index(name) for name in _REQUEST_COLUMNS}
_OPTIONAL = slice(min(_FIELD.values()), None)
_UNSET = (None,) * len(_FIELD)
assert TransferItem._fields[_OPTIONAL] == _REQUEST_COLUMNS


def _columns_set(request: TransferItem) -> tuple[str, ...]:
    return tuple(name for name in _REQUEST_COLUMNS if request[_FIELD[name]] is not None)


@functools.lru_cache(maxsize=32)
def _statement(dialect: sa.Dialect, columns: tuple[str, ...]) -> LibpqStatement:
    sql = _MOVE_AND_INSERT.format(
        columns="".join(f", {name}" for name in columns),
        values="".join(f", :t_{name}" for name in columns),
    )
    t, a = ledger_transfers.c, ledger_accounts.c
    binds = [
        sa.bindparam("amount", type_=t.amount.type),
        sa.bindparam("kind", type_=t.kind.type),
        sa.bindparam("now", type_=a.updated_at.type),
        *(sa.bindparam(f"t_{name}", type_=t[name].type) for name in columns),
    ]
    name = "chaindb_plain_transfer" + "".join(f"_{name}" for name in columns)
    return LibpqStatement(sa.text(sql).bindparams(*binds), dialect, name)
