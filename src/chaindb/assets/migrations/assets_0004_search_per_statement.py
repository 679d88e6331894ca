"""assets: the search rows of newly inserted assets written once per INSERT statement

Revision ID: assets_0004
Revises: assets_0003
Create Date: 2026-12-02

On PostgreSQL the search row of each new asset was written by a row-level trigger: a
completed batch of N assets ran N trigger calls, each its own INSERT through PL/pgSQL.
A statement-level trigger with a transition table writes them all in one INSERT ... SELECT.
PostgreSQL allows a transition table only on a trigger with one event and no column list,
so the row-level trigger stays for UPDATE OF metadata (a new version, one row at a time).
SQLite has no statement-level triggers: its per-row triggers are unchanged.
"""

from alembic import op

revision = "assets_0004"
down_revision = "assets_0003"
branch_labels = None
depends_on = None

UPGRADE = (
    """CREATE FUNCTION memory_asset_search_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO memory_asset_search (asset_id, document)
    SELECT asset_id, jsonb_to_tsvector('simple', metadata, '["string"]') FROM inserted
    ON CONFLICT (asset_id) DO UPDATE SET document = EXCLUDED.document;
    RETURN NULL;
END;
$$""",
    "DROP TRIGGER memory_asset_search_refresh ON memory_assets",
    """CREATE TRIGGER memory_asset_search_insert AFTER INSERT ON memory_assets
REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION memory_asset_search_insert()""",
    """CREATE TRIGGER memory_asset_search_refresh AFTER UPDATE OF metadata
ON memory_assets FOR EACH ROW EXECUTE FUNCTION memory_asset_search_refresh()""",
)
DOWNGRADE = (
    "DROP TRIGGER memory_asset_search_insert ON memory_assets",
    "DROP FUNCTION memory_asset_search_insert()",
    "DROP TRIGGER memory_asset_search_refresh ON memory_assets",
    """CREATE TRIGGER memory_asset_search_refresh AFTER INSERT OR UPDATE OF metadata
ON memory_assets FOR EACH ROW EXECUTE FUNCTION memory_asset_search_refresh()""",
)


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for statement in UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for statement in DOWNGRADE:
            op.execute(statement)
