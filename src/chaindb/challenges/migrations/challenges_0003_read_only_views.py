"""v_challenges_pending_resolution refuses writes, naming the API to use

Revision ID: challenges_0003
Revises: challenges_0002
Create Date: 2026-12-01
"""

from alembic import op

from chaindb.views import allow_writes_sql, refuse_writes_sql

revision = "challenges_0003"
down_revision = "challenges_0002"
branch_labels = None
depends_on = None

VIEWS = {
    "v_challenges_pending_resolution": "chaindb.challenges (create_challenge, "
    "activate_challenge, resolve_challenge)",
}


def upgrade() -> None:
    for view, api in VIEWS.items():
        for statement in refuse_writes_sql(op.get_context().dialect.name, view, api):
            op.execute(statement)


def downgrade() -> None:
    for view in VIEWS:
        for statement in allow_writes_sql(op.get_context().dialect.name, view):
            op.execute(statement)
