"""challenges: challenges with seed 000's blockchain fields, participants, escrow records

Revision ID: challenges_0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from chaindb.types import (
    AddressType,
    AmountType,
    DecimalText,
    IdType,
    JSONType,
    TxHashType,
    UtcDateTime,
    address_check,
    amount_check,
    amount_zero,
    tx_hash_check,
)

revision = "challenges_0001"
down_revision = None
branch_labels = ("challenges",)
depends_on = "ledger_0001"

STATUSES = ("pending", "active", "completed", "cancelled")
RESULTS = ("challenger_won", "challenged_won", "draw")
ON_CHAIN_STATUSES = ("pending", "active", "resolved", "claimed")
ON_CHAIN_MOVES = (("pending", "active"), ("active", "resolved"), ("resolved", "claimed"))
SIDES = ("YES", "NO")
ESCROW_STATUSES = ("locked", "released", "claimed", "refunded")


def _amount(name: str) -> sa.Column[int]:
    return sa.Column(
        name,
        AmountType,
        amount_check(name),
        nullable=False,
        server_default=amount_zero(),
    )


def _tx_hash(name: str) -> sa.Column[str]:
    return sa.Column(name, TxHashType, tx_hash_check(name), nullable=True)


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(name, UtcDateTime, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP"))


def upgrade() -> None:
    op.create_table(
        "challenges",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("challenger", sa.String(64), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("challenged", sa.String(64), sa.ForeignKey("users.id"), nullable=True),
        _amount("amount"),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("result", sa.String(16), nullable=True),
        sa.Column("due_date", UtcDateTime, nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.Column("completed_at", UtcDateTime, nullable=True),
        # Seed 000's blockchain fields.
        sa.Column("blockchain_chain_id", sa.BigInteger, nullable=True),
        sa.Column(
            "blockchain_contract_address",
            AddressType,
            address_check("blockchain_contract_address"),
            nullable=True,
        ),
        _tx_hash("blockchain_creation_tx_hash"),
        _tx_hash("blockchain_resolution_tx_hash"),
        _tx_hash("blockchain_payout_tx_hash"),
        _tx_hash("blockchain_settlement_tx_hash"),
        sa.Column("blockchain_block_number", sa.BigInteger, nullable=True),
        sa.Column("blockchain_settlement_block_number", sa.BigInteger, nullable=True),
        sa.Column(
            "payment_token_address",
            AddressType,
            address_check("payment_token_address"),
            nullable=True,
        ),
        sa.Column("payment_asset_id", IdType, sa.ForeignKey("ledger_assets.id"), nullable=True),
        sa.Column("stake_amount_wei", AmountType, amount_check("stake_amount_wei"), nullable=True),
        sa.Column("points_awarded", AmountType, amount_check("points_awarded"), nullable=True),
        sa.Column("points_multiplier", DecimalText(3, 2), nullable=False, server_default="1.00"),
        sa.Column("admin_signature", sa.Text, nullable=True),
        sa.Column("on_chain_status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("on_chain_resolved", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("resolution_timestamp", UtcDateTime, nullable=True),
        sa.Column("on_chain_metadata", JSONType, nullable=True),
        sa.UniqueConstraint("blockchain_creation_tx_hash", name="uq_challenges_creation_tx_hash"),
        sa.CheckConstraint(f"status IN {STATUSES}", name="ck_challenges_status"),
        sa.CheckConstraint(f"result IS NULL OR result IN {RESULTS}", name="ck_challenges_result"),
        sa.CheckConstraint(
            f"on_chain_status IN {ON_CHAIN_STATUSES}", name="ck_challenges_on_chain_status"
        ),
        sa.CheckConstraint(
            "challenged IS NULL OR challenged <> challenger", name="ck_challenges_two_sides"
        ),
        sa.CheckConstraint("length(title) > 0", name="ck_challenges_title"),
        sa.CheckConstraint(
            "blockchain_chain_id IS NULL OR blockchain_chain_id > 0", name="ck_challenges_chain_id"
        ),
        sa.Index("idx_challenges_blockchain_status", "on_chain_status"),
        sa.Index("idx_challenges_payment_token", "payment_token_address"),
        sa.Index("idx_challenges_chain_id", "blockchain_chain_id"),
        sa.Index("ix_challenges_result", "result", "on_chain_resolved"),
    )

    op.create_table(
        "challenge_participants",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column(
            "challenge_id",
            IdType,
            sa.ForeignKey("challenges.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("side", sa.String(3), nullable=False),
        _timestamp("joined_at"),
        sa.UniqueConstraint("challenge_id", "user_id", name="uq_challenge_participants_user"),
        sa.UniqueConstraint(
            "challenge_id", "user_id", "side", name="uq_challenge_participants_side"
        ),
        sa.CheckConstraint(f"side IN {SIDES}", name="ck_challenge_participants_side"),
        sa.Index("ix_challenge_participants_challenge_side", "challenge_id", "side"),
        sa.Index("ix_challenge_participants_user", "user_id"),
    )

    op.create_table(
        "challenge_escrow_records",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("challenge_id", IdType, nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("side", sa.String(3), nullable=False),
        sa.Column("asset_id", IdType, sa.ForeignKey("ledger_assets.id"), nullable=False),
        sa.Column("token_address", AddressType, address_check("token_address"), nullable=True),
        _amount("amount_escrowed"),
        _amount("amount_released"),
        sa.Column("status", sa.String(10), nullable=False, server_default="locked"),
        sa.Column("hold_transfer_id", IdType, sa.ForeignKey("ledger_transfers.id"), nullable=False),
        sa.Column(
            "settle_transfer_id", IdType, sa.ForeignKey("ledger_transfers.id"), nullable=True
        ),
        sa.Column(
            "payout_transfer_id", IdType, sa.ForeignKey("ledger_transfers.id"), nullable=True
        ),
        _tx_hash("escrow_tx_hash"),
        _tx_hash("claim_tx_hash"),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.Column("released_at", UtcDateTime, nullable=True),
        sa.Column("claimed_at", UtcDateTime, nullable=True),
        sa.ForeignKeyConstraint(
            ["challenge_id", "user_id", "side"],
            [
                "challenge_participants.challenge_id",
                "challenge_participants.user_id",
                "challenge_participants.side",
            ],
            name="fk_escrow_participant",
        ),
        sa.UniqueConstraint("challenge_id", "user_id", name="uq_escrow_records_challenge_user"),
        sa.UniqueConstraint("hold_transfer_id", name="uq_escrow_records_hold"),
        sa.CheckConstraint(f"status IN {ESCROW_STATUSES}", name="ck_escrow_records_status"),
        sa.CheckConstraint(f"side IN {SIDES}", name="ck_escrow_records_side"),
        sa.CheckConstraint(
            "status <> 'claimed' OR claimed_at IS NOT NULL", name="ck_escrow_records_claimed_at"
        ),
        sa.Index("ix_escrow_records_user_status", "user_id", "status"),
        sa.Index("ix_escrow_records_status", "status"),
    )
    op.execute(PENDING_RESOLUTION_VIEW)
    for statement in STATUS_GUARD[op.get_context().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    op.execute(
        "DROP TRIGGER IF EXISTS trg_challenges_on_chain_status"
        + (" ON challenges" if dialect == "postgresql" else "")
    )
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS challenges_on_chain_status_guard()")
    op.execute("DROP VIEW IF EXISTS v_challenges_pending_resolution")
    for table in ("challenge_escrow_records", "challenge_participants", "challenges"):
        op.drop_table(table)


PENDING_RESOLUTION_VIEW = """CREATE VIEW v_challenges_pending_resolution AS
SELECT c.id AS id,
       c.title AS title,
       c.status AS status,
       c.on_chain_status AS on_chain_status,
       c.challenger AS challenger,
       c.challenged AS challenged,
       (SELECT count(*) FROM challenge_participants p
        WHERE p.challenge_id = c.id AND p.side = 'YES') AS yes_participants,
       (SELECT count(*) FROM challenge_participants p
        WHERE p.challenge_id = c.id AND p.side = 'NO') AS no_participants,
       c.created_at AS created_at
FROM challenges c
WHERE c.on_chain_status = 'active' AND NOT c.on_chain_resolved"""

# on_chain_status moves pending -> active -> resolved -> claimed, one step forward at a time.
_ALLOWED = (
    "(OLD.on_chain_status = 'pending' AND NEW.on_chain_status = 'active')"
    " OR (OLD.on_chain_status = 'active' AND NEW.on_chain_status = 'resolved')"
    " OR (OLD.on_chain_status = 'resolved' AND NEW.on_chain_status = 'claimed')"
)
STATUS_GUARD = {
    "postgresql": (
        f"""CREATE FUNCTION challenges_on_chain_status_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.on_chain_status IS DISTINCT FROM OLD.on_chain_status AND NOT ({_ALLOWED}) THEN
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
        f"""CREATE TRIGGER trg_challenges_on_chain_status
BEFORE UPDATE OF on_chain_status ON challenges
WHEN NEW.on_chain_status IS NOT OLD.on_chain_status AND NOT ({_ALLOWED})
BEGIN
    SELECT RAISE(ABORT, 'on_chain_status cannot move that way: pending -> active -> resolved -> claimed');
END""",
    ),
}
