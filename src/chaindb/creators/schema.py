"""Creators (seed 004, StreamVault): creators and their followers, tracks on Filecoin,
playlists, plays, likes and comments, milestones, the oracle's sync log, quarterly revenue
distributions, and the platform's and each creator's daily statistics.

Users are core's (a wallet is optional, and core's too). Money (track sales, tips, revenue
shares) moves in the ledger; these tables keep its figures per day and per quarter. Every
counter (a track's plays, a creator's followers...) is kept exact in the transaction that
changes it: never recomputed from history on a write, never by scanning plays on a read.
"""

from __future__ import annotations

import sqlalchemy as sa

from chaindb.columns import CHAIN_ID_LENGTH, address, amount, row_id, timestamp, tx_hash
from chaindb.core.schema import users
from chaindb.ledger.schema import ledger_assets
from chaindb.types import IdType, JSONType, UtcDateTime, chain_id_check

metadata = sa.MetaData()

MILESTONE_KINDS = ("PLAYS", "FOLLOWERS", "REVENUE")
COIN_STATUSES = ("eligible", "pending", "created")
OPERATIONS = ("UPDATE_METRICS", "CREATE_COIN")
SYNC_STATUSES = ("PENDING", "SUCCESS", "FAILED", "RETRY")
ERROR_CLASSES = ("network", "gas", "nonce", "execution", "breaker", "dropped")
SOURCES = ("direct", "playlist", "search", "profile", "radio", "embed", "other")


def _count(name: str) -> sa.Column[int]:
    """A non-negative counter kept in step by the write that changes it."""
    return sa.Column(name, sa.BigInteger, nullable=False, default=0, server_default="0")


def _non_negative(table: str, *columns: str) -> list[sa.CheckConstraint]:
    return [sa.CheckConstraint(f"{c} >= 0", name=f"ck_{table}_{c}") for c in columns]


creators = sa.Table(
    "creators",
    metadata,
    row_id(),
    sa.Column("user_id", sa.String(64), sa.ForeignKey(users.c.id), nullable=False),
    sa.Column("stage_name", sa.String(100), nullable=False),
    sa.Column("bio", sa.Text, nullable=True),
    sa.Column("genres", JSONType, nullable=True),
    sa.Column("is_verified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("verified_at", UtcDateTime, nullable=True),
    _count("total_plays"),
    _count("follower_count"),
    _count("like_count"),
    _count("comment_count"),
    _count("track_count"),
    # The creator coin: eligible at the milestone, pending while CREATE_COIN is in flight.
    sa.Column("coin_status", sa.String(10), nullable=True),
    sa.Column("coin_chain_id", sa.String(CHAIN_ID_LENGTH), nullable=True),
    address("coin_address", nullable=True),
    sa.Column("coin_symbol", sa.String(16), nullable=True),
    tx_hash("coin_tx_hash"),
    sa.Column("coin_created_at", UtcDateTime, nullable=True),
    amount("coin_market_cap_wei"),
    sa.Column("revenue_sharing", sa.Boolean, nullable=False, server_default=sa.false()),
    # The oracle: metrics changed since the last UPDATE_METRICS sent (needs_sync), the
    # sequence of the last one sent and of the last one final on chain, the one in flight.
    sa.Column("needs_sync", sa.Boolean, nullable=False, server_default=sa.false()),
    _count("sync_sequence"),
    _count("synced_sequence"),
    tx_hash("sync_tx_hash"),
    sa.Column("last_sync_at", UtcDateTime, nullable=True),
    sa.Column("sync_error_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_sync_error", sa.Text, nullable=True),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    timestamp("created_at"),
    timestamp("updated_at"),
    sa.UniqueConstraint("user_id", name="uq_creators_user"),
    sa.UniqueConstraint("id", "user_id", name="uq_creators_id_user"),  # follows' no-self-follow
    sa.CheckConstraint("length(stage_name) > 0", name="ck_creators_stage_name"),
    sa.CheckConstraint(
        f"coin_status IS NULL OR coin_status IN {COIN_STATUSES}", name="ck_creators_coin_status"
    ),
    sa.CheckConstraint("synced_sequence <= sync_sequence", name="ck_creators_synced_sequence"),
    sa.CheckConstraint(
        "coin_chain_id IS NULL OR coin_chain_id <> ''", name="ck_creators_coin_chain_id"
    ),
    *_non_negative(
        "creators", "total_plays", "follower_count", "like_count", "comment_count", "track_count"
    ),
    sa.Index(
        "ix_creators_needs_sync",
        "id",
        sqlite_where=sa.text("needs_sync"),
        postgresql_where=sa.text("needs_sync"),
    ),
    sa.Index(
        "ix_creators_sync_in_flight",
        "id",
        sqlite_where=sa.text("sync_tx_hash IS NOT NULL"),
        postgresql_where=sa.text("sync_tx_hash IS NOT NULL"),
    ),
    sa.Index(
        "ix_creators_coin_open",
        "coin_status",
        "id",
        sqlite_where=sa.text("coin_status IN ('eligible', 'pending')"),
        postgresql_where=sa.text("coin_status IN ('eligible', 'pending')"),
    ),
)

follows = sa.Table(
    "follows",
    metadata,
    row_id(),
    # NULL once the follower's personal data is erased (GDPR): the follow still counts.
    sa.Column("follower_id", sa.String(64), sa.ForeignKey(users.c.id), nullable=True),
    sa.Column("creator_id", IdType, nullable=False),
    sa.Column("creator_user_id", sa.String(64), nullable=False),
    timestamp("created_at"),
    sa.ForeignKeyConstraint(
        ["creator_id", "creator_user_id"],
        ["creators.id", "creators.user_id"],
        name="fk_follows_creator",
    ),
    sa.UniqueConstraint("follower_id", "creator_id", name="uq_follows_pair"),
    sa.CheckConstraint("follower_id <> creator_user_id", name="ck_follows_not_self"),
    sa.Index("ix_follows_creator", "creator_id"),
)

tracks = sa.Table(
    "tracks",
    metadata,
    row_id(),
    sa.Column("creator_id", IdType, sa.ForeignKey("creators.id"), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("genre", sa.String(50), nullable=True),
    sa.Column("duration_s", sa.Integer, nullable=False),
    sa.Column("file_cid", sa.String(128), nullable=False),  # canonical: v0 base58, v1 base32
    sa.Column("file_size_bytes", sa.BigInteger, nullable=True),
    amount("price_wei", nullable=True),  # a premium track's price in attoFIL
    _count("play_count"),
    _count("like_count"),
    _count("comment_count"),
    timestamp("created_at"),
    timestamp("updated_at"),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.CheckConstraint("length(title) > 0", name="ck_tracks_title"),
    sa.CheckConstraint("duration_s > 0", name="ck_tracks_duration_s"),
    sa.CheckConstraint(
        "file_size_bytes IS NULL OR file_size_bytes >= 0", name="ck_tracks_file_size_bytes"
    ),
    *_non_negative("tracks", "play_count", "like_count", "comment_count"),
    sa.Index("ix_tracks_creator", "creator_id"),
    sa.Index("ix_tracks_file_cid", "file_cid"),
)

playlists = sa.Table(
    "playlists",
    metadata,
    row_id(),
    sa.Column("owner_id", sa.String(64), sa.ForeignKey(users.c.id), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("is_public", sa.Boolean, nullable=False, server_default=sa.true()),
    _count("track_count"),
    timestamp("created_at"),
    timestamp("updated_at"),
    sa.CheckConstraint("length(title) > 0", name="ck_playlists_title"),
    sa.Index("ix_playlists_owner", "owner_id"),
)

# A track's place in a playlist is a sparse position (gaps of POSITION_GAP): moving a track
# takes the midpoint of its new neighbours, one row written; only when two neighbours touch is
# the playlist renumbered.
playlist_tracks = sa.Table(
    "playlist_tracks",
    metadata,
    row_id(),
    sa.Column(
        "playlist_id", IdType, sa.ForeignKey("playlists.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("track_id", IdType, sa.ForeignKey("tracks.id"), nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    timestamp("added_at"),
    sa.UniqueConstraint("playlist_id", "position", name="uq_playlist_tracks_position"),
    sa.UniqueConstraint("playlist_id", "track_id", name="uq_playlist_tracks_track"),
)

plays = sa.Table(
    "plays",
    metadata,
    row_id(),
    sa.Column("track_id", IdType, sa.ForeignKey("tracks.id"), nullable=False),
    # NULL: an anonymous listener, or one whose personal data was erased.
    sa.Column("user_id", sa.String(64), sa.ForeignKey(users.c.id), nullable=True),
    sa.Column("played_at", UtcDateTime, nullable=False),
    sa.Column("listened_s", sa.Integer, nullable=False),
    sa.Column("source", sa.String(12), nullable=False),
    sa.Column("client_id", sa.String(64), nullable=False),
    # Keyed hashes (HMAC-SHA-256, key from CHAINDB_ANALYTICS_KEY), never the raw values.
    sa.Column("ip_hash", sa.LargeBinary(16), nullable=True),
    sa.Column("user_agent_hash", sa.LargeBinary(16), nullable=True),
    timestamp("recorded_at"),
    sa.UniqueConstraint("client_id", name="uq_plays_client_id"),
    sa.CheckConstraint("listened_s >= 0", name="ck_plays_listened_s"),
    sa.CheckConstraint(f"source IN {SOURCES}", name="ck_plays_source"),
    sa.Index("ix_plays_track", "track_id"),
    sa.Index(
        "ix_plays_user",
        "user_id",
        sqlite_where=sa.text("user_id IS NOT NULL"),
        postgresql_where=sa.text("user_id IS NOT NULL"),
    ),
)

# What the plays of dropped partitions added to each track on each day (creators_0002;
# PostgreSQL's partitioned plays, creators/partitions.py): the check adds it back to what the
# kept plays say. Keyed by day first: the newest day dropped is one index probe away.
plays_dropped_totals = sa.Table(
    "plays_dropped_totals",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("track_id", IdType, sa.ForeignKey("tracks.id"), primary_key=True),
    _count("plays"),
    _count("listened_s"),
    *_non_negative("plays_dropped_totals", "plays", "listened_s"),
)

likes = sa.Table(
    "likes",
    metadata,
    row_id(),
    sa.Column("user_id", sa.String(64), sa.ForeignKey(users.c.id), nullable=True),
    sa.Column("track_id", IdType, sa.ForeignKey("tracks.id"), nullable=False),
    timestamp("created_at"),
    sa.UniqueConstraint("user_id", "track_id", name="uq_likes_user_track"),
    sa.Index("ix_likes_track", "track_id"),
)

comments = sa.Table(
    "comments",
    metadata,
    row_id(),
    sa.Column("user_id", sa.String(64), sa.ForeignKey(users.c.id), nullable=True),
    sa.Column("track_id", IdType, sa.ForeignKey("tracks.id"), nullable=False),
    sa.Column("body", sa.Text, nullable=True),  # NULL once deleted or erased
    timestamp("created_at"),
    sa.Column("deleted_at", UtcDateTime, nullable=True),
    sa.CheckConstraint(
        "deleted_at IS NOT NULL OR body IS NOT NULL OR user_id IS NULL",
        name="ck_comments_body",
    ),
    sa.Index("ix_comments_track", "track_id"),
    sa.Index("ix_comments_user", "user_id"),
)

creator_milestones = sa.Table(
    "creator_milestones",
    metadata,
    row_id(),
    sa.Column("creator_id", IdType, sa.ForeignKey("creators.id"), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    amount("threshold"),
    amount("current_value"),
    sa.Column("period", sa.String(7), nullable=False, server_default=""),  # 'YYYY-MM' (revenue)
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("is_processed", sa.Boolean, nullable=False, server_default=sa.false()),
    tx_hash("tx_hash"),
    timestamp("reached_at"),
    sa.UniqueConstraint("creator_id", "kind", "threshold", "period", name="uq_creator_milestones"),
    sa.CheckConstraint(f"kind IN {MILESTONE_KINDS}", name="ck_creator_milestones_kind"),
)

oracle_sync_logs = sa.Table(
    "oracle_sync_logs",
    metadata,
    row_id(),
    sa.Column("creator_id", IdType, sa.ForeignKey("creators.id"), nullable=True),
    sa.Column("operation", sa.String(16), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("chain_id", sa.String(CHAIN_ID_LENGTH), chain_id_check("chain_id"), nullable=False),
    tx_hash("transaction_hash"),
    sa.Column("sequence", sa.BigInteger, nullable=True),
    sa.Column("metrics", JSONType, nullable=True),
    sa.Column("gas_used", sa.BigInteger, nullable=True),
    amount("gas_price_wei", nullable=True),
    sa.Column("block_number", sa.BigInteger, nullable=True),
    sa.Column("error_class", sa.String(10), nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    timestamp("started_at"),
    timestamp("updated_at"),
    sa.CheckConstraint(f"operation IN {OPERATIONS}", name="ck_oracle_sync_logs_operation"),
    sa.CheckConstraint(f"status IN {SYNC_STATUSES}", name="ck_oracle_sync_logs_status"),
    sa.CheckConstraint(
        f"error_class IS NULL OR error_class IN {ERROR_CLASSES}",
        name="ck_oracle_sync_logs_error_class",
    ),
    sa.CheckConstraint("attempt >= 1", name="ck_oracle_sync_logs_attempt"),
    sa.CheckConstraint("duration_ms >= 0", name="ck_oracle_sync_logs_duration_ms"),
    sa.Index("ix_oracle_sync_logs_started", "started_at"),
    sa.Index("ix_oracle_sync_logs_tx", "transaction_hash"),
    sa.Index(
        "ix_oracle_sync_logs_pending",
        "id",
        sqlite_where=sa.text("status = 'PENDING'"),
        postgresql_where=sa.text("status = 'PENDING'"),
    ),
)

revenue_distributions = sa.Table(
    "revenue_distributions",
    metadata,
    row_id(),
    sa.Column("creator_id", IdType, sa.ForeignKey("creators.id"), nullable=False),
    sa.Column("period", sa.String(7), nullable=False),  # 'YYYY-Qn'
    sa.Column("asset_id", IdType, sa.ForeignKey(ledger_assets.c.id), nullable=False),
    amount("total_revenue_wei"),
    amount("creator_share_wei"),
    amount("holder_share_wei"),
    sa.Column("holder_count", sa.Integer, nullable=False),
    timestamp("distributed_at"),
    sa.UniqueConstraint("creator_id", "period", name="uq_revenue_distributions_period"),
    sa.CheckConstraint("holder_count >= 0", name="ck_revenue_distributions_holder_count"),
)

daily_stats = sa.Table(
    "daily_stats",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    _count("plays"),
    _count("listened_s"),
    _count("follows"),
    _count("likes"),
    _count("comments"),
    amount("revenue_wei"),
    timestamp("updated_at"),
)

creator_daily_stats = sa.Table(
    "creator_daily_stats",
    metadata,
    sa.Column("creator_id", IdType, sa.ForeignKey("creators.id"), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    _count("plays"),
    _count("listened_s"),
    _count("new_followers"),
    _count("likes"),
    _count("comments"),
    amount("track_sales_wei"),
    amount("tips_wei"),
    timestamp("updated_at"),
)
