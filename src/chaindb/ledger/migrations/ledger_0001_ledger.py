"""ledger: assets, accounts, transfers, holds; the seed's points views and functions

Revision ID: ledger_0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from chaindb.types import (
    AddressType,
    AmountType,
    DialectSQL,
    IdType,
    TxHashType,
    UtcDateTime,
    address_check,
    amount_check,
    amount_zero,
    chain_id_check,
    tx_hash_check,
)

revision = "ledger_0001"
down_revision = None
branch_labels = ("ledger",)
depends_on = "core_0001"

CHAIN_ID_LENGTH = 41
POINTS_ASSET_ID = 1  # created by ledger_0001; the seed's views read it
ASSET_KINDS = ("points", "token", "native")
OWNER_TYPES = ("user", "system")
PHASES = ("single", "pending", "post", "void")
TRANSFER_KINDS = (
    "earned_challenge",
    "burned_usage",
    "locked_escrow",
    "released_escrow",
    "claimed",
    "refunded",
    "transfer",
    "adjustment",
    "deposit",
    "withdrawal",
    "payout",
    "expired",
)
IDEMPOTENCY_KEY_LENGTH = 200


def _amount(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(
        name,
        AmountType,
        amount_check(name),
        nullable=nullable,
        server_default=None if nullable else amount_zero(),
    )


def upgrade() -> None:
    op.create_table(
        "ledger_assets",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("code", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column(
            "chain_id", sa.String(CHAIN_ID_LENGTH), chain_id_check("chain_id"), nullable=True
        ),
        sa.Column("token_address", AddressType, address_check("token_address"), nullable=True),
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("decimals", sa.SmallInteger, nullable=False),
        sa.Column(
            "created_at", UtcDateTime, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")
        ),
        sa.UniqueConstraint("code", name="uq_ledger_assets_code"),
        sa.UniqueConstraint("chain_id", "token_address", name="uq_ledger_assets_token"),
        sa.CheckConstraint(f"kind IN {ASSET_KINDS}", name="ck_ledger_assets_kind"),
        sa.CheckConstraint("decimals BETWEEN 0 AND 77", name="ck_ledger_assets_decimals"),
        sa.CheckConstraint(
            "(kind = 'points' AND chain_id IS NULL AND token_address IS NULL)"
            " OR (kind = 'native' AND chain_id IS NOT NULL AND token_address IS NULL)"
            " OR (kind = 'token' AND chain_id IS NOT NULL AND token_address IS NOT NULL)",
            name="ck_ledger_assets_chain_fields",
        ),
    )

    op.create_table(
        "ledger_accounts",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("asset_id", IdType, sa.ForeignKey("ledger_assets.id"), nullable=False),
        sa.Column("owner_type", sa.String(8), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column(
            "user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="RESTRICT"), nullable=True
        ),
        sa.Column("allow_overdraft", sa.Boolean, nullable=False, server_default=sa.false()),
        _amount("debits_posted"),
        _amount("credits_posted"),
        _amount("debits_pending"),
        _amount("credits_pending"),
        _amount("balance", nullable=True),
        _amount("issued"),
        _amount("burned"),
        sa.Column("transfer_count", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column(
            "created_at", UtcDateTime, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")
        ),
        sa.Column(
            "updated_at", UtcDateTime, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")
        ),
        sa.UniqueConstraint("asset_id", "owner_type", "owner_id", name="uq_ledger_accounts_owner"),
        sa.CheckConstraint(f"owner_type IN {OWNER_TYPES}", name="ck_ledger_accounts_owner_type"),
        sa.CheckConstraint(
            "(owner_type = 'user' AND user_id = owner_id) OR (owner_type = 'system' AND user_id IS NULL)",
            name="ck_ledger_accounts_user",
        ),
        sa.CheckConstraint(
            "(allow_overdraft AND balance IS NULL) OR (NOT allow_overdraft AND balance IS NOT NULL)",
            name="ck_ledger_accounts_balance_kept",
        ),
        sa.CheckConstraint("transfer_count >= 0", name="ck_ledger_accounts_count"),
        # PostgreSQL can also check the arithmetic (SQLite stores amounts as text: maintenance does).
        sa.CheckConstraint(
            DialectSQL(
                "",
                sqlite="1",
                postgresql="allow_overdraft OR balance = credits_posted - debits_posted - debits_pending",
            ),
            name="ck_ledger_accounts_balance_sum",
        ),
        sa.Index("ix_ledger_accounts_user", "user_id"),
        sa.Index(
            "ix_ledger_accounts_leaderboard",
            "asset_id",
            sa.text("balance DESC"),
            "id",
            sqlite_where=sa.text("owner_type = 'user'"),
            postgresql_where=sa.text("owner_type = 'user'"),
        ),
    )

    op.create_table(
        "ledger_transfers",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("asset_id", IdType, sa.ForeignKey("ledger_assets.id"), nullable=False),
        sa.Column("debit_account_id", IdType, sa.ForeignKey("ledger_accounts.id"), nullable=False),
        sa.Column("credit_account_id", IdType, sa.ForeignKey("ledger_accounts.id"), nullable=False),
        _amount("amount"),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("phase", sa.String(8), nullable=False, server_default="single"),
        sa.Column("pending_id", IdType, sa.ForeignKey("ledger_transfers.id"), nullable=True),
        sa.Column("expires_at", UtcDateTime, nullable=True),
        sa.Column("idempotency_key", sa.String(IDEMPOTENCY_KEY_LENGTH), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("challenge_id", sa.BigInteger, nullable=True),
        sa.Column("chain_tx_hash", TxHashType, tx_hash_check("chain_tx_hash"), nullable=True),
        sa.Column(
            "created_at", UtcDateTime, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")
        ),
        sa.UniqueConstraint("idempotency_key", name="uq_ledger_transfers_idempotency_key"),
        # A hold is posted or voided at most once: the database says so.
        sa.UniqueConstraint("pending_id", name="uq_ledger_transfers_resolve_once"),
        sa.CheckConstraint(
            "debit_account_id <> credit_account_id", name="ck_ledger_transfers_accounts"
        ),
        sa.CheckConstraint(f"kind IN {TRANSFER_KINDS}", name="ck_ledger_transfers_kind"),
        sa.CheckConstraint(f"phase IN {PHASES}", name="ck_ledger_transfers_phase"),
        sa.CheckConstraint(
            "(phase IN ('post', 'void')) = (pending_id IS NOT NULL)",
            name="ck_ledger_transfers_pending",
        ),
        sa.CheckConstraint(
            "expires_at IS NULL OR phase = 'pending'", name="ck_ledger_transfers_expiry"
        ),
        sa.Index("ix_ledger_transfers_debit", "debit_account_id", "id"),
        sa.Index("ix_ledger_transfers_credit", "credit_account_id", "id"),
        sa.Index("ix_ledger_transfers_challenge", "challenge_id"),
        sa.Index("ix_ledger_transfers_asset_kind", "asset_id", "kind"),
        sa.Index("ix_ledger_transfers_created", "created_at"),
    )

    # Holds not yet posted or voided: the small, mutable index of the two-phase transfers.
    op.create_table(
        "ledger_holds",
        sa.Column("transfer_id", IdType, sa.ForeignKey("ledger_transfers.id"), primary_key=True),
        sa.Column("debit_account_id", IdType, sa.ForeignKey("ledger_accounts.id"), nullable=False),
        sa.Column("credit_account_id", IdType, sa.ForeignKey("ledger_accounts.id"), nullable=False),
        _amount("amount"),
        sa.Column("expires_at", UtcDateTime, nullable=True),
        sa.Index("ix_ledger_holds_debit", "debit_account_id"),
        sa.Index("ix_ledger_holds_expires", "expires_at"),
    )
    op.execute(
        "INSERT INTO ledger_assets (id, code, kind, symbol, decimals) "
        "VALUES (1, 'points', 'points', 'PTS', 0)"
    )
    if op.get_context().dialect.name == "postgresql":
        # The explicit id 1 above did not advance the sequence.
        op.execute("SELECT setval(pg_get_serial_sequence('ledger_assets', 'id'), 1)")
    for statement in VIEWS:
        op.execute(statement)
    if op.get_context().dialect.name == "postgresql":
        for statement in POSTGRES_FUNCTIONS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS update_user_points_balance(varchar)")
        op.execute("DROP FUNCTION IF EXISTS ensure_user_points_ledger(varchar)")
    for view in ("v_user_points_summary", "points_transactions", "user_points_ledgers"):
        op.execute(f"DROP VIEW IF EXISTS {view}")
    for table in ("ledger_holds", "ledger_transfers", "ledger_accounts", "ledger_assets"):
        op.drop_table(table)


# Seed 000's names over the ledger. No arithmetic, so one spelling serves both dialects.
VIEWS = (
    """CREATE VIEW user_points_ledgers AS
SELECT a.id AS id,
       a.user_id AS user_id,
       a.balance AS points_balance,
       a.issued AS total_earned,
       a.burned AS total_burned,
       a.debits_pending AS locked_points,
       a.transfer_count AS transaction_count,
       a.created_at AS created_at,
       a.updated_at AS last_updated_at
FROM ledger_accounts a
WHERE a.asset_id = 1 AND a.owner_type = 'user'""",
    """CREATE VIEW points_transactions AS
SELECT t.id AS id, a.user_id AS user_id, t.challenge_id AS challenge_id,
       t.kind AS transaction_type, 'credit' AS direction, t.phase AS phase, t.amount AS amount,
       t.reason AS reason, t.chain_tx_hash AS blockchain_tx_hash,
       t.idempotency_key AS idempotency_key, t.created_at AS created_at
FROM ledger_transfers t JOIN ledger_accounts a ON a.id = t.credit_account_id
WHERE t.asset_id = 1 AND a.owner_type = 'user'
UNION ALL
SELECT t.id, a.user_id, t.challenge_id, t.kind, 'debit', t.phase, t.amount, t.reason,
       t.chain_tx_hash, t.idempotency_key, t.created_at
FROM ledger_transfers t JOIN ledger_accounts a ON a.id = t.debit_account_id
WHERE t.asset_id = 1 AND a.owner_type = 'user'""",
    """CREATE VIEW v_user_points_summary AS
SELECT l.user_id AS user_id,
       u.username AS username,
       l.points_balance AS current_points,
       l.total_earned AS total_earned,
       l.total_burned AS total_burned,
       l.locked_points AS locked_points,
       l.transaction_count AS transaction_count,
       l.last_updated_at AS last_updated_at
FROM user_points_ledgers l JOIN users u ON u.id = l.user_id""",
)

POSTGRES_FUNCTIONS = (
    """CREATE FUNCTION ensure_user_points_ledger(p_user_id varchar) RETURNS bigint
LANGUAGE sql AS $$
    INSERT INTO ledger_accounts (asset_id, owner_type, owner_id, user_id, allow_overdraft, balance)
    VALUES (1, 'user', p_user_id, p_user_id, false, 0)
    ON CONFLICT (asset_id, owner_type, owner_id) DO NOTHING;
    SELECT id FROM ledger_accounts
    WHERE asset_id = 1 AND owner_type = 'user' AND owner_id = p_user_id;
$$""",
    # Recompute one user's points counters from the immutable transfers and store them:
    # the seed's procedure, which chaindb's write path never needs (balances move with each
    # transfer) and which `chaindb maintenance --check` runs for every account.
    """CREATE FUNCTION update_user_points_balance(p_user_id varchar) RETURNS numeric
LANGUAGE plpgsql AS $$
DECLARE
    v_account bigint;
    v_issuance bigint;
    v_burn bigint;
    v_balance numeric;
BEGIN
    SELECT id INTO v_account FROM ledger_accounts
    WHERE asset_id = 1 AND owner_type = 'user' AND owner_id = p_user_id
    FOR UPDATE;
    IF v_account IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT id INTO v_issuance FROM ledger_accounts
    WHERE asset_id = 1 AND owner_type = 'system' AND owner_id = 'issuance';
    SELECT id INTO v_burn FROM ledger_accounts
    WHERE asset_id = 1 AND owner_type = 'system' AND owner_id = 'burn';
    WITH posted AS (
        SELECT
            coalesce(sum(amount) FILTER (WHERE debit_account_id = v_account), 0) AS debits,
            coalesce(sum(amount) FILTER (WHERE credit_account_id = v_account), 0) AS credits,
            -- net: issued minus returned to issuance; burned minus taken back out of burn
            coalesce(sum(amount) FILTER (
                WHERE credit_account_id = v_account AND debit_account_id = v_issuance), 0)
            - coalesce(sum(amount) FILTER (
                WHERE debit_account_id = v_account AND credit_account_id = v_issuance), 0) AS issued,
            coalesce(sum(amount) FILTER (
                WHERE debit_account_id = v_account AND credit_account_id = v_burn), 0)
            - coalesce(sum(amount) FILTER (
                WHERE credit_account_id = v_account AND debit_account_id = v_burn), 0) AS burned,
            count(*) AS transfers
        FROM ledger_transfers
        WHERE (debit_account_id = v_account OR credit_account_id = v_account)
          AND phase IN ('single', 'post')
    ), held AS (
        SELECT
            coalesce(sum(t.amount) FILTER (WHERE t.debit_account_id = v_account), 0) AS debits,
            coalesce(sum(t.amount) FILTER (WHERE t.credit_account_id = v_account), 0) AS credits
        FROM ledger_transfers t
        WHERE (t.debit_account_id = v_account OR t.credit_account_id = v_account)
          AND t.phase = 'pending'
          AND NOT EXISTS (SELECT 1 FROM ledger_transfers r WHERE r.pending_id = t.id)
    ), counted AS (
        SELECT count(*) AS transfers FROM ledger_transfers
        WHERE debit_account_id = v_account OR credit_account_id = v_account
    )
    UPDATE ledger_accounts a SET
        debits_posted = posted.debits,
        credits_posted = posted.credits,
        debits_pending = held.debits,
        credits_pending = held.credits,
        issued = posted.issued,
        burned = posted.burned,
        balance = posted.credits - posted.debits - held.debits,
        transfer_count = counted.transfers,
        updated_at = now()
    FROM posted, held, counted
    WHERE a.id = v_account
    RETURNING a.balance INTO v_balance;
    RETURN v_balance;
END;
$$""",
)
