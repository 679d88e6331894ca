"""v_blockchain_tx_summary refuses writes, naming the API to use

Revision ID: core_0004
Revises: core_0003
Create Date: 2026-12-01
"""

from alembic import op

from chaindb.views import make_read_only, make_writable

revision = "core_0004"
down_revision = "core_0003"
branch_labels = None
depends_on = None

VIEWS = {
    "v_blockchain_tx_summary": "chaindb.core (log_blockchain_transaction, "
    "update_blockchain_transaction_status)",
}


def upgrade() -> None:
    make_read_only(op, VIEWS)


def downgrade() -> None:
    make_writable(op, VIEWS)
