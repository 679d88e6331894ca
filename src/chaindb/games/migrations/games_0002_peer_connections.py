"""games: seed 002's V2 (peer connections): the mesh peers a node talks to, one open
connection per peer, with traffic counters and latency

Revision ID: games_0002
Revises: games_0001
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

from chaindb.types import IdType, UtcDateTime

revision = "games_0002"
down_revision = "games_0001"
branch_labels = None
depends_on = None

TRANSPORTS = ("tcp", "udp", "bluetooth", "other")


def _timestamp(name: str) -> sa.Column:
    return sa.Column(name, UtcDateTime, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP"))


def upgrade() -> None:
    op.create_table(
        "peer_connections",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("peer_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("address", sa.String(255), nullable=False),
        sa.Column("transport", sa.String(12), nullable=False),
        _timestamp("connected_at"),
        _timestamp("last_seen_at"),
        sa.Column("disconnected_at", UtcDateTime, nullable=True),
        sa.Column("bytes_sent", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("bytes_received", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("latency_ms", sa.Integer, nullable=True),
        sa.CheckConstraint(f"transport IN {TRANSPORTS}", name="ck_peer_connections_transport"),
        sa.CheckConstraint(
            "bytes_sent >= 0 AND bytes_received >= 0 AND (latency_ms IS NULL OR latency_ms >= 0)",
            name="ck_peer_connections_counters",
        ),
    )
    op.create_index(
        "uq_peer_connections_open",
        "peer_connections",
        ["peer_id"],
        unique=True,
        sqlite_where=sa.text("disconnected_at IS NULL"),
        postgresql_where=sa.text("disconnected_at IS NULL"),
    )
    op.create_index("ix_peer_connections_user", "peer_connections", ["user_id"])


def downgrade() -> None:
    op.drop_table("peer_connections")
