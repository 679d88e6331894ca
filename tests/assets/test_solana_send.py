"""SolanaMinter with CHAINDB_SOLANA_RPC_URL set: the mint transactions go to the node over HTTP
(tests/assets/solana_node.py), signed over the node's blockhash, and a refusal or an unreachable
node leaves the job to be retried with the node's words as its error."""

from __future__ import annotations

import pytest

from chaindb import assets
from tests.assets.conftest import AUTHORITY, PAYER, enqueue
from tests.assets.solana_node import BLOCKHASH, SolanaNode


@pytest.fixture
def node():
    serving = SolanaNode()
    yield serving
    serving.close()


def online_minter(url: str, monkeypatch) -> assets.SolanaMinter:
    monkeypatch.setenv("CHAINDB_SOLANA_RPC_URL", url)  # as `chaindb assets worker` reads it
    return assets.SolanaMinter.from_environment(PAYER, AUTHORITY)


def test_mint_transactions_are_sent_signed_over_the_nodes_blockhash(tree_db, node, monkeypatch):
    jobs = [enqueue(tree_db, f"sent{n}") for n in range(3)]
    report = assets.run_worker(tree_db, mint=online_minter(node.url, monkeypatch), once=True)
    assert report.completed == 3
    assert node.methods[0] == "getLatestBlockhash"
    assert node.methods.count("sendTransaction") == 3
    assert all(tx.message.recent_blockhash == BLOCKHASH for tx in node.received)
    sent = {str(tx.signatures[0]) for tx in node.received}
    for job in jobs:
        minted = assets.get_asset(tree_db, assets.get_job(tree_db, job.id).asset_id)
        assert minted.mint_signature in sent  # what the node accepted is what the row says


def test_a_refused_transaction_leaves_the_job_to_retry_with_the_nodes_error(
    tree_db, node, monkeypatch
):
    job = enqueue(tree_db, "refused")
    node.refuse = True
    outcome = assets.work_once(tree_db, mint=online_minter(node.url, monkeypatch), worker_id="w")
    assert outcome.retried_job_ids == (job.id,)
    waiting = assets.get_job(tree_db, job.id)
    assert waiting.status == "pending"
    assert assets.get_asset(tree_db, waiting.asset_id) is None  # its id is claimed, not minted
    assert "Solana node refused sendTransaction" in waiting.last_error
    assert "simulation failed" in waiting.last_error
    assert assets.queue_counts(tree_db) == {"pending": 1}


def test_an_unreachable_node_is_named_and_nothing_is_minted(tree_db, node, monkeypatch):
    job = enqueue(tree_db, "unreachable")
    url = node.url
    node.close()
    outcome = assets.work_once(tree_db, mint=online_minter(url, monkeypatch), worker_id="w")
    assert outcome.retried_job_ids == (job.id,)
    assert (
        "Solana node unreachable (getLatestBlockhash)" in assets.get_job(tree_db, job.id).last_error
    )
    assert assets.list_assets(tree_db, assets.get_job(tree_db, job.id).owner_address) == []
