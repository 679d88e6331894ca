"""The ledger's tables (migration ledger_0001 builds exactly these; a test keeps them equal).

Double entry in TigerBeetle's shape: every transfer debits one account and credits another of
the same asset. An account keeps four non-negative counters (debits/credits, posted/pending), so
no signed amount is ever stored. An account that forbids overdraft also keeps `balance`, its
available amount (credits_posted - debits_posted - debits_pending): being a uint256 column, its
CHECK constraint refuses an overdraft in the database itself, on SQLite as on PostgreSQL. The
leaderboard reads ledger_leaderboard, the top of each asset's board, kept by triggers. Seed
000's user_points_ledgers, points_transactions and v_user_points_summary are views over these
tables: one source of truth. (ledger_0001 builds these; ledger_0003 the board; ledger_0004 the
totals of dropped partitions.)
"""

from __future__ import annotations

from typing import Literal, get_args

import sqlalchemy as sa

from chaindb.columns import CHAIN_ID_LENGTH, amount, row_id, timestamp
from chaindb.core.schema import users
from chaindb.types import (
    AddressType,
    AmountType,
    DialectSQL,
    IdType,
    TxHashType,
    UtcDateTime,
    address_check,
    amount_check,
    chain_id_check,
    tx_hash_check,
)

metadata = sa.MetaData()

POINTS_ASSET_ID = 1  # created by ledger_0001; the seed's views read it
ASSET_KINDS = ("points", "token", "native")
OWNER_TYPES = ("user", "system")
PHASES = ("single", "pending", "post", "void")
# A transfer's kinds, as a type: signatures and type checkers show the values.
Kind = Literal[
    "earned_challenge",
    "burned_usage",
    "locked_escrow",
    "released_escrow",
    "claimed",
    "refunded",
    "transfer",
    "adjustment",
    "deposit",
    "withdrawal",
    "payout",
    "expired",
]
TRANSFER_KINDS: tuple[str, ...] = get_args(Kind)
IDEMPOTENCY_KEY_LENGTH = 200
# What the write path keeps in step on every account (and maintenance recomputes).
ACCOUNT_COUNTERS = (
    "debits_posted",
    "credits_posted",
    "debits_pending",
    "credits_pending",
    "balance",
    "issued",
    "burned",
    "transfer_count",
)


ledger_assets = sa.Table(
    "ledger_assets",
    metadata,
    row_id(),
    sa.Column("code", sa.String(120), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("chain_id", sa.String(CHAIN_ID_LENGTH), chain_id_check("chain_id"), nullable=True),
    sa.Column(
        "token_address", AddressType, address_check("token_address", fast=True), nullable=True
    ),
    sa.Column("symbol", sa.String(16), nullable=False),
    sa.Column("decimals", sa.SmallInteger, nullable=False),
    timestamp("created_at"),
    sa.UniqueConstraint("code", name="uq_ledger_assets_code"),
    sa.UniqueConstraint("chain_id", "token_address", name="uq_ledger_assets_token"),
    sa.CheckConstraint(f"kind IN {ASSET_KINDS}", name="ck_ledger_assets_kind"),
    sa.CheckConstraint("decimals BETWEEN 0 AND 77", name="ck_ledger_assets_decimals"),
    sa.CheckConstraint(
        "(kind = 'points' AND chain_id IS NULL AND token_address IS NULL)"
        " OR (kind = 'native' AND chain_id IS NOT NULL AND token_address IS NULL)"
        " OR (kind = 'token' AND chain_id IS NOT NULL AND token_address IS NOT NULL)",
        name="ck_ledger_assets_chain_fields",
    ),
)

ledger_accounts = sa.Table(
    "ledger_accounts",
    metadata,
    row_id(),
    sa.Column("asset_id", IdType, sa.ForeignKey("ledger_assets.id"), nullable=False),
    sa.Column("owner_type", sa.String(8), nullable=False),
    sa.Column("owner_id", sa.String(64), nullable=False),
    sa.Column(
        "user_id", sa.String(64), sa.ForeignKey(users.c.id, ondelete="RESTRICT"), nullable=True
    ),
    sa.Column("allow_overdraft", sa.Boolean, nullable=False, server_default=sa.false()),
    amount("debits_posted"),
    amount("credits_posted"),
    amount("debits_pending"),
    amount("credits_pending"),
    amount("balance", nullable=True),
    amount("issued"),
    amount("burned"),
    sa.Column("transfer_count", sa.BigInteger, nullable=False, server_default="0"),
    timestamp("created_at"),
    timestamp("updated_at"),
    sa.UniqueConstraint("asset_id", "owner_type", "owner_id", name="uq_ledger_accounts_owner"),
    sa.CheckConstraint(f"owner_type IN {OWNER_TYPES}", name="ck_ledger_accounts_owner_type"),
    sa.CheckConstraint(
        "(owner_type = 'user' AND user_id = owner_id)"
        " OR (owner_type = 'system' AND user_id IS NULL)",
        name="ck_ledger_accounts_user",
    ),
    sa.CheckConstraint(
        "(allow_overdraft AND balance IS NULL) OR (NOT allow_overdraft AND balance IS NOT NULL)",
        name="ck_ledger_accounts_balance_kept",
    ),
    sa.CheckConstraint("transfer_count >= 0", name="ck_ledger_accounts_count"),
    # PostgreSQL can also check the arithmetic (SQLite stores amounts as text: maintenance does).
    sa.CheckConstraint(
        DialectSQL(
            "",
            sqlite="1",
            postgresql="allow_overdraft"
            " OR balance = credits_posted - debits_posted - debits_pending",
        ),
        name="ck_ledger_accounts_balance_sum",
    ),
    sa.Index("ix_ledger_accounts_user", "user_id"),
)

# The top of each asset's board (ledger_0003): every user account ranking at or above the
# asset's floor by (balance DESC, id), kept by triggers on ledger_accounts in the writer's
# transaction; no floor row: every user account of the asset is on it. ledger_accounts itself
# has no index on a column a transfer changes, so its updates can be HOT on PostgreSQL.
ledger_leaderboard = sa.Table(
    "ledger_leaderboard",
    metadata,
    sa.Column(
        "account_id",
        IdType,
        sa.ForeignKey("ledger_accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("asset_id", IdType, sa.ForeignKey("ledger_assets.id"), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("balance", AmountType, amount_check("balance"), nullable=False),
)
sa.Index(
    "ix_ledger_leaderboard_rank",
    ledger_leaderboard.c.asset_id,
    ledger_leaderboard.c.balance.desc(),
    ledger_leaderboard.c.account_id,
    ledger_leaderboard.c.user_id,  # the top is read from the index alone
)

# pg_advisory_xact_lock(BOARD_LOCK_CLASS, asset_id): ledger_0003's triggers take it shared for
# every write of a user account's balance; moving a floor (or closing a board) takes it alone.
BOARD_LOCK_CLASS = 27_746

ledger_leaderboard_floors = sa.Table(
    "ledger_leaderboard_floors",
    metadata,
    sa.Column("asset_id", IdType, sa.ForeignKey("ledger_assets.id"), primary_key=True),
    sa.Column("floor_balance", AmountType, amount_check("floor_balance"), nullable=False),
    sa.Column("floor_account_id", IdType, nullable=False),
)

ledger_transfers = sa.Table(
    "ledger_transfers",
    metadata,
    row_id(),
    sa.Column("asset_id", IdType, sa.ForeignKey("ledger_assets.id"), nullable=False),
    sa.Column("debit_account_id", IdType, sa.ForeignKey("ledger_accounts.id"), nullable=False),
    sa.Column("credit_account_id", IdType, sa.ForeignKey("ledger_accounts.id"), nullable=False),
    amount("amount"),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("phase", sa.String(8), nullable=False, server_default="single"),
    sa.Column("pending_id", IdType, sa.ForeignKey("ledger_transfers.id"), nullable=True),
    sa.Column("expires_at", UtcDateTime, nullable=True),
    sa.Column("idempotency_key", sa.String(IDEMPOTENCY_KEY_LENGTH), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("challenge_id", sa.BigInteger, nullable=True),
    sa.Column(
        "chain_tx_hash", TxHashType, tx_hash_check("chain_tx_hash", fast=True), nullable=True
    ),
    timestamp("created_at"),
    sa.UniqueConstraint("idempotency_key", name="uq_ledger_transfers_idempotency_key"),
    # A hold is posted or voided at most once: the database says so.
    sa.UniqueConstraint("pending_id", name="uq_ledger_transfers_resolve_once"),
    sa.CheckConstraint(
        "debit_account_id <> credit_account_id", name="ck_ledger_transfers_accounts"
    ),
    sa.CheckConstraint(f"kind IN {TRANSFER_KINDS}", name="ck_ledger_transfers_kind"),
    sa.CheckConstraint(f"phase IN {PHASES}", name="ck_ledger_transfers_phase"),
    sa.CheckConstraint(
        "(phase IN ('post', 'void')) = (pending_id IS NOT NULL)", name="ck_ledger_transfers_pending"
    ),
    sa.CheckConstraint(
        "expires_at IS NULL OR phase = 'pending'", name="ck_ledger_transfers_expiry"
    ),
    sa.Index("ix_ledger_transfers_debit", "debit_account_id", "id"),
    sa.Index("ix_ledger_transfers_credit", "credit_account_id", "id"),
    sa.Index("ix_ledger_transfers_challenge", "challenge_id"),
    sa.Index("ix_ledger_transfers_asset_kind", "asset_id", "kind"),
    sa.Index("ix_ledger_transfers_created", "created_at"),
)

# Holds not yet posted or voided: the small, mutable index of the two-phase transfers.
ledger_holds = sa.Table(
    "ledger_holds",
    metadata,
    sa.Column("transfer_id", IdType, sa.ForeignKey("ledger_transfers.id"), primary_key=True),
    sa.Column("debit_account_id", IdType, sa.ForeignKey("ledger_accounts.id"), nullable=False),
    sa.Column("credit_account_id", IdType, sa.ForeignKey("ledger_accounts.id"), nullable=False),
    amount("amount"),
    sa.Column("expires_at", UtcDateTime, nullable=True),
    sa.Index("ix_ledger_holds_debit", "debit_account_id"),
    sa.Index("ix_ledger_holds_expires", "expires_at"),
)

# What the transfers of dropped partitions added to each account (ledger_0004; PostgreSQL's
# partitioned ledger_transfers, ops/partitions.py): the check adds it back to what the kept
# transfers say. Money in and out of issuance and burn apart: no signed amount stored.
ledger_dropped_totals = sa.Table(
    "ledger_dropped_totals",
    metadata,
    sa.Column(
        "account_id",
        IdType,
        sa.ForeignKey("ledger_accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    amount("debits_posted"),
    amount("credits_posted"),
    amount("issued_from"),
    amount("issued_back"),
    amount("burned_to"),
    amount("burned_back"),
    sa.Column("transfer_count", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("dropped_before", UtcDateTime, nullable=False),
    sa.CheckConstraint("transfer_count >= 0", name="ck_ledger_dropped_totals_count"),
)

# The seed's names, as views (read-only Table objects for queries).
user_points_ledgers = sa.Table(
    "user_points_ledgers",
    sa.MetaData(),
    sa.Column("id", IdType),
    sa.Column("user_id", sa.String(64)),
    sa.Column("points_balance", AmountType),
    sa.Column("total_earned", AmountType),
    sa.Column("total_burned", AmountType),
    sa.Column("locked_points", AmountType),
    sa.Column("transaction_count", sa.BigInteger),
    sa.Column("created_at", UtcDateTime),
    sa.Column("last_updated_at", UtcDateTime),
)

v_user_points_summary = sa.Table(
    "v_user_points_summary",
    sa.MetaData(),
    sa.Column("user_id", sa.String(64)),
    sa.Column("username", sa.String(64)),
    sa.Column("current_points", AmountType),
    sa.Column("total_earned", AmountType),
    sa.Column("total_burned", AmountType),
    sa.Column("locked_points", AmountType),
    sa.Column("transaction_count", sa.BigInteger),
    sa.Column("last_updated_at", UtcDateTime),
)

points_transactions = sa.Table(
    "points_transactions",
    sa.MetaData(),
    sa.Column("id", IdType),
    sa.Column("user_id", sa.String(64)),
    sa.Column("challenge_id", sa.BigInteger),
    sa.Column("transaction_type", sa.String(32)),
    sa.Column("direction", sa.String(6)),
    sa.Column("phase", sa.String(8)),
    sa.Column("amount", AmountType),
    sa.Column("reason", sa.Text),
    sa.Column("blockchain_tx_hash", TxHashType),
    sa.Column("idempotency_key", sa.String(IDEMPOTENCY_KEY_LENGTH)),
    sa.Column("created_at", UtcDateTime),
)
