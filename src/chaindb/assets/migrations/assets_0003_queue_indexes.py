"""assets: two indexes fewer written by each move of a minting job

Revision ID: assets_0003
Revises: assets_0002
Create Date: 2026-12-02

Each claim and each completion of a job is an UPDATE that changes its status, so PostgreSQL
writes a new entry in every index of minting_queue whose predicate the new row meets (an
update changing an indexed or predicate column is never HOT). Two of the eight served no
query: ix_minting_queue_owner (no reader looks jobs up by owner) and the full
ix_minting_queue_status_completed (status, completed_at), whose one reader, the retention
cleanup, reads completed jobs by age only. The latter becomes ix_minting_queue_completed
(completed_at) WHERE status = 'completed': a claim no longer writes to it, a completion
still does. Counting jobs per status (queue_counts) reads the table instead.
"""

import sqlalchemy as sa
from alembic import op

revision = "assets_0003"
down_revision = "assets_0002"
branch_labels = None
depends_on = None

COMPLETED = sa.text("status = 'completed'")
LINT_REVIEWED = {
    "index-not-concurrent": "the partial index holds completed jobs only and is built in the "
    "migration's transaction: claims wait while it is built (on a large queue, migrate in a "
    "quiet minute)",
}


def upgrade() -> None:
    op.drop_index("ix_minting_queue_owner", table_name="minting_queue")
    op.drop_index("ix_minting_queue_status_completed", table_name="minting_queue")
    op.create_index(
        "ix_minting_queue_completed",
        "minting_queue",
        ["completed_at"],
        postgresql_where=COMPLETED,
        sqlite_where=COMPLETED,
    )


def downgrade() -> None:
    op.drop_index("ix_minting_queue_completed", table_name="minting_queue")
    op.create_index(
        "ix_minting_queue_status_completed", "minting_queue", ["status", "completed_at"]
    )
    op.create_index("ix_minting_queue_owner", "minting_queue", ["owner_address"])
