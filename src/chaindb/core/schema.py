"""The core tables (seed 000 and 003): users, wallets, transactions, contracts, signatures,
security events, settings. Migration core_0001 creates exactly these; a test keeps them equal.
"""

from __future__ import annotations

import sqlalchemy as sa

from chaindb.columns import (
    CHAIN_ID_LENGTH,
    address,
    amount,
    chain_id,
    network_address,
    row_id,
    timestamp,
)
from chaindb.types import (
    AmountSumType,
    AmountType,
    JSONType,
    TxHashType,
    UtcDateTime,
    amount_check,
    hash32_check,
    tx_hash_check,
    utc_now,
)

metadata = sa.MetaData()

TX_STATUSES = ("pending", "success", "failed", "dropped", "replaced")
SEVERITIES = ("info", "warning", "error", "critical")
SIGNATURE_TYPES = ("eip191", "eip712")


users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(64), nullable=True),
    timestamp("created_at"),
    timestamp("updated_at", onupdate=True),
    sa.CheckConstraint("length(id) > 0", name="ck_users_id_not_empty"),
    sa.UniqueConstraint("username", name="uq_users_username"),
)

user_wallet_addresses = sa.Table(
    "user_wallet_addresses",
    metadata,
    row_id(),
    sa.Column(
        "user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    network_address("wallet_address", nullable=False),  # core_0005: CKB and Bitcoin too
    sa.Column("wallet_type", sa.String(32), nullable=False, server_default="external"),
    chain_id(),
    sa.Column("is_primary", sa.Boolean, nullable=False, server_default=sa.false()),
    amount("usdc_balance"),
    amount("usdt_balance"),
    amount("points_balance"),
    amount("eth_balance"),
    sa.Column("balances_updated_at", UtcDateTime, nullable=True),
    timestamp("created_at"),
    timestamp("updated_at", onupdate=True),
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

blockchain_transactions = sa.Table(
    "blockchain_transactions",
    metadata,
    row_id(),
    chain_id(),
    sa.Column(
        "transaction_hash", TxHashType, tx_hash_check("transaction_hash", fast=True), nullable=False
    ),
    sa.Column("transaction_type", sa.String(64), nullable=False),
    address("contract_address", nullable=True),
    address("from_address", nullable=True),
    address("to_address", nullable=True),
    amount("value_wei"),
    sa.Column("nonce", sa.BigInteger, nullable=True),
    sa.Column("gas_used", sa.BigInteger, nullable=True),
    sa.Column("gas_price_wei", AmountType, amount_check("gas_price_wei"), nullable=True),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column(
        "replaced_by_hash", TxHashType, tx_hash_check("replaced_by_hash", fast=True), nullable=True
    ),
    sa.Column("block_number", sa.BigInteger, nullable=True),
    sa.Column("block_hash", sa.String(66), hash32_check("block_hash", fast=True), nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column(
        "user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    ),
    sa.Column("challenge_id", sa.BigInteger, nullable=True),
    timestamp("created_at"),
    timestamp("updated_at", onupdate=True),
    sa.Column("confirmed_at", UtcDateTime, nullable=True),
    # core_0003: what the transaction tracker needs.
    sa.Column("raw_transaction", sa.Text, nullable=True),
    sa.Column(
        "effective_gas_price_wei",
        AmountType,
        amount_check("effective_gas_price_wei"),
        nullable=True,
    ),
    sa.Column("confirmations", sa.BigInteger, nullable=True),
    sa.Column("is_final", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("finalized_at", UtcDateTime, nullable=True),
    sa.Column("last_seen_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("transaction_hash", "chain_id", name="uq_blockchain_tx_hash_chain"),
    sa.CheckConstraint(f"status IN {TX_STATUSES}", name="ck_blockchain_tx_status"),
    sa.CheckConstraint("length(transaction_type) > 0", name="ck_blockchain_tx_type_not_empty"),
    sa.CheckConstraint(
        "nonce >= 0 AND gas_used >= 0 AND block_number >= 0", name="ck_blockchain_tx_non_negative"
    ),
    sa.CheckConstraint(
        "status <> 'replaced' OR replaced_by_hash IS NOT NULL",
        name="ck_blockchain_tx_replaced_has_hash",
    ),
    sa.CheckConstraint(
        "status NOT IN ('success', 'failed') OR block_number IS NOT NULL",
        name="ck_blockchain_tx_mined_has_block",
    ),
    sa.Index("ix_blockchain_tx_status_created", "status", "created_at"),
    sa.Index("ix_blockchain_tx_user_created", "user_id", "created_at"),
    sa.Index("ix_blockchain_tx_summary", "chain_id", "transaction_type", "status"),
    sa.Index("ix_blockchain_tx_sender_nonce", "chain_id", "from_address", "nonce"),
    sa.Index("ix_blockchain_tx_challenge", "challenge_id"),
    sa.Index("ix_blockchain_tx_block", "chain_id", "block_number"),
)

contract_deployments = sa.Table(
    "contract_deployments",
    metadata,
    row_id(),
    sa.Column("contract_name", sa.String(128), nullable=False),
    address("contract_address", nullable=False),
    chain_id(),
    sa.Column("version", sa.String(32), nullable=False, server_default="1"),
    sa.Column("abi_hash", sa.String(66), hash32_check("abi_hash", fast=True), nullable=True),
    sa.Column(
        "deployment_tx_hash",
        TxHashType,
        tx_hash_check("deployment_tx_hash", fast=True),
        nullable=True,
    ),
    address("deployer_address", nullable=True),
    sa.Column("block_number", sa.BigInteger, nullable=True),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column(
        "deployed_at",
        UtcDateTime,
        nullable=False,
        default=utc_now,
        server_default=sa.text("CURRENT_TIMESTAMP"),
    ),
    timestamp("created_at"),
    sa.UniqueConstraint("chain_id", "contract_address", name="uq_contract_chain_address"),
    sa.CheckConstraint("length(contract_name) > 0", name="ck_contract_name_not_empty"),
    sa.Index("ix_contracts_name", "contract_name", "chain_id"),
    sa.Index(
        "uq_contracts_one_active_per_name_chain",
        "contract_name",
        "chain_id",
        unique=True,
        sqlite_where=sa.text("is_active"),
        postgresql_where=sa.text("is_active"),
    ),
)

admin_signatures_log = sa.Table(
    "admin_signatures_log",
    metadata,
    row_id(),
    sa.Column("challenge_id", sa.BigInteger, nullable=True),
    address("admin_address", nullable=False),
    sa.Column(
        "message_hash", sa.String(66), hash32_check("message_hash", fast=True), nullable=False
    ),
    sa.Column("signature", sa.String(132), nullable=False),
    sa.Column("signature_type", sa.String(16), nullable=False, server_default="eip191"),
    sa.Column("subject", sa.Text, nullable=True),
    sa.Column("winner", sa.String(64), nullable=True),
    sa.Column("is_verified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column(
        "signed_at",
        UtcDateTime,
        nullable=False,
        default=utc_now,
        server_default=sa.text("CURRENT_TIMESTAMP"),
    ),
    timestamp("created_at"),
    sa.UniqueConstraint("message_hash", "signature", name="uq_admin_signature"),
    sa.CheckConstraint(f"signature_type IN {SIGNATURE_TYPES}", name="ck_admin_signature_type"),
    sa.CheckConstraint(
        "length(signature) = 132 AND substr(signature, 1, 2) = '0x'",
        name="ck_admin_signature_65_bytes",
    ),
    sa.Index("ix_admin_signatures_signed_at", "signed_at"),
    sa.Index("ix_admin_signatures_challenge", "challenge_id"),
)

security_events = sa.Table(
    "security_events",
    metadata,
    row_id(),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("ip_address", sa.String(45), nullable=True),
    sa.Column(
        "user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    ),
    network_address("wallet_address", nullable=True),  # core_0005
    sa.Column("metadata", JSONType, nullable=True),
    sa.Column("severity", sa.String(16), nullable=False, server_default="info"),
    timestamp("created_at"),
    sa.CheckConstraint(f"severity IN {SEVERITIES}", name="ck_security_event_severity"),
    sa.CheckConstraint("length(event_type) > 0", name="ck_security_event_type_not_empty"),
    sa.Index("ix_security_events_created", "created_at"),
    sa.Index("ix_security_events_type_created", "event_type", "created_at"),
    sa.Index("ix_security_events_user", "user_id"),
)

# core_0003: who may sign resolutions for a contract on a chain.
contract_admins = sa.Table(
    "contract_admins",
    metadata,
    row_id(),
    chain_id(),
    address("contract_address", nullable=False),
    address("admin_address", nullable=False),
    sa.Column(
        "added_at",
        UtcDateTime,
        nullable=False,
        default=utc_now,
        server_default=sa.text("CURRENT_TIMESTAMP"),
    ),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("chain_id", "contract_address", "admin_address", name="uq_contract_admins"),
)

settings = sa.Table(
    "settings",
    metadata,
    row_id(),
    sa.Column("key", sa.String(128), nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("is_public", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column(
        "last_updated",
        UtcDateTime,
        nullable=False,
        default=utc_now,
        onupdate=utc_now,
        server_default=sa.text("CURRENT_TIMESTAMP"),
    ),
    sa.UniqueConstraint("key", name="uq_settings_key"),
    sa.CheckConstraint("length(key) > 0", name="ck_settings_key_not_empty"),
)

# Views (read-only Table objects for queries; core_0002 creates them).
v_blockchain_tx_summary = sa.Table(
    "v_blockchain_tx_summary",
    sa.MetaData(),
    sa.Column("chain_id", sa.String(CHAIN_ID_LENGTH)),
    sa.Column("transaction_type", sa.String(64)),
    sa.Column("status", sa.String(16)),
    sa.Column("tx_count", sa.BigInteger),
    sa.Column("total_gas", sa.BigInteger),
    sa.Column("total_value", AmountSumType),
    sa.Column("last_transaction", UtcDateTime),
)
