"""the points views refuse writes, naming the API to use

Revision ID: ledger_0002
Revises: ledger_0001
Create Date: 2026-12-01
"""

from alembic import op

from chaindb.views import make_read_only, make_writable

revision = "ledger_0002"
down_revision = "ledger_0001"
branch_labels = None
depends_on = None

WRITE_THROUGH = "chaindb.ledger (transfer, record_points_transaction, transfer_batch)"
VIEWS = {
    "user_points_ledgers": WRITE_THROUGH,
    "points_transactions": WRITE_THROUGH,
    "v_user_points_summary": WRITE_THROUGH,
}


def upgrade() -> None:
    make_read_only(op, VIEWS)


def downgrade() -> None:
    make_writable(op, VIEWS)
