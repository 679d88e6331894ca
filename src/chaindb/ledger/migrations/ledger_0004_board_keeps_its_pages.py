"""ledger: vacuum never truncates the leaderboard's board (PostgreSQL)

Revision ID: ledger_0004
Revises: ledger_0003
Create Date: 2027-02-15

To give back the empty pages at the end of a table, VACUUM takes its ACCESS EXCLUSIVE lock
and holds it while it scans them, writes the truncation to the WAL and flushes it (an fsync),
and drops their buffers. Writers vacuum the board every few thousand transfers
(ledger.leaderboard.vacuum_board), autovacuum every 2,000 dead rows (ledger_0003): each time
the board's last pages were empty, every leaderboard read and every writer of a ranked balance
waited behind that lock. The board is small and its pages are reused by the next updates (the
free space map): it keeps them. SQLite has no such setting: a no-op.
"""

from alembic import op

revision = "ledger_0004"
down_revision = "ledger_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE ledger_leaderboard SET (vacuum_truncate = false)")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE ledger_leaderboard RESET (vacuum_truncate)")
