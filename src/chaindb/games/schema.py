"""Games (seed 002, BitCraps): players, craps games, bets, peers, consensus, statistics,
audit, staking and metrics (migrations games_0001 … games_0009 build exactly these).

The CRAP token lives in the ledger (asset `bitcraps:mesh/native`): a bet is a hold from the
player's account towards 'system:games_house', a staking position a hold towards
'system:games_staking'. The seed's `token_balances` is a view over those accounts and holds
(one source of truth); its `transactions` are the ledger's transfers of that asset.
"""

from __future__ import annotations

import sqlalchemy as sa

from chaindb.columns import amount, row_id, timestamp
from chaindb.core.schema import users
from chaindb.games.craps import BET_TYPES
from chaindb.ledger.schema import ledger_transfers
from chaindb.types import AmountType, DecimalText, DialectSQL, IdType, JSONType, UtcDateTime

metadata = sa.MetaData()

PHASES = ("come_out", "point", "resolved")
POINT_NUMBERS = (4, 5, 6, 8, 9, 10)
OUTCOMES = ("won", "lost", "push")
TRANSPORTS = ("tcp", "udp", "bluetooth", "other")
AUDITED = ("game", "bet", "balance", "staking_position", "player")
RESOLUTIONS = ("minute", "hour")
REPUTATION_MAX = 5
BET_ID_BYTES = 16
PUBLIC_KEY_BYTES = 32  # ed25519
SIGNATURE_BYTES = 64  # ed25519
HASH_BYTES = 32  # SHA-256
GAME_ID_CHARS_MAX = 64
METRIC_NAME_CHARS_MAX = 128
LABELS_KEY_CHARS_MAX = 1_000


def _bytes_check(column: str, size: int) -> sa.CheckConstraint:
    # length() of a BLOB (SQLite) or a bytea (PostgreSQL) counts bytes.
    return sa.CheckConstraint(f"length({column}) = {size}", name=f"{column}_bytes")


def _positive_amount(column: str, name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(
        DialectSQL(column, sqlite="{col} <> '" + "0" * 78 + "'", postgresql="{col} > 0"),
        name=name,
    )


# --- games_0001: players, games, rolls, bets -------------------------------------------------

games_players = sa.Table(
    "games_players",
    metadata,
    sa.Column("user_id", sa.String(64), sa.ForeignKey(users.c.id), primary_key=True),
    sa.Column("public_key", sa.LargeBinary(PUBLIC_KEY_BYTES), nullable=False),
    sa.Column("reputation", DecimalText(3, 2), nullable=False, server_default="0.00"),
    timestamp("created_at"),
    timestamp("updated_at"),
    sa.UniqueConstraint("public_key", name="uq_games_players_public_key"),
    _bytes_check("public_key", PUBLIC_KEY_BYTES),
    sa.CheckConstraint(
        DialectSQL(
            "reputation",
            sqlite=f"CAST({{col}} AS REAL) BETWEEN 0 AND {REPUTATION_MAX}",
            postgresql=f"{{col}} BETWEEN 0 AND {REPUTATION_MAX}",
        ),
        name="ck_games_players_reputation",
    ),
)

games = sa.Table(
    "games",
    metadata,
    sa.Column("id", sa.String(GAME_ID_CHARS_MAX), primary_key=True),
    sa.Column("state", JSONType, nullable=False),
    amount("pot_size"),
    sa.Column("phase", sa.String(16), nullable=False, server_default="come_out"),
    sa.Column("point", sa.SmallInteger, nullable=True),
    sa.Column("roll_count", sa.Integer, nullable=False, server_default="0"),
    timestamp("created_at"),
    timestamp("updated_at"),
    sa.Column("completed_at", UtcDateTime, nullable=True),
    sa.Column("winner_id", sa.String(64), sa.ForeignKey(users.c.id), nullable=True),
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
    sa.Index(
        "ix_games_active",
        "created_at",
        "id",
        sqlite_where=sa.text("completed_at IS NULL"),
        postgresql_where=sa.text("completed_at IS NULL"),
    ),
)

game_rolls = sa.Table(
    "game_rolls",
    metadata,
    sa.Column("game_id", sa.String(GAME_ID_CHARS_MAX), sa.ForeignKey(games.c.id), primary_key=True),
    sa.Column("roll_number", sa.Integer, primary_key=True),
    sa.Column("die1", sa.SmallInteger, nullable=False),
    sa.Column("die2", sa.SmallInteger, nullable=False),
    timestamp("rolled_at"),
    sa.CheckConstraint("die1 BETWEEN 1 AND 6 AND die2 BETWEEN 1 AND 6", name="ck_game_rolls_dice"),
    sa.CheckConstraint("roll_number >= 1", name="ck_game_rolls_number"),
)

bets = sa.Table(
    "bets",
    metadata,
    sa.Column("id", sa.LargeBinary(BET_ID_BYTES), primary_key=True),
    sa.Column("game_id", sa.String(GAME_ID_CHARS_MAX), sa.ForeignKey(games.c.id), nullable=False),
    sa.Column("player_id", sa.String(64), sa.ForeignKey(users.c.id), nullable=False),
    sa.Column("bet_type", sa.String(16), nullable=False),
    amount("amount"),
    sa.Column("outcome", sa.String(8), nullable=True),
    amount("payout", nullable=True),
    sa.Column("placed_at_roll", sa.Integer, nullable=False),
    sa.Column("hold_transfer_id", IdType, sa.ForeignKey(ledger_transfers.c.id), nullable=False),
    sa.Column("settle_transfer_id", IdType, sa.ForeignKey(ledger_transfers.c.id), nullable=True),
    sa.Column("payout_transfer_id", IdType, sa.ForeignKey(ledger_transfers.c.id), nullable=True),
    timestamp("created_at"),
    sa.Column("resolved_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("hold_transfer_id", name="uq_bets_hold"),
    _bytes_check("id", BET_ID_BYTES),
    _positive_amount("amount", "ck_bets_amount_positive"),
    sa.CheckConstraint(f"bet_type IN {BET_TYPES}", name="ck_bets_bet_type"),
    sa.CheckConstraint(f"outcome IS NULL OR outcome IN {OUTCOMES}", name="ck_bets_outcome"),
    sa.CheckConstraint(
        "(outcome IS NULL) = (resolved_at IS NULL) AND (outcome IS NULL) = (payout IS NULL)",
        name="ck_bets_resolved",
    ),
    # The one index a query of the module reads (settlement, get_bets); none reads bets by
    # player (games_0009 dropped ix_bets_player).
    sa.Index("ix_bets_game", "game_id", "outcome"),
)

# --- games_0002: peer connections --------------------------------------------------------------

peer_connections = sa.Table(
    "peer_connections",
    metadata,
    row_id(),
    sa.Column("peer_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(64), sa.ForeignKey(users.c.id), nullable=True),
    sa.Column("address", sa.String(255), nullable=False),
    sa.Column("transport", sa.String(12), nullable=False),
    timestamp("connected_at"),
    timestamp("last_seen_at"),
    sa.Column("disconnected_at", UtcDateTime, nullable=True),
    sa.Column("bytes_sent", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("bytes_received", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("latency_ms", sa.Integer, nullable=True),
    sa.CheckConstraint(f"transport IN {TRANSPORTS}", name="ck_peer_connections_transport"),
    sa.CheckConstraint(
        "bytes_sent >= 0 AND bytes_received >= 0 AND (latency_ms IS NULL OR latency_ms >= 0)",
        name="ck_peer_connections_counters",
    ),
    sa.Index(
        "uq_peer_connections_open",
        "peer_id",
        unique=True,
        sqlite_where=sa.text("disconnected_at IS NULL"),
        postgresql_where=sa.text("disconnected_at IS NULL"),
    ),
    sa.Index("ix_peer_connections_user", "user_id"),
)

# --- games_0003: consensus rounds, their participants and votes --------------------------------

consensus_rounds = sa.Table(
    "consensus_rounds",
    metadata,
    sa.Column("round_number", IdType, primary_key=True, autoincrement=True),
    sa.Column("game_id", sa.String(GAME_ID_CHARS_MAX), sa.ForeignKey(games.c.id), nullable=True),
    sa.Column("proposer_id", sa.String(64), sa.ForeignKey(games_players.c.user_id), nullable=False),
    sa.Column("proposal_hash", sa.LargeBinary(HASH_BYTES), nullable=False),
    sa.Column("participant_count", sa.Integer, nullable=False),
    sa.Column("quorum", sa.Integer, nullable=False),
    sa.Column("vote_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("finalized", sa.Boolean, nullable=False, server_default=sa.false()),
    timestamp("created_at"),
    sa.Column("finalized_at", UtcDateTime, nullable=True),
    _bytes_check("proposal_hash", HASH_BYTES),
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
    sa.Index("ix_consensus_rounds_game", "game_id"),
)

consensus_participants = sa.Table(
    "consensus_participants",
    metadata,
    sa.Column(
        "round_number", IdType, sa.ForeignKey(consensus_rounds.c.round_number), primary_key=True
    ),
    sa.Column("user_id", sa.String(64), sa.ForeignKey(games_players.c.user_id), primary_key=True),
)

consensus_votes = sa.Table(
    "consensus_votes",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("round_number", IdType, nullable=False),
    sa.Column("voter_id", sa.String(64), nullable=False),
    sa.Column("vote_hash", sa.LargeBinary(HASH_BYTES), nullable=False),
    sa.Column("signature", sa.LargeBinary(SIGNATURE_BYTES), nullable=False),
    sa.Column("late", sa.Boolean, nullable=False, server_default=sa.false()),
    timestamp("created_at"),
    sa.ForeignKeyConstraint(
        ["round_number", "voter_id"],
        ["consensus_participants.round_number", "consensus_participants.user_id"],
        name="fk_consensus_votes_participant",
    ),
    sa.UniqueConstraint("round_number", "voter_id", name="uq_consensus_votes_voter"),
    _bytes_check("vote_hash", HASH_BYTES),
    _bytes_check("signature", SIGNATURE_BYTES),
)

# --- games_0004: statistics kept in step on resolution -----------------------------------------

player_stats = sa.Table(
    "player_stats",
    metadata,
    sa.Column("user_id", sa.String(64), sa.ForeignKey(users.c.id), primary_key=True),
    sa.Column("games_played", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("games_won", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("bets_won", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("bets_lost", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("bets_pushed", sa.BigInteger, nullable=False, server_default="0"),
    amount("total_wagered"),
    amount("total_winnings"),
    amount("total_losses"),
    timestamp("updated_at"),
    sa.CheckConstraint(
        "games_won BETWEEN 0 AND games_played AND bets_won >= 0 AND bets_lost >= 0"
        " AND bets_pushed >= 0",
        name="ck_player_stats_counts",
    ),
)

# The leaderboards read these in order: the top N is N index entries, whatever the players.
sa.Index("ix_player_stats_winnings", player_stats.c.total_winnings.desc(), player_stats.c.user_id)
sa.Index("ix_player_stats_games_won", player_stats.c.games_won.desc(), player_stats.c.user_id)

game_statistics = sa.Table(
    "game_statistics",
    metadata,
    sa.Column("game_id", sa.String(GAME_ID_CHARS_MAX), sa.ForeignKey(games.c.id), primary_key=True),
    sa.Column("bet_count", sa.Integer, nullable=False),
    sa.Column("player_count", sa.Integer, nullable=False),
    sa.Column("roll_count", sa.Integer, nullable=False),
    amount("total_wagered"),
    amount("total_paid_out"),
    amount("house_take"),
    sa.Column("duration_ms", sa.BigInteger, nullable=False),
    timestamp("resolved_at"),
)

# --- games_0005: audit log ----------------------------------------------------------------------

games_audit_log = sa.Table(
    "games_audit_log",
    metadata,
    row_id(),
    timestamp("occurred_at"),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("entity_type", sa.String(20), nullable=False),
    sa.Column("entity_id", sa.String(100), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("before", JSONType, nullable=True),
    sa.Column("after", JSONType, nullable=True),
    sa.CheckConstraint(f"entity_type IN {AUDITED}", name="ck_games_audit_log_entity_type"),
    sa.Index("ix_games_audit_log_entity", "entity_type", "entity_id", "id"),
    sa.Index("ix_games_audit_log_occurred", "occurred_at"),
)

# --- games_0006: staking positions (token_balances is a view) -----------------------------------

staking_positions = sa.Table(
    "staking_positions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("user_id", sa.String(64), sa.ForeignKey(users.c.id), nullable=False),
    amount("amount"),
    sa.Column("lock_period_days", sa.Integer, nullable=False),
    sa.Column("reward_rate", DecimalText(10, 8), nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("ends_at", UtcDateTime, nullable=False),
    amount("claimed_rewards"),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    amount("penalty"),
    sa.Column("closed_at", UtcDateTime, nullable=True),
    sa.Column("hold_transfer_id", IdType, sa.ForeignKey(ledger_transfers.c.id), nullable=False),
    sa.UniqueConstraint("hold_transfer_id", name="uq_staking_positions_hold"),
    _positive_amount("amount", "ck_staking_positions_amount_positive"),
    sa.CheckConstraint(
        "lock_period_days BETWEEN 1 AND 3650", name="ck_staking_positions_lock_period"
    ),
    sa.CheckConstraint(
        DialectSQL(
            "reward_rate",
            sqlite="CAST({col} AS REAL) BETWEEN 0 AND 10",
            postgresql="{col} BETWEEN 0 AND 10",
        ),
        name="ck_staking_positions_reward_rate",
    ),
    sa.CheckConstraint("ends_at > started_at", name="ck_staking_positions_period"),
    sa.CheckConstraint("is_active = (closed_at IS NULL)", name="ck_staking_positions_closed"),
    sa.Index("ix_staking_positions_user", "user_id", "is_active"),
)

token_balances = sa.Table(
    "token_balances",
    sa.MetaData(),
    sa.Column("user_id", sa.String(64)),
    sa.Column("balance", AmountType),
    sa.Column("locked_balance", AmountType),
    sa.Column("staked_balance", AmountType),
    sa.Column("last_updated", UtcDateTime),
)

# --- games_0007: performance metrics -----------------------------------------------------------

performance_metrics = sa.Table(
    "performance_metrics",
    metadata,
    row_id(),
    sa.Column("metric_name", sa.String(METRIC_NAME_CHARS_MAX), nullable=False),
    sa.Column("value", sa.Float, nullable=False),  # a measurement, never money
    sa.Column("labels", JSONType, nullable=False),
    sa.Column("labels_key", sa.String(LABELS_KEY_CHARS_MAX), nullable=False),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Column("rolled_up", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_performance_metrics_pending", "rolled_up", "id"),
    sa.Index("ix_performance_metrics_recorded", "recorded_at"),
)

performance_metric_rollups = sa.Table(
    "performance_metric_rollups",
    metadata,
    row_id(),
    sa.Column("metric_name", sa.String(METRIC_NAME_CHARS_MAX), nullable=False),
    sa.Column("labels_key", sa.String(LABELS_KEY_CHARS_MAX), nullable=False),
    sa.Column("resolution", sa.String(8), nullable=False),
    sa.Column("bucket_start", UtcDateTime, nullable=False),
    sa.Column("sample_count", sa.BigInteger, nullable=False),
    sa.Column("value_sum", sa.Float, nullable=False),
    sa.Column("value_min", sa.Float, nullable=False),
    sa.Column("value_max", sa.Float, nullable=False),
    sa.UniqueConstraint(
        "metric_name", "labels_key", "resolution", "bucket_start", name="uq_metric_rollups_bucket"
    ),
    sa.CheckConstraint(f"resolution IN {RESOLUTIONS}", name="ck_metric_rollups_resolution"),
    sa.CheckConstraint("sample_count > 0", name="ck_metric_rollups_count"),
)
