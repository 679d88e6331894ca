"""core: wallets and security events take CKB and Bitcoin addresses (RGB++, seed 003)

Revision ID: core_0005
Revises: core_0004
Create Date: 2027-01-10

A CKB full address is ~100 characters: `wallet_address` widens from 64 to 200 characters, and its
CHECK also lets lowercase bech32 (CKB, segwit) and short base58 (legacy Bitcoin) through. Every
address stored before passes the new check, so no row changes. SQLite rebuilds the two tables
from the frozen copies below (it cannot change a CHECK in place; a copy, not reflection, so that
--dry-run renders it too); PostgreSQL alters them in place (a wider VARCHAR rewrites nothing).
"""

import sqlalchemy as sa
from alembic import op

from chaindb.networks import NetworkAddressType, network_address_check
from chaindb.types import (
    AddressType,
    AmountType,
    IdType,
    JSONType,
    UtcDateTime,
    address_check,
    amount_check,
    amount_zero,
    chain_id_check,
)

revision = "core_0005"
down_revision = "core_0004"
branch_labels = None
depends_on = None

# What lint flags here, and why it loses nothing (see migrations/lint.py).
LINT_REVIEWED = {
    "type-change": "VARCHAR(64) widened to VARCHAR(200): every value fits, nothing is rewritten",
    "drop-constraint": "the address CHECK is replaced by a looser one in the same step",
    "constraint-not-valid": "one scan of the wallets (and events) checks the new CHECK, "
    "which every stored address passes",
}
SEVERITIES = ("info", "warning", "error", "critical")


def upgrade() -> None:
    for table in _tables_before().values():
        nullable = table.c.wallet_address.nullable
        with op.batch_alter_table(table.name, copy_from=table) as batch:
            batch.drop_constraint("wallet_address_address", type_="check")
            batch.alter_column(
                "wallet_address",
                type_=NetworkAddressType(),
                existing_type=AddressType(),
                existing_nullable=nullable,
            )
            batch.create_check_constraint(
                "wallet_address_network_address",
                network_address_check("wallet_address").sqltext,
            )


def downgrade() -> None:
    for table in _tables_before(after=True).values():
        nullable = table.c.wallet_address.nullable
        with op.batch_alter_table(table.name, copy_from=table) as batch:
            batch.drop_constraint("wallet_address_network_address", type_="check")
            batch.alter_column(
                "wallet_address",
                type_=AddressType(),
                existing_type=NetworkAddressType(),
                existing_nullable=nullable,
            )
            batch.create_check_constraint(
                "wallet_address_address", address_check("wallet_address").sqltext
            )


def _tables_before(*, after: bool = False) -> dict[str, sa.Table]:
    """The two tables as core_0001 built them (after=True: as this migration leaves them)."""
    metadata = sa.MetaData()
    sa.Table("users", metadata, sa.Column("id", sa.String(64), primary_key=True))

    def wallet_address(nullable: bool) -> sa.Column[str]:
        if after:
            return sa.Column(
                "wallet_address",
                NetworkAddressType(),
                network_address_check("wallet_address"),
                nullable=nullable,
            )
        return sa.Column(
            "wallet_address", AddressType(), address_check("wallet_address"), nullable=nullable
        )

    def amount(name: str) -> sa.Column[int]:
        return sa.Column(
            name, AmountType, amount_check(name), nullable=False, server_default=amount_zero()
        )

    def timestamp(name: str) -> sa.Column[object]:
        return sa.Column(
            name, UtcDateTime, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")
        )

    wallets = sa.Table(
        "user_wallet_addresses",
        metadata,
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column(
            "user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        wallet_address(nullable=False),
        sa.Column("wallet_type", sa.String(32), nullable=False, server_default="external"),
        sa.Column("chain_id", sa.String(41), chain_id_check("chain_id"), nullable=False),
        sa.Column("is_primary", sa.Boolean, nullable=False, server_default=sa.false()),
        amount("usdc_balance"),
        amount("usdt_balance"),
        amount("points_balance"),
        amount("eth_balance"),
        sa.Column("balances_updated_at", UtcDateTime, nullable=True),
        timestamp("created_at"),
        timestamp("updated_at"),
        sa.UniqueConstraint("chain_id", "wallet_address", name="uq_wallet_chain_address"),
        sa.CheckConstraint("length(wallet_type) > 0", name="ck_wallet_type_not_empty"),
        sa.Index("ix_wallets_user", "user_id"),
        sa.Index(
            "uq_wallets_one_primary_per_user_chain",
            "user_id",
            "chain_id",
            unique=True,
            sqlite_where=sa.text("is_primary"),
            postgresql_where=sa.text("is_primary"),
        ),
    )
    events = sa.Table(
        "security_events",
        metadata,
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("ip_address", sa.String(45), nullable=True),
        sa.Column(
            "user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        wallet_address(nullable=True),
        sa.Column("metadata", JSONType, nullable=True),
        sa.Column("severity", sa.String(16), nullable=False, server_default="info"),
        timestamp("created_at"),
        sa.CheckConstraint(f"severity IN {SEVERITIES}", name="ck_security_event_severity"),
        sa.CheckConstraint("length(event_type) > 0", name="ck_security_event_type_not_empty"),
        sa.Index("ix_security_events_created", "created_at"),
        sa.Index("ix_security_events_type_created", "event_type", "created_at"),
        sa.Index("ix_security_events_user", "user_id"),
    )
    return {"user_wallet_addresses": wallets, "security_events": events}
