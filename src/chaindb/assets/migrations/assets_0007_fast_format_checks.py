"""assets: format CHECKs spelled the fast way on PostgreSQL, the rules unchanged

Revision ID: assets_0007
Revises: assets_0006
Create Date: 2026-12-02

migrations/format_checks.py: a bounded regex repeat costs 3-6 us a value on every write, a
length and a class 0.5. Downgrade: the bounded spelling again. SQLite: nothing to do.
"""

from alembic import op

from chaindb.migrations.format_checks import respell_format_checks

revision = "assets_0007"
down_revision = "assets_0006"
branch_labels = None
depends_on = None

TABLES = (
    "access_grants",
    "cost_tracking",
    "memory_assets",
    "merkle_trees",
    "minting_queue",
    "transfer_history",
    "version_history",
)


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(respell_format_checks(TABLES, fast=True))


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(respell_format_checks(TABLES, fast=False))
