"""assets: a job's asset id is stored when it completes

Revision ID: assets_0006
Revises: assets_0005
Create Date: 2026-12-02

A leaf's asset id is a PDA, computed in Python. ck_minting_queue_leaf wanted it written with
the leaf, by the statement that gives a claim its leaves (claim_leaves.py): the ids of every
leaf that statement might give had to be computed before it, and with 4 workers each computed
every leaf's (measured: a fifth of a worker's CPU). Now a job with a leaf may wait for its id
until it completes, and a completed job has one; every stored row passes the new CHECK.
PostgreSQL replaces the CHECK in place; SQLite rebuilds the table from the frozen copy below
(it cannot change a CHECK in place; a copy, not reflection, so that --dry-run renders it too).

Downgrade stores the ids the jobs with a leaf lack (derived from their tree and leaf) and
restores the old CHECK. On PostgreSQL the CHECK comes first (NOT VALID: its ALTER locks the
queue until the migration commits, so no claim can add a row without an id meanwhile), then
the ids, then the CHECK's scan of the rows. Rendered as SQL (--dry-run) it cannot derive the
ids: the CHECK then refuses such a row, and names itself.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chaindb.assets import bubblegum
from chaindb.types import (
    IdType,
    JSONType,
    UtcDateTime,
    arweave_tx_id_check,
    hash32_check,
    solana_address_check,
)

revision = "assets_0006"
down_revision = "assets_0005"
branch_labels = None
depends_on = None

LINT_REVIEWED = {
    "drop-constraint": "ck_minting_queue_leaf is replaced by a looser one in the same step",
}
LINT_REVIEWED_DOWNGRADE = {
    "drop-constraint": "ck_minting_queue_leaf is replaced by the stricter one it was, once "
    "the ids it asks for are stored",
}
_OLD = "(merkle_tree IS NULL) = (leaf_index IS NULL) AND (leaf_index IS NULL) = (asset_id IS NULL)"
_NEW = (
    "(merkle_tree IS NULL) = (leaf_index IS NULL) AND (asset_id IS NULL OR leaf_index IS NOT "
    "NULL) AND (status <> 'completed' OR asset_id IS NOT NULL)"
)
_WITHOUT_ID = sa.text(
    "SELECT id, merkle_tree, leaf_index FROM minting_queue "
    "WHERE leaf_index IS NOT NULL AND asset_id IS NULL"
)
_STORE_ID = sa.text("UPDATE minting_queue SET asset_id = :asset_id WHERE id = :id")


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE minting_queue DROP CONSTRAINT ck_minting_queue_leaf, "
            f"ADD CONSTRAINT ck_minting_queue_leaf CHECK ({_NEW})"
        )
        return
    with op.batch_alter_table("minting_queue", copy_from=_minting_queue(_OLD)) as batch:
        batch.drop_constraint("ck_minting_queue_leaf", type_="check")
        batch.create_check_constraint("ck_minting_queue_leaf", sa.text(_NEW))


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE minting_queue DROP CONSTRAINT ck_minting_queue_leaf, "
            f"ADD CONSTRAINT ck_minting_queue_leaf CHECK ({_OLD}) NOT VALID"
        )
        _store_ids()
        op.execute("ALTER TABLE minting_queue VALIDATE CONSTRAINT ck_minting_queue_leaf")
        return
    _store_ids()
    with op.batch_alter_table("minting_queue", copy_from=_minting_queue(_NEW)) as batch:
        batch.drop_constraint("ck_minting_queue_leaf", type_="check")
        batch.create_check_constraint("ck_minting_queue_leaf", sa.text(_OLD))


def _store_ids() -> None:
    """The ids the jobs with a leaf lack, derived from their tree and leaf (not offline)."""
    if op.get_context().as_sql:
        return
    bind = op.get_bind()
    jobs: Sequence[sa.Row] = bind.execute(_WITHOUT_ID).all()
    if jobs:
        bind.execute(
            _STORE_ID,
            [
                {"id": j.id, "asset_id": bubblegum.asset_id(j.merkle_tree, j.leaf_index)}
                for j in jobs
            ],
        )


def _minting_queue(leaf_check: str) -> sa.Table:
    """minting_queue as assets_0001 and assets_0003 left it, with `leaf_check`: SQLite's
    rebuild copies it (its columns, constraints and indexes) to the new table."""

    def address(name: str, *, nullable: bool = False) -> sa.Column[str]:
        return sa.Column(name, sa.String(44), solana_address_check(name), nullable=nullable)

    def arweave(name: str, *, nullable: bool) -> sa.Column[str]:
        return sa.Column(name, sa.String(43), arweave_tx_id_check(name), nullable=nullable)

    def timestamp(name: str) -> sa.Column[object]:
        return sa.Column(
            name, UtcDateTime, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")
        )

    metadata = sa.MetaData()
    sa.Table("memory_batches", metadata, sa.Column("batch_id", IdType, primary_key=True))
    sa.Table("merkle_trees", metadata, address("tree_address"))
    pending = sa.text("status = 'pending'")
    processing = sa.text("status = 'processing'")
    completed = sa.text("status = 'completed'")
    return sa.Table(
        "minting_queue",
        metadata,
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("client_key", sa.String(200), nullable=False),
        address("owner_address"),
        sa.Column("metadata", JSONType, nullable=False),
        arweave("content_arweave_tx_id", nullable=False),
        arweave("metadata_arweave_tx_id", nullable=True),
        sa.Column("content_hash", sa.String(66), hash32_check("content_hash"), nullable=False),
        sa.Column("priority", sa.SmallInteger, nullable=False, server_default="2"),
        sa.Column("status", sa.String(12), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("max_attempts", sa.Integer, nullable=False, server_default="5"),
        sa.Column("scheduled_at", UtcDateTime, nullable=False),
        sa.Column("lease_expires_at", UtcDateTime, nullable=True),
        sa.Column("worker_id", sa.String(128), nullable=True),
        sa.Column("batch_id", IdType, sa.ForeignKey("memory_batches.batch_id"), nullable=True),
        address("merkle_tree", nullable=True),
        sa.Column("leaf_index", sa.BigInteger, nullable=True),
        address("asset_id", nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        timestamp("created_at"),
        timestamp("updated_at"),
        sa.Column("completed_at", UtcDateTime, nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'processing', 'completed', 'dead')",
            name="ck_minting_queue_status",
        ),
        sa.ForeignKeyConstraint(
            ["merkle_tree"], ["merkle_trees.tree_address"], name="fk_minting_queue_tree"
        ),
        sa.UniqueConstraint("client_key", name="uq_minting_queue_client_key"),
        sa.UniqueConstraint("merkle_tree", "leaf_index", name="uq_minting_queue_leaf"),
        sa.CheckConstraint("priority BETWEEN 1 AND 4", name="ck_minting_queue_priority"),
        sa.CheckConstraint(
            "attempts >= 0 AND max_attempts BETWEEN 1 AND 25", name="ck_minting_queue_attempts"
        ),
        sa.CheckConstraint(
            "status <> 'processing' OR (lease_expires_at IS NOT NULL AND batch_id IS NOT NULL)",
            name="ck_minting_queue_lease",
        ),
        sa.CheckConstraint(leaf_check, name="ck_minting_queue_leaf"),
        sa.CheckConstraint(
            "status <> 'completed' OR completed_at IS NOT NULL", name="ck_minting_queue_completed"
        ),
        sa.Index("ix_minting_queue_ready", "priority", "scheduled_at", "id", sqlite_where=pending),
        sa.Index("ix_minting_queue_lease", "lease_expires_at", sqlite_where=processing),
        sa.Index("ix_minting_queue_batch", "batch_id"),
        sa.Index("ix_minting_queue_completed", "completed_at", sqlite_where=completed),
    )
