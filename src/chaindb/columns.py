"""The column shapes every module's schema.py is built from.

(A migration keeps frozen copies of its own: editing these never changes what an old migration
built. The schema-equals-migrations test tells when a schema.py and its migrations disagree.)
"""

from __future__ import annotations

import sqlalchemy as sa

from chaindb.networks import NetworkAddressType, network_address_check
from chaindb.types import (
    AddressType,
    AmountType,
    IdType,
    TxHashType,
    UtcDateTime,
    address_check,
    amount_check,
    amount_zero,
    chain_id_check,
    tx_hash_check,
    utc_now,
)

CHAIN_ID_LENGTH = 41  # CAIP-2: 8 (namespace) + 1 + 32 (reference)


def row_id() -> sa.Column[int]:
    return sa.Column("id", IdType, primary_key=True, autoincrement=True)


def timestamp(name: str, *, onupdate: bool = False) -> sa.Column[object]:
    """A UTC timestamp set on insert (and on every update with onupdate)."""
    return sa.Column(
        name,
        UtcDateTime,
        nullable=False,
        default=utc_now,
        onupdate=utc_now if onupdate else None,
        server_default=sa.text("CURRENT_TIMESTAMP"),
    )


def amount(name: str, *, nullable: bool = False) -> sa.Column[int]:
    """A uint256 with its CHECK; 0 by default unless nullable."""
    return sa.Column(
        name,
        AmountType,
        amount_check(name),
        nullable=nullable,
        default=None if nullable else 0,
        server_default=None if nullable else amount_zero(),
    )


def address(name: str, *, nullable: bool) -> sa.Column[str]:
    return sa.Column(name, AddressType, address_check(name, fast=True), nullable=nullable)


def network_address(name: str, *, nullable: bool) -> sa.Column[str]:
    """An address of any network family chaindb knows (EVM, Solana, CKB, Bitcoin)."""
    return sa.Column(
        name, NetworkAddressType, network_address_check(name, fast=True), nullable=nullable
    )


def tx_hash(name: str, *, nullable: bool = True) -> sa.Column[str]:
    return sa.Column(name, TxHashType, tx_hash_check(name, fast=True), nullable=nullable)


def chain_id(*, primary_key: bool = False) -> sa.Column[str]:
    return sa.Column(
        "chain_id",
        sa.String(CHAIN_ID_LENGTH),
        chain_id_check("chain_id"),
        nullable=False,
        primary_key=primary_key,
    )
