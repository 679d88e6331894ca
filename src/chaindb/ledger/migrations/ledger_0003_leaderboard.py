"""ledger: account updates HOT-friendly; the leaderboard kept in its own small table

Revision ID: ledger_0003
Revises: ledger_0002
Create Date: 2027-02-01

Every transfer updates two account rows. With `balance` indexed
(ix_ledger_accounts_leaderboard), no such update could be HOT on PostgreSQL: each inserted a
new entry into every index of ledger_accounts, which grew ~100x over its packed size after 5M
transfers. This revision:
- drops that index: no index of ledger_accounts holds a column a transfer changes;
- keeps the top of each asset's board in ledger_leaderboard: every user account whose
  (balance DESC, id) key ranks at or above the asset's floor (ledger_leaderboard_floors; no
  floor row: every user account of the asset is on the board). Triggers on ledger_accounts
  keep it exact in the writer's own transaction, whoever writes (the engine, the one-statement
  transfer, repair, the seed's functions); the floor moves only under an exclusive lock
  (ledger.leaderboard.rebalance), so the board holds between 1,000 and 2,500 entries per asset;
- PostgreSQL only: fillfactor 75 on ledger_accounts (room on each page for the new version of
  a row, which HOT needs; it applies to pages written from now on: VACUUM FULL or pg_repack
  rewrites the existing ones), and per-table autovacuum settings for the two churning tables.
  SQLite has no such settings (an UPDATE rewrites the row in place there): a no-op.
"""

import sqlalchemy as sa
from alembic import op

from chaindb.types import AmountType, IdType, amount_check

revision = "ledger_0003"
down_revision = "ledger_0002"
branch_labels = None
depends_on = None

BOARD_ENTRIES_TARGET = 1_500  # a new floor leaves this many entries (ledger.leaderboard's)
# pg_advisory_xact_lock(class, asset_id): shared by writers, exclusive to move a floor.
BOARD_LOCK_CLASS = 27_746

ACCOUNTS_SETTINGS = {
    "fillfactor": "75",
    # Vacuum (and analyze) after ~5 % of the rows changed, not PostgreSQL's default 20 %
    # (10 %): HOT pruning keeps pages clean between runs, vacuum keeps the free space map and
    # the visibility map current. Never throttled: the table is small and hot.
    "autovacuum_vacuum_scale_factor": "0.05",
    "autovacuum_vacuum_threshold": "1000",
    "autovacuum_analyze_scale_factor": "0.05",
    "autovacuum_analyze_threshold": "1000",
    "autovacuum_vacuum_cost_delay": "0",
}
BOARD_SETTINGS = {
    # A board of ~2,000 rows whose every update is a new index entry: vacuum every ~2,000.
    "autovacuum_vacuum_scale_factor": "0",
    "autovacuum_vacuum_threshold": "2000",
    "autovacuum_analyze_scale_factor": "0.5",
    "autovacuum_vacuum_cost_delay": "0",
}

_INSIDE = (  # the account `n` ranks at or above its asset's floor `f` (no floor row: it does)
    "(f.asset_id IS NULL OR n.balance > f.floor_balance"
    " OR (n.balance = f.floor_balance AND n.id <= f.floor_account_id))"
)
_BELOW_FLOOR_SQLITE = (
    "EXISTS (SELECT 1 FROM ledger_leaderboard_floors f WHERE f.asset_id = NEW.asset_id"
    " AND (NEW.balance < f.floor_balance"
    " OR (NEW.balance = f.floor_balance AND NEW.id > f.floor_account_id)))"
)

POSTGRES_TRIGGERS = (
    # Statement-level, over the transition tables: a batch's 2,000 accounts cost one call.
    f"""CREATE FUNCTION ledger_leaderboard_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Shared with every other writer; ledger.leaderboard.rebalance takes it alone to move a
    -- floor, so no write decides against a floor that is being moved.
    PERFORM pg_advisory_xact_lock_shared({BOARD_LOCK_CLASS}, a.asset_id::integer)
    FROM (SELECT DISTINCT asset_id FROM new_accounts
          WHERE owner_type = 'user' AND balance IS NOT NULL) AS a;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO ledger_leaderboard (account_id, asset_id, user_id, balance)
        SELECT n.id, n.asset_id, n.owner_id, n.balance
        FROM new_accounts n LEFT JOIN ledger_leaderboard_floors f ON f.asset_id = n.asset_id
        WHERE n.owner_type = 'user' AND n.balance IS NOT NULL AND {_INSIDE};
        RETURN NULL;
    END IF;
    WITH changed AS (
        SELECT n.id, n.asset_id, n.owner_id, n.balance, {_INSIDE} AS inside
        FROM new_accounts n JOIN old_accounts o ON o.id = n.id
        LEFT JOIN ledger_leaderboard_floors f ON f.asset_id = n.asset_id
        WHERE n.owner_type = 'user' AND n.balance IS NOT NULL
          AND n.balance IS DISTINCT FROM o.balance
    ), gone AS (
        DELETE FROM ledger_leaderboard e USING changed c
        WHERE e.account_id = c.id AND NOT c.inside
    )
    INSERT INTO ledger_leaderboard (account_id, asset_id, user_id, balance)
    SELECT id, asset_id, owner_id, balance FROM changed WHERE inside
    ON CONFLICT (account_id) DO UPDATE SET balance = EXCLUDED.balance;
    RETURN NULL;
END;
$$""",
    """CREATE TRIGGER trg_ledger_leaderboard_insert AFTER INSERT ON ledger_accounts
REFERENCING NEW TABLE AS new_accounts
FOR EACH STATEMENT EXECUTE FUNCTION ledger_leaderboard_follow()""",
    """CREATE TRIGGER trg_ledger_leaderboard_update AFTER UPDATE ON ledger_accounts
REFERENCING OLD TABLE AS old_accounts NEW TABLE AS new_accounts
FOR EACH STATEMENT EXECUTE FUNCTION ledger_leaderboard_follow()""",
)

SQLITE_TRIGGERS = (
    # One writer at a time on SQLite: nothing to lock.
    f"""CREATE TRIGGER trg_ledger_leaderboard_insert AFTER INSERT ON ledger_accounts
WHEN NEW.owner_type = 'user' AND NEW.balance IS NOT NULL
BEGIN
    INSERT INTO ledger_leaderboard (account_id, asset_id, user_id, balance)
    SELECT NEW.id, NEW.asset_id, NEW.owner_id, NEW.balance WHERE NOT {_BELOW_FLOOR_SQLITE};
END""",
    f"""CREATE TRIGGER trg_ledger_leaderboard_update AFTER UPDATE OF balance ON ledger_accounts
WHEN NEW.owner_type = 'user' AND NEW.balance IS NOT NULL AND NEW.balance IS NOT OLD.balance
BEGIN
    DELETE FROM ledger_leaderboard WHERE account_id = NEW.id AND {_BELOW_FLOOR_SQLITE};
    INSERT INTO ledger_leaderboard (account_id, asset_id, user_id, balance)
    SELECT NEW.id, NEW.asset_id, NEW.owner_id, NEW.balance WHERE NOT {_BELOW_FLOOR_SQLITE}
    ON CONFLICT (account_id) DO UPDATE SET balance = excluded.balance;
END""",
)

# The board as it stands: each asset's top BOARD_ENTRIES_TARGET user accounts, and a floor
# for the assets that have more.
_RANKED = """SELECT id, asset_id, owner_id, balance,
       row_number() OVER (PARTITION BY asset_id ORDER BY balance DESC, id) AS position,
       count(*) OVER (PARTITION BY asset_id) AS accounts
FROM ledger_accounts WHERE owner_type = 'user' AND balance IS NOT NULL"""
FILL_BOARD = f"""INSERT INTO ledger_leaderboard (account_id, asset_id, user_id, balance)
SELECT id, asset_id, owner_id, balance FROM ({_RANKED}) ranked
WHERE position <= {BOARD_ENTRIES_TARGET}"""
FILL_FLOORS = f"""INSERT INTO ledger_leaderboard_floors (asset_id, floor_balance, floor_account_id)
SELECT asset_id, balance, id FROM ({_RANKED}) ranked
WHERE position = {BOARD_ENTRIES_TARGET} AND accounts > {BOARD_ENTRIES_TARGET}"""


def _settings(values: dict[str, str]) -> str:
    return ", ".join(f"{name} = {value}" for name, value in values.items())


def upgrade() -> None:
    postgresql = op.get_context().dialect.name == "postgresql"
    op.create_table(
        "ledger_leaderboard",
        sa.Column(
            "account_id",
            IdType,
            sa.ForeignKey("ledger_accounts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("asset_id", IdType, sa.ForeignKey("ledger_assets.id"), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("balance", AmountType, amount_check("balance"), nullable=False),
        # user_id too: the top is read from the index alone (PostgreSQL: an index-only scan).
        sa.Index(
            "ix_ledger_leaderboard_rank",
            "asset_id",
            sa.text("balance DESC"),
            "account_id",
            "user_id",
        ),
    )
    op.create_table(
        "ledger_leaderboard_floors",
        sa.Column("asset_id", IdType, sa.ForeignKey("ledger_assets.id"), primary_key=True),
        sa.Column("floor_balance", AmountType, amount_check("floor_balance"), nullable=False),
        sa.Column("floor_account_id", IdType, nullable=False),
    )
    op.execute(FILL_BOARD)
    op.execute(FILL_FLOORS)
    op.drop_index("ix_ledger_accounts_leaderboard", table_name="ledger_accounts")
    for statement in POSTGRES_TRIGGERS if postgresql else SQLITE_TRIGGERS:
        op.execute(statement)
    if postgresql:
        op.execute(f"ALTER TABLE ledger_accounts SET ({_settings(ACCOUNTS_SETTINGS)})")
        op.execute(f"ALTER TABLE ledger_leaderboard SET ({_settings(BOARD_SETTINGS)})")
        op.execute("ANALYZE ledger_leaderboard")


def downgrade() -> None:
    postgresql = op.get_context().dialect.name == "postgresql"
    op.execute("DROP TRIGGER IF EXISTS trg_ledger_leaderboard_update" + _on_accounts(postgresql))
    op.execute("DROP TRIGGER IF EXISTS trg_ledger_leaderboard_insert" + _on_accounts(postgresql))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS ledger_leaderboard_follow()")
        op.execute(f"ALTER TABLE ledger_accounts RESET ({', '.join(ACCOUNTS_SETTINGS)})")
    op.create_index(
        "ix_ledger_accounts_leaderboard",
        "ledger_accounts",
        ["asset_id", sa.text("balance DESC"), "id"],
        sqlite_where=sa.text("owner_type = 'user'"),
        postgresql_where=sa.text("owner_type = 'user'"),
    )
    # Derived from ledger_accounts: nothing is lost with them.
    op.drop_table("ledger_leaderboard_floors")
    op.drop_table("ledger_leaderboard")


def _on_accounts(postgresql: bool) -> str:
    return " ON ledger_accounts" if postgresql else ""
