"""challenges: format CHECKs spelled the fast way on PostgreSQL, the rules unchanged

Revision ID: challenges_0004
Revises: challenges_0003
Create Date: 2026-12-02

migrations/format_checks.py: a bounded regex repeat costs 3-6 us a value on every write, a
length and a class 0.5. Downgrade: the bounded spelling again. SQLite: nothing to do.
"""

from alembic import op

from chaindb.migrations.format_checks import respell_format_checks

revision = "challenges_0004"
down_revision = "challenges_0003"
branch_labels = None
depends_on = None

TABLES = (
    "challenge_escrow_records",
    "challenges",
)


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(respell_format_checks(TABLES, fast=True))


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(respell_format_checks(TABLES, fast=False))
