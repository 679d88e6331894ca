"""Finding transfers by their keys, and undoing them with compensating transfers.

Transfers are immutable: a transfer is undone by a new one in the other direction, between the
same accounts, of the same asset and amount. Which accounts is read from the stored transfer,
never parsed back out of its idempotency key (a user id may contain ':').
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.database import Database, reading, writing
from chaindb.errors import InvalidInput
from chaindb.ledger.accounts import account_keys, get_asset
from chaindb.ledger.requests import Kind, Request, Transfer, TransferRequest, VoidRequest
from chaindb.ledger.schema import IDEMPOTENCY_KEY_LENGTH, ledger_transfers
from chaindb.ledger.transfers import get_hold_states, run

UNDO_KEY_PREFIX = "undo:"
FOUND_TRANSFERS_MAX = 10_000  # one reversal is one transaction: keep it bounded
KEYS_PER_QUERY_MAX = 500


def find_transfers(
    target: Database | Connection,
    *,
    keys: Sequence[str] | None = None,
    key_prefix: str | None = None,
    challenge_id: int | None = None,
) -> list[Transfer]:
    """Transfers with one of `keys`, or whose idempotency key starts with `key_prefix`
    (matched exactly: case and the characters % and _ included), or tied to `challenge_id`;
    the filters given are combined. Oldest first. A prefix alone reads the whole table: give
    `challenge_id` or `keys` too where you can (both are indexed)."""
    if keys is None and key_prefix is None and challenge_id is None:
        raise InvalidInput("keys", None, "give keys, key_prefix or challenge_id")
    t = ledger_transfers
    query = sa.select(t).order_by(t.c.id).limit(FOUND_TRANSFERS_MAX + 1)
    if key_prefix is not None:
        if not key_prefix:
            raise InvalidInput("key_prefix", key_prefix, "must not be empty")
        # substr, not LIKE: SQLite's LIKE ignores case, and both treat % and _ as wildcards.
        query = query.where(sa.func.substr(t.c.idempotency_key, 1, len(key_prefix)) == key_prefix)
    if challenge_id is not None:
        query = query.where(t.c.challenge_id == challenge_id)
    with reading(target) as conn:
        if keys is None:
            rows = conn.execute(query).mappings().all()
        else:
            rows = [
                row
                for start in range(0, len(keys), KEYS_PER_QUERY_MAX)
                for row in conn.execute(
                    query.where(t.c.idempotency_key.in_(keys[start : start + KEYS_PER_QUERY_MAX]))
                ).mappings()
            ]
    if len(rows) > FOUND_TRANSFERS_MAX:
        raise InvalidInput("key_prefix", key_prefix, f"matches more than {FOUND_TRANSFERS_MAX}")
    return sorted((Transfer.of(row) for row in rows), key=lambda transfer: transfer.id)


def reverse(
    target: Database | Connection,
    *,
    keys: Sequence[str] | None = None,
    key_prefix: str | None = None,
    challenge_id: int | None = None,
    reason: str,
    kind: Kind = "adjustment",
) -> list[Transfer]:
    """Undo the transfers `find_transfers` selects, newest first, in one transaction: what a
    transfer or a post moved goes back by a compensating transfer (`kind`, `reason`), a hold
    still open is voided; voids, and holds already posted or voided, changed nothing left to
    undo. Each compensation is keyed 'undo:<key>', so reversing again writes nothing more.
    Returns the compensating transfers and voids."""
    with writing(target) as conn:
        found = find_transfers(conn, keys=keys, key_prefix=key_prefix, challenge_id=challenge_id)
        requests = _compensations(conn, list(reversed(found)), reason=reason, kind=kind)
        return run(conn, requests) if requests else []


def undo_key(transfer: Transfer) -> str:
    """The compensation's idempotency key: 'undo:' + the transfer's key (hashed if too long)."""
    key = transfer.idempotency_key or f"transfer:{transfer.id}"
    undo = UNDO_KEY_PREFIX + key
    if len(undo) <= IDEMPOTENCY_KEY_LENGTH:
        return undo
    return f"{UNDO_KEY_PREFIX}sha256:{hashlib.sha256(key.encode()).hexdigest()}"


def _compensations(
    conn: Connection, newest_first: list[Transfer], *, reason: str, kind: Kind
) -> list[Request]:
    ids = {t.debit_account_id for t in newest_first} | {t.credit_account_id for t in newest_first}
    names = account_keys(conn, ids)
    codes = {
        asset: get_asset(conn, asset_id=asset).code for asset in {t.asset_id for t in newest_first}
    }
    holds = get_hold_states(conn, [t.id for t in newest_first if t.phase == "pending"])
    open_holds = {hold for hold, state in holds.items() if state.open}
    requests: list[Request] = []
    for transfer in newest_first:
        if transfer.phase in ("single", "post"):
            requests.append(
                TransferRequest(
                    asset=codes[transfer.asset_id],
                    debit=names[transfer.credit_account_id],
                    credit=names[transfer.debit_account_id],
                    amount=transfer.amount,
                    kind=kind,
                    reason=reason,
                    challenge_id=transfer.challenge_id,
                    idempotency_key=undo_key(transfer),
                )
            )
        elif transfer.id in open_holds:
            requests.append(
                VoidRequest(
                    pending_id=transfer.id,
                    kind=kind,
                    reason=reason,
                    idempotency_key=undo_key(transfer),
                )
            )
    return requests
