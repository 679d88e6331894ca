"""Token transactions: record them, read a user's latest, record a CKB outcome."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Connection

from chaindb import core
from chaindb.database import Database, reading, writing
from chaindb.errors import Conflict, InvalidInput, NotFound
from chaindb.text import METADATA_BYTES_MAX, json_value, parse_user_id, spelled
from chaindb.tokens.chain_status import (
    TokenTransaction,
    chain_transaction,
    insert_transaction,
    status_of,
)
from chaindb.tokens.networks import parse_network, parse_network_tx_hash
from chaindb.tokens.schema import TX_TYPE_CHARS_MAX, tokens, transactions
from chaindb.tokens.tokens import require_token
from chaindb.types import EVM_NAMESPACE, Amount, BlockNumber, RowId, UserId
from chaindb.validation import Input, parse_limit, validated

RECENT_LIMIT_MAX = 1000
TxType = spelled(
    rf"^[a-z][a-z0-9_]{{0,{TX_TYPE_CHARS_MAX - 1}}}$",
    f"must be a lowercase letter, then lowercase letters, digits or _ "
    f"(at most {TX_TYPE_CHARS_MAX} characters: create, transfer, mint...)",
)
Metadata = json_value(METADATA_BYTES_MAX)
Outcome = Literal["confirmed", "failed"]


class NewTokenTransaction(Input):
    user_id: UserId
    tx_type: TxType
    token_id: RowId | None = None
    amount: Amount | None = None
    metadata: Metadata | None = None


def record_token_transaction(
    target: Database | Connection,
    *,
    user_id: str,
    tx_hash: str,
    tx_type: str,
    network_id: str | None = None,
    token_id: int | None = None,
    amount: int | str | None = None,
    metadata: dict[str, Any] | None = None,
) -> TokenTransaction:
    """Seed 003's transaction: `tx_hash` on `network_id` (the token's when `token_id` is given),
    logged in core once and followed there. The same (hash, user, type) again returns the first
    row. A 'create' transaction of a token that has none becomes its creation transaction."""
    new = validated(
        NewTokenTransaction,
        user_id=user_id,
        tx_type=tx_type,
        token_id=token_id,
        amount=amount,
        metadata=metadata,
    )
    if network_id is None and new.token_id is None:
        raise InvalidInput("network_id", None, "give network_id (or token_id: its network)")
    network = None if network_id is None else parse_network(network_id)
    with writing(target) as conn:
        core.require_user(conn, new.user_id)
        token = None if new.token_id is None else require_token(conn, new.token_id, for_update=True)
        if token is not None and network not in (None, token.network_id):
            raise InvalidInput(
                "network_id", network_id, f"token {token.id} lives on {token.network_id}"
            )
        network = network or token.network_id  # type: ignore[union-attr]
        tx = parse_network_tx_hash(tx_hash, network)
        chain_tx = chain_transaction(conn, network, tx, new.user_id, new.tx_type)
        row = insert_transaction(
            conn,
            chain_tx,
            user_id=new.user_id,
            tx_type=new.tx_type,
            token_id=new.token_id,
            amount=new.amount,
            metadata=new.metadata,
        )
        if (row.token_id, row.amount) != (new.token_id, new.amount):
            raise Conflict(
                f"tx_hash: {tx} is already recorded as {new.user_id}'s {new.tx_type} "
                f"of token {row.token_id} for {row.amount}"
            )
        if token is not None and new.tx_type == "create" and token.creation_tx_id is None:
            _attach_creation(conn, token.id, chain_tx)
    return row


def _attach_creation(conn: Connection, token_id: int, chain_tx: core.BlockchainTransaction) -> None:
    conn.execute(
        tokens.update()
        .where(tokens.c.id == token_id)
        .values(
            tx_hash=chain_tx.transaction_hash,
            creation_tx_id=chain_tx.id,
            status=status_of(chain_tx),
        )
    )


def get_recent_transactions(
    target: Database | Connection, user_id: str, limit: int = 10
) -> list[TokenTransaction]:
    """Seed 003's getRecentTransactions: the user's latest, newest first
    (idx_transactions_user_id: user_id, created_at, id)."""
    user_id = parse_user_id(user_id)
    limit = parse_limit(limit, RECENT_LIMIT_MAX)
    with reading(target) as conn:
        rows = conn.execute(
            sa.select(transactions)
            .where(transactions.c.user_id == user_id)
            .order_by(transactions.c.created_at.desc(), transactions.c.id.desc())
            .limit(limit)
        )
        return [TokenTransaction.model_validate(row) for row in rows]


class _Outcome(Input):
    outcome: Outcome
    block_number: BlockNumber | None = None
    confirmations: Annotated[int, Field(strict=True, ge=1)] = 1


def record_transaction_outcome(
    target: Database | Connection,
    *,
    network_id: str,
    tx_hash: str,
    outcome: Outcome,
    block_number: int | None = None,
) -> list[TokenTransaction]:
    """What became of a transaction on CKB, as the caller's node says, once final: 'confirmed'
    (with its block) or 'failed' (with its block if it was mined, else dropped). It is recorded
    on core's row, and every token transaction and token that follows it changes with it.
    EVM transactions are followed by the chain tracker (`chaindb watch`), not recorded here."""
    chosen = validated(_Outcome, outcome=outcome, block_number=block_number)
    network = parse_network(network_id)
    if network.startswith(EVM_NAMESPACE + ":"):
        raise InvalidInput(
            "network_id",
            network_id,
            "EVM transactions are followed by the chain tracker "
            "(chain.track, `chaindb watch`), not recorded by hand",
        )
    tx = parse_network_tx_hash(tx_hash, network)
    with writing(target) as conn:
        chain_tx = core.get_blockchain_transaction(conn, tx, chain_id=network)
        if chain_tx is None:
            raise NotFound(f"tx_hash: {tx} is not recorded on {network}")
        if chosen.outcome == "confirmed" and chosen.block_number is None:
            raise InvalidInput("block_number", None, "required when the outcome is confirmed")
        status = {"confirmed": "success", "failed": "failed"}[chosen.outcome]
        if chosen.block_number is None:
            status = "dropped"  # failed before it was mined: refused or lost by the network
        core.update_blockchain_transaction_status(
            conn, tx, status, chain_id=network, block_number=chosen.block_number
        )
        if chosen.block_number is not None:
            core.set_confirmations(conn, chain_tx.id, chosen.confirmations, final=True)
        rows = conn.execute(
            sa.select(transactions)
            .where(transactions.c.blockchain_tx_id == chain_tx.id)
            .order_by(transactions.c.id)
        )
        return [TokenTransaction.model_validate(row) for row in rows]
