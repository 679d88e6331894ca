"""assets: a claim reads the queue in its indexes' order, whatever the statistics say

Revision ID: assets_0005
Revises: assets_0004
Create Date: 2026-12-02

A claim wants the first few ready jobs (priority, schedule, id: ix_minting_queue_ready) and
the first few expired leases (ix_minting_queue_lease). When PostgreSQL's statistics say few
jobs are pending (a queue analyzed while it was nearly empty, or never: a burst of jobs since),
it planned a bitmap scan of every pending job and a sort of them all, for each claim: measured,
9 ms a claim with 3,800 jobs pending, where the index gives the first ten in microseconds; the
larger the backlog, the slower each claim. PL/pgSQL's function runs its query with sorting
disabled (SET enable_sort = off): the one plan left is the indexes' own order, and its plan is
cached per connection. SQLite plans by the index on its own: a no-op there.
"""

from alembic import op

revision = "assets_0005"
down_revision = "assets_0004"
branch_labels = None
depends_on = None

UPGRADE = """CREATE FUNCTION minting_queue_candidates(claim_now timestamptz, claim_limit integer)
RETURNS SETOF minting_queue
LANGUAGE plpgsql SET enable_sort = off AS $$
BEGIN
    -- The statuses are literals: they are the partial indexes' predicates.
    RETURN QUERY
    WITH expired AS (
        SELECT * FROM minting_queue
        WHERE status = 'processing' AND lease_expires_at <= claim_now
        ORDER BY lease_expires_at LIMIT claim_limit
        FOR UPDATE SKIP LOCKED
    ), ready AS (
        SELECT * FROM minting_queue
        WHERE status = 'pending' AND scheduled_at <= claim_now
        ORDER BY priority, scheduled_at, id LIMIT claim_limit
        FOR UPDATE SKIP LOCKED
    )
    SELECT * FROM expired UNION ALL SELECT * FROM ready;
END;
$$"""
DOWNGRADE = "DROP FUNCTION minting_queue_candidates(timestamptz, integer)"


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(UPGRADE)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(DOWNGRADE)
