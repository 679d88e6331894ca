"""Full-text search over asset metadata, and the retention cleanup."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from chaindb import InvalidInput, assets
from chaindb.types import utc_now
from tests.assets.conftest import ALICE, BOB, arweave_id, content_hash, enqueue, mint, minter


def meta(name: str, description: str, tags: list[str]) -> dict:
    return {"name": name, "description": description, "attributes": {"tags": tags}}


@pytest.fixture
def library(tree_db):
    beach = mint(tree_db, "beach", metadata=meta("Beach day", "Sunset at Biarritz", ["summer"]))
    cake = mint(tree_db, "cake", metadata=meta("Birthday", "A chocolate cake", ["family"]))
    tokyo = mint(tree_db, "tokyo", owner=BOB, metadata=meta("東京", "Summer in Tokyo", ["trip"]))
    return tree_db, beach, cake, tokyo


def ids(found):
    return sorted(asset.asset_id for asset in found)


def test_search_finds_every_word_in_any_string_of_the_metadata(library):
    db, beach, cake, tokyo = library
    assert ids(assets.search_assets(db, "summer")) == ids([beach, tokyo])
    assert ids(assets.search_assets(db, "SUNSET biarritz")) == ids([beach])
    assert ids(assets.search_assets(db, "chocolate family")) == ids([cake])
    assert ids(assets.search_assets(db, "東京")) == ids([tokyo])
    assert assets.search_assets(db, "chocolate summer") == []
    assert assets.search_assets(db, "name") == []  # keys are not searched


def test_search_words_are_never_operators(library):
    db, _beach, cake, _tokyo = library
    assert assets.search_assets(db, 'cake" OR "summer') == []  # "or" is a word to find
    assert assets.search_assets(db, "cake | summer") == []
    assert ids(assets.search_assets(db, 'cake" & !(*')) == ids([cake])
    with pytest.raises(InvalidInput, match="query"):
        assets.search_assets(db, "  !! ")


def test_a_new_version_is_searched_by_its_new_metadata(library):
    db, _beach, cake, _tokyo = library
    assets.new_version(
        db,
        asset_id=cake.asset_id,
        owner_address=ALICE,
        expected_version=1,
        metadata=meta("Birthday", "A lemon tart", ["family"]),
        content_arweave_tx_id=arweave_id("tart"),
        content_hash=content_hash("tart"),
    )
    assert assets.search_assets(db, "chocolate") == []
    assert ids(assets.search_assets(db, "lemon")) == ids([cake])


def test_every_asset_of_a_batch_gets_its_search_row(tree_db):
    # One completion inserts the batch's assets by one multi-row INSERT per owner: the
    # search rows (a statement-level trigger on PostgreSQL) must cover every row of it.
    words = ["amber", "basalt", "cobalt", "dune", "ember"]
    jobs = [
        enqueue(tree_db, word, owner=ALICE if n % 2 else BOB, metadata=meta(word, "x", []))
        for n, word in enumerate(words)
    ]
    outcome = assets.work_once(tree_db, mint=minter(), worker_id="w", batch_size_max=5)
    assert outcome is not None and sorted(outcome.completed_job_ids) == sorted(j.id for j in jobs)
    for word, job in zip(words, jobs, strict=True):
        found = assets.search_assets(tree_db, word)
        assert ids(found) == [assets.get_job(tree_db, job.id).asset_id]
    assert len(assets.search_assets(tree_db, "x")) == len(words)


def age(db, table: str, column: str, days: int) -> None:
    with db.transaction() as conn:
        conn.execute(
            assets.metadata.tables[table]
            .update()
            .values({column: utc_now() - timedelta(days=days)})
            .where(sa.true())
        )


def test_cleanup_deletes_old_completed_jobs_and_archives_old_audit_rows(tree_db):
    for n in range(5):
        mint(tree_db, f"old{n}")
    age(tree_db, "minting_queue", "completed_at", 8)
    age(tree_db, "blockchain_audit_logs", "timestamp", 91)
    audit_rows = len(assets.get_audit_log(tree_db, limit=1000))
    mint(tree_db, "recent")
    dry = assets.run_cleanup(tree_db, dry_run=True)
    assert (dry.queue_jobs_deleted, dry.audit_rows_archived) == (5, audit_rows)
    assert assets.queue_counts(tree_db) == {"completed": 6}
    done = assets.run_cleanup(tree_db, batch_rows=2)  # three batches each: bounded, resumable
    assert (done.queue_jobs_deleted, done.audit_rows_archived, done.finished) == (
        5,
        audit_rows,
        True,
    )
    assert assets.queue_counts(tree_db) == {"completed": 1}
    with tree_db.read() as conn:
        archived = conn.execute(
            sa.text("SELECT count(*) FROM blockchain_audit_logs_archive")
        ).scalar_one()
    assert archived == audit_rows
    assert len(assets.list_assets(tree_db, ALICE)) == 6  # assets are never cleaned up
    again = assets.run_cleanup(tree_db)
    assert (again.queue_jobs_deleted, again.audit_rows_archived) == (0, 0)


def test_cleanup_ages_are_configurable(tree_db, monkeypatch):
    mint(tree_db, "j")
    age(tree_db, "minting_queue", "completed_at", 3)
    assert assets.run_cleanup(tree_db, dry_run=True).queue_jobs_deleted == 0
    assert assets.run_cleanup(tree_db, queue_days=2, dry_run=True).queue_jobs_deleted == 1
    monkeypatch.setenv("CHAINDB_ASSETS_QUEUE_RETENTION_DAYS", "2")
    assert assets.cleanup(tree_db)[0].startswith("assets: deleted 1 completed minting jobs")
    with pytest.raises(InvalidInput, match="audit_days"):
        assets.run_cleanup(tree_db, audit_days=0)
