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


# SQLite refuses a write to any view by itself. A trigger on this one would name the API, but
# SQLite resolves a view's triggers on every ALTER TABLE of the database, and this view sums with
# chaindb's exact aggregate (registered on chaindb's connections only): any other tool's
# ALTER TABLE (the sqlite3 shell's) would fail. PostgreSQL alone gets the trigger here.
def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        make_read_only(op, VIEWS)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        make_writable(op, VIEWS)
