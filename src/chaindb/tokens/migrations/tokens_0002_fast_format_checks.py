"""tokens: format CHECKs spelled the fast way on PostgreSQL, the rules unchanged

Revision ID: tokens_0002
Revises: tokens_0001
Create Date: 2026-12-02

migrations/format_checks.py: a bounded regex repeat costs 3-6 us a value on every write, a
length and a class 0.5. Downgrade: the bounded spelling again. SQLite: nothing to do.
"""

from alembic import op

from chaindb.migrations.format_checks import respell_format_checks

revision = "tokens_0002"
down_revision = "tokens_0001"
branch_labels = None
depends_on = None

TABLES = (
    "tokens",
    "transactions",
)


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(respell_format_checks(TABLES, fast=True))


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(respell_format_checks(TABLES, fast=False))
