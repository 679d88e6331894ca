"""The registry of deployed contracts: at most one active deployment per name and chain."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from eth_hash.auto import keccak
from sqlalchemy.engine import Connection

from chaindb.core.schema import contract_admins
from chaindb.core.schema import contract_deployments as contracts
from chaindb.database import Database, dialect_insert, reading, writing
from chaindb.errors import Conflict, InvalidInput
from chaindb.text import ABI_BYTES_MAX, identifier, json_rule, parse_identifier
from chaindb.types import (
    Address,
    BlockNumber,
    ChainId,
    Hash32,
    TxHash,
    UtcDatetime,
    parse_chain_id,
    utc_now,
)
from chaindb.validation import Input, Row, validated

CONTRACT_NAME_CHARS_MAX = 128  # contract_deployments.contract_name, VARCHAR(128)
VERSION_CHARS_MAX = 32  # contract_deployments.version, VARCHAR(32)
ContractName = identifier(CONTRACT_NAME_CHARS_MAX)
Version = identifier(VERSION_CHARS_MAX)
_abi_rule = json_rule(ABI_BYTES_MAX)


class NewDeployment(Input):
    contract_name: ContractName
    contract_address: Address
    chain_id: ChainId
    version: Version = "1"
    abi_hash: Hash32 | None = None
    deployment_tx_hash: TxHash | None = None
    deployer_address: Address | None = None
    block_number: BlockNumber | None = None
    deployed_at: UtcDatetime | None = None


class ContractDeployment(Row):
    id: int
    contract_name: str
    contract_address: str
    chain_id: str
    version: str
    abi_hash: str | None
    deployment_tx_hash: str | None
    deployer_address: str | None
    block_number: int | None
    is_active: bool
    deployed_at: datetime
    created_at: datetime


def abi_hash(abi: list[Any] | dict[str, Any]) -> str:
    """keccak256 of the ABI as canonical JSON (sorted keys, no spaces): stable across tools."""
    return _hash_abi(abi)


def _hash_abi(abi: list[Any] | dict[str, Any]) -> str:
    # (record_contract_deployment's parameter `abi_hash` hides the public function's name.)
    canonical = json.dumps(abi, sort_keys=True, separators=(",", ":"))
    return "0x" + keccak(canonical.encode()).hex()


def record_contract_deployment(
    target: Database | Connection,
    *,
    contract_name: str,
    contract_address: str,
    chain_id: int | str,
    version: str = "1",
    abi: list[Any] | dict[str, Any] | None = None,
    abi_hash: str | None = None,
    deployment_tx_hash: str | None = None,
    deployer_address: str | None = None,
    block_number: int | None = None,
    deployed_at: datetime | None = None,
) -> ContractDeployment:
    """Record a deployment and make it the active one for its name and chain (the previous
    active deployment is deactivated in the same transaction). Recording the same address
    again returns the first record. Give the `abi` (hashed, not stored) or its `abi_hash`."""
    if abi is not None:
        try:
            _abi_rule(abi)
        except ValueError as error:
            raise InvalidInput("abi", abi, str(error)) from None
        digest = _hash_abi(abi)
        if abi_hash not in (None, digest):
            raise InvalidInput("abi_hash", abi_hash, "does not match the ABI given")
        abi_hash = digest
    new = validated(
        NewDeployment,
        contract_name=contract_name,
        contract_address=contract_address,
        chain_id=chain_id,
        version=version,
        abi_hash=abi_hash,
        deployment_tx_hash=deployment_tx_hash,
        deployer_address=deployer_address,
        block_number=block_number,
        deployed_at=deployed_at,
    )
    with writing(target) as conn:
        existing = conn.execute(
            sa.select(contracts).where(
                contracts.c.chain_id == new.chain_id,
                contracts.c.contract_address == new.contract_address,
            )
        ).first()
        if existing is not None:
            return _same_deployment(ContractDeployment.model_validate(existing), new)
        conn.execute(
            contracts.update()
            .where(
                contracts.c.contract_name == new.contract_name,
                contracts.c.chain_id == new.chain_id,
                contracts.c.is_active,
            )
            .values(is_active=False)
        )
        values = new.model_dump(exclude_none=True)
        values.setdefault("deployed_at", utc_now())
        row = conn.execute(
            contracts.insert().values(**values, is_active=True).returning(contracts)
        ).one()
    return ContractDeployment.model_validate(row)


def get_contract_by_name(
    target: Database | Connection, contract_name: str, chain_id: int | str | None = None
) -> ContractDeployment | None:
    """The active deployment of `contract_name` (on `chain_id`, or the newest on any chain)."""
    name = parse_identifier(contract_name, "contract_name", CONTRACT_NAME_CHARS_MAX)
    query = sa.select(contracts).where(contracts.c.contract_name == name, contracts.c.is_active)
    if chain_id is not None:
        query = query.where(contracts.c.chain_id == parse_chain_id(chain_id))
    query = query.order_by(contracts.c.deployed_at.desc(), contracts.c.id.desc()).limit(1)
    with reading(target) as conn:
        row = conn.execute(query).first()
    return None if row is None else ContractDeployment.model_validate(row)


def get_deployed_contracts(
    target: Database | Connection,
    *,
    chain_id: int | str | None = None,
    include_inactive: bool = False,
) -> list[ContractDeployment]:
    query = sa.select(contracts)
    if chain_id is not None:
        query = query.where(contracts.c.chain_id == parse_chain_id(chain_id))
    if not include_inactive:
        query = query.where(contracts.c.is_active)
    query = query.order_by(contracts.c.contract_name, contracts.c.deployed_at.desc())
    with reading(target) as conn:
        return [ContractDeployment.model_validate(row) for row in conn.execute(query)]


def _same_deployment(existing: ContractDeployment, new: NewDeployment) -> ContractDeployment:
    if existing.contract_name != new.contract_name or existing.version != new.version:
        raise Conflict(
            f"contract_address {new.contract_address} on {new.chain_id} is already recorded as "
            f"{existing.contract_name} v{existing.version}"
        )
    return existing


class _Admin(Input):
    chain_id: ChainId
    contract_address: Address
    admin_address: Address


def add_contract_admin(
    target: Database | Connection, *, chain_id: int | str, contract_address: str, admin_address: str
) -> None:
    """Authorise `admin_address` to sign resolutions for the contract on `chain_id`."""
    admin = validated(
        _Admin, chain_id=chain_id, contract_address=contract_address, admin_address=admin_address
    )
    with writing(target) as conn:
        conn.execute(
            dialect_insert(conn, contract_admins)
            .values(**admin.model_dump(), added_at=utc_now())
            .on_conflict_do_update(
                index_elements=["chain_id", "contract_address", "admin_address"],
                set_={"revoked_at": None},
            )
        )


def revoke_contract_admin(
    target: Database | Connection, *, chain_id: int | str, contract_address: str, admin_address: str
) -> None:
    admin = validated(
        _Admin, chain_id=chain_id, contract_address=contract_address, admin_address=admin_address
    )
    with writing(target) as conn:
        conn.execute(
            contract_admins.update()
            .where(*_admin_matches(admin), contract_admins.c.revoked_at.is_(None))
            .values(revoked_at=utc_now())
        )


def is_contract_admin(
    target: Database | Connection, *, chain_id: int | str, contract_address: str, admin_address: str
) -> bool:
    admin = validated(
        _Admin, chain_id=chain_id, contract_address=contract_address, admin_address=admin_address
    )
    with reading(target) as conn:
        found = conn.execute(
            sa.select(contract_admins.c.id).where(
                *_admin_matches(admin), contract_admins.c.revoked_at.is_(None)
            )
        ).first()
    return found is not None


def _admin_matches(admin: _Admin) -> list[sa.ColumnElement[bool]]:
    return [
        contract_admins.c.chain_id == admin.chain_id,
        contract_admins.c.contract_address == admin.contract_address,
        contract_admins.c.admin_address == admin.admin_address,
    ]
