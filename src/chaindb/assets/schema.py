"""Memory assets (seed 001): compressed NFTs on Solana whose content and metadata live on
Arweave, minted in batches through a work queue, shared by access grants.

Migration assets_0001 builds exactly these tables (a test keeps them equal). Besides them it
builds what schema.py cannot say for both backends alike: the search index over each asset's
metadata (`memory_asset_search`: on PostgreSQL a table of `tsvector`s with a GIN index, on
SQLite an FTS5 table), kept by triggers; the trigger `update_memory_assets_updated_at`; and,
on PostgreSQL (assets_0002), row-level security on `memory_assets`.

- memory_assets: one row per minted asset, keyed by its Bubblegum asset id (the PDA of its
  merkle tree and leaf index); owner, metadata, Arweave references, content hash, version.
- memory_batches: one row per batch a queue worker claimed and minted together.
- access_grants: who else may use an asset, until when, how many times.
- transfer_history, version_history: each change of owner, each new version.
- minting_queue: the work queue (claimed with leases, retried with backoff, then dead).
- blockchain_audit_logs (and its archive): every operation on assets, trees and the queue.
- merkle_trees: the concurrent merkle trees leaves are allocated from.
- cost_tracking: what each operation cost, in lamports (and the Arweave storage in winston).
"""

from __future__ import annotations

import sqlalchemy as sa

from chaindb.columns import amount, row_id, timestamp
from chaindb.types import (
    AmountSumType,
    IdType,
    JSONType,
    UtcDateTime,
    arweave_tx_id_check,
    hash32_check,
    solana_address_check,
    solana_signature_check,
)

metadata = sa.MetaData()

ASSET_STATUSES = ("active", "burned")
BATCH_STATUSES = ("processing", "completed", "failed", "expired")
JOB_STATUSES = ("pending", "processing", "completed", "dead")
PERMISSIONS = ("view", "download", "edit")
AUDIT_STATUSES = ("success", "failure")
TREE_STATUSES = ("active", "retired")
PRIORITY_MIN, PRIORITY_MAX = 1, 4  # River's: 1 is claimed first
ADDRESS_CHARS = 44  # base58 of 32 bytes
SIGNATURE_CHARS = 88  # base58 of 64 bytes
ARWEAVE_CHARS = 43
# The (max depth, max buffer size) pairs Solana's concurrent merkle tree accepts
# (account-compression's macros.rs).
TREE_SHAPES = (
    ((3,), (8,)),
    ((5,), (8,)),
    ((6, 7, 8, 9), (16,)),
    ((10, 11, 12, 13), (32,)),
    ((14,), (64, 256, 1024, 2048)),
    ((15, 16, 17, 18, 19), (64,)),
    ((20,), (64, 256, 1024, 2048)),
    ((24,), (64, 256, 512, 1024, 2048)),
    ((26, 30), (512, 1024, 2048)),
)
TREE_SHAPE_SQL = " OR ".join(
    f"(max_depth IN ({', '.join(map(str, depths))}) "
    f"AND max_buffer_size IN ({', '.join(map(str, buffers))}))"
    for depths, buffers in TREE_SHAPES
)


def _address(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(
        name, sa.String(ADDRESS_CHARS), solana_address_check(name, fast=True), nullable=nullable
    )


def _signature(name: str) -> sa.Column[str]:
    return sa.Column(
        name, sa.String(SIGNATURE_CHARS), solana_signature_check(name, fast=True), nullable=True
    )


def _arweave(name: str, *, nullable: bool) -> sa.Column[str]:
    return sa.Column(
        name, sa.String(ARWEAVE_CHARS), arweave_tx_id_check(name, fast=True), nullable=nullable
    )


def _content_hash() -> sa.Column[str]:
    return sa.Column(
        "content_hash", sa.String(66), hash32_check("content_hash", fast=True), nullable=False
    )


def _status(values: tuple[str, ...], table: str, default: str, width: int = 16) -> tuple:
    return (
        sa.Column("status", sa.String(width), nullable=False, server_default=default),
        sa.CheckConstraint(f"status IN {values}", name=f"ck_{table}_status"),
    )


merkle_trees = sa.Table(
    "merkle_trees",
    metadata,
    _address("tree_address"),
    sa.Column("max_depth", sa.Integer, nullable=False),
    sa.Column("max_buffer_size", sa.Integer, nullable=False),
    sa.Column("canopy_depth", sa.Integer, nullable=False, server_default="0"),
    sa.Column("capacity", sa.BigInteger, nullable=False),
    sa.Column("next_leaf_index", sa.BigInteger, nullable=False, server_default="0"),
    _address("authority_address"),
    _signature("creation_signature"),
    amount("creation_cost_lamports"),
    *_status(TREE_STATUSES, "merkle_trees", "active", 8),
    timestamp("created_at"),
    timestamp("updated_at"),
    sa.PrimaryKeyConstraint("tree_address", name="pk_merkle_trees"),
    sa.CheckConstraint(TREE_SHAPE_SQL, name="ck_merkle_trees_shape"),
    sa.CheckConstraint(
        "canopy_depth >= 0 AND canopy_depth <= max_depth", name="ck_merkle_trees_canopy"
    ),
    sa.CheckConstraint(
        "next_leaf_index >= 0 AND next_leaf_index <= capacity", name="ck_merkle_trees_fill"
    ),
    sa.Index("ix_merkle_trees_status_created", "status", "created_at"),
)

memory_batches = sa.Table(
    "memory_batches",
    metadata,
    sa.Column("batch_id", IdType, primary_key=True, autoincrement=True),
    *_status(BATCH_STATUSES, "memory_batches", "processing"),
    sa.Column("worker_id", sa.String(128), nullable=False),
    sa.Column("item_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("minted_count", sa.Integer, nullable=False, server_default="0"),
    amount("total_cost_lamports"),
    amount("storage_cost_winston"),
    sa.Column("transaction_signatures", JSONType, nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("lease_expires_at", UtcDateTime, nullable=False),
    timestamp("created_at"),
    timestamp("updated_at"),
    sa.Column("completed_at", UtcDateTime, nullable=True),
    sa.CheckConstraint(
        "item_count >= 0 AND minted_count >= 0 AND minted_count <= item_count",
        name="ck_memory_batches_counts",
    ),
    sa.Index("ix_memory_batches_created", "created_at"),
    sa.Index("ix_memory_batches_status_created", "status", "created_at"),
)

minting_queue = sa.Table(
    "minting_queue",
    metadata,
    row_id(),
    sa.Column("client_key", sa.String(200), nullable=False),
    _address("owner_address"),
    sa.Column("metadata", JSONType, nullable=False),
    _arweave("content_arweave_tx_id", nullable=False),
    _arweave("metadata_arweave_tx_id", nullable=True),
    _content_hash(),
    sa.Column("priority", sa.SmallInteger, nullable=False, server_default="2"),
    *_status(JOB_STATUSES, "minting_queue", "pending", 12),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False, server_default="5"),
    sa.Column("scheduled_at", UtcDateTime, nullable=False),
    sa.Column("lease_expires_at", UtcDateTime, nullable=True),
    sa.Column("worker_id", sa.String(128), nullable=True),
    sa.Column("batch_id", IdType, sa.ForeignKey(memory_batches.c.batch_id), nullable=True),
    _address("merkle_tree", nullable=True),
    sa.Column("leaf_index", sa.BigInteger, nullable=True),
    _address("asset_id", nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    timestamp("created_at"),
    timestamp("updated_at"),
    sa.Column("completed_at", UtcDateTime, nullable=True),
    sa.ForeignKeyConstraint(
        ["merkle_tree"], ["merkle_trees.tree_address"], name="fk_minting_queue_tree"
    ),
    sa.UniqueConstraint("client_key", name="uq_minting_queue_client_key"),
    sa.UniqueConstraint("merkle_tree", "leaf_index", name="uq_minting_queue_leaf"),
    sa.CheckConstraint(
        f"priority BETWEEN {PRIORITY_MIN} AND {PRIORITY_MAX}", name="ck_minting_queue_priority"
    ),
    sa.CheckConstraint(
        "attempts >= 0 AND max_attempts BETWEEN 1 AND 25", name="ck_minting_queue_attempts"
    ),
    sa.CheckConstraint(
        "status <> 'processing' OR (lease_expires_at IS NOT NULL AND batch_id IS NOT NULL)",
        name="ck_minting_queue_lease",
    ),
    # A job with a leaf may wait for its asset id until it completes (assets_0006).
    sa.CheckConstraint(
        "(merkle_tree IS NULL) = (leaf_index IS NULL) AND (asset_id IS NULL OR leaf_index IS "
        "NOT NULL) AND (status <> 'completed' OR asset_id IS NOT NULL)",
        name="ck_minting_queue_leaf",
    ),
    sa.CheckConstraint(
        "status <> 'completed' OR completed_at IS NOT NULL", name="ck_minting_queue_completed"
    ),
    # What a claim reads: the ready jobs in order, and the leases that ran out.
    sa.Index(
        "ix_minting_queue_ready",
        "priority",
        "scheduled_at",
        "id",
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    ),
    sa.Index(
        "ix_minting_queue_lease",
        "lease_expires_at",
        postgresql_where=sa.text("status = 'processing'"),
        sqlite_where=sa.text("status = 'processing'"),
    ),
    # What the retention cleanup reads (assets_0003: a claim does not write to it).
    sa.Index(
        "ix_minting_queue_completed",
        "completed_at",
        postgresql_where=sa.text("status = 'completed'"),
        sqlite_where=sa.text("status = 'completed'"),
    ),
    sa.Index("ix_minting_queue_batch", "batch_id"),
)

memory_assets = sa.Table(
    "memory_assets",
    metadata,
    _address("asset_id"),
    _address("owner_address"),
    sa.Column("metadata", JSONType, nullable=False),
    _arweave("content_arweave_tx_id", nullable=False),
    _arweave("metadata_arweave_tx_id", nullable=True),
    _content_hash(),
    sa.Column("batch_id", IdType, sa.ForeignKey(memory_batches.c.batch_id), nullable=True),
    _address("merkle_tree"),
    sa.Column("leaf_index", sa.BigInteger, nullable=False),
    _signature("mint_signature"),
    sa.Column("queue_id", IdType, nullable=True),  # the job; kept after cleanup deletes it
    *_status(ASSET_STATUSES, "memory_assets", "active", 8),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    timestamp("created_at"),
    timestamp("updated_at"),
    sa.PrimaryKeyConstraint("asset_id", name="pk_memory_assets"),
    sa.ForeignKeyConstraint(
        ["merkle_tree"], ["merkle_trees.tree_address"], name="fk_memory_assets_tree"
    ),
    sa.UniqueConstraint("merkle_tree", "leaf_index", name="uq_memory_assets_leaf"),
    sa.UniqueConstraint("queue_id", name="uq_memory_assets_queue_job"),
    sa.CheckConstraint("version >= 1", name="ck_memory_assets_version"),
    sa.CheckConstraint("leaf_index >= 0", name="ck_memory_assets_leaf_index"),
    sa.Index("idx_memory_assets_owner_created", "owner_address", "created_at"),
    sa.Index("idx_memory_assets_created", "created_at"),
    sa.Index("idx_memory_assets_status", "status"),
    sa.Index("idx_memory_assets_batch", "batch_id"),
)

access_grants = sa.Table(
    "access_grants",
    metadata,
    row_id(),
    sa.Column(
        "asset_id",
        sa.String(ADDRESS_CHARS),
        sa.ForeignKey(memory_assets.c.asset_id),
        nullable=False,
    ),
    _address("grantee_address"),
    sa.Column("permission", sa.String(16), nullable=False, server_default="view"),
    _address("granted_by"),
    sa.Column("expires_at", UtcDateTime, nullable=True),
    sa.Column("max_uses", sa.Integer, nullable=True),
    sa.Column("use_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    sa.Column("revoke_reason", sa.String(32), nullable=True),
    timestamp("created_at"),
    sa.CheckConstraint(f"permission IN {PERMISSIONS}", name="ck_access_grants_permission"),
    sa.CheckConstraint(
        "use_count >= 0 AND (max_uses IS NULL OR (max_uses > 0 AND use_count <= max_uses))",
        name="ck_access_grants_uses",
    ),
    sa.CheckConstraint("grantee_address <> granted_by", name="ck_access_grants_not_self"),
    sa.Index("idx_access_grants_asset_grantee", "asset_id", "grantee_address"),
    sa.Index("idx_access_grants_grantee", "grantee_address", "revoked_at"),
    sa.Index("idx_access_grants_granted_by", "granted_by"),
)

transfer_history = sa.Table(
    "transfer_history",
    metadata,
    row_id(),
    sa.Column(
        "asset_id",
        sa.String(ADDRESS_CHARS),
        sa.ForeignKey(memory_assets.c.asset_id),
        nullable=False,
    ),
    _address("from_address"),
    _address("to_address"),
    _signature("transaction_signature"),
    sa.Column("asset_version", sa.Integer, nullable=False),
    sa.Column("grants_revoked", sa.Integer, nullable=False, server_default="0"),
    timestamp("transferred_at"),
    sa.CheckConstraint("from_address <> to_address", name="ck_transfer_history_two_owners"),
    sa.Index("idx_transfer_history_asset", "asset_id", "transferred_at"),
    sa.Index("idx_transfer_history_from", "from_address", "transferred_at"),
    sa.Index("idx_transfer_history_to", "to_address", "transferred_at"),
)

version_history = sa.Table(
    "version_history",
    metadata,
    row_id(),
    sa.Column(
        "asset_id",
        sa.String(ADDRESS_CHARS),
        sa.ForeignKey(memory_assets.c.asset_id),
        nullable=False,
    ),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("metadata", JSONType, nullable=False),
    _arweave("content_arweave_tx_id", nullable=False),
    _arweave("metadata_arweave_tx_id", nullable=True),
    _content_hash(),
    _address("changed_by"),
    sa.Column("change_note", sa.Text, nullable=True),
    timestamp("created_at"),
    sa.UniqueConstraint("asset_id", "version", name="uq_version_history_asset_version"),
    sa.CheckConstraint("version >= 1", name="ck_version_history_version"),
)

cost_tracking = sa.Table(
    "cost_tracking",
    metadata,
    row_id(),
    _address("wallet_address"),
    sa.Column("operation", sa.String(32), nullable=False),
    sa.Column("asset_id", sa.String(ADDRESS_CHARS), nullable=True),
    sa.Column("batch_id", IdType, sa.ForeignKey(memory_batches.c.batch_id), nullable=True),
    amount("total_cost_lamports"),
    amount("transaction_fee_lamports"),
    amount("priority_fee_lamports"),
    amount("rent_lamports"),
    amount("storage_cost_lamports"),
    amount("storage_cost_winston"),
    timestamp("timestamp"),
    sa.CheckConstraint("length(operation) > 0", name="ck_cost_tracking_operation"),
    sa.Index("idx_cost_tracking_wallet_time", "wallet_address", "timestamp"),
    sa.Index("idx_cost_tracking_time", "timestamp"),
)


def _audit_columns() -> list[sa.Column]:
    return [
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("asset_id", sa.String(ADDRESS_CHARS), nullable=True),
        sa.Column("wallet_address", sa.String(ADDRESS_CHARS), nullable=True),
        sa.Column("transaction_signature", sa.String(SIGNATURE_CHARS), nullable=True),
        sa.Column("batch_id", IdType, nullable=True),
        sa.Column("queue_id", IdType, nullable=True),
        sa.Column("status", sa.String(8), nullable=False, server_default="success"),
        sa.Column("details", JSONType, nullable=True),
        timestamp("timestamp"),
    ]


blockchain_audit_logs = sa.Table(
    "blockchain_audit_logs",
    metadata,
    row_id(),
    *_audit_columns(),
    sa.CheckConstraint(f"status IN {AUDIT_STATUSES}", name="ck_audit_logs_status"),
    sa.Index("idx_audit_logs_timestamp", "timestamp", "id"),
    sa.Index("idx_audit_logs_asset", "asset_id", "timestamp"),
    sa.Index("idx_audit_logs_wallet", "wallet_address", "timestamp"),
)

# Audit rows older than the retention age move here (cleanup), in bounded batches.
blockchain_audit_logs_archive = sa.Table(
    "blockchain_audit_logs_archive",
    metadata,
    sa.Column("id", IdType, primary_key=True, autoincrement=False),
    *_audit_columns(),
    timestamp("archived_at"),
    sa.Index("idx_audit_archive_timestamp", "timestamp"),
)

# --- views (read-only; assets_0001 creates them) ----------------------------------------------

active_memory_assets = sa.Table(
    "active_memory_assets",
    sa.MetaData(),
    sa.Column("asset_id", sa.String(ADDRESS_CHARS)),
    sa.Column("owner_address", sa.String(ADDRESS_CHARS)),
    sa.Column("metadata", JSONType),
    sa.Column("content_arweave_tx_id", sa.String(ARWEAVE_CHARS)),
    sa.Column("metadata_arweave_tx_id", sa.String(ARWEAVE_CHARS)),
    sa.Column("content_hash", sa.String(66)),
    sa.Column("merkle_tree", sa.String(ADDRESS_CHARS)),
    sa.Column("leaf_index", sa.BigInteger),
    sa.Column("version", sa.Integer),
    sa.Column("created_at", UtcDateTime),
    sa.Column("updated_at", UtcDateTime),
    sa.Column("batch_id", IdType),
    sa.Column("batch_status", sa.String(16)),
    sa.Column("batch_completed_at", UtcDateTime),
    sa.Column("active_grant_count", sa.BigInteger),
)

batch_statistics = sa.Table(
    "batch_statistics",
    sa.MetaData(),
    sa.Column("date", sa.Date),
    sa.Column("total_batches", sa.BigInteger),
    sa.Column("total_assets", sa.BigInteger),
    sa.Column("successful_batches", sa.BigInteger),
    sa.Column("failed_batches", sa.BigInteger),
    sa.Column("total_cost_lamports", AmountSumType),
    sa.Column("storage_cost_winston", AmountSumType),
)

user_statistics = sa.Table(
    "user_statistics",
    sa.MetaData(),
    sa.Column("wallet_address", sa.String(ADDRESS_CHARS)),
    sa.Column("total_assets", sa.BigInteger),
    sa.Column("total_batches", sa.BigInteger),
    sa.Column("total_cost_lamports", AmountSumType),
    sa.Column("grants_given", sa.BigInteger),
    sa.Column("grants_received", sa.BigInteger),
    sa.Column("first_asset_at", UtcDateTime),
    sa.Column("last_asset_at", UtcDateTime),
)
