"""games: seed 002's V7 (performance metrics): raw samples (name, value, labels, time) and
their per-minute and per-hour rollups; raw samples past retention are pruned once rolled up

Revision ID: games_0007
Revises: games_0006
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

from chaindb.types import IdType, JSONType, UtcDateTime

revision = "games_0007"
down_revision = "games_0006"
branch_labels = None
depends_on = None

RESOLUTIONS = ("minute", "hour")


def upgrade() -> None:
    op.create_table(
        "performance_metrics",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("metric_name", sa.String(128), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("labels", JSONType, nullable=False),
        sa.Column("labels_key", sa.String(1000), nullable=False),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
        sa.Column("rolled_up", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_performance_metrics_pending", "performance_metrics", ["rolled_up", "id"])
    op.create_index("ix_performance_metrics_recorded", "performance_metrics", ["recorded_at"])
    op.create_table(
        "performance_metric_rollups",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("metric_name", sa.String(128), nullable=False),
        sa.Column("labels_key", sa.String(1000), nullable=False),
        sa.Column("resolution", sa.String(8), nullable=False),
        sa.Column("bucket_start", UtcDateTime, nullable=False),
        sa.Column("sample_count", sa.BigInteger, nullable=False),
        sa.Column("value_sum", sa.Float, nullable=False),
        sa.Column("value_min", sa.Float, nullable=False),
        sa.Column("value_max", sa.Float, nullable=False),
        sa.UniqueConstraint(
            "metric_name",
            "labels_key",
            "resolution",
            "bucket_start",
            name="uq_metric_rollups_bucket",
        ),
        sa.CheckConstraint(f"resolution IN {RESOLUTIONS}", name="ck_metric_rollups_resolution"),
        sa.CheckConstraint("sample_count > 0", name="ck_metric_rollups_count"),
    )


def downgrade() -> None:
    op.drop_table("performance_metric_rollups")
    op.drop_table("performance_metrics")
