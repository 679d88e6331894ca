"""transaction tracking (raw tx, effective gas price, confirmations, finality) and contract admins

Revision ID: core_0003
Revises: core_0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from chaindb.types import (
    AddressType,
    AmountType,
    IdType,
    UtcDateTime,
    address_check,
    amount_check,
    chain_id_check,
)

revision = "core_0003"
down_revision = "core_0002"
branch_labels = None
depends_on = None

NEW_COLUMNS = (
    sa.Column("raw_transaction", sa.Text, nullable=True),
    sa.Column(
        "effective_gas_price_wei",
        AmountType,
        amount_check("effective_gas_price_wei"),
        nullable=True,
    ),
    sa.Column("confirmations", sa.BigInteger, nullable=True),
    sa.Column("is_final", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("finalized_at", UtcDateTime, nullable=True),
    sa.Column("last_seen_at", UtcDateTime, nullable=True),
)


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN (nullable or defaulted): no table rebuild, which SQLite
    # would refuse anyway while v_blockchain_tx_summary reads the table.
    for column in NEW_COLUMNS:
        op.add_column("blockchain_transactions", column)
    op.create_table(
        "contract_admins",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("chain_id", sa.String(41), chain_id_check("chain_id"), nullable=False),
        sa.Column(
            "contract_address", AddressType, address_check("contract_address"), nullable=False
        ),
        sa.Column("admin_address", AddressType, address_check("admin_address"), nullable=False),
        sa.Column(
            "added_at", UtcDateTime, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")
        ),
        sa.Column("revoked_at", UtcDateTime, nullable=True),
        sa.UniqueConstraint(
            "chain_id", "contract_address", "admin_address", name="uq_contract_admins"
        ),
    )


def downgrade() -> None:
    op.drop_table("contract_admins")
    for column in reversed(NEW_COLUMNS):
        op.drop_column("blockchain_transactions", column.name)
