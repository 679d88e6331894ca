"""v_blockchain_tx_summary: transaction counts, gas and value by chain, type and status

Revision ID: core_0002
Revises: core_0001
Create Date: 2026-11-22
"""

from alembic import op

revision = "core_0002"
down_revision = "core_0001"
branch_labels = None
depends_on = None

# SQLite's SUM over uint256 text is a float: chaindb registers an exact aggregate on every
# connection it opens, so on SQLite this view is read through chaindb.
TOTAL_VALUE = {
    "postgresql": "coalesce(sum(value_wei), 0)",
    "sqlite": "coalesce(chaindb_uint_sum(value_wei), '0')",
}


def upgrade() -> None:
    total_value = TOTAL_VALUE[op.get_context().dialect.name]
    op.execute(
        f"""CREATE VIEW v_blockchain_tx_summary AS
SELECT chain_id,
       transaction_type,
       status,
       count(*) AS tx_count,
       coalesce(sum(gas_used), 0) AS total_gas,
       {total_value} AS total_value,
       max(created_at) AS last_transaction
FROM blockchain_transactions
GROUP BY chain_id, transaction_type, status"""
    )


def downgrade() -> None:
    op.execute("DROP VIEW v_blockchain_tx_summary")
