"""assets: row-level security on memory_assets (PostgreSQL): a wallet sees and changes its own

Revision ID: assets_0002
Revises: assets_0001
Create Date: 2026-12-10

Seed 001's `owner_access` policy, reading the wallet a transaction acts for from
`app.current_user` (chaindb sets it per transaction, set_config(..., true)). The missing_ok
form of current_setting with NULLIF: a transaction that set no wallet sees no asset, where the
seed's form would fail with an error. ENABLE, not FORCE: the owner role (the one that runs
migrations) is not filtered, the service role is. Two more policies make a transfer possible,
which owner_access's own check would refuse: an owner's UPDATE may give the row to another
wallet (owner_transfers), and the row stays visible to the transaction handing it over
(transfer_recipient: PostgreSQL checks an updated row against the SELECT policies too), which
names the recipient in `app.transfer_to` for that UPDATE only. The
search table follows its asset; the two views that list assets run with the caller's rights
(security_invoker, PostgreSQL 15+). SQLite has no row-level security: nothing to do there.
"""

from alembic import op

revision = "assets_0002"
down_revision = "assets_0001"
branch_labels = None
depends_on = None

CURRENT_WALLET = "NULLIF(current_setting('app.current_user', true), '')"
RECIPIENT = "NULLIF(current_setting('app.transfer_to', true), '')"

UPGRADE = (
    "ALTER TABLE memory_assets ENABLE ROW LEVEL SECURITY",
    f"""CREATE POLICY owner_access ON memory_assets
  FOR ALL
  USING (owner_address = {CURRENT_WALLET})""",
    f"""CREATE POLICY owner_transfers ON memory_assets
  FOR UPDATE
  USING (owner_address = {CURRENT_WALLET})
  WITH CHECK (true)""",
    f"""CREATE POLICY transfer_recipient ON memory_assets
  FOR SELECT
  USING (owner_address = {RECIPIENT})""",
    "ALTER TABLE memory_asset_search ENABLE ROW LEVEL SECURITY",
    """CREATE POLICY owner_access ON memory_asset_search
  FOR ALL
  USING (EXISTS (SELECT 1 FROM memory_assets a WHERE a.asset_id = memory_asset_search.asset_id))""",
    """DO $$ BEGIN
    IF current_setting('server_version_num')::int >= 150000 THEN
        ALTER VIEW active_memory_assets SET (security_invoker = true);
        ALTER VIEW user_statistics SET (security_invoker = true);
    END IF;
END $$""",
)
DOWNGRADE = (
    """DO $$ BEGIN
    IF current_setting('server_version_num')::int >= 150000 THEN
        ALTER VIEW active_memory_assets RESET (security_invoker);
        ALTER VIEW user_statistics RESET (security_invoker);
    END IF;
END $$""",
    "DROP POLICY IF EXISTS owner_access ON memory_asset_search",
    "ALTER TABLE memory_asset_search DISABLE ROW LEVEL SECURITY",
    "DROP POLICY IF EXISTS transfer_recipient ON memory_assets",
    "DROP POLICY IF EXISTS owner_transfers ON memory_assets",
    "DROP POLICY IF EXISTS owner_access ON memory_assets",
    "ALTER TABLE memory_assets DISABLE ROW LEVEL SECURITY",
)


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for statement in UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for statement in DOWNGRADE:
            op.execute(statement)
