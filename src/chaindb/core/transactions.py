"""Blockchain transactions the application sent, and what became of them.

Status moves pending -> success | failed | dropped | replaced. A reorg may send a mined
transaction back to pending; a dropped one may be seen again (pending) or found replaced.
Every update is one indexed row lookup: (chain_id, transaction_hash) is unique.
"""

# No `from __future__ import annotations` here: evaluated annotations let help() and
# inspect.signature() show the values a Literal parameter allows (status).

from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from chaindb.core.schema import blockchain_transactions as txs
from chaindb.core.users import require_user
from chaindb.database import Database, reading, writing
from chaindb.errors import Conflict, InvalidInput, NotFound
from chaindb.text import RAW_TRANSACTION_CHARS_MAX, Message, UserId, parse_user_id, spelled
from chaindb.types import (
    Address,
    Amount,
    BlockNumber,
    ChainId,
    Hash32,
    RowId,
    Slug,
    TxHash,
    UtcDatetime,
    amount_sum,
    parse_chain_id,
    parse_tx_hash,
    parse_utc,
    utc_now,
)
from chaindb.validation import Input, Row, parse_limit, validated

TxStatus = Literal["pending", "success", "failed", "dropped", "replaced"]
ALLOWED_MOVES: dict[str, frozenset[str]] = {
    "pending": frozenset({"success", "failed", "dropped", "replaced"}),
    "success": frozenset({"pending"}),  # reorg: its block left the canonical chain
    "failed": frozenset({"pending"}),  # reorg
    "dropped": frozenset({"pending", "replaced"}),  # seen again, or its nonce was reused
    "replaced": frozenset(),
}
MINED = frozenset({"success", "failed"})
RECENT_LIMIT_MAX = 1000
# Fields whose difference means a second log of the same hash is a different transaction.
_IDENTITY_FIELDS = ("transaction_type", "from_address", "to_address", "value_wei", "nonce")
# The signed transaction as sent: whole bytes in hex, at most RAW_TRANSACTION_BYTES_MAX.
RawTransaction = spelled(
    r"^0x([0-9a-fA-F]{2})+$",
    "must be 0x followed by the transaction's bytes in hex (two digits a byte)",
    max_length=RAW_TRANSACTION_CHARS_MAX,
)


class NewTransaction(Input):
    chain_id: ChainId
    transaction_hash: TxHash
    transaction_type: Slug
    contract_address: Address | None = None
    from_address: Address | None = None
    to_address: Address | None = None
    value_wei: Amount = 0
    nonce: BlockNumber | None = None
    gas_price_wei: Amount | None = None
    user_id: UserId | None = None
    challenge_id: RowId | None = None
    created_at: UtcDatetime | None = None
    raw_transaction: RawTransaction | None = None


class StatusUpdate(Input):
    status: TxStatus
    block_number: BlockNumber | None = None
    block_hash: Hash32 | None = None
    gas_used: BlockNumber | None = None
    gas_price_wei: Amount | None = None
    effective_gas_price_wei: Amount | None = None
    error_message: Message | None = None
    replaced_by_hash: TxHash | None = None


class BlockchainTransaction(Row):
    id: int
    chain_id: str
    transaction_hash: str
    transaction_type: str
    contract_address: str | None
    from_address: str | None
    to_address: str | None
    value_wei: int
    nonce: int | None
    gas_used: int | None
    gas_price_wei: int | None
    status: str
    replaced_by_hash: str | None
    block_number: int | None
    block_hash: str | None
    error_message: str | None
    user_id: str | None
    challenge_id: int | None
    created_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None
    raw_transaction: str | None = None
    effective_gas_price_wei: int | None = None
    confirmations: int | None = None
    is_final: bool = False
    finalized_at: datetime | None = None
    last_seen_at: datetime | None = None


def log_blockchain_transaction(
    target: Database | Connection,
    *,
    chain_id: int | str,
    transaction_hash: str,
    transaction_type: str,
    contract_address: str | None = None,
    from_address: str | None = None,
    to_address: str | None = None,
    value_wei: int = 0,
    nonce: int | None = None,
    gas_price_wei: int | None = None,
    user_id: str | None = None,
    challenge_id: int | None = None,
    created_at: datetime | None = None,
    raw_transaction: str | None = None,
) -> BlockchainTransaction:
    """Record a sent transaction as pending. Logging the same hash again returns the first row;
    the same hash with a different sender, nonce, value or type is a Conflict."""
    new = validated(
        NewTransaction,
        chain_id=chain_id,
        transaction_hash=transaction_hash,
        transaction_type=transaction_type,
        contract_address=contract_address,
        from_address=from_address,
        to_address=to_address,
        value_wei=value_wei,
        nonce=nonce,
        gas_price_wei=gas_price_wei,
        user_id=user_id,
        challenge_id=challenge_id,
        created_at=created_at,
        raw_transaction=raw_transaction,
    )
    values = new.model_dump(exclude_none=True)
    with writing(target) as conn:
        if new.user_id is not None:
            require_user(conn, new.user_id)
        existing = _find(conn, new.chain_id, new.transaction_hash)
        if existing is None:
            try:
                with conn.begin_nested():
                    row = conn.execute(txs.insert().values(**values).returning(txs)).one()
                return BlockchainTransaction.model_validate(row)
            except IntegrityError:
                existing = _find(conn, new.chain_id, new.transaction_hash)
                if existing is None:
                    raise
    _refuse_different(existing, values)
    return existing


def update_blockchain_transaction_status(
    target: Database | Connection,
    transaction_hash: str,
    status: TxStatus,
    *,
    chain_id: int | str | None = None,
    block_number: int | None = None,
    block_hash: str | None = None,
    gas_used: int | None = None,
    gas_price_wei: int | None = None,
    effective_gas_price_wei: int | None = None,
    error_message: str | None = None,
    replaced_by_hash: str | None = None,
) -> BlockchainTransaction:
    """Move a transaction to `status` with what the receipt says. Repeating an update is a
    no-op."""
    update = validated(
        StatusUpdate,
        status=status,
        block_number=block_number,
        block_hash=block_hash,
        gas_used=gas_used,
        gas_price_wei=gas_price_wei,
        effective_gas_price_wei=effective_gas_price_wei,
        error_message=error_message,
        replaced_by_hash=replaced_by_hash,
    )
    tx_hash = parse_tx_hash(transaction_hash)
    with writing(target) as conn:
        current = _find_for_update(conn, tx_hash, chain_id)
        values = _status_values(current, update)
        if not values:
            return current
        row = conn.execute(
            txs.update().where(txs.c.id == current.id).values(**values).returning(txs)
        ).one()
    return BlockchainTransaction.model_validate(row)


def set_confirmations(
    target: Database | Connection, tx_id: int, confirmations: int, *, final: bool
) -> None:
    """The tracker's count of blocks on top of (and including) the transaction's block."""
    values: dict[str, Any] = {"confirmations": confirmations, "updated_at": utc_now()}
    if final:
        values.update(is_final=True, finalized_at=utc_now())
    with writing(target) as conn:
        conn.execute(txs.update().where(txs.c.id == tx_id).values(**values))


def mark_seen(target: Database | Connection, tx_id: int) -> None:
    """The node still knows this pending transaction (it is not dropped)."""
    with writing(target) as conn:
        conn.execute(txs.update().where(txs.c.id == tx_id).values(last_seen_at=utc_now()))


def get_blockchain_transaction(
    target: Database | Connection, transaction_hash: str, chain_id: int | str | None = None
) -> BlockchainTransaction | None:
    tx_hash = parse_tx_hash(transaction_hash)
    with reading(target) as conn:
        try:
            return _find_one(conn, tx_hash, chain_id)
        except NotFound:
            return None


BY_ID_PER_READ_MAX = 1000


def get_blockchain_transactions_by_id(
    target: Database | Connection, tx_ids: list[int]
) -> dict[int, BlockchainTransaction]:
    """The transactions with these row ids (as other modules store them), by id, in one read
    on the primary key."""
    if len(tx_ids) > BY_ID_PER_READ_MAX:
        raise InvalidInput("tx_ids", len(tx_ids), f"at most {BY_ID_PER_READ_MAX} at once")
    if not tx_ids:
        return {}
    with reading(target) as conn:
        rows = conn.execute(sa.select(txs).where(txs.c.id.in_(tx_ids)))
        return {row.id: BlockchainTransaction.model_validate(row) for row in rows}


def get_recent_blockchain_transactions(
    target: Database | Connection,
    *,
    limit: int = 20,
    user_id: str | None = None,
    status: TxStatus | None = None,
    chain_id: int | str | None = None,
    transaction_type: str | None = None,
) -> list[BlockchainTransaction]:
    """Newest first; each filter uses an index."""
    limit = parse_limit(limit, RECENT_LIMIT_MAX)
    chosen = validated(_Filter, status=status, transaction_type=transaction_type)
    query = sa.select(txs)
    if user_id is not None:
        query = query.where(txs.c.user_id == parse_user_id(user_id))
    if chosen.status is not None:
        query = query.where(txs.c.status == chosen.status)
    if chain_id is not None:
        query = query.where(txs.c.chain_id == parse_chain_id(chain_id))
    if chosen.transaction_type is not None:
        query = query.where(txs.c.transaction_type == chosen.transaction_type)
    query = query.order_by(txs.c.created_at.desc(), txs.c.id.desc()).limit(limit)
    with reading(target) as conn:
        return [BlockchainTransaction.model_validate(row) for row in conn.execute(query)]


def get_blockchain_transaction_stats(
    target: Database | Connection,
    *,
    chain_id: int | str | None = None,
    since: datetime | None = None,
) -> dict[str, Any]:
    """Counts by status and type, gas used and value moved (exact), success rate."""
    conditions = []
    if chain_id is not None:
        conditions.append(txs.c.chain_id == parse_chain_id(chain_id))
    if since is not None:
        conditions.append(txs.c.created_at >= parse_utc(since, "since"))
    grouped = (
        sa.select(
            txs.c.status,
            txs.c.transaction_type,
            sa.func.count().label("tx_count"),
            sa.func.coalesce(sa.func.sum(txs.c.gas_used), 0).label("total_gas"),
            amount_sum(txs.c.value_wei).label("total_value_wei"),
        )
        .where(*conditions)
        .group_by(txs.c.status, txs.c.transaction_type)
    )
    with reading(target) as conn:
        rows = conn.execute(grouped).all()
    by_status: dict[str, int] = {}
    by_type: dict[str, int] = {}
    for row in rows:
        by_status[row.status] = by_status.get(row.status, 0) + row.tx_count
        by_type[row.transaction_type] = by_type.get(row.transaction_type, 0) + row.tx_count
    mined = by_status.get("success", 0) + by_status.get("failed", 0)
    return {
        "total": sum(by_status.values()),
        "by_status": by_status,
        "by_type": by_type,
        "total_gas_used": sum(int(row.total_gas) for row in rows),
        "total_value_wei": sum(row.total_value_wei for row in rows),
        "success_rate": by_status.get("success", 0) / mined if mined else None,
    }


class _Filter(Input):
    status: TxStatus | None = None
    transaction_type: Slug | None = None


def _status_values(current: BlockchainTransaction, update: StatusUpdate) -> dict[str, Any]:
    """The columns to write, or {} when the update changes nothing."""
    if update.status != current.status and update.status not in ALLOWED_MOVES[current.status]:
        allowed = ", ".join(sorted(ALLOWED_MOVES[current.status])) or "none"
        raise Conflict(
            f"status: {current.transaction_hash} cannot move from {current.status} to "
            f"{update.status} (allowed: {allowed})"
        )
    values: dict[str, Any] = {"status": update.status}
    values.update(update.model_dump(exclude_none=True, exclude={"status"}))
    if update.status == "pending" and current.status in MINED:
        # A reorg: what the receipt said no longer holds.
        values.update(
            block_number=None,
            block_hash=None,
            gas_used=None,
            effective_gas_price_wei=None,
            confirmed_at=None,
            confirmations=None,
            is_final=False,
            finalized_at=None,
        )
    if update.status in MINED:
        if values.get("block_number", current.block_number) is None:
            raise InvalidInput("block_number", None, f"required when status is {update.status}")
        if current.status != update.status:
            values["confirmed_at"] = utc_now()
    if (
        update.status == "replaced"
        and values.get("replaced_by_hash", current.replaced_by_hash) is None
    ):
        raise InvalidInput("replaced_by_hash", None, "required when status is replaced")
    changed = {k: v for k, v in values.items() if getattr(current, k) != v}
    if changed:
        changed["updated_at"] = utc_now()
    return changed


def _refuse_different(existing: BlockchainTransaction, values: dict[str, Any]) -> None:
    for name in _IDENTITY_FIELDS:
        if name in values and _canonical(getattr(existing, name)) != _canonical(values[name]):
            raise Conflict(
                f"transaction_hash {existing.transaction_hash} is already logged on "
                f"{existing.chain_id} with a different {name}"
            )


def _canonical(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _find(conn: Connection, chain_id: str, tx_hash: str) -> BlockchainTransaction | None:
    row = conn.execute(
        sa.select(txs).where(txs.c.chain_id == chain_id, txs.c.transaction_hash == tx_hash)
    ).first()
    return None if row is None else BlockchainTransaction.model_validate(row)


def _find_one(
    conn: Connection, tx_hash: str, chain_id: int | str | None, *, for_update: bool = False
) -> BlockchainTransaction:
    query = sa.select(txs).where(txs.c.transaction_hash == tx_hash)
    if chain_id is not None:
        query = query.where(txs.c.chain_id == parse_chain_id(chain_id))
    if for_update:
        query = query.with_for_update()
    rows = conn.execute(query.limit(2)).all()
    if not rows:
        raise NotFound(f"transaction_hash: {tx_hash} is not logged")
    if len(rows) > 1:
        raise Conflict(f"transaction_hash: {tx_hash} is logged on several chains: give chain_id")
    return BlockchainTransaction.model_validate(rows[0])


def _find_for_update(
    conn: Connection, tx_hash: str, chain_id: int | str | None
) -> BlockchainTransaction:
    return _find_one(conn, tx_hash, chain_id, for_update=True)
