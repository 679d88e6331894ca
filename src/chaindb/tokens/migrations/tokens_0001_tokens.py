"""tokens: tokens and their transactions (seed 003), their status following core's chain row

Revision ID: tokens_0001
Revises:
Create Date: 2027-01-10

The seed's `status` of a transaction (and of a token, through its creation transaction) is
derived from the core `blockchain_transactions` row it points at: a trigger on that row keeps
them equal in the same database transaction, whoever changes it (the chain tracker, a caller
recording a CKB outcome, a reorg sending it back to pending).
"""

import sqlalchemy as sa
from alembic import op

from chaindb.types import (
    UINT256_DIGITS,
    AmountType,
    DialectSQL,
    IdType,
    JSONType,
    TxHashType,
    UtcDateTime,
    amount_check,
    chain_id_check,
    tx_hash_check,
)

revision = "tokens_0001"
down_revision = None
branch_labels = ("tokens",)
depends_on = ("core_0005", "ledger_0001")

STATUSES = ("pending", "confirmed", "failed")
STATUS_OF = (
    "CASE WHEN NEW.status = 'success' AND NEW.is_final THEN 'confirmed'"
    " WHEN NEW.status = 'failed' AND NEW.is_final THEN 'failed'"
    " WHEN NEW.status IN ('dropped', 'replaced') THEN 'failed'"
    " ELSE 'pending' END"
)


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(name, UtcDateTime, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP"))


def _network_id() -> sa.Column[str]:
    return sa.Column("network_id", sa.String(41), chain_id_check("network_id"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("supply", AmountType, amount_check("supply"), nullable=False),
        sa.Column("decimals", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("creator_id", sa.String(64), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("icon_url", sa.String(2048), nullable=True),
        sa.Column("contract_address", sa.String(66), nullable=True),
        _network_id(),
        sa.Column("tx_hash", TxHashType, tx_hash_check("tx_hash"), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column(
            "creation_tx_id", IdType, sa.ForeignKey("blockchain_transactions.id"), nullable=True
        ),
        sa.Column("asset_id", IdType, sa.ForeignKey("ledger_assets.id"), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.CheckConstraint(
            DialectSQL(
                "supply", sqlite="{col} <> '" + "0" * UINT256_DIGITS + "'", postgresql="{col} > 0"
            ),
            name="ck_tokens_supply_positive",
        ),
        sa.CheckConstraint(f"status IN {STATUSES}", name="ck_tokens_status"),
        sa.CheckConstraint(
            "length(name) BETWEEN 1 AND 64 AND trim(name) <> ''", name="ck_tokens_name"
        ),
        sa.CheckConstraint(
            DialectSQL(
                "symbol",
                sqlite="length({col}) BETWEEN 1 AND 16 AND {col} NOT GLOB '*[^A-Za-z0-9]*'",
                postgresql="{col} ~ '^[A-Za-z0-9]{{1,16}}$'",
            ),
            name="ck_tokens_symbol",
        ),
        sa.CheckConstraint("decimals BETWEEN 0 AND 77", name="ck_tokens_decimals"),
        sa.CheckConstraint(
            DialectSQL(
                "contract_address",
                sqlite="{col} IS NULL OR ((length({col}) IN (42, 66))"
                " AND substr({col}, 1, 2) = '0x' AND substr({col}, 3) NOT GLOB '*[^0-9a-f]*')",
                postgresql="{col} ~ '^0x([0-9a-f]{{40}}|[0-9a-f]{{64}})$'",
            ),
            name="ck_tokens_contract_address",
        ),
        sa.CheckConstraint("tx_hash IS NULL OR creation_tx_id IS NOT NULL", name="ck_tokens_tx"),
        sa.UniqueConstraint("network_id", "contract_address", name="uq_tokens_contract"),
        sa.Index("idx_tokens_creator_id", "creator_id", "id"),
        sa.Index("ix_tokens_creation_tx", "creation_tx_id"),
    )
    op.create_table(
        "transactions",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("token_id", IdType, sa.ForeignKey("tokens.id"), nullable=True),
        sa.Column("tx_hash", TxHashType, tx_hash_check("tx_hash"), nullable=False),
        sa.Column("tx_type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("amount", AmountType, amount_check("amount"), nullable=True),
        _network_id(),
        sa.Column("metadata", JSONType, nullable=True),
        sa.Column(
            "blockchain_tx_id", IdType, sa.ForeignKey("blockchain_transactions.id"), nullable=False
        ),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.CheckConstraint(f"status IN {STATUSES}", name="ck_transactions_status"),
        sa.CheckConstraint(
            DialectSQL(
                "tx_type",
                sqlite="length({col}) > 0 AND substr({col}, 1, 1) GLOB '[a-z]'"
                " AND {col} NOT GLOB '*[^a-z0-9_]*'",
                postgresql="{col} ~ '^[a-z][a-z0-9_]*$'",
            ),
            name="ck_transactions_tx_type",
        ),
        sa.UniqueConstraint("blockchain_tx_id", "user_id", "tx_type", name="uq_transactions_once"),
        sa.Index("idx_transactions_user_id", "user_id", "created_at", "id"),
        sa.Index("ix_transactions_token", "token_id"),
    )
    for statement in FOLLOW_CHAIN_STATUS[op.get_context().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "DROP TRIGGER IF EXISTS trg_tokens_follow_chain_status ON blockchain_transactions"
        )
        op.execute("DROP FUNCTION IF EXISTS tokens_follow_chain_status()")
    else:
        op.execute("DROP TRIGGER IF EXISTS trg_tokens_follow_chain_status")
    op.drop_table("transactions")
    op.drop_table("tokens")


# Indexed updates (transactions by uq_transactions_once's leading blockchain_tx_id, tokens by
# ix_tokens_creation_tx), and only when the derived status changes.
_UPDATES = [
    f"UPDATE {table} SET status = {STATUS_OF}, updated_at = CURRENT_TIMESTAMP"
    f" WHERE {column} = NEW.id AND status <> {STATUS_OF}"
    for table, column in (("transactions", "blockchain_tx_id"), ("tokens", "creation_tx_id"))
]
FOLLOW_CHAIN_STATUS = {
    "postgresql": (
        f"""CREATE FUNCTION tokens_follow_chain_status() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    {_UPDATES[0]};
    {_UPDATES[1]};
    RETURN NULL;
END;
$$""",
        """CREATE TRIGGER trg_tokens_follow_chain_status
AFTER UPDATE OF status, is_final ON blockchain_transactions
FOR EACH ROW EXECUTE FUNCTION tokens_follow_chain_status()""",
    ),
    "sqlite": (
        f"""CREATE TRIGGER trg_tokens_follow_chain_status
AFTER UPDATE OF status, is_final ON blockchain_transactions
BEGIN
    {_UPDATES[0]};
    {_UPDATES[1]};
END""",
    ),
}
