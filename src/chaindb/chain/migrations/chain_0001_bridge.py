"""chain bridge: transaction effects, contract events, log cursors

Revision ID: chain_0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from chaindb.types import (
    AddressType,
    IdType,
    JSONType,
    TxHashType,
    UtcDateTime,
    address_check,
    chain_id_check,
    hash32_check,
    tx_hash_check,
)

revision = "chain_0001"
down_revision = None
branch_labels = ("chain",)
depends_on = ("core_0003", "challenges_0002")

CHAIN_ID_LENGTH = 41
EFFECT_STATES = ("waiting", "applied")  # compensation sends an effect back to waiting
EVENT_STATUSES = ("new", "projected", "skipped", "removed")


def _chain_id() -> sa.Column[str]:
    return sa.Column(
        "chain_id", sa.String(CHAIN_ID_LENGTH), chain_id_check("chain_id"), nullable=False
    )


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(name, UtcDateTime, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP"))


def upgrade() -> None:
    op.create_table(
        "chain_tx_effects",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        _chain_id(),
        sa.Column(
            "transaction_hash", TxHashType, tx_hash_check("transaction_hash"), nullable=False
        ),
        sa.Column("effect", sa.String(32), nullable=False),
        sa.Column("payload", JSONType, nullable=False),
        sa.Column("state", sa.String(12), nullable=False, server_default="waiting"),
        sa.Column(
            "applied_block_hash", sa.String(66), hash32_check("applied_block_hash"), nullable=True
        ),
        sa.Column("applications", sa.Integer, nullable=False, server_default="0"),
        sa.Column("compensations", sa.Integer, nullable=False, server_default="0"),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.UniqueConstraint("chain_id", "transaction_hash", "effect", name="uq_chain_tx_effects"),
        sa.CheckConstraint(f"state IN {EFFECT_STATES}", name="ck_chain_tx_effects_state"),
        sa.CheckConstraint(
            "(state = 'applied') = (applied_block_hash IS NOT NULL)",
            name="ck_chain_tx_effects_block",
        ),
        sa.Index("ix_chain_tx_effects_state", "state"),
    )

    op.create_table(
        "chain_events",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        _chain_id(),
        sa.Column(
            "contract_address", AddressType, address_check("contract_address"), nullable=False
        ),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("block_hash", sa.String(66), hash32_check("block_hash"), nullable=False),
        sa.Column(
            "transaction_hash", TxHashType, tx_hash_check("transaction_hash"), nullable=False
        ),
        sa.Column("log_index", sa.Integer, nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("args", JSONType, nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="new"),
        sa.Column("note", sa.Text, nullable=True),
        _timestamp("ingested_at"),
        _timestamp("updated_at"),
        sa.UniqueConstraint("chain_id", "block_hash", "log_index", name="uq_chain_events_log"),
        sa.CheckConstraint(f"status IN {EVENT_STATUSES}", name="ck_chain_events_status"),
        sa.Index("ix_chain_events_block", "chain_id", "block_number"),
        sa.Index("ix_chain_events_status", "status"),
    )

    op.create_table(
        "chain_cursors",
        sa.Column(
            "chain_id", sa.String(CHAIN_ID_LENGTH), chain_id_check("chain_id"), primary_key=True
        ),
        sa.Column("stream", sa.String(120), primary_key=True),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("block_hash", sa.String(66), hash32_check("block_hash"), nullable=True),
        _timestamp("updated_at"),
    )


def downgrade() -> None:
    for table in ("chain_cursors", "chain_events", "chain_tx_effects"):
        op.drop_table(table)
