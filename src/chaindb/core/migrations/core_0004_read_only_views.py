"""v_blockchain_tx_summary refuses writes, naming the API to use

Revision ID: core_0004
Revises: core_0003
Create Date: 2026-12-01
"""

from alembic import op

from chaindb.views import allow_writes_sql, refuse_writes_sql

revision = "core_0004"
down_revision = "core_0003"
branch_labels = None
depends_on = None

VIEWS = {
    "v_blockchain_tx_summary": "chaindb.core (log_blockchain_transaction, "
    "update_blockchain_transaction_status)",
}


def upgrade() -> None:
    for view, api in VIEWS.items():
        for statement in refuse_writes_sql(op.get_context().dialect.name, view, api):
            op.execute(statement)


def downgrade() -> None:
    for view in VIEWS:
        for statement in allow_writes_sql(op.get_context().dialect.name, view):
            op.execute(statement)
