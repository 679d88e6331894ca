"""games: seed 002's V6 (token economy): staking positions (each a ledger hold of CRAP) and
token_balances, a read-only view over the ledger's CRAP accounts and holds

Revision ID: games_0006
Revises: games_0005
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

from chaindb.types import (
    AmountType,
    DecimalText,
    DialectSQL,
    IdType,
    UtcDateTime,
    amount_check,
    amount_zero,
)
from chaindb.views import make_read_only, make_writable

revision = "games_0006"
down_revision = "games_0005"
branch_labels = None
depends_on = None

CRAP_ASSET_CODE = "bitcraps:mesh/native"
VIEWS = {"token_balances": "chaindb.games (place_bet, stake, unstake, deposit)"}


def _amount(name: str) -> sa.Column:
    return sa.Column(
        name, AmountType, amount_check(name), nullable=False, server_default=amount_zero()
    )


def upgrade() -> None:
    op.create_table(
        "staking_positions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id"), nullable=False),
        _amount("amount"),
        sa.Column("lock_period_days", sa.Integer, nullable=False),
        sa.Column("reward_rate", DecimalText(10, 8), nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("ends_at", UtcDateTime, nullable=False),
        _amount("claimed_rewards"),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        _amount("penalty"),
        sa.Column("closed_at", UtcDateTime, nullable=True),
        sa.Column("hold_transfer_id", IdType, sa.ForeignKey("ledger_transfers.id"), nullable=False),
        sa.UniqueConstraint("hold_transfer_id", name="uq_staking_positions_hold"),
        sa.CheckConstraint(
            DialectSQL("amount", sqlite="{col} <> '" + "0" * 78 + "'", postgresql="{col} > 0"),
            name="ck_staking_positions_amount_positive",
        ),
        sa.CheckConstraint(
            "lock_period_days BETWEEN 1 AND 3650", name="ck_staking_positions_lock_period"
        ),
        sa.CheckConstraint(
            DialectSQL(
                "reward_rate",
                sqlite="CAST({col} AS REAL) BETWEEN 0 AND 10",
                postgresql="{col} BETWEEN 0 AND 10",
            ),
            name="ck_staking_positions_reward_rate",
        ),
        sa.CheckConstraint("ends_at > started_at", name="ck_staking_positions_period"),
        sa.CheckConstraint("is_active = (closed_at IS NULL)", name="ck_staking_positions_closed"),
    )
    op.create_index("ix_staking_positions_user", "staking_positions", ["user_id", "is_active"])
    dialect = op.get_context().dialect.name
    op.execute(token_balances_view(dialect))
    # As core_0004 says of v_blockchain_tx_summary: on SQLite this view sums with chaindb's
    # exact aggregate, so a trigger on it would break other tools' ALTER TABLE; SQLite refuses
    # writes to a view by itself.
    if dialect == "postgresql":
        make_read_only(op, VIEWS)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        make_writable(op, VIEWS)
    op.execute("DROP VIEW token_balances")
    op.drop_table("staking_positions")


def token_balances_view(dialect: str) -> str:
    """balance: available (the account's balance); locked_balance: held by open bets (holds
    towards system:games_house); staked_balance: held by staking (towards
    system:games_staking). Their sum is the account's posted CRAP."""

    def held_towards(system_account: str) -> str:
        total = (
            "coalesce(sum(h.amount), 0)"
            if dialect == "postgresql"
            # exact, and padded to 78 digits like every stored amount
            else f"substr('{'0' * 78}' || coalesce(chaindb_uint_sum(h.amount), '0'), -78)"
        )
        return f"""(SELECT {total}
         FROM ledger_holds h JOIN ledger_accounts c ON c.id = h.credit_account_id
         WHERE h.debit_account_id = a.id
           AND c.owner_type = 'system' AND c.owner_id = '{system_account}')"""

    return f"""CREATE VIEW token_balances AS
SELECT a.user_id AS user_id,
       a.balance AS balance,
       {held_towards("games_house")} AS locked_balance,
       {held_towards("games_staking")} AS staked_balance,
       a.updated_at AS last_updated
FROM ledger_accounts a JOIN ledger_assets s ON s.id = a.asset_id
WHERE s.code = '{CRAP_ASSET_CODE}' AND a.owner_type = 'user'"""
