"""Tokens (seed 003, SiTa Minter): the tokens users create and the transactions about them.

A token's balances live in the ledger (`asset_id`). A chain transaction's status has one source
of truth, core's `blockchain_transactions`: a row of `transactions` (and a token, through its
creation transaction) points at it, and the seed's `status` columns are kept equal to what that
row says by a trigger on it (tokens_0001), in the same database transaction as any change of it
— the chain tracker's, a caller's, a reorg's.
"""

from __future__ import annotations

import sqlalchemy as sa

from chaindb.columns import CHAIN_ID_LENGTH, row_id, timestamp, tx_hash
from chaindb.core.schema import blockchain_transactions, users
from chaindb.ledger.schema import ledger_assets
from chaindb.types import (
    UINT256_DIGITS,
    AmountType,
    DialectSQL,
    IdType,
    JSONType,
    amount_check,
    chain_id_check,
)

metadata = sa.MetaData()

STATUSES = ("pending", "confirmed", "failed")
NAME_CHARS_MAX = 64
SYMBOL_CHARS_MAX = 16
TX_TYPE_CHARS_MAX = 32
ICON_URL_CHARS_MAX = 2048
CONTRACT_CHARS_MAX = 66  # an EVM address (42) or a CKB type script hash (0x + 64 hex)

# The seed's status of a chain transaction (`t`: a blockchain_transactions row), the one rule
# both the trigger and the code follow (a test keeps tokens.status_of equal to it).
STATUS_OF_CHAIN_TX = (
    "CASE WHEN {t}.status = 'success' AND {t}.is_final THEN 'confirmed'"
    " WHEN {t}.status = 'failed' AND {t}.is_final THEN 'failed'"
    " WHEN {t}.status IN ('dropped', 'replaced') THEN 'failed'"
    " ELSE 'pending' END"
)


def positive_amount_check(column: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(
        DialectSQL(
            column, sqlite="{col} <> '" + "0" * UINT256_DIGITS + "'", postgresql="{col} > 0"
        ),
        name=f"ck_tokens_{column}_positive",
    )


tokens = sa.Table(
    "tokens",
    metadata,
    row_id(),
    sa.Column("name", sa.String(NAME_CHARS_MAX), nullable=False),
    sa.Column("symbol", sa.String(SYMBOL_CHARS_MAX), nullable=False),
    sa.Column("supply", AmountType, amount_check("supply"), nullable=False),
    sa.Column("decimals", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("creator_id", sa.String(64), sa.ForeignKey(users.c.id), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("icon_url", sa.String(ICON_URL_CHARS_MAX), nullable=True),
    sa.Column("contract_address", sa.String(CONTRACT_CHARS_MAX), nullable=True),
    sa.Column(
        "network_id", sa.String(CHAIN_ID_LENGTH), chain_id_check("network_id"), nullable=False
    ),
    tx_hash("tx_hash"),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("creation_tx_id", IdType, sa.ForeignKey(blockchain_transactions.c.id), nullable=True),
    sa.Column("asset_id", IdType, sa.ForeignKey(ledger_assets.c.id), nullable=True),
    timestamp("created_at"),
    timestamp("updated_at", onupdate=True),
    positive_amount_check("supply"),
    sa.CheckConstraint(f"status IN {STATUSES}", name="ck_tokens_status"),
    sa.CheckConstraint(
        f"length(name) BETWEEN 1 AND {NAME_CHARS_MAX} AND trim(name) <> ''", name="ck_tokens_name"
    ),
    sa.CheckConstraint(
        DialectSQL(
            "symbol",
            sqlite=f"length({{col}}) BETWEEN 1 AND {SYMBOL_CHARS_MAX}"
            " AND {col} NOT GLOB '*[^A-Za-z0-9]*'",
            postgresql=f"{{col}} ~ '^[A-Za-z0-9]{{{{1,{SYMBOL_CHARS_MAX}}}}}$'",
        ),
        name="ck_tokens_symbol",
    ),
    sa.CheckConstraint("decimals BETWEEN 0 AND 77", name="ck_tokens_decimals"),
    sa.CheckConstraint(
        DialectSQL(
            "contract_address",
            sqlite="{col} IS NULL OR ((length({col}) IN (42, 66)) AND substr({col}, 1, 2) = '0x'"
            " AND substr({col}, 3) NOT GLOB '*[^0-9a-f]*')",
            postgresql="{col} ~ '^0x([0-9a-f]{{40}}|[0-9a-f]{{64}})$'",
        ),
        name="ck_tokens_contract_address",
    ),
    sa.CheckConstraint("tx_hash IS NULL OR creation_tx_id IS NOT NULL", name="ck_tokens_tx"),
    sa.UniqueConstraint("network_id", "contract_address", name="uq_tokens_contract"),
    # Seed 003's recommended indexes, under its names.
    sa.Index("idx_tokens_creator_id", "creator_id", "id"),
    sa.Index("ix_tokens_creation_tx", "creation_tx_id"),
)

transactions = sa.Table(
    "transactions",
    metadata,
    row_id(),
    sa.Column("user_id", sa.String(64), sa.ForeignKey(users.c.id), nullable=False),
    sa.Column("token_id", IdType, sa.ForeignKey("tokens.id"), nullable=True),
    tx_hash("tx_hash", nullable=False),
    sa.Column("tx_type", sa.String(TX_TYPE_CHARS_MAX), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("amount", AmountType, amount_check("amount"), nullable=True),
    sa.Column(
        "network_id", sa.String(CHAIN_ID_LENGTH), chain_id_check("network_id"), nullable=False
    ),
    sa.Column("metadata", JSONType, nullable=True),
    sa.Column(
        "blockchain_tx_id", IdType, sa.ForeignKey(blockchain_transactions.c.id), nullable=False
    ),
    timestamp("created_at"),
    timestamp("updated_at", onupdate=True),
    sa.CheckConstraint(f"status IN {STATUSES}", name="ck_transactions_status"),
    sa.CheckConstraint(
        DialectSQL(
            "tx_type",
            sqlite="length({col}) > 0 AND substr({col}, 1, 1) GLOB '[a-z]'"
            " AND {col} NOT GLOB '*[^a-z0-9_]*'",
            postgresql="{col} ~ '^[a-z][a-z0-9_]*$'",
        ),
        name="ck_transactions_tx_type",
    ),
    sa.UniqueConstraint("blockchain_tx_id", "user_id", "tx_type", name="uq_transactions_once"),
    sa.Index("idx_transactions_user_id", "user_id", "created_at", "id"),
    sa.Index("ix_transactions_token", "token_id"),
)
