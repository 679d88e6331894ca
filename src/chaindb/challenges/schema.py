"""Challenges (seed 000): the challenge, its participants by side, and its escrow records.

The money itself is in the ledger: a stake is a hold from the user's account towards
'system:escrow'; an escrow record is the challenge's view of that hold (side, status, what was
released), pointing at the hold and the transfers that settled it.
"""

from __future__ import annotations

import sqlalchemy as sa

from chaindb.columns import amount, row_id, timestamp, tx_hash
from chaindb.core.schema import users
from chaindb.ledger.schema import ledger_assets, ledger_transfers
from chaindb.types import (
    AddressType,
    AmountType,
    DecimalText,
    IdType,
    JSONType,
    UtcDateTime,
    address_check,
    amount_check,
)

metadata = sa.MetaData()

STATUSES = ("pending", "active", "completed", "cancelled")
RESULTS = ("challenger_won", "challenged_won", "draw")
ON_CHAIN_STATUSES = ("pending", "active", "resolved", "claimed")
ON_CHAIN_MOVES = (("pending", "active"), ("active", "resolved"), ("resolved", "claimed"))
SIDES = ("YES", "NO")
ESCROW_STATUSES = ("locked", "released", "claimed", "refunded")


challenges = sa.Table(
    "challenges",
    metadata,
    row_id(),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("challenger", sa.String(64), sa.ForeignKey(users.c.id), nullable=False),
    sa.Column("challenged", sa.String(64), sa.ForeignKey(users.c.id), nullable=True),
    amount("amount"),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("result", sa.String(16), nullable=True),
    sa.Column("due_date", UtcDateTime, nullable=True),
    timestamp("created_at"),
    timestamp("updated_at"),
    sa.Column("completed_at", UtcDateTime, nullable=True),
    # Seed 000's blockchain fields.
    sa.Column("blockchain_chain_id", sa.BigInteger, nullable=True),
    sa.Column(
        "blockchain_contract_address",
        AddressType,
        address_check("blockchain_contract_address", fast=True),
        nullable=True,
    ),
    tx_hash("blockchain_creation_tx_hash"),
    tx_hash("blockchain_resolution_tx_hash"),
    tx_hash("blockchain_payout_tx_hash"),
    tx_hash("blockchain_settlement_tx_hash"),
    sa.Column("blockchain_block_number", sa.BigInteger, nullable=True),
    sa.Column("blockchain_settlement_block_number", sa.BigInteger, nullable=True),
    sa.Column(
        "payment_token_address",
        AddressType,
        address_check("payment_token_address", fast=True),
        nullable=True,
    ),
    sa.Column("payment_asset_id", IdType, sa.ForeignKey(ledger_assets.c.id), nullable=True),
    sa.Column("stake_amount_wei", AmountType, amount_check("stake_amount_wei"), nullable=True),
    sa.Column("points_awarded", AmountType, amount_check("points_awarded"), nullable=True),
    sa.Column("points_multiplier", DecimalText(3, 2), nullable=False, server_default="1.00"),
    sa.Column("admin_signature", sa.Text, nullable=True),
    sa.Column("on_chain_status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("on_chain_resolved", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("resolution_timestamp", UtcDateTime, nullable=True),
    sa.Column("on_chain_metadata", JSONType, nullable=True),
    # challenges_0002: set when a reorg undid the resolution (the only way back, see trigger).
    sa.Column("reorged_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("blockchain_creation_tx_hash", name="uq_challenges_creation_tx_hash"),
    sa.CheckConstraint(f"status IN {STATUSES}", name="ck_challenges_status"),
    sa.CheckConstraint(f"result IS NULL OR result IN {RESULTS}", name="ck_challenges_result"),
    sa.CheckConstraint(
        f"on_chain_status IN {ON_CHAIN_STATUSES}", name="ck_challenges_on_chain_status"
    ),
    sa.CheckConstraint(
        "challenged IS NULL OR challenged <> challenger", name="ck_challenges_two_sides"
    ),
    sa.CheckConstraint("length(title) > 0", name="ck_challenges_title"),
    sa.CheckConstraint(
        "blockchain_chain_id IS NULL OR blockchain_chain_id > 0", name="ck_challenges_chain_id"
    ),
    sa.Index("idx_challenges_blockchain_status", "on_chain_status"),
    sa.Index("idx_challenges_payment_token", "payment_token_address"),
    sa.Index("idx_challenges_chain_id", "blockchain_chain_id"),
    sa.Index("ix_challenges_result", "result", "on_chain_resolved"),
)

challenge_participants = sa.Table(
    "challenge_participants",
    metadata,
    row_id(),
    sa.Column(
        "challenge_id", IdType, sa.ForeignKey("challenges.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("user_id", sa.String(64), sa.ForeignKey(users.c.id), nullable=False),
    sa.Column("side", sa.String(3), nullable=False),
    timestamp("joined_at"),
    sa.UniqueConstraint("challenge_id", "user_id", name="uq_challenge_participants_user"),
    sa.UniqueConstraint("challenge_id", "user_id", "side", name="uq_challenge_participants_side"),
    sa.CheckConstraint(f"side IN {SIDES}", name="ck_challenge_participants_side"),
    sa.Index("ix_challenge_participants_challenge_side", "challenge_id", "side"),
    sa.Index("ix_challenge_participants_user", "user_id"),
)

challenge_escrow_records = sa.Table(
    "challenge_escrow_records",
    metadata,
    row_id(),
    sa.Column("challenge_id", IdType, nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("side", sa.String(3), nullable=False),
    sa.Column("asset_id", IdType, sa.ForeignKey(ledger_assets.c.id), nullable=False),
    sa.Column(
        "token_address", AddressType, address_check("token_address", fast=True), nullable=True
    ),
    amount("amount_escrowed"),
    amount("amount_released"),
    sa.Column("status", sa.String(10), nullable=False, server_default="locked"),
    sa.Column("hold_transfer_id", IdType, sa.ForeignKey(ledger_transfers.c.id), nullable=False),
    sa.Column("settle_transfer_id", IdType, sa.ForeignKey(ledger_transfers.c.id), nullable=True),
    sa.Column("payout_transfer_id", IdType, sa.ForeignKey(ledger_transfers.c.id), nullable=True),
    tx_hash("escrow_tx_hash"),
    tx_hash("claim_tx_hash"),
    timestamp("created_at"),
    timestamp("updated_at"),
    sa.Column("released_at", UtcDateTime, nullable=True),
    sa.Column("claimed_at", UtcDateTime, nullable=True),
    sa.ForeignKeyConstraint(
        ["challenge_id", "user_id", "side"],
        [
            "challenge_participants.challenge_id",
            "challenge_participants.user_id",
            "challenge_participants.side",
        ],
        name="fk_escrow_participant",
    ),
    sa.UniqueConstraint("challenge_id", "user_id", name="uq_escrow_records_challenge_user"),
    sa.UniqueConstraint("hold_transfer_id", name="uq_escrow_records_hold"),
    sa.CheckConstraint(f"status IN {ESCROW_STATUSES}", name="ck_escrow_records_status"),
    sa.CheckConstraint(f"side IN {SIDES}", name="ck_escrow_records_side"),
    sa.CheckConstraint(
        "status <> 'claimed' OR claimed_at IS NOT NULL", name="ck_escrow_records_claimed_at"
    ),
    sa.Index("ix_escrow_records_user_status", "user_id", "status"),
    sa.Index("ix_escrow_records_status", "status"),
)

v_challenges_pending_resolution = sa.Table(
    "v_challenges_pending_resolution",
    sa.MetaData(),
    sa.Column("id", IdType),
    sa.Column("title", sa.String(200)),
    sa.Column("status", sa.String(16)),
    sa.Column("on_chain_status", sa.String(16)),
    sa.Column("challenger", sa.String(64)),
    sa.Column("challenged", sa.String(64)),
    sa.Column("yes_participants", sa.BigInteger),
    sa.Column("no_participants", sa.BigInteger),
    sa.Column("created_at", UtcDateTime),
)
