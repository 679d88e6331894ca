"""games: token_balances reads a player's row through the accounts' owner key

The view's user_id was the accounts' `user_id` column. SQLite's planner, with no statistics,
then walked every user account of CRAP through the owner key (asset, owner type) and tested
user_id on each: a player's balance cost a scan of all players (4.7 ms at 20,000). For a user
account `user_id = owner_id` (ck_ledger_accounts_owner), so the view now gives owner_id as
user_id, and `WHERE user_id = ?` is one probe of uq_ledger_accounts_owner. Same columns, same
rows.

Revision ID: games_0008
Revises: games_0007
Create Date: 2026-12-02
"""

from alembic import op

revision = "games_0008"
down_revision = "games_0007"
branch_labels = None
depends_on = None

CRAP_ASSET_CODE = "bitcraps:mesh/native"


def upgrade() -> None:
    _replace_view(user_id="a.owner_id")


def downgrade() -> None:
    _replace_view(user_id="a.user_id")


def _replace_view(*, user_id: str) -> None:
    """PostgreSQL replaces the view in place, keeping its read-only trigger; SQLite has no
    CREATE OR REPLACE VIEW (and no trigger on this view: games_0006)."""
    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        op.execute(f"CREATE OR REPLACE VIEW token_balances AS {_select(dialect, user_id)}")
    else:
        op.execute("DROP VIEW token_balances")
        op.execute(f"CREATE VIEW token_balances AS {_select(dialect, user_id)}")


def _select(dialect: str, user_id: str) -> str:
    """games_0006's definition (copied: an applied migration must not follow later edits), with
    user_id taken from `user_id`."""

    def held_towards(system_account: str) -> str:
        total = (
            "coalesce(sum(h.amount), 0)"
            if dialect == "postgresql"
            else f"substr('{'0' * 78}' || coalesce(chaindb_uint_sum(h.amount), '0'), -78)"
        )
        return f"""(SELECT {total}
         FROM ledger_holds h JOIN ledger_accounts c ON c.id = h.credit_account_id
         WHERE h.debit_account_id = a.id
           AND c.owner_type = 'system' AND c.owner_id = '{system_account}')"""

    return f"""
SELECT {user_id} AS user_id,
       a.balance AS balance,
       {held_towards("games_house")} AS locked_balance,
       {held_towards("games_staking")} AS staked_balance,
       a.updated_at AS last_updated
FROM ledger_accounts a JOIN ledger_assets s ON s.id = a.asset_id
WHERE s.code = '{CRAP_ASSET_CODE}' AND a.owner_type = 'user'"""
