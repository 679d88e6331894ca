"""The minting queue: idempotent enqueue, claims in priority order into batches, leases that
run out and are taken back, retries with backoff, dead jobs, exactly-once completion."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from chaindb import Conflict, InvalidInput, assets, migrations
from chaindb.assets import worker
from chaindb.types import utc_now
from tests.assets.conftest import ALICE, BOB, enqueue, minter, register


def expire_leases(db, *, only: int | None = None) -> None:
    """Move every lease (or job `only`'s) into the past: as if the workers holding them had
    died."""
    past = utc_now() - timedelta(seconds=1)
    queue = assets.metadata.tables["minting_queue"]
    jobs = queue.update().where(sa.text("status = 'processing'"))
    if only is not None:
        jobs = jobs.where(queue.c.id == only)
    with db.transaction() as conn:
        conn.execute(jobs.values(lease_expires_at=past))


def make_ready(db) -> None:
    """Retries become due now (instead of waiting out their backoff)."""
    with db.transaction() as conn:
        conn.execute(
            assets.metadata.tables["minting_queue"]
            .update()
            .where(sa.text("status = 'pending'"))
            .values(scheduled_at=utc_now() - timedelta(seconds=1))
        )


def test_enqueue_is_idempotent_per_client_key(tree_db):
    first = enqueue(tree_db, "k1")
    again = enqueue(tree_db, "k1")
    assert again == first
    assert assets.queue_counts(tree_db) == {"pending": 1}
    with pytest.raises(Conflict, match="client_key: 'k1' already names another mint"):
        enqueue(tree_db, "k1", owner=BOB)


def test_bad_job_input_is_refused_naming_the_field(tree_db):
    with pytest.raises(InvalidInput, match="content_arweave_tx_id"):
        enqueue(tree_db, "k", content_arweave_tx_id="too-short")
    with pytest.raises(InvalidInput, match="content_hash"):
        enqueue(tree_db, "k", content_hash="abc")
    with pytest.raises(InvalidInput, match="priority"):
        enqueue(tree_db, "k", priority=9)
    with pytest.raises(InvalidInput, match="client_key"):
        enqueue(tree_db, "bad\nkey")
    assert assets.queue_counts(tree_db) == {}


def test_a_claim_takes_jobs_by_priority_into_one_batch_with_their_leaves(tree_db):
    low = enqueue(tree_db, "low", priority=4)
    high = [enqueue(tree_db, f"high{n}", priority=1) for n in range(3)]
    batch = assets.claim_batch(tree_db, worker_id="w1", batch_size_max=3)
    assert [job.id for job in batch.jobs] == [job.id for job in high]
    assert sorted(job.leaf_index for job in batch.jobs) == [0, 1, 2]
    assert all(j.asset_id == assets.asset_id(j.merkle_tree, j.leaf_index) for j in batch.jobs)
    assert {job.status for job in batch.jobs} == {"processing"}
    outcome = assets.complete_batch(tree_db, batch, minter()(batch))
    assert (outcome.status, outcome.completed_job_ids) == ("completed", [j.id for j in high])
    assert assets.get_job(tree_db, low.id).status == "pending"
    (day,) = assets.get_batch_statistics(tree_db)
    assert (day.total_batches, day.total_assets, day.successful_batches) == (1, 3, 1)
    assert day.total_cost_lamports == 3 * 10_000


def stored_asset_ids(db, jobs) -> list[str | None]:
    with db.read() as conn:
        found = dict(conn.execute(sa.text("SELECT id, asset_id FROM minting_queue")).all())
    return [found[job.id] for job in jobs]


def test_a_claimed_jobs_asset_id_is_its_leafs_and_stored_when_it_completes(tree_db):
    jobs = [enqueue(tree_db, f"id{n}") for n in range(2)]
    batch = assets.claim_batch(tree_db, worker_id="w1", batch_size_max=2)
    derived = [assets.asset_id(job.merkle_tree, job.leaf_index) for job in batch.jobs]
    # Read again, a claimed job shows its leaf's asset id; it is stored when the job
    # completes (assets_0006: a claim computes no id but its own jobs').
    assert [assets.get_job(tree_db, job.id).asset_id for job in jobs] == derived
    assert stored_asset_ids(tree_db, jobs) == [None, None]
    assets.complete_batch(tree_db, batch, minter()(batch))
    assert stored_asset_ids(tree_db, jobs) == derived
    assert sorted(a.asset_id for a in assets.list_assets(tree_db, ALICE)) == sorted(derived)


def test_a_batch_without_jobs_completes_as_expired_and_writes_nothing(tree_db):
    enqueue(tree_db, "kept")
    batch = assets.claim_batch(tree_db, worker_id="w1", batch_size_max=1)
    emptied = batch.model_copy(update={"jobs": []})
    outcome = assets.complete_batch(tree_db, emptied, assets.MintReceipt(items=[]))
    assert (outcome.status, outcome.completed_job_ids) == ("expired", [])
    assert assets.list_assets(tree_db, ALICE) == []
    assert assets.get_job(tree_db, batch.jobs[0].id).status == "processing"


def test_rolling_assets_0006_back_stores_the_ids_claimed_jobs_wait_for(tree_db):
    jobs = [enqueue(tree_db, f"back{n}") for n in range(3)]
    batch = assets.claim_batch(tree_db, worker_id="w1", batch_size_max=2)
    assert stored_asset_ids(tree_db, jobs) == [None, None, None]
    steps = migrations.rollback(tree_db, "assets_0005", module="assets").steps
    assert [step.revision for step in steps] == ["assets_0007", "assets_0006"]
    # The old CHECK holds again: the claimed jobs' ids stored, the waiting job without a leaf.
    assert stored_asset_ids(tree_db, jobs) == [job.asset_id for job in batch.jobs] + [None]
    migrations.migrate(tree_db)
    assets.complete_batch(tree_db, batch, minter()(batch))
    assert len(assets.list_assets(tree_db, ALICE)) == 2


def test_a_completion_run_again_leaves_the_batch_as_the_first_recorded_it(tree_db):
    """A worker whose commit's acknowledgement was lost records the same receipt again: the
    jobs are not minted twice, and the batch keeps its status and figures (both backends)."""
    for n in range(2):
        enqueue(tree_db, f"again{n}")
    batch = assets.claim_batch(tree_db, worker_id="w1", batch_size_max=2)
    receipt = minter()(batch)
    first = assets.complete_batch(tree_db, batch, receipt)
    assert first.status == "completed"
    again = assets.complete_batch(tree_db, batch, receipt)
    assert again.completed_job_ids == []  # nothing recorded twice
    with tree_db.read() as conn:
        row = conn.execute(
            sa.text(
                "SELECT status, minted_count, total_cost_lamports FROM memory_batches "
                "WHERE batch_id = :b"
            ),
            {"b": batch.batch_id},
        ).one()
    assert (row.status, row.minted_count, int(row.total_cost_lamports)) == ("completed", 2, 20_000)
    (day,) = assets.get_batch_statistics(tree_db)
    assert (day.total_assets, day.successful_batches) == (2, 1)
    assert len(assets.list_assets(tree_db, ALICE)) == 2


def test_a_crashed_workers_jobs_are_taken_back_and_completed_once(tree_db):
    job = enqueue(tree_db, "crash")
    dead_worker = assets.claim_batch(tree_db, worker_id="dies", batch_size_max=1, lease_s=30)
    assert assets.claim_batch(tree_db, worker_id="w2") is None  # held by the lease
    expire_leases(tree_db)
    taken = assets.claim_batch(tree_db, worker_id="w2", batch_size_max=1)
    assert [j.id for j in taken.jobs] == [job.id]
    assert taken.jobs[0].attempts == 2
    # the same leaf and asset id: a retried job mints the same asset
    assert taken.jobs[0].asset_id == dead_worker.jobs[0].asset_id
    # The first worker was only slow: it finishes after its lease ran out. Too late.
    late = assets.complete_batch(tree_db, dead_worker, minter()(dead_worker))
    assert (late.status, late.completed_job_ids, late.lost_job_ids) == ("expired", [], (job.id,))
    done = assets.complete_batch(tree_db, taken, minter()(taken))
    assert done.completed_job_ids == [job.id]
    assert len(assets.list_assets(tree_db, ALICE)) == 1
    assert [e.operation for e in assets.get_audit_log(tree_db, operation="mint")] == ["mint"]


def test_two_workers_finishing_the_same_job_complete_it_once(tree_db):
    """Both hold the job (the first one's lease ran out and the second took it back), and
    both finish at once: one completion wins, on both backends."""
    enqueue(tree_db, "race")
    first = assets.claim_batch(tree_db, worker_id="a", batch_size_max=1)
    expire_leases(tree_db)
    second = assets.claim_batch(tree_db, worker_id="b", batch_size_max=1)
    outcomes = []
    start = threading.Barrier(2)

    def finish(batch):
        start.wait()
        outcomes.append(assets.complete_batch(tree_db, batch, minter()(batch)))

    threads = [threading.Thread(target=finish, args=(b,)) for b in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(o.completed_job_ids) for o in outcomes) == [0, 1]
    assert len(assets.list_assets(tree_db, ALICE)) == 1


def test_a_failing_job_is_retried_with_backoff_then_dead_with_its_error(tree_db):
    job = enqueue(tree_db, "flaky", max_attempts=3)

    def broken(batch):
        raise RuntimeError("node said no")

    outcome = assets.work_once(tree_db, mint=broken, worker_id="w")
    assert outcome.retried_job_ids == (job.id,)
    waiting = assets.get_job(tree_db, job.id)
    assert waiting.status == "pending" and waiting.scheduled_at > utc_now()
    assert waiting.last_error == "RuntimeError: node said no"
    assert assets.work_once(tree_db, mint=broken, worker_id="w") is None  # backing off
    for _attempt in range(2):
        make_ready(tree_db)
        outcome = assets.work_once(tree_db, mint=broken, worker_id="w")
    assert outcome.dead_job_ids == (job.id,)
    dead = assets.get_job(tree_db, job.id)
    assert (dead.status, dead.attempts, dead.last_error) == (
        "dead",
        3,
        "RuntimeError: node said no",
    )
    make_ready(tree_db)
    assert assets.work_once(tree_db, mint=minter(), worker_id="w") is None
    failures = assets.get_audit_log(tree_db, operation="mint_failed")
    assert len(failures) == 2 and {e.status for e in failures} == {"failure"}


def test_a_lease_that_runs_out_on_every_attempt_makes_the_job_dead(tree_db):
    job = enqueue(tree_db, "hangs", max_attempts=1)
    assets.claim_batch(tree_db, worker_id="hung")
    expire_leases(tree_db)
    assert assets.claim_batch(tree_db, worker_id="w") is None
    assert assets.get_job(tree_db, job.id).status == "dead"


def test_a_lease_extended_by_a_heartbeat_is_not_taken_back(tree_db):
    enqueue(tree_db, "slow")
    batch = assets.claim_batch(tree_db, worker_id="slow", lease_s=0.001)
    assert assets.extend_lease(tree_db, batch, lease_s=60)
    assert assets.claim_batch(tree_db, worker_id="other") is None


def test_no_job_is_claimed_when_no_tree_has_a_leaf(core_db):
    job = enqueue(core_db, "waits")
    assert assets.claim_batch(core_db, worker_id="w") is None
    assert assets.get_audit_log(core_db, operation="claim_batch") == []  # nor any batch
    with core_db.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM memory_batches")).scalar_one() == 0
    register(core_db)
    assert [j.id for j in assets.claim_batch(core_db, worker_id="w").jobs] == [job.id]


def test_run_worker_once_drains_the_queue(tree_db):
    for n in range(7):
        enqueue(tree_db, f"job{n}")
    report = assets.run_worker(tree_db, mint=minter(), once=True, batch_size_max=3)
    assert (report.batches, report.completed) == (3, 7)
    assert assets.queue_counts(tree_db) == {"completed": 7}


def test_a_claim_failing_with_the_completion_does_not_undo_it(tree_db, monkeypatch):
    """run_worker claims its next batch in the transaction completing the last: when that
    claim fails, the batch is still recorded completed, and the claim's error is raised."""
    first, second = (enqueue(tree_db, f"job{n}").id for n in range(2))

    def failing_claim(conn, **claim):
        raise sa.exc.OperationalError("a claim", {}, Exception("the server went away"))

    monkeypatch.setattr(worker, "claim_into", failing_claim)
    with pytest.raises(sa.exc.OperationalError, match="the server went away"):
        assets.run_worker(tree_db, mint=minter(), once=True, batch_size_max=1)
    assert assets.get_job(tree_db, first).status == "completed"
    assert assets.get_job(tree_db, second).status == "pending"
    assert len(assets.list_assets(tree_db, ALICE)) == 1


def test_a_batch_of_several_owners_records_each_owners_rows_and_its_totals(tree_db):
    """Jobs of two owners in one batch, one of them taken back by another worker: the batch's
    row counts, sums and lists (in the jobs' order) what this batch minted, of both owners
    (PostgreSQL writes each owner's rows by a statement of its own)."""
    a1, b1, a2, b2 = (enqueue(tree_db, key, owner=o) for key, o in _OWNED)
    batch = assets.claim_batch(tree_db, worker_id="a", batch_size_max=4)
    assert [job.id for job in batch.jobs] == [a1.id, b1.id, a2.id, b2.id]
    expire_leases(tree_db, only=b2.id)
    (taken,) = assets.claim_batch(tree_db, worker_id="b", batch_size_max=1).jobs
    signed = {item.job_id: item.mint_signature for item in minter()(batch).items}
    receipt = assets.MintReceipt(
        items=[
            assets.MintedItem(
                job_id=job.id,
                mint_signature=signed[job.id],
                transaction_fee_lamports=1_000 * (n + 1),
                rent_lamports=5,
                storage_cost_winston=7,
            )
            for n, job in enumerate(batch.jobs)
        ]
    )
    outcome = assets.complete_batch(tree_db, batch, receipt)
    assert (outcome.completed_job_ids, outcome.lost_job_ids) == ([a1.id, b1.id, a2.id], (b2.id,))
    assert taken.id == b2.id and assets.get_job(tree_db, b2.id).status == "processing"
    row = _batch_row(tree_db, batch.batch_id)
    assert (row.status, row.minted_count, row.item_count) == ("completed", 3, 4)
    assert (row.total_cost_lamports, row.storage_cost_winston) == (6_015, 21)
    assert row.transaction_signatures == [signed[a1.id], signed[b1.id], signed[a2.id]]
    assert len(assets.list_assets(tree_db, ALICE)) == 2
    (bobs,) = assets.list_assets(tree_db, BOB)
    assert (bobs.queue_id, bobs.version, bobs.batch_id) == (b1.id, 1, batch.batch_id)
    mints = assets.get_audit_log(tree_db, operation="mint")
    assert sorted(e.queue_id for e in mints) == [a1.id, b1.id, a2.id]
    bob_mint = next(e for e in mints if e.queue_id == b1.id)
    assert bob_mint.details == {"tree": bobs.merkle_tree, "leaf_index": bobs.leaf_index}
    assert bob_mint.transaction_signature == signed[b1.id] == bobs.mint_signature
    costs = assets.metadata.tables["cost_tracking"]
    with tree_db.read() as conn:
        bobs_costs = conn.execute(
            sa.select(costs.c.total_cost_lamports, costs.c.batch_id, costs.c.asset_id).where(
                costs.c.wallet_address == BOB
            )
        ).all()
    assert [tuple(c) for c in bobs_costs] == [(2_005, batch.batch_id, bobs.asset_id)]
    versions = assets.get_versions(tree_db, bobs.asset_id)
    assert [(v.version, v.changed_by, v.change_note) for v in versions] == [(1, BOB, "minted")]


_OWNED = (("a1", ALICE), ("b1", BOB), ("a2", ALICE), ("b2", BOB))


def _batch_row(db, batch_id: int):
    batches = assets.metadata.tables["memory_batches"]
    with db.read() as conn:
        return conn.execute(sa.select(batches).where(batches.c.batch_id == batch_id)).one()


def test_a_completions_amounts_past_64_bits_are_recorded_exactly(tree_db):
    """The receipt's amounts reach the cost row and the batch's sums exactly (PostgreSQL sends
    them in a JSON document: read as numeric, never as a float)."""
    enqueue(tree_db, "costly")
    batch = assets.claim_batch(tree_db, worker_id="w")
    (job,) = batch.jobs
    item = assets.MintedItem(
        job_id=job.id, transaction_fee_lamports=2**70 + 1, storage_cost_winston=2**255 + 3
    )
    assets.complete_batch(tree_db, batch, assets.MintReceipt(items=[item]))
    row = _batch_row(tree_db, batch.batch_id)
    assert (row.total_cost_lamports, row.storage_cost_winston) == (2**70 + 1, 2**255 + 3)
    costs = assets.metadata.tables["cost_tracking"]
    with tree_db.read() as conn:
        cost = conn.execute(sa.select(costs).where(costs.c.batch_id == batch.batch_id)).one()
    assert (cost.total_cost_lamports, cost.storage_cost_winston) == (2**70 + 1, 2**255 + 3)


_NOT_COPIED = {"id", "client_key", "status"}


def test_a_claim_reads_a_few_pages_of_a_backlog_its_statistics_do_not_know(tree_db):
    # PostgreSQL's alone (its planner and statistics). Analyzed at work (2,000 jobs finished,
    # dead here, one pending), the queue then takes 3,000 more: planned by those statistics,
    # a claim scanned and sorted every pending job; assets_0005's function reads the first
    # few in the index's order.
    if tree_db.backend != "postgresql":
        pytest.skip("PostgreSQL's planner")
    enqueue(tree_db, "first")
    with tree_db.transaction() as conn:
        _copy_job(conn, "done-", "dead", 2000)
        conn.execute(sa.text("ANALYZE minting_queue"))
        _copy_job(conn, "burst-", "pending", 3000)
    with tree_db.transaction() as conn:
        # Index pages dearer than they are: the planner then prefers the sort, as it did for
        # bench/assets.py's queue (whose statistics said the queue was empty).
        conn.exec_driver_sql("SET LOCAL random_page_cost = 100")
        pages = [_pages_read(conn, "SELECT * FROM minting_queue_candidates(now(), 10)")]
        pages.append(_pages_read(conn, "SELECT * FROM minting_queue_candidates(now(), 10)"))
        heap_pages = conn.exec_driver_sql(
            "SELECT pg_relation_size('minting_queue') / current_setting('block_size')::int"
        ).scalar_one()
    assert heap_pages > 100
    assert pages[1] < 30, pages  # the second call: the function's plan made, and kept
    batch = assets.claim_batch(tree_db, worker_id="w", batch_size_max=3)
    assert batch is not None
    assert [job.client_key for job in batch.jobs] == ["first", "burst-1", "burst-2"]


def _copy_job(conn: sa.Connection, key_prefix: str, status: str, count: int) -> None:
    """`count` copies of the job 'first' (a bulk fill: the API writes one job a statement)."""
    copied = ", ".join(
        c.name for c in assets.metadata.tables["minting_queue"].c if c.name not in _NOT_COPIED
    )
    conn.execute(
        sa.text(
            f"INSERT INTO minting_queue (client_key, status, {copied})"
            f" SELECT '{key_prefix}' || g, '{status}', {copied} FROM minting_queue,"
            f" generate_series(1, {count}) g WHERE client_key = 'first'"
        )
    )


def _pages_read(conn: sa.Connection, query: str) -> int:
    (plan,) = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {query}").scalar_one()
    top = plan["Plan"]
    return top["Shared Hit Blocks"] + top["Shared Read Blocks"]
