"""v_challenges_pending_resolution refuses writes, naming the API to use

Revision ID: challenges_0003
Revises: challenges_0002
Create Date: 2026-12-01
"""

from alembic import op

from chaindb.views import make_read_only, make_writable

revision = "challenges_0003"
down_revision = "challenges_0002"
branch_labels = None
depends_on = None

VIEWS = {
    "v_challenges_pending_resolution": "chaindb.challenges (create_challenge, "
    "activate_challenge, resolve_challenge)",
}


def upgrade() -> None:
    make_read_only(op, VIEWS)


def downgrade() -> None:
    make_writable(op, VIEWS)
