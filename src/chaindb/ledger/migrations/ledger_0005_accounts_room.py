"""ledger: more room on each page of ledger_accounts (PostgreSQL)

Revision ID: ledger_0005
Revises: ledger_0004
Create Date: 2027-04-01

An account update is HOT (no new index entry, the old version pruned in place) only when the
new version fits on the row's own page. ledger_0003 left a quarter of each page free
(fillfactor 75): about 15 new versions of ~130 bytes. A batch of 1,000 transfers among
10,000 users updates about 18 % of the accounts, 8 per page on average; the pages that drew 16
or more in one batch moved their overflow to other pages (0.3-0.5 % of updates), and after 5M
transfers the table held 3.2x its packed size (the free space map catches up only at each
vacuum). At fillfactor 60 a page has room for about 24 new versions against the 7 a batch
draws on average, and such a batch no longer overflows.

It applies to pages written from now on: on an existing database, VACUUM FULL ledger_accounts
(or pg_repack) rewrites the others. SQLite rewrites a row in place: a no-op there.
"""

from alembic import op

revision = "ledger_0005"
down_revision = "ledger_0004"
branch_labels = None
depends_on = None

ACCOUNTS_FILLFACTOR = 60
PREVIOUS_FILLFACTOR = 75  # ledger_0003's


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE ledger_accounts SET (fillfactor = {ACCOUNTS_FILLFACTOR})")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE ledger_accounts SET (fillfactor = {PREVIOUS_FILLFACTOR})")
