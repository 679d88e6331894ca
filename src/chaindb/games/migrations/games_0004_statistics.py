"""games: seed 002's V4 (game statistics): each player's counters and each resolved game's
figures, kept in step when a game is resolved (leaderboards read indexes, never all bets)

Revision ID: games_0004
Revises: games_0003
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

from chaindb.types import AmountType, UtcDateTime, amount_check, amount_zero

revision = "games_0004"
down_revision = "games_0003"
branch_labels = None
depends_on = None


def _amount(name: str) -> sa.Column:
    return sa.Column(
        name, AmountType, amount_check(name), nullable=False, server_default=amount_zero()
    )


def _timestamp(name: str) -> sa.Column:
    return sa.Column(name, UtcDateTime, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP"))


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger, nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "player_stats",
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id"), primary_key=True),
        _count("games_played"),
        _count("games_won"),
        _count("bets_won"),
        _count("bets_lost"),
        _count("bets_pushed"),
        _amount("total_wagered"),
        _amount("total_winnings"),
        _amount("total_losses"),
        _timestamp("updated_at"),
        sa.CheckConstraint(
            "games_won BETWEEN 0 AND games_played AND bets_won >= 0 AND bets_lost >= 0"
            " AND bets_pushed >= 0",
            name="ck_player_stats_counts",
        ),
    )
    op.create_index(
        "ix_player_stats_winnings", "player_stats", [sa.text("total_winnings DESC"), "user_id"]
    )
    op.create_index(
        "ix_player_stats_games_won", "player_stats", [sa.text("games_won DESC"), "user_id"]
    )
    op.create_table(
        "game_statistics",
        sa.Column("game_id", sa.String(64), sa.ForeignKey("games.id"), primary_key=True),
        sa.Column("bet_count", sa.Integer, nullable=False),
        sa.Column("player_count", sa.Integer, nullable=False),
        sa.Column("roll_count", sa.Integer, nullable=False),
        _amount("total_wagered"),
        _amount("total_paid_out"),
        _amount("house_take"),
        sa.Column("duration_ms", sa.BigInteger, nullable=False),
        _timestamp("resolved_at"),
    )


def downgrade() -> None:
    op.drop_table("game_statistics")
    op.drop_table("player_stats")
