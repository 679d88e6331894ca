"""ledger: what the transfers of dropped partitions added to each account

Revision ID: ledger_0004
Revises: ledger_0003
Create Date: 2027-03-01

On PostgreSQL, ledger_transfers may be partitioned by month (ops/partitions.py) and old
partitions dropped whole for retention. The ledger check recomputes every account from its
transfers: before a partition goes, what its transfers added to each account is folded into
ledger_dropped_totals, and the check adds it back, so it stays exact after retention. Every
amount is a non-negative sum (money in and out of issuance and burn kept apart): no signed
amount is stored. Empty, and read as such, until a partition is dropped (and on SQLite).
"""

import sqlalchemy as sa
from alembic import op

from chaindb.columns import amount
from chaindb.types import IdType, UtcDateTime

revision = "ledger_0004"
down_revision = "ledger_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_dropped_totals",
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


def downgrade() -> None:
    op.drop_table("ledger_dropped_totals")
