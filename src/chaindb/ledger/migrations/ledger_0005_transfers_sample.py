"""ledger: a smaller statistics sample for ledger_transfers (PostgreSQL)

Revision ID: ledger_0005
Revises: ledger_0004
Create Date: 2026-12-02

While ANALYZE samples a table it holds a snapshot, and so long as it does no dead row of any
table in the database can be pruned (a VACUUM's own snapshot is ignored; an ANALYZE's is not).
Every transfer leaves a dead version of two ledger_accounts rows: HOT pruning reclaims them
on the next update of the page, unless a snapshot is older than they are. Measured with
10,000 users and batches of 1,000 transfers: autoanalyze of a ledger_transfers of 3M rows
(30,000 rows sampled, PostgreSQL's default statistics target of 100) held its snapshot for
about 9 batches; the accounts' pages overflowed in that time, their rows moved to new pages,
and ledger_accounts grew to 3.6x its packed size by 10M transfers.

A target of 10 samples 3,000 rows: an append-only log of mostly unique ids needs no more
for its plans (equality on indexed account ids, a few kinds, ranges of time). On a
partitioned ledger_transfers (ops.partitions) the setting reaches its existing partitions, and
ops.partitions gives it to the ones it creates (autoanalyze samples each partition). The
downgrade sets the server's default again. SQLite keeps no such sample: a no-op there.
"""

from alembic import op

revision = "ledger_0005"
down_revision = "ledger_0004"
branch_labels = None
depends_on = None

STATISTICS_TARGET = 10
# ledger_transfers' columns as of ledger_0004 (named, not read from the catalog: the SQL
# renders offline). A column added later samples at the server's default until it is set.
COLUMNS = (
    "id", "asset_id", "debit_account_id", "credit_account_id", "amount", "kind", "phase",
    "pending_id", "expires_at", "idempotency_key", "reason", "challenge_id", "chain_tx_hash",
    "created_at",
)  # fmt: skip


def upgrade() -> None:
    _set_statistics(STATISTICS_TARGET)


def downgrade() -> None:
    _set_statistics(-1)  # the server's default_statistics_target again


def _set_statistics(target: int) -> None:
    if op.get_context().dialect.name == "postgresql":
        changes = ", ".join(f"ALTER COLUMN {name} SET STATISTICS {target}" for name in COLUMNS)
        op.execute(f"ALTER TABLE ledger_transfers {changes}")
