"""The assets module's part of `make demo`: memories queued, minted by a worker into a
merkle tree (Bubblegum transactions built and signed locally), shared, transferred, found."""

from __future__ import annotations

import base64
import hashlib

from rich.console import Console
from rich.table import Table
from solders.keypair import Keypair

from chaindb.assets.grants import check_access, grant_access, use_grant
from chaindb.assets.minting import SolanaMinter
from chaindb.assets.ownership import list_assets, transfer_asset
from chaindb.assets.queue import enqueue_mint, queue_counts
from chaindb.assets.records import daily_costs
from chaindb.assets.reports import search_assets
from chaindb.assets.trees import list_trees, register_tree
from chaindb.assets.worker import run_worker
from chaindb.database import Database

MEMORIES = (
    ("Grandma's kitchen", "the recipe book, handwritten", 1),
    ("First day of school", "a photo at the gate", 2),
    ("Beach in Biarritz", "a summer sunset video", 2),
)


def _keypair(name: str) -> Keypair:
    return Keypair.from_seed(hashlib.sha256(f"chaindb demo {name}".encode()).digest())


def _arweave_id(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).decode().rstrip("=")


def story(db: Database, console: Console) -> None:
    say = console.print
    authority, alice, bob = (_keypair(n) for n in ("tree authority", "alice", "bob"))
    alice_wallet, bob_wallet = str(alice.pubkey()), str(bob.pubkey())
    tree = register_tree(
        db,
        tree_address=str(_keypair("tree").pubkey()),
        authority_address=str(authority.pubkey()),
        max_depth=14,
        max_buffer_size=64,
        canopy_depth=0,
        creation_cost_lamports=1_579_000_000,
    )
    say(f"\n[bold]Memory assets[/bold]: merkle tree {tree.tree_address} ({tree.capacity} leaves)")
    for name, description, priority in MEMORIES:
        enqueue_mint(
            db,
            client_key=f"demo:{name}",
            owner_address=alice_wallet,
            metadata={"name": name, "description": description},
            content_arweave_tx_id=_arweave_id(name),
            content_hash="0x" + hashlib.sha256(description.encode()).hexdigest(),
            priority=priority,
        )
    say(f"  queued: {queue_counts(db)}")
    report = run_worker(
        db,
        mint=SolanaMinter(payer=authority, tree_delegate=authority),
        once=True,
        batch_size_max=2,
        worker_id="demo-worker",
    )
    say(
        f"  a worker minted them in {report.batches} batches (Bubblegum mint_v1, signed "
        f"locally): {queue_counts(db)}"
    )
    table = Table("asset id (Bubblegum PDA)", "leaf", "name", title="alice's memories")
    for asset in list_assets(db, alice_wallet):
        table.add_row(asset.asset_id, str(asset.leaf_index), asset.metadata["name"])
    console.print(table)
    kitchen = search_assets(db, "recipe")[0]
    grant = grant_access(
        db,
        asset_id=kitchen.asset_id,
        owner_address=alice_wallet,
        grantee_address=bob_wallet,
        max_uses=2,
    )
    use_grant(db, grant.id, wallet=bob_wallet)
    say(
        f"  search 'recipe' → {kitchen.metadata['name']}; alice grants bob 2 views; bob used "
        f"one; bob has access: {check_access(db, kitchen.asset_id, bob_wallet).allowed}"
    )
    transfer_asset(db, asset_id=kitchen.asset_id, from_address=alice_wallet, to_address=bob_wallet)
    say(
        f"  alice gives it to bob: bob's access is now through "
        f"{check_access(db, kitchen.asset_id, bob_wallet).via}"
    )
    (today,) = daily_costs(db, alice_wallet)
    say(f"  alice's costs today: {today.operations} operations, {today.total_cost} lamports")
    (filled,) = list_trees(db)
    say(f"  tree fill: {filled.next_leaf_index}/{filled.capacity} leaves")
