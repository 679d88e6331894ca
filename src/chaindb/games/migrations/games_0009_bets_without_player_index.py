"""games: bets lose ix_bets_player, an index no query reads

No query of the module, and none of the seed, reads bets by player: a player's figures are
player_stats (kept in step on resolution), a player's CRAP the ledger's accounts. Nor does any
delete need it for the foreign key to users: users are never deleted (an erasure wipes their
personal data, the id stays). Yet every bet paid for it: with 100 players a batch of 1,000
bets dirtied a page per player in it (measured on SQLite: a fifth of the bets' INSERT, and a
batch of bets went from 0.45 to 0.55 of the ledger's holds without it). The downgrade builds
it again.

Revision ID: games_0009
Revises: games_0008
Create Date: 2026-12-02
"""

from alembic import op

revision = "games_0009"
down_revision = "games_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_bets_player", table_name="bets")


def downgrade() -> None:
    op.create_index("ix_bets_player", "bets", ["player_id", "created_at"])
