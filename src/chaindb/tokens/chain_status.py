"""One source of truth for a transaction's status: core's blockchain_transactions row.

A token transaction points at that row (logged once per network and hash); the seed's status
is derived from it — here when a row is written, and by tokens_0001's trigger whenever the
chain row changes afterwards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb import core
from chaindb.database import dialect_insert
from chaindb.tokens.schema import transactions
from chaindb.validation import Row

SeedStatus = Literal["pending", "confirmed", "failed"]


class TokenTransaction(Row):
    """Seed 003's transaction (a Row: read-only, from attributes)."""

    id: int
    user_id: str
    token_id: int | None
    tx_hash: str
    tx_type: str
    status: str
    amount: int | None
    network_id: str
    metadata: dict[str, Any] | None
    blockchain_tx_id: int
    created_at: datetime
    updated_at: datetime


def status_of(chain_tx: core.BlockchainTransaction) -> SeedStatus:
    """The seed's status of a chain transaction (schema.STATUS_OF_CHAIN_TX says it in SQL):
    confirmed or failed once final; dropped or replaced is failed; anything else pending."""
    if chain_tx.status == "success" and chain_tx.is_final:
        return "confirmed"
    if chain_tx.status == "failed" and chain_tx.is_final:
        return "failed"
    if chain_tx.status in ("dropped", "replaced"):
        return "failed"
    return "pending"


def chain_transaction(
    conn: Connection, network: str, tx_hash: str, user_id: str, tx_type: str
) -> core.BlockchainTransaction:
    """The chain transaction core tracks for this hash, logged (pending) if it is new. One
    already logged (say, by the chain bridge that sent it) is used as it is."""
    existing = core.get_blockchain_transaction(conn, tx_hash, chain_id=network)
    if existing is not None:
        return existing
    return core.log_blockchain_transaction(
        conn,
        chain_id=network,
        transaction_hash=tx_hash,
        transaction_type=f"token_{tx_type}",
        user_id=user_id,
    )


def insert_transaction(
    conn: Connection,
    chain_tx: core.BlockchainTransaction,
    *,
    user_id: str,
    tx_type: str,
    token_id: int | None = None,
    amount: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> TokenTransaction:
    """The seed's row for (chain transaction, user, type), once: again, the first is returned."""
    conn.execute(
        dialect_insert(conn, transactions)
        .values(
            user_id=user_id,
            token_id=token_id,
            tx_hash=chain_tx.transaction_hash,
            tx_type=tx_type,
            status=status_of(chain_tx),
            amount=amount,
            network_id=chain_tx.chain_id,
            metadata=metadata,
            blockchain_tx_id=chain_tx.id,
        )
        .on_conflict_do_nothing(index_elements=["blockchain_tx_id", "user_id", "tx_type"])
    )
    row = conn.execute(
        sa.select(transactions).where(
            transactions.c.blockchain_tx_id == chain_tx.id,
            transactions.c.user_id == user_id,
            transactions.c.tx_type == tx_type,
        )
    ).one()
    return TokenTransaction.model_validate(row)
