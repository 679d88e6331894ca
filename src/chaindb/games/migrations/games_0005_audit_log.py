"""games: seed 002's V5 (audit logging): every change to games, bets, balances, staking and
players, with who made it and the row before and after, written in the change's transaction

Revision ID: games_0005
Revises: games_0004
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

from chaindb.types import IdType, JSONType, UtcDateTime

revision = "games_0005"
down_revision = "games_0004"
branch_labels = None
depends_on = None

AUDITED = ("game", "bet", "balance", "staking_position", "player")


def upgrade() -> None:
    op.create_table(
        "games_audit_log",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column(
            "occurred_at",
            UtcDateTime,
            nullable=False,
            server_default=sa.text("CURRENT_TIMESTAMP"),
        ),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("entity_type", sa.String(20), nullable=False),
        sa.Column("entity_id", sa.String(100), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("before", JSONType, nullable=True),
        sa.Column("after", JSONType, nullable=True),
        sa.CheckConstraint(f"entity_type IN {AUDITED}", name="ck_games_audit_log_entity_type"),
    )
    op.create_index(
        "ix_games_audit_log_entity", "games_audit_log", ["entity_type", "entity_id", "id"]
    )
    op.create_index("ix_games_audit_log_occurred", "games_audit_log", ["occurred_at"])


def downgrade() -> None:
    op.drop_table("games_audit_log")
