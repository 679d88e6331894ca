"""assets: a claimed job's asset id is stored when it completes (PostgreSQL)

Revision ID: assets_0006
Revises: assets_0005
Create Date: 2026-12-02

A leaf's asset id is a PDA, computed in Python. ck_minting_queue_leaf wanted it written with
the leaf, by the statement that gives a claim its leaves (claim_leaves.py): the ids of every
leaf that statement might give had to be computed before it, and with 4 workers each computed
every leaf's (measured: a fifth of a worker's CPU). Now a job with a leaf may wait for its id
until it completes, and a completed job has one. Every stored row passes the new CHECK. SQLite
keeps the old one: its claim computes the ids of its own leaves, and writes them with them.

Downgrade stores the ids the jobs with a leaf lack (derived from their tree and leaf), then
restores the old CHECK. Rendered as SQL (--dry-run) it cannot derive them: the CHECK then
refuses such a row, and names the constraint.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chaindb.assets import bubblegum

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
        _replace_check(_NEW)


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    if not op.get_context().as_sql:
        bind = op.get_bind()
        _store_ids(bind, bind.execute(_WITHOUT_ID).all())
    _replace_check(_OLD)


def _store_ids(bind: sa.Connection, jobs: Sequence[sa.Row]) -> None:
    if jobs:
        bind.execute(
            _STORE_ID,
            [
                {"id": j.id, "asset_id": bubblegum.asset_id(j.merkle_tree, j.leaf_index)}
                for j in jobs
            ],
        )


def _replace_check(condition: str) -> None:
    """NOT VALID, then VALIDATE: the queue's scan holds no lock that stops its writers."""
    op.execute(
        "ALTER TABLE minting_queue DROP CONSTRAINT ck_minting_queue_leaf, "
        f"ADD CONSTRAINT ck_minting_queue_leaf CHECK ({condition}) NOT VALID"
    )
    op.execute("ALTER TABLE minting_queue VALIDATE CONSTRAINT ck_minting_queue_leaf")
