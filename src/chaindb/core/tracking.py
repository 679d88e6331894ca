"""What the chain bridge reads back from the transaction log to follow transactions: the
transactions of one chain in a given state, the last nonce a sender used, the final blocks
on record. Reads only; the writes are core.transactions' verbs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.core.schema import blockchain_transactions as txs
from chaindb.core.schema import v_blockchain_tx_summary as summary
from chaindb.core.transactions import BlockchainTransaction, TxStatus
from chaindb.database import Database, reading
from chaindb.types import parse_address, parse_chain_id, parse_tx_hash

LOGGED_NONCE_STATUSES = ("pending", "success", "failed")  # a nonce the chain may still hold
FINAL_BLOCKS_MAX = 100


def find_blockchain_transactions(
    target: Database | Connection,
    *,
    chain_id: int | str,
    statuses: Sequence[TxStatus] | None = None,
    is_final: bool | None = None,
    from_address: str | None = None,
    nonce: int | None = None,
    challenge_id: int | None = None,
    transaction_type: str | None = None,
    block_number_min: int | None = None,
    other_than_hash: str | None = None,
    limit: int | None = None,
) -> list[BlockchainTransaction]:
    """The chain's logged transactions that match every filter given, oldest first (the
    first `limit` of them)."""
    conditions = [txs.c.chain_id == parse_chain_id(chain_id)]
    for column, value in (
        (txs.c.from_address, from_address and parse_address(from_address, "from_address")),
        (txs.c.nonce, nonce),
        (txs.c.challenge_id, challenge_id),
        (txs.c.transaction_type, transaction_type),
        (txs.c.is_final, is_final),
    ):
        if value is not None:
            conditions.append(column == value)
    if statuses is not None:
        conditions.append(txs.c.status.in_(list(statuses)))
    if block_number_min is not None:
        conditions.append(txs.c.block_number >= block_number_min)
    if other_than_hash is not None:
        conditions.append(txs.c.transaction_hash != parse_tx_hash(other_than_hash))
    with reading(target) as conn:
        rows = conn.execute(sa.select(txs).where(*conditions).order_by(txs.c.id).limit(limit))
        return [BlockchainTransaction.model_validate(row) for row in rows]


class TxSummaryRow(NamedTuple):
    """One row of seed 000's v_blockchain_tx_summary."""

    chain_id: str
    transaction_type: str
    status: str
    tx_count: int
    total_gas: int
    total_value: int
    last_transaction: datetime


def get_blockchain_tx_summary(
    target: Database | Connection, *, chain_id: int | str | None = None
) -> list[TxSummaryRow]:
    """Transactions counted, gas and value summed by chain, type and status (the seed's view)."""
    query = sa.select(summary).order_by(
        summary.c.chain_id, summary.c.transaction_type, summary.c.status
    )
    if chain_id is not None:
        query = query.where(summary.c.chain_id == parse_chain_id(chain_id))
    with reading(target) as conn:
        return [TxSummaryRow(*row) for row in conn.execute(query)]


def last_logged_nonce(
    target: Database | Connection, *, chain_id: int | str, from_address: str
) -> int | None:
    """The highest nonce the sender used in a transaction that is not dropped or replaced."""
    with reading(target) as conn:
        return conn.execute(
            sa.select(sa.func.max(txs.c.nonce)).where(
                txs.c.chain_id == parse_chain_id(chain_id),
                txs.c.from_address == parse_address(from_address, "from_address"),
                txs.c.status.in_(LOGGED_NONCE_STATUSES),
            )
        ).scalar()


def recorded_final_blocks(
    target: Database | Connection, *, chain_id: int | str, limit: int = FINAL_BLOCKS_MAX
) -> list[tuple[int, str]]:
    """(number, hash) of up to `limit` blocks that hold a final transaction, oldest first."""
    with reading(target) as conn:
        rows = conn.execute(
            sa.select(txs.c.block_number, txs.c.block_hash)
            .where(
                txs.c.chain_id == parse_chain_id(chain_id),
                txs.c.is_final,
                txs.c.block_hash.is_not(None),
            )
            .distinct()
            .order_by(txs.c.block_number)
            .limit(min(limit, FINAL_BLOCKS_MAX))
        ).all()
    return [(row.block_number, row.block_hash) for row in rows]
