"""assets: memory assets, batches, grants, transfers, versions, minting queue, audit, trees, costs

Revision ID: assets_0001
Revises:
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

from chaindb.types import (
    AmountType,
    IdType,
    JSONType,
    UtcDateTime,
    amount_check,
    amount_zero,
    arweave_tx_id_check,
    hash32_check,
    solana_address_check,
    solana_signature_check,
)
from chaindb.views import make_read_only, make_writable

revision = "assets_0001"
down_revision = None
branch_labels = ("assets",)
depends_on = "core_0001"


def amount(name: str) -> sa.Column[int]:
    return sa.Column(
        name, AmountType, amount_check(name), nullable=False, server_default=amount_zero()
    )


def row_id() -> sa.Column[int]:
    return sa.Column("id", IdType, primary_key=True, autoincrement=True)


def timestamp(name: str) -> sa.Column[object]:
    return sa.Column(name, UtcDateTime, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP"))


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
    return sa.Column(name, sa.String(ADDRESS_CHARS), solana_address_check(name), nullable=nullable)


def _signature(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.String(SIGNATURE_CHARS), solana_signature_check(name), nullable=True)


def _arweave(name: str, *, nullable: bool) -> sa.Column[str]:
    return sa.Column(name, sa.String(ARWEAVE_CHARS), arweave_tx_id_check(name), nullable=nullable)


def _content_hash() -> sa.Column[str]:
    return sa.Column("content_hash", sa.String(66), hash32_check("content_hash"), nullable=False)


def _status(values: tuple[str, ...], table: str, default: str, width: int = 16) -> tuple:
    return (
        sa.Column("status", sa.String(width), nullable=False, server_default=default),
        sa.CheckConstraint(f"status IN {values}", name=f"ck_{table}_status"),
    )


def _merkle_trees() -> None:
    op.create_table(
        "merkle_trees",
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


def _memory_batches() -> None:
    op.create_table(
        "memory_batches",
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


def _minting_queue() -> None:
    op.create_table(
        "minting_queue",
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
        sa.Column("batch_id", IdType, sa.ForeignKey("memory_batches.batch_id"), nullable=True),
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
        sa.CheckConstraint(
            "(merkle_tree IS NULL) = (leaf_index IS NULL) AND (leaf_index IS NULL) = "
            "(asset_id IS NULL)",
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
        sa.Index("ix_minting_queue_status_completed", "status", "completed_at"),
        sa.Index("ix_minting_queue_batch", "batch_id"),
        sa.Index("ix_minting_queue_owner", "owner_address"),
    )


def _memory_assets() -> None:
    op.create_table(
        "memory_assets",
        _address("asset_id"),
        _address("owner_address"),
        sa.Column("metadata", JSONType, nullable=False),
        _arweave("content_arweave_tx_id", nullable=False),
        _arweave("metadata_arweave_tx_id", nullable=True),
        _content_hash(),
        sa.Column("batch_id", IdType, sa.ForeignKey("memory_batches.batch_id"), nullable=True),
        _address("merkle_tree"),
        sa.Column("leaf_index", sa.BigInteger, nullable=False),
        _signature("mint_signature"),
        sa.Column("queue_id", IdType, nullable=True),
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


def _access_grants() -> None:
    op.create_table(
        "access_grants",
        row_id(),
        sa.Column(
            "asset_id",
            sa.String(ADDRESS_CHARS),
            sa.ForeignKey("memory_assets.asset_id"),
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


def _transfer_history() -> None:
    op.create_table(
        "transfer_history",
        row_id(),
        sa.Column(
            "asset_id",
            sa.String(ADDRESS_CHARS),
            sa.ForeignKey("memory_assets.asset_id"),
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


def _version_history() -> None:
    op.create_table(
        "version_history",
        row_id(),
        sa.Column(
            "asset_id",
            sa.String(ADDRESS_CHARS),
            sa.ForeignKey("memory_assets.asset_id"),
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


def _cost_tracking() -> None:
    op.create_table(
        "cost_tracking",
        row_id(),
        _address("wallet_address"),
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("asset_id", sa.String(ADDRESS_CHARS), nullable=True),
        sa.Column("batch_id", IdType, sa.ForeignKey("memory_batches.batch_id"), nullable=True),
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


def _blockchain_audit_logs() -> None:
    op.create_table(
        "blockchain_audit_logs",
        row_id(),
        *_audit_columns(),
        sa.CheckConstraint(f"status IN {AUDIT_STATUSES}", name="ck_audit_logs_status"),
        sa.Index("idx_audit_logs_timestamp", "timestamp", "id"),
        sa.Index("idx_audit_logs_asset", "asset_id", "timestamp"),
        sa.Index("idx_audit_logs_wallet", "wallet_address", "timestamp"),
    )


# Audit rows older than the retention age move here (cleanup), in bounded batches.
def _blockchain_audit_logs_archive() -> None:
    op.create_table(
        "blockchain_audit_logs_archive",
        sa.Column("id", IdType, primary_key=True, autoincrement=False),
        *_audit_columns(),
        timestamp("archived_at"),
        sa.Index("idx_audit_archive_timestamp", "timestamp"),
    )


TABLES = (
    ("merkle_trees", _merkle_trees),
    ("memory_batches", _memory_batches),
    ("minting_queue", _minting_queue),
    ("memory_assets", _memory_assets),
    ("access_grants", _access_grants),
    ("transfer_history", _transfer_history),
    ("version_history", _version_history),
    ("cost_tracking", _cost_tracking),
    ("blockchain_audit_logs", _blockchain_audit_logs),
    ("blockchain_audit_logs_archive", _blockchain_audit_logs_archive),
)

# The current time as each backend compares it with stored timestamps. SQLite keeps UTC text
# with six fraction digits ('2026-01-02 03:04:05.678901'): strftime's %f gives three.
NOW = {
    "postgresql": "now()",
    "sqlite": "(strftime('%Y-%m-%d %H:%M:%S', 'now') || substr(strftime('%f', 'now'), 3) || '000')",
}
SUM = {"postgresql": "coalesce(sum({col}), 0)", "sqlite": "coalesce(chaindb_uint_sum({col}), '0')"}
DATE = {"postgresql": "(created_at AT TIME ZONE 'UTC')::date", "sqlite": "date(created_at)"}


def _views(dialect: str) -> list[str]:
    now = NOW[dialect]
    total = SUM[dialect]
    return [
        f"""CREATE VIEW active_memory_assets AS
SELECT a.asset_id AS asset_id,
       a.owner_address AS owner_address,
       a.metadata AS metadata,
       a.content_arweave_tx_id AS content_arweave_tx_id,
       a.metadata_arweave_tx_id AS metadata_arweave_tx_id,
       a.content_hash AS content_hash,
       a.merkle_tree AS merkle_tree,
       a.leaf_index AS leaf_index,
       a.version AS version,
       a.created_at AS created_at,
       a.updated_at AS updated_at,
       a.batch_id AS batch_id,
       b.status AS batch_status,
       b.completed_at AS batch_completed_at,
       (SELECT count(*) FROM access_grants g
        WHERE g.asset_id = a.asset_id AND g.revoked_at IS NULL
          AND (g.expires_at IS NULL OR g.expires_at > {now})
          AND (g.max_uses IS NULL OR g.use_count < g.max_uses)) AS active_grant_count
FROM memory_assets a
LEFT JOIN memory_batches b ON b.batch_id = a.batch_id
WHERE a.status = 'active'""",
        f"""CREATE VIEW batch_statistics AS
SELECT {DATE[dialect]} AS date,
       count(*) AS total_batches,
       coalesce(sum(minted_count), 0) AS total_assets,
       sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) AS successful_batches,
       sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed_batches,
       {total.format(col="total_cost_lamports")} AS total_cost_lamports,
       {total.format(col="storage_cost_winston")} AS storage_cost_winston
FROM memory_batches
GROUP BY {DATE[dialect]}""",
        f"""CREATE VIEW user_statistics AS
WITH wallets AS (
    SELECT owner_address AS wallet_address FROM memory_assets
    UNION SELECT wallet_address FROM cost_tracking
    UNION SELECT granted_by FROM access_grants
    UNION SELECT grantee_address FROM access_grants
)
SELECT w.wallet_address AS wallet_address,
       (SELECT count(*) FROM memory_assets a
        WHERE a.owner_address = w.wallet_address AND a.status = 'active') AS total_assets,
       (SELECT count(DISTINCT a.batch_id) FROM memory_assets a
        WHERE a.owner_address = w.wallet_address) AS total_batches,
       (SELECT {total.format(col="c.total_cost_lamports")} FROM cost_tracking c
        WHERE c.wallet_address = w.wallet_address) AS total_cost_lamports,
       (SELECT count(*) FROM access_grants g
        WHERE g.granted_by = w.wallet_address AND g.revoked_at IS NULL) AS grants_given,
       (SELECT count(*) FROM access_grants g
        WHERE g.grantee_address = w.wallet_address AND g.revoked_at IS NULL) AS grants_received,
       (SELECT min(a.created_at) FROM memory_assets a
        WHERE a.owner_address = w.wallet_address) AS first_asset_at,
       (SELECT max(a.created_at) FROM memory_assets a
        WHERE a.owner_address = w.wallet_address) AS last_asset_at
FROM wallets w""",
    ]


VIEW_NAMES = ("active_memory_assets", "batch_statistics", "user_statistics")
READ_ONLY = {
    "active_memory_assets": "chaindb.assets (enqueue_mint, transfer_asset, grant_access)",
    "batch_statistics": "chaindb.assets (the minting queue's workers)",
    "user_statistics": "chaindb.assets",
}
# On SQLite the two statistics views sum amounts with chaindb's exact aggregate, registered on
# chaindb's connections only: a trigger on them would break any other tool's ALTER TABLE (see
# core_0004). SQLite refuses writes to a view by itself.
SQLITE_READ_ONLY = ("active_memory_assets",)

UPDATED_AT = {
    "postgresql": (
        """CREATE FUNCTION update_memory_assets_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$""",
        """CREATE TRIGGER update_memory_assets_updated_at BEFORE UPDATE ON memory_assets
FOR EACH ROW EXECUTE FUNCTION update_memory_assets_updated_at()""",
    ),
    # An update that sets updated_at itself is left alone (and recursive triggers are off).
    "sqlite": (
        f"""CREATE TRIGGER update_memory_assets_updated_at AFTER UPDATE ON memory_assets
FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE memory_assets SET updated_at = {NOW["sqlite"]} WHERE asset_id = NEW.asset_id;
END""",
    ),
}

# Full-text search over each asset's metadata (its string values, not its keys), kept by
# triggers. 'simple' and unicode61 both split on non-alphanumerics and fold case, without
# stemming: a word matches as written, in any language.
SEARCH = {
    "postgresql": (
        """CREATE TABLE memory_asset_search (
    asset_id VARCHAR(44) PRIMARY KEY REFERENCES memory_assets (asset_id) ON DELETE CASCADE,
    document tsvector NOT NULL
)""",
        "CREATE INDEX idx_memory_asset_search_document ON memory_asset_search USING gin (document)",
        """CREATE FUNCTION memory_asset_search_refresh() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO memory_asset_search (asset_id, document)
    VALUES (NEW.asset_id, jsonb_to_tsvector('simple', NEW.metadata, '["string"]'))
    ON CONFLICT (asset_id) DO UPDATE SET document = EXCLUDED.document;
    RETURN NULL;
END;
$$""",
        """CREATE TRIGGER memory_asset_search_refresh AFTER INSERT OR UPDATE OF metadata
ON memory_assets FOR EACH ROW EXECUTE FUNCTION memory_asset_search_refresh()""",
    ),
    "sqlite": (
        """CREATE VIRTUAL TABLE memory_asset_search USING fts5(
    asset_id UNINDEXED, document, tokenize = 'unicode61 remove_diacritics 0'
)""",
        """CREATE TRIGGER memory_asset_search_insert AFTER INSERT ON memory_assets
BEGIN
    INSERT INTO memory_asset_search (asset_id, document)
    SELECT NEW.asset_id, coalesce(group_concat(value, ' '), '')
    FROM json_tree(NEW.metadata) WHERE type = 'text';
END""",
        """CREATE TRIGGER memory_asset_search_update AFTER UPDATE OF metadata ON memory_assets
BEGIN
    DELETE FROM memory_asset_search WHERE asset_id = OLD.asset_id;
    INSERT INTO memory_asset_search (asset_id, document)
    SELECT NEW.asset_id, coalesce(group_concat(value, ' '), '')
    FROM json_tree(NEW.metadata) WHERE type = 'text';
END""",
        """CREATE TRIGGER memory_asset_search_delete AFTER DELETE ON memory_assets
BEGIN
    DELETE FROM memory_asset_search WHERE asset_id = OLD.asset_id;
END""",
    ),
}
SEARCH_DROP = {
    "postgresql": (
        "DROP TRIGGER IF EXISTS memory_asset_search_refresh ON memory_assets",
        "DROP FUNCTION IF EXISTS memory_asset_search_refresh()",
        "DROP TABLE IF EXISTS memory_asset_search",
    ),
    "sqlite": (
        "DROP TRIGGER IF EXISTS memory_asset_search_insert",
        "DROP TRIGGER IF EXISTS memory_asset_search_update",
        "DROP TRIGGER IF EXISTS memory_asset_search_delete",
        "DROP TABLE IF EXISTS memory_asset_search",
    ),
}
UPDATED_AT_DROP = {
    "postgresql": (
        "DROP TRIGGER IF EXISTS update_memory_assets_updated_at ON memory_assets",
        "DROP FUNCTION IF EXISTS update_memory_assets_updated_at()",
    ),
    "sqlite": ("DROP TRIGGER IF EXISTS update_memory_assets_updated_at",),
}


def _read_only(dialect: str) -> dict[str, str]:
    names = VIEW_NAMES if dialect == "postgresql" else SQLITE_READ_ONLY
    return {name: READ_ONLY[name] for name in names}


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    for _name, create in TABLES:
        create()
    for statement in (*_views(dialect), *UPDATED_AT[dialect], *SEARCH[dialect]):
        op.execute(statement)
    make_read_only(op, _read_only(dialect))


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    make_writable(op, _read_only(dialect))
    for statement in (*SEARCH_DROP[dialect], *UPDATED_AT_DROP[dialect]):
        op.execute(statement)
    for view in reversed(VIEW_NAMES):
        op.execute(f"DROP VIEW IF EXISTS {view}")
    for name, _create in reversed(TABLES):
        op.drop_table(name)
