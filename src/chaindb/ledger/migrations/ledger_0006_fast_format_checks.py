"""ledger: format CHECKs spelled the fast way on PostgreSQL, the rules unchanged

Revision ID: ledger_0006
Revises: ledger_0005
Create Date: 2026-12-02

Each address, hash, signature or id CHECK of these tables was one regex with a bounded repeat
(`'^0x[0-9a-f]{64}$'`), 3-6 us of the server's time per value on every insert and update; the
same rule as a length and an unbounded class takes about 0.5 us (migrations/format_checks.py).
The revisions before this one build (and keep) the bounded spelling: here the CHECKs are
replaced in place, same names, one ALTER TABLE a table; the downgrade spells them back.
SQLite: nothing to do (its spelling was never a regex).
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
