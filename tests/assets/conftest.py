"""Wallets, trees and minted assets for the assets tests, written through the API."""

from __future__ import annotations

import base64
import hashlib

import pytest
from solders.keypair import Keypair

from chaindb import assets


def keypair(name: str) -> Keypair:
    return Keypair.from_seed(hashlib.sha256(name.encode()).digest())


def wallet(name: str) -> str:
    return str(keypair(name).pubkey())


def arweave_id(name: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(name.encode()).digest()).decode().rstrip("=")


def content_hash(name: str) -> str:
    return "0x" + hashlib.sha256(name.encode()).hexdigest()


ALICE, BOB, CAROL, DAVE = (wallet(n) for n in ("alice", "bob", "carol", "dave"))
AUTHORITY = keypair("tree authority")
PAYER = keypair("payer")


def minter() -> assets.SolanaMinter:
    """chaindb's own mint function, offline: transactions built and signed, not sent."""
    return assets.SolanaMinter(payer=PAYER, tree_delegate=AUTHORITY)


def register(db, name: str = "tree-1", *, depth: int = 5, buffer: int = 8, **extra):
    return assets.register_tree(
        db,
        tree_address=wallet(name),
        authority_address=str(AUTHORITY.pubkey()),
        max_depth=depth,
        max_buffer_size=buffer,
        **extra,
    )


def enqueue(db, key: str, owner: str = ALICE, **extra):
    values = {
        "client_key": key,
        "owner_address": owner,
        "metadata": {"name": f"memory {key}", "description": f"a memory called {key}"},
        "content_arweave_tx_id": arweave_id(key),
        "content_hash": content_hash(key),
    }
    return assets.enqueue_mint(db, **{**values, **extra})


def mint(db, key: str, owner: str = ALICE, **extra) -> assets.MemoryAsset:
    """Enqueue one asset and let a worker mint it."""
    job = enqueue(db, key, owner, **extra)
    outcome = assets.work_once(db, mint=minter(), worker_id="test-worker", batch_size_max=1)
    assert outcome is not None and outcome.completed_job_ids == [job.id]
    return assets.get_asset(db, assets.get_job(db, job.id).asset_id)


@pytest.fixture
def tree_db(core_db):
    """Migrated, with one tree of 32 leaves."""
    register(core_db)
    return core_db
