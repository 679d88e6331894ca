"""ledger: format CHECKs spelled the fast way on PostgreSQL, the rules unchanged

Revision ID: ledger_0006
Revises: ledger_0005
Create Date: 2026-12-02

migrations/format_checks.py: a bounded regex repeat costs 3-6 us a value on every write, a
length and a class 0.5. Downgrade: the bounded spelling again. SQLite: nothing to do.
"""

from alembic import op

from chaindb.migrations.format_checks import respell_format_checks

revision = "ledger_0006"
down_revision = "ledger_0005"
branch_labels = None
depends_on = None

TABLES = (
    "ledger_assets",
    "ledger_transfers",
)


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(respell_format_checks(TABLES, fast=True))


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(respell_format_checks(TABLES, fast=False))
