"""creators: what the plays of dropped partitions added to each track on each day

Revision ID: creators_0002
Revises: creators_0001
Create Date: 2027-03-20

On PostgreSQL, plays may be partitioned by time (ops/partitions.py) and old partitions
dropped whole for retention. The check recounts every track's plays and every (creator, day)
from plays: before a partition goes, what its plays added to each track on each day is folded
into plays_dropped_totals, and the check adds it back, so it stays exact after retention.
Empty, and read as such, until a partition is dropped (and on SQLite).
"""

import sqlalchemy as sa
from alembic import op

from chaindb.types import IdType

revision = "creators_0002"
down_revision = "creators_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plays_dropped_totals",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("track_id", IdType, sa.ForeignKey("tracks.id"), primary_key=True),
        sa.Column("plays", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("listened_s", sa.BigInteger, nullable=False, server_default="0"),
        sa.CheckConstraint("plays >= 0", name="ck_plays_dropped_totals_plays"),
        sa.CheckConstraint("listened_s >= 0", name="ck_plays_dropped_totals_listened_s"),
    )


def downgrade() -> None:
    op.drop_table("plays_dropped_totals")
