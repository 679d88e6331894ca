"""What the chain bridge remembers (migrations chain_0001 and chain_0002 build exactly these).

chain_tx_effects: the ledger effects tied to a transaction, applied once it is final, undone by
compensating transfers if its block leaves the canonical chain, applied again when it is mined
again. chain_events: the escrow contract's logs, one row per (block hash, log index), marked
removed (never deleted) when their block is orphaned. chain_cursors: how far each log stream
has been read, and the hash of that block. chain_pins: the genesis hash of each chain the
database follows, recorded with its first transaction or event (see chain.pins).
"""

from __future__ import annotations

import sqlalchemy as sa

from chaindb.columns import chain_id, row_id, timestamp, tx_hash
from chaindb.types import (
    AddressType,
    JSONType,
    address_check,
    hash32_check,
)

metadata = sa.MetaData()

EFFECT_STATES = ("waiting", "applied")  # compensation sends an effect back to waiting
EVENT_STATUSES = ("new", "projected", "skipped", "removed")


chain_tx_effects = sa.Table(
    "chain_tx_effects",
    metadata,
    row_id(),
    chain_id(),
    tx_hash("transaction_hash", nullable=False),
    sa.Column("effect", sa.String(32), nullable=False),
    sa.Column("payload", JSONType, nullable=False),
    sa.Column("state", sa.String(12), nullable=False, server_default="waiting"),
    sa.Column(
        "applied_block_hash",
        sa.String(66),
        hash32_check("applied_block_hash", fast=True),
        nullable=True,
    ),
    sa.Column("applications", sa.Integer, nullable=False, server_default="0"),
    sa.Column("compensations", sa.Integer, nullable=False, server_default="0"),
    timestamp("created_at"),
    timestamp("updated_at"),
    sa.UniqueConstraint("chain_id", "transaction_hash", "effect", name="uq_chain_tx_effects"),
    sa.CheckConstraint(f"state IN {EFFECT_STATES}", name="ck_chain_tx_effects_state"),
    sa.CheckConstraint(
        "(state = 'applied') = (applied_block_hash IS NOT NULL)", name="ck_chain_tx_effects_block"
    ),
    sa.Index("ix_chain_tx_effects_state", "state"),
)

chain_events = sa.Table(
    "chain_events",
    metadata,
    row_id(),
    chain_id(),
    sa.Column(
        "contract_address",
        AddressType,
        address_check("contract_address", fast=True),
        nullable=False,
    ),
    sa.Column("block_number", sa.BigInteger, nullable=False),
    sa.Column("block_hash", sa.String(66), hash32_check("block_hash", fast=True), nullable=False),
    tx_hash("transaction_hash", nullable=False),
    sa.Column("log_index", sa.Integer, nullable=False),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("args", JSONType, nullable=False),
    sa.Column("status", sa.String(10), nullable=False, server_default="new"),
    sa.Column("note", sa.Text, nullable=True),
    timestamp("ingested_at"),
    timestamp("updated_at"),
    sa.UniqueConstraint("chain_id", "block_hash", "log_index", name="uq_chain_events_log"),
    sa.CheckConstraint(f"status IN {EVENT_STATUSES}", name="ck_chain_events_status"),
    sa.Index("ix_chain_events_block", "chain_id", "block_number"),
    sa.Index("ix_chain_events_status", "status"),
)

chain_cursors = sa.Table(
    "chain_cursors",
    metadata,
    chain_id(primary_key=True),
    sa.Column("stream", sa.String(120), primary_key=True),
    sa.Column("block_number", sa.BigInteger, nullable=False),
    sa.Column("block_hash", sa.String(66), hash32_check("block_hash", fast=True), nullable=True),
    timestamp("updated_at"),
)

chain_pins = sa.Table(
    "chain_pins",
    metadata,
    chain_id(primary_key=True),
    sa.Column(
        "genesis_hash", sa.String(66), hash32_check("genesis_hash", fast=True), nullable=False
    ),
    sa.Column("pinned_via", sa.Text, nullable=False),  # the node, its URL masked
    timestamp("pinned_at"),
)
