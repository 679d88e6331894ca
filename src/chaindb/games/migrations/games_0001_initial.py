"""games: seed 002's V1 (initial schema): players (the seed's public_key and reputation,
keyed by core's users), games, their dice rolls, bets (stakes are ledger holds)

Revision ID: games_0001
Revises:
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

from chaindb.types import (
    AmountType,
    DecimalText,
    DialectSQL,
    IdType,
    JSONType,
    UtcDateTime,
    amount_check,
    amount_zero,
)

revision = "games_0001"
down_revision = None
branch_labels = ("games",)
depends_on = "ledger_0001"

PHASES = ("come_out", "point", "resolved")
POINT_NUMBERS = (4, 5, 6, 8, 9, 10)
BET_TYPES = (
    "pass",
    "dont_pass",
    "pass_odds",
    "dont_pass_odds",
    "field",
    "any_seven",
    "any_craps",
    "eleven",
    "two",
    "twelve",
    "hard4",
    "hard6",
    "hard8",
    "hard10",
)
OUTCOMES = ("won", "lost", "push")


def _amount(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(
        name,
        AmountType,
        amount_check(name),
        nullable=nullable,
        server_default=None if nullable else amount_zero(),
    )


def _timestamp(name: str) -> sa.Column:
    return sa.Column(name, UtcDateTime, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP"))


def _bytes_check(column: str, size: int) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"length({column}) = {size}", name=f"{column}_bytes")


def upgrade() -> None:
    op.create_table(
        "games_players",
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("reputation", DecimalText(3, 2), nullable=False, server_default="0.00"),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.UniqueConstraint("public_key", name="uq_games_players_public_key"),
        _bytes_check("public_key", 32),
        sa.CheckConstraint(
            DialectSQL(
                "reputation",
                sqlite="CAST({col} AS REAL) BETWEEN 0 AND 5",
                postgresql="{col} BETWEEN 0 AND 5",
            ),
            name="ck_games_players_reputation",
        ),
    )
    op.create_table(
        "games",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("state", JSONType, nullable=False),
        _amount("pot_size"),
        sa.Column("phase", sa.String(16), nullable=False, server_default="come_out"),
        sa.Column("point", sa.SmallInteger, nullable=True),
        sa.Column("roll_count", sa.Integer, nullable=False, server_default="0"),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.Column("completed_at", UtcDateTime, nullable=True),
        sa.Column("winner_id", sa.String(64), sa.ForeignKey("users.id"), nullable=True),
        sa.CheckConstraint(f"phase IN {PHASES}", name="ck_games_phase"),
        sa.CheckConstraint(f"point IS NULL OR point IN {POINT_NUMBERS}", name="ck_games_point"),
        sa.CheckConstraint(
            "(phase <> 'point' OR point IS NOT NULL) AND (phase <> 'come_out' OR point IS NULL)",
            name="ck_games_phase_point",
        ),
        sa.CheckConstraint(
            "(phase = 'resolved') = (completed_at IS NOT NULL)", name="ck_games_completed"
        ),
        sa.CheckConstraint("roll_count >= 0", name="ck_games_roll_count"),
    )
    op.create_index(
        "ix_games_active",
        "games",
        ["created_at", "id"],
        sqlite_where=sa.text("completed_at IS NULL"),
        postgresql_where=sa.text("completed_at IS NULL"),
    )
    op.create_table(
        "game_rolls",
        sa.Column("game_id", sa.String(64), sa.ForeignKey("games.id"), primary_key=True),
        sa.Column("roll_number", sa.Integer, primary_key=True),
        sa.Column("die1", sa.SmallInteger, nullable=False),
        sa.Column("die2", sa.SmallInteger, nullable=False),
        _timestamp("rolled_at"),
        sa.CheckConstraint(
            "die1 BETWEEN 1 AND 6 AND die2 BETWEEN 1 AND 6", name="ck_game_rolls_dice"
        ),
        sa.CheckConstraint("roll_number >= 1", name="ck_game_rolls_number"),
    )
    op.create_table(
        "bets",
        sa.Column("id", sa.LargeBinary(16), primary_key=True),
        sa.Column("game_id", sa.String(64), sa.ForeignKey("games.id"), nullable=False),
        sa.Column("player_id", sa.String(64), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("bet_type", sa.String(16), nullable=False),
        _amount("amount"),
        sa.Column("outcome", sa.String(8), nullable=True),
        _amount("payout", nullable=True),
        sa.Column("placed_at_roll", sa.Integer, nullable=False),
        sa.Column("hold_transfer_id", IdType, sa.ForeignKey("ledger_transfers.id"), nullable=False),
        sa.Column(
            "settle_transfer_id", IdType, sa.ForeignKey("ledger_transfers.id"), nullable=True
        ),
        sa.Column(
            "payout_transfer_id", IdType, sa.ForeignKey("ledger_transfers.id"), nullable=True
        ),
        _timestamp("created_at"),
        sa.Column("resolved_at", UtcDateTime, nullable=True),
        sa.UniqueConstraint("hold_transfer_id", name="uq_bets_hold"),
        _bytes_check("id", 16),
        sa.CheckConstraint(
            DialectSQL("amount", sqlite="{col} <> '" + "0" * 78 + "'", postgresql="{col} > 0"),
            name="ck_bets_amount_positive",
        ),
        sa.CheckConstraint(f"bet_type IN {BET_TYPES}", name="ck_bets_bet_type"),
        sa.CheckConstraint(f"outcome IS NULL OR outcome IN {OUTCOMES}", name="ck_bets_outcome"),
        sa.CheckConstraint(
            "(outcome IS NULL) = (resolved_at IS NULL) AND (outcome IS NULL) = (payout IS NULL)",
            name="ck_bets_resolved",
        ),
    )
    op.create_index("ix_bets_game", "bets", ["game_id", "outcome"])
    op.create_index("ix_bets_player", "bets", ["player_id", "created_at"])


def downgrade() -> None:
    for table in ("bets", "game_rolls", "games", "games_players"):
        op.drop_table(table)
