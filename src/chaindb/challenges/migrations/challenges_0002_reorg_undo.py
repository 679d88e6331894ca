"""challenges.reorged_at: a resolution undone by a chain reorg may step back, and only then

Revision ID: challenges_0002
Revises: challenges_0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from chaindb.types import UtcDateTime

revision = "challenges_0002"
down_revision = "challenges_0001"
branch_labels = None
depends_on = None

_FORWARD = (
    "(OLD.on_chain_status = 'pending' AND NEW.on_chain_status = 'active')"
    " OR (OLD.on_chain_status = 'active' AND NEW.on_chain_status = 'resolved')"
    " OR (OLD.on_chain_status = 'resolved' AND NEW.on_chain_status = 'claimed')"
)
# The one way back: the block that resolved it left the chain, and the update says so by
# stamping a new reorged_at.
_REORG = (
    "(OLD.on_chain_status IN ('resolved', 'claimed') AND NEW.on_chain_status = 'active'"
    " AND NEW.reorged_at IS NOT NULL"
    " AND (OLD.reorged_at IS NULL OR NEW.reorged_at <> OLD.reorged_at))"
)
GUARD = {
    "postgresql": (
        "DROP TRIGGER trg_challenges_on_chain_status ON challenges",
        f"""CREATE OR REPLACE FUNCTION challenges_on_chain_status_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.on_chain_status IS DISTINCT FROM OLD.on_chain_status
       AND NOT ({_FORWARD}) AND NOT ({_REORG}) THEN
        RAISE EXCEPTION 'on_chain_status cannot move from % to %',
            OLD.on_chain_status, NEW.on_chain_status USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$""",
        """CREATE TRIGGER trg_challenges_on_chain_status
BEFORE UPDATE OF on_chain_status ON challenges
FOR EACH ROW EXECUTE FUNCTION challenges_on_chain_status_guard()""",
    ),
    "sqlite": (
        "DROP TRIGGER trg_challenges_on_chain_status",
        f"""CREATE TRIGGER trg_challenges_on_chain_status
BEFORE UPDATE OF on_chain_status ON challenges
WHEN NEW.on_chain_status IS NOT OLD.on_chain_status AND NOT ({_FORWARD}) AND NOT ({_REORG})
BEGIN
    SELECT RAISE(ABORT, 'on_chain_status cannot move that way: pending -> active -> resolved -> claimed');
END""",
    ),
}


def upgrade() -> None:
    op.add_column("challenges", sa.Column("reorged_at", UtcDateTime, nullable=True))
    for statement in GUARD[op.get_context().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    for statement in _forward_only(dialect):
        op.execute(statement)
    op.drop_column("challenges", "reorged_at")


def _forward_only(dialect: str) -> tuple[str, ...]:
    """challenges_0001's guard again: forward moves only."""
    if dialect == "postgresql":
        return (
            f"""CREATE OR REPLACE FUNCTION challenges_on_chain_status_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.on_chain_status IS DISTINCT FROM OLD.on_chain_status AND NOT ({_FORWARD}) THEN
        RAISE EXCEPTION 'on_chain_status cannot move from % to %',
            OLD.on_chain_status, NEW.on_chain_status USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$""",
        )
    return (
        "DROP TRIGGER trg_challenges_on_chain_status",
        f"""CREATE TRIGGER trg_challenges_on_chain_status
BEFORE UPDATE OF on_chain_status ON challenges
WHEN NEW.on_chain_status IS NOT OLD.on_chain_status AND NOT ({_FORWARD})
BEGIN
    SELECT RAISE(ABORT, 'on_chain_status cannot move that way: pending -> active -> resolved -> claimed');
END""",
    )
