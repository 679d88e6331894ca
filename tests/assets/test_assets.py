"""Minted assets: transfers, versions, the updated_at trigger, audit rows and costs."""

from __future__ import annotations

import time

import pytest

from chaindb import Conflict, InvalidInput, NotFound, assets
from tests.assets.conftest import ALICE, BOB, CAROL, arweave_id, content_hash, mint


def test_a_minted_asset_has_its_bubblegum_id_leaf_version_and_audit(tree_db):
    asset = mint(tree_db, "first")
    assert asset.owner_address == ALICE
    assert (asset.leaf_index, asset.version, asset.status) == (0, 1, "active")
    assert asset.asset_id == assets.asset_id(asset.merkle_tree, 0)
    assert [v.version for v in assets.get_versions(tree_db, asset.asset_id)] == [1]
    operations = [e.operation for e in assets.get_audit_log(tree_db, asset_id=asset.asset_id)]
    assert operations == ["mint"]
    (cost,) = assets.daily_costs(tree_db, ALICE)
    assert (cost.operations, cost.total_cost) == (1, 10_000)  # payer + tree delegate signed


def test_a_transfer_changes_owner_and_writes_history_and_audit(tree_db):
    asset = mint(tree_db, "gift")
    transfer = assets.transfer_asset(
        tree_db, asset_id=asset.asset_id, from_address=ALICE, to_address=BOB
    )
    assert (transfer.from_address, transfer.to_address, transfer.asset_version) == (ALICE, BOB, 1)
    assert assets.get_asset(tree_db, asset.asset_id).owner_address == BOB
    assert assets.get_transfers(tree_db, asset.asset_id) == [transfer]
    audit = assets.get_audit_log(tree_db, asset_id=asset.asset_id, operation="transfer")
    assert [(e.wallet_address, e.details["to"]) for e in audit] == [(ALICE, BOB)]


def test_a_transfer_from_a_wallet_that_is_not_the_owner_is_refused(tree_db):
    asset = mint(tree_db, "mine")
    with pytest.raises(Conflict, match=f"from_address: {BOB} does not own asset"):
        assets.transfer_asset(tree_db, asset_id=asset.asset_id, from_address=BOB, to_address=CAROL)
    assert assets.get_asset(tree_db, asset.asset_id).owner_address == ALICE
    assert assets.get_transfers(tree_db, asset.asset_id) == []


def test_a_transfer_of_an_unknown_asset_is_not_found(tree_db):
    with pytest.raises(NotFound, match="asset_id"):
        assets.transfer_asset(tree_db, asset_id=CAROL, from_address=ALICE, to_address=BOB)


def test_bad_addresses_are_refused_naming_the_field_and_nothing_is_written(tree_db):
    asset = mint(tree_db, "x")
    for bad in ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "abc", ALICE + "1", "O" * 44):
        with pytest.raises(InvalidInput, match="to_address"):
            assets.transfer_asset(
                tree_db, asset_id=asset.asset_id, from_address=ALICE, to_address=bad
            )
    assert assets.get_asset(tree_db, asset.asset_id).owner_address == ALICE


def test_a_new_version_bumps_the_version_and_a_stale_writer_is_refused(tree_db):
    asset = mint(tree_db, "diary")
    change = {
        "asset_id": asset.asset_id,
        "owner_address": ALICE,
        "metadata": {"name": "diary, edited"},
        "content_arweave_tx_id": arweave_id("diary v2"),
        "content_hash": content_hash("diary v2"),
    }
    second = assets.new_version(tree_db, expected_version=1, **change)
    assert second.version == 2
    with pytest.raises(Conflict, match=r"expected_version: .* is at version 2, not 1"):
        assets.new_version(tree_db, expected_version=1, **{**change, "metadata": {"name": "lost"}})
    now = assets.get_asset(tree_db, asset.asset_id)
    assert (now.version, now.metadata, now.content_hash) == (
        2,
        {"name": "diary, edited"},
        content_hash("diary v2"),
    )
    assert [v.version for v in assets.get_versions(tree_db, asset.asset_id)] == [1, 2]
    with pytest.raises(Conflict, match="does not own"):
        assets.new_version(tree_db, expected_version=2, **{**change, "owner_address": BOB})


def test_the_trigger_moves_updated_at_on_any_update(tree_db):
    asset = mint(tree_db, "t")
    time.sleep(0.01)
    with tree_db.transaction() as conn:
        conn.exec_driver_sql(
            "UPDATE memory_assets SET status = 'burned' WHERE asset_id = %s"
            if tree_db.backend == "postgresql"
            else "UPDATE memory_assets SET status = 'burned' WHERE asset_id = ?",
            (asset.asset_id,),
        )
    after = assets.get_asset(tree_db, asset.asset_id)
    assert after.updated_at > asset.updated_at
    assert after.created_at == asset.created_at


def test_costs_are_exact_past_64_bits_and_summed_per_day(tree_db):
    assets.record_cost(
        tree_db, wallet_address=BOB, operation="upload", storage_cost_lamports=2**63 + 1
    )
    assets.record_cost(
        tree_db,
        wallet_address=BOB,
        operation="upload",
        transaction_fee_lamports=5_000,
        storage_cost_lamports=2**256 - 1 - 5_000,
        storage_cost_winston=2**256 - 1,
    )
    (day,) = assets.daily_costs(tree_db, BOB)
    assert day.operations == 2
    assert day.total_cost == 2**63 + 1 + 2**256 - 1
    assert day.avg_cost == (2**63 + 2**256) // 2
    with pytest.raises(InvalidInput, match="storage_cost_lamports"):
        assets.record_cost(tree_db, wallet_address=BOB, operation="x", storage_cost_lamports=-1)
    assert assets.daily_costs(tree_db, BOB)[0].operations == 2
