"""Memory assets once minted: reading them, transferring them, new versions of them.

On PostgreSQL each operation acts for a wallet (`app.current_user`, set for its transaction
only): row-level security (assets_0002) then lets it see and change only that wallet's
assets when chaindb connects as the service role.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chaindb.assets.records import NewCost, audit, insert_costs
from chaindb.assets.schema import (
    access_grants,
    memory_assets,
    transfer_history,
    version_history,
)
from chaindb.database import Database, reading, set_current_wallet, writing
from chaindb.errors import Conflict, InvalidInput, NotFound
from chaindb.text import METADATA_BYTES_MAX, free_text, json_value
from chaindb.types import (
    ArweaveTxId,
    Hash32,
    Lamports,
    SolanaAddress,
    SolanaSignature,
    parse_solana_address,
    utc_now,
)
from chaindb.validation import Input, Row, parse_limit, validated

ASSETS_READ_MAX = 1_000
AssetMetadata = json_value(METADATA_BYTES_MAX)
ChangeNote = free_text(1_000)


class MemoryAsset(Row):
    asset_id: str
    owner_address: str
    metadata: dict[str, Any]
    content_arweave_tx_id: str
    metadata_arweave_tx_id: str | None
    content_hash: str
    batch_id: int | None
    merkle_tree: str
    leaf_index: int
    mint_signature: str | None
    queue_id: int | None
    status: str
    version: int
    created_at: datetime
    updated_at: datetime


class Transfer(Row):
    id: int
    asset_id: str
    from_address: str
    to_address: str
    transaction_signature: str | None
    asset_version: int
    grants_revoked: int
    transferred_at: datetime


class AssetVersion(Row):
    id: int
    asset_id: str
    version: int
    metadata: dict[str, Any]
    content_arweave_tx_id: str
    metadata_arweave_tx_id: str | None
    content_hash: str
    changed_by: str
    change_note: str | None
    created_at: datetime


class NewTransfer(Input):
    asset_id: SolanaAddress
    from_address: SolanaAddress
    to_address: SolanaAddress
    transaction_signature: SolanaSignature | None = None
    transaction_fee_lamports: Lamports = 0


class NewVersion(Input):
    asset_id: SolanaAddress
    owner_address: SolanaAddress
    expected_version: int
    metadata: AssetMetadata
    content_arweave_tx_id: ArweaveTxId
    content_hash: Hash32
    metadata_arweave_tx_id: ArweaveTxId | None = None
    change_note: ChangeNote | None = None


def get_asset(
    target: Database | Connection, asset_id: str, *, as_wallet: str | None = None
) -> MemoryAsset | None:
    """The asset (primary key), or None. With `as_wallet` on PostgreSQL as the service role,
    None also when that wallet does not own it."""
    with reading(target) as conn:
        if as_wallet is not None:
            set_current_wallet(conn, as_wallet)
        row = conn.execute(
            sa.select(memory_assets).where(memory_assets.c.asset_id == asset_id)
        ).first()
    return None if row is None else MemoryAsset.model_validate(row)


def list_assets(
    target: Database | Connection, owner_address: str, *, limit: int = 100
) -> list[MemoryAsset]:
    """The seed's "user's memory assets": the owner's assets, newest first (index
    idx_memory_assets_owner_created)."""
    owner = parse_solana_address(owner_address, "owner_address")
    limit = parse_limit(limit, ASSETS_READ_MAX)
    with reading(target) as conn:
        set_current_wallet(conn, owner)
        rows = conn.execute(
            sa.select(memory_assets)
            .where(memory_assets.c.owner_address == owner)
            .order_by(memory_assets.c.created_at.desc(), memory_assets.c.asset_id)
            .limit(limit)
        )
        return [MemoryAsset.model_validate(row) for row in rows]


def lock_owned_asset(
    conn: Connection, asset_id: str, owner_address: str, field: str
) -> MemoryAsset:
    """The asset, locked for update, acting for `owner_address`; refused unless it owns it."""
    set_current_wallet(conn, owner_address)
    row = conn.execute(
        sa.select(memory_assets).where(memory_assets.c.asset_id == asset_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"asset_id: asset {asset_id} does not exist (or is not {field}'s)")
    asset = MemoryAsset.model_validate(row)
    if asset.owner_address != owner_address:
        raise Conflict(
            f"{field}: {owner_address} does not own asset {asset_id} "
            f"(its owner is {asset.owner_address})"
        )
    if asset.status != "active":
        raise Conflict(f"asset_id: asset {asset_id} is {asset.status}")
    return asset


def transfer_asset(
    target: Database | Connection,
    *,
    asset_id: str,
    from_address: str,
    to_address: str,
    transaction_signature: str | None = None,
    transaction_fee_lamports: int = 0,
) -> Transfer:
    """Give the asset to `to_address`: owner changed, transfer_history and audit rows written,
    and the grants its previous owner made revoked (the new owner never made them), all in
    one transaction. Refused (Conflict) when `from_address` is not the owner."""
    new = validated(
        NewTransfer,
        asset_id=asset_id,
        from_address=from_address,
        to_address=to_address,
        transaction_signature=transaction_signature,
        transaction_fee_lamports=transaction_fee_lamports,
    )
    if new.from_address == new.to_address:
        raise InvalidInput("to_address", to_address, "must differ from from_address")
    with writing(target) as conn:
        asset = lock_owned_asset(conn, new.asset_id, new.from_address, "from_address")
        now = utc_now()
        _handing_over(conn, new.to_address)
        conn.execute(
            memory_assets.update()
            .where(memory_assets.c.asset_id == new.asset_id)
            .values(owner_address=new.to_address, updated_at=now)
        )
        _handing_over(conn, "")
        revoked = conn.execute(
            access_grants.update()
            .where(access_grants.c.asset_id == new.asset_id, access_grants.c.revoked_at.is_(None))
            .values(revoked_at=now, revoke_reason="transferred")
        ).rowcount
        row = conn.execute(
            transfer_history.insert()
            .values(
                asset_id=new.asset_id,
                from_address=new.from_address,
                to_address=new.to_address,
                transaction_signature=new.transaction_signature,
                asset_version=asset.version,
                grants_revoked=revoked,
                transferred_at=now,
            )
            .returning(transfer_history)
        ).one()
        if new.transaction_fee_lamports:
            insert_costs(
                conn,
                [
                    NewCost(
                        wallet_address=new.from_address,
                        operation="transfer",
                        asset_id=new.asset_id,
                        transaction_fee_lamports=new.transaction_fee_lamports,
                    )
                ],
            )
        audit(
            conn,
            "transfer",
            asset_id=new.asset_id,
            wallet_address=new.from_address,
            transaction_signature=new.transaction_signature,
            details={"to": new.to_address, "grants_revoked": revoked},
        )
    return Transfer.model_validate(row)


def _handing_over(conn: Connection, recipient: str) -> None:
    """PostgreSQL: the recipient a transfer's UPDATE hands the row to (policy
    transfer_recipient), set for that statement and cleared after it."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.text("SELECT set_config('app.transfer_to', :wallet, true)"), {"wallet": recipient}
        )


def new_version(
    target: Database | Connection,
    *,
    asset_id: str,
    owner_address: str,
    expected_version: int,
    metadata: dict[str, Any],
    content_arweave_tx_id: str,
    content_hash: str,
    metadata_arweave_tx_id: str | None = None,
    change_note: str | None = None,
) -> AssetVersion:
    """A new version of the asset's content and metadata, by its owner: version_history gets
    it and memory_assets.version goes up by one. `expected_version` is the version the writer
    read: if another writer got there first, this one is refused (Conflict) and writes
    nothing (optimistic concurrency)."""
    new = validated(
        NewVersion,
        asset_id=asset_id,
        owner_address=owner_address,
        expected_version=expected_version,
        metadata=metadata,
        content_arweave_tx_id=content_arweave_tx_id,
        content_hash=content_hash,
        metadata_arweave_tx_id=metadata_arweave_tx_id,
        change_note=change_note,
    )
    with writing(target) as conn:
        asset = lock_owned_asset(conn, new.asset_id, new.owner_address, "owner_address")
        if asset.version != new.expected_version:
            raise Conflict(
                f"expected_version: asset {new.asset_id} is at version {asset.version}, "
                f"not {new.expected_version}: read it again and reapply the change"
            )
        version = asset.version + 1
        content = new.model_dump(
            include={"metadata", "content_arweave_tx_id", "content_hash", "metadata_arweave_tx_id"}
        )
        conn.execute(
            memory_assets.update()
            .where(
                memory_assets.c.asset_id == new.asset_id,
                memory_assets.c.version == new.expected_version,
            )
            .values(**content, version=version)
        )
        row = conn.execute(
            version_history.insert()
            .values(
                asset_id=new.asset_id,
                version=version,
                changed_by=new.owner_address,
                change_note=new.change_note,
                created_at=utc_now(),
                **content,
            )
            .returning(version_history)
        ).one()
        audit(
            conn,
            "new_version",
            asset_id=new.asset_id,
            wallet_address=new.owner_address,
            details={"version": version},
        )
    return AssetVersion.model_validate(row)


def get_versions(target: Database | Connection, asset_id: str) -> list[AssetVersion]:
    """Every version of the asset, oldest first (unique index on asset_id, version)."""
    with reading(target) as conn:
        rows = conn.execute(
            sa.select(version_history)
            .where(version_history.c.asset_id == asset_id)
            .order_by(version_history.c.version)
        )
        return [AssetVersion.model_validate(row) for row in rows]


def get_transfers(target: Database | Connection, asset_id: str) -> list[Transfer]:
    """The asset's owners in turn (index idx_transfer_history_asset)."""
    with reading(target) as conn:
        rows = conn.execute(
            sa.select(transfer_history)
            .where(transfer_history.c.asset_id == asset_id)
            .order_by(transfer_history.c.transferred_at, transfer_history.c.id)
        )
        return [Transfer.model_validate(row) for row in rows]
