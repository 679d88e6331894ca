"""games: seed 002's V3 (consensus tracking): Byzantine consensus rounds, the players
registered for each, and their ed25519-signed votes (one per voter per round)

Revision ID: games_0003
Revises: games_0002
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

from chaindb.types import IdType, UtcDateTime

revision = "games_0003"
down_revision = "games_0002"
branch_labels = None
depends_on = None


def _timestamp(name: str) -> sa.Column:
    return sa.Column(name, UtcDateTime, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP"))


def _bytes_check(column: str, size: int) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"length({column}) = {size}", name=f"{column}_bytes")


def upgrade() -> None:
    op.create_table(
        "consensus_rounds",
        sa.Column("round_number", IdType, primary_key=True, autoincrement=True),
        sa.Column("game_id", sa.String(64), sa.ForeignKey("games.id"), nullable=True),
        sa.Column(
            "proposer_id", sa.String(64), sa.ForeignKey("games_players.user_id"), nullable=False
        ),
        sa.Column("proposal_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("participant_count", sa.Integer, nullable=False),
        sa.Column("quorum", sa.Integer, nullable=False),
        sa.Column("vote_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("finalized", sa.Boolean, nullable=False, server_default=sa.false()),
        _timestamp("created_at"),
        sa.Column("finalized_at", UtcDateTime, nullable=True),
        _bytes_check("proposal_hash", 32),
        sa.CheckConstraint(
            "participant_count >= 1 AND quorum * 3 > participant_count * 2"
            " AND quorum <= participant_count",
            name="ck_consensus_rounds_quorum",
        ),
        sa.CheckConstraint(
            "vote_count BETWEEN 0 AND participant_count", name="ck_consensus_rounds_votes"
        ),
        sa.CheckConstraint(
            "finalized = (finalized_at IS NOT NULL) AND (NOT finalized OR vote_count >= quorum)",
            name="ck_consensus_rounds_finalized",
        ),
    )
    op.create_index("ix_consensus_rounds_game", "consensus_rounds", ["game_id"])
    op.create_table(
        "consensus_participants",
        sa.Column(
            "round_number",
            IdType,
            sa.ForeignKey("consensus_rounds.round_number"),
            primary_key=True,
        ),
        sa.Column(
            "user_id", sa.String(64), sa.ForeignKey("games_players.user_id"), primary_key=True
        ),
    )
    op.create_table(
        "consensus_votes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("round_number", IdType, nullable=False),
        sa.Column("voter_id", sa.String(64), nullable=False),
        sa.Column("vote_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
        sa.Column("late", sa.Boolean, nullable=False, server_default=sa.false()),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["round_number", "voter_id"],
            ["consensus_participants.round_number", "consensus_participants.user_id"],
            name="fk_consensus_votes_participant",
        ),
        sa.UniqueConstraint("round_number", "voter_id", name="uq_consensus_votes_voter"),
        _bytes_check("vote_hash", 32),
        _bytes_check("signature", 64),
    )


def downgrade() -> None:
    for table in ("consensus_votes", "consensus_participants", "consensus_rounds"):
        op.drop_table(table)
