"""chain pins: the genesis hash of each chain a database follows

Revision ID: chain_0002
Revises: chain_0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from chaindb.types import UtcDateTime, chain_id_check, hash32_check

revision = "chain_0002"
down_revision = "chain_0001"
branch_labels = None
depends_on = None

CHAIN_ID_LENGTH = 41


def upgrade() -> None:
    op.create_table(
        "chain_pins",
        sa.Column(
            "chain_id", sa.String(CHAIN_ID_LENGTH), chain_id_check("chain_id"), primary_key=True
        ),
        sa.Column("genesis_hash", sa.String(66), hash32_check("genesis_hash"), nullable=False),
        sa.Column("pinned_via", sa.Text, nullable=False),
        sa.Column(
            "pinned_at",
            UtcDateTime,
            nullable=False,
            server_default=sa.text("CURRENT_TIMESTAMP"),
        ),
    )


def downgrade() -> None:
    op.drop_table("chain_pins")
