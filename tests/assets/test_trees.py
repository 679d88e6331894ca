"""Merkle trees: only shapes Solana accepts, capacity 2**depth, leaves given once each and
never past a tree's capacity, the next tree used when one is full."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.exc import DBAPIError

from chaindb import Conflict, InvalidInput, assets
from tests.assets.conftest import enqueue, minter, register, wallet

ALLOCATORS = 8


def test_a_tree_has_capacity_two_to_the_depth(core_db):
    tree = register(core_db, depth=14, buffer=64, canopy_depth=0)
    assert (tree.capacity, tree.next_leaf_index, tree.leaves_left) == (2**14, 0, 2**14)
    deep = register(core_db, "deep", depth=30, buffer=2048, canopy_depth=13)
    assert deep.capacity == 2**30
    with pytest.raises(Conflict, match="already registered"):
        register(core_db, depth=14, buffer=64)


@pytest.mark.parametrize(
    ("depth", "buffer", "canopy", "rule"),
    [
        (14, 32, 0, "not a shape Solana's concurrent merkle tree accepts"),
        (4, 8, 0, "not a shape"),
        (5, 8, 6, "canopy_depth must be at most max_depth"),
        (30, 512, 12, "canopy_depth must be at least max_depth - 17"),
        (31, 2048, 20, "max_depth"),
    ],
)
def test_a_shape_solana_refuses_is_refused(core_db, depth, buffer, canopy, rule):
    with pytest.raises(InvalidInput, match=rule):
        register(core_db, depth=depth, buffer=buffer, canopy_depth=canopy)
    assert assets.list_trees(core_db) == []


def test_leaves_fill_a_tree_then_the_next_and_never_pass_capacity(core_db):
    small = register(core_db, "small", depth=3, buffer=8)
    for n in range(10):
        enqueue(core_db, f"j{n}")
    batch = assets.claim_batch(core_db, worker_id="w", batch_size_max=10)
    assert batch is not None and len(batch.jobs) == 8  # the one tree has 8 leaves
    assert sorted(j.leaf_index for j in batch.jobs) == list(range(8))
    (claim,) = assets.get_audit_log(core_db, operation="claim_batch")
    assert sorted(claim.details["jobs"]) == sorted(j.id for j in batch.jobs)  # the 8 only
    assert assets.claim_batch(core_db, worker_id="w") is None
    (full,) = assets.list_trees(core_db)
    assert (full.tree_address, full.fill_ratio) == (small.tree_address, 1.0)
    second = register(core_db, "second", depth=3, buffer=8)
    rest = assets.claim_batch(core_db, worker_id="w", batch_size_max=10)
    assert {(j.merkle_tree, j.leaf_index) for j in rest.jobs} == {
        (second.tree_address, 0),
        (second.tree_address, 1),
    }


def test_concurrent_claims_on_a_nearly_full_tree_share_out_its_last_leaves(core_db):
    """Eight workers claim at once from a tree with 3 leaves left, then a second tree: every
    leaf is given once, the full tree gets no extra leaf (threads, both backends)."""
    register(core_db, "nearly full", depth=3, buffer=8)
    for n in range(5):
        enqueue(core_db, f"early{n}")
    assets.claim_batch(core_db, worker_id="early", batch_size_max=5)
    register(core_db, "next", depth=3, buffer=8)
    for n in range(ALLOCATORS * 2):
        enqueue(core_db, f"race{n}")
    start = threading.Barrier(ALLOCATORS)
    claimed = []

    def claim() -> None:
        start.wait()
        batch = assets.claim_batch(
            core_db, worker_id=threading.current_thread().name, batch_size_max=2
        )
        if batch is not None:
            claimed.extend((j.merkle_tree, j.leaf_index) for j in batch.jobs)

    threads = [threading.Thread(target=claim, name=f"w{n}") for n in range(ALLOCATORS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == len(set(claimed)) == 11  # 3 left in the first tree, 8 in the next
    trees = {tree.tree_address: tree for tree in assets.list_trees(core_db)}
    assert {t.next_leaf_index for t in trees.values()} == {8}
    first = wallet("nearly full")
    assert sorted(i for t, i in claimed if t == first) == [5, 6, 7]
    assert assets.verify(core_db) == []


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_claim_takes_the_next_tree_while_another_claim_fills_the_first(core_db):
    """PostgreSQL alone (SQLite lets one transaction write at a time): a claim does not wait
    for the tree another claim's open transaction is filling, it takes the next tree with
    room; once that transaction commits, the oldest tree with room comes first again."""
    first = register(core_db, "first", depth=3, buffer=8).tree_address
    second = register(core_db, "second", depth=3, buffer=8).tree_address
    for n in range(6):
        enqueue(core_db, f"j{n}")
    with core_db.transaction() as holding:
        held = assets.claim_batch(holding, worker_id="holding", batch_size_max=2)
        with core_db.transaction() as other:
            other.exec_driver_sql("SET LOCAL lock_timeout = '5s'")  # waiting: an error
            beside = assets.claim_batch(other, worker_id="beside", batch_size_max=2)
    after = assets.claim_batch(core_db, worker_id="after", batch_size_max=2)

    def leaves(batch):
        return sorted((job.merkle_tree, job.leaf_index) for job in batch.jobs)

    assert leaves(held) == [(first, 0), (first, 1)]
    assert leaves(beside) == [(second, 0), (second, 1)]
    assert leaves(after) == [(first, 2), (first, 3)]
    assert assets.verify(core_db) == []


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_transactions_holding_one_tree_each_do_not_wait_for_each_others(core_db):
    """PostgreSQL alone (SQLite lets one transaction write at a time). Two transactions each
    take the last leaf of a tree, then claim again: each finds the other's tree locked. Had
    either waited for it, they would deadlock; a transaction holding a tree takes only what
    is free, so both go through, and the job without a leaf stays queued."""
    first = register(core_db, "first", depth=3, buffer=8).tree_address
    second = register(core_db, "second", depth=3, buffer=8).tree_address
    for n in range(20):
        enqueue(core_db, f"j{n}")
    assets.claim_batch(core_db, worker_id="setup", batch_size_max=7)  # first: 1 leaf left
    with core_db.transaction() as holding:  # second: 1 leaf left, taken beside the first
        holding.exec_driver_sql(
            "SELECT 1 FROM merkle_trees WHERE tree_address = %s FOR NO KEY UPDATE", (first,)
        )
        assets.claim_batch(core_db, worker_id="setup", batch_size_max=7)
    took_one = {"a": threading.Event(), "b": threading.Event()}
    outcome: dict[str, object] = {}

    def two_claims(name: str, other: str) -> None:
        try:
            with core_db.transaction() as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
                one = assets.claim_batch(conn, worker_id=name, batch_size_max=1)
                took_one[name].set()
                took_one[other].wait(10)
                two = assets.claim_batch(conn, worker_id=name, batch_size_max=1)
            outcome[name] = [(job.merkle_tree, job.leaf_index) for job in one.jobs], two
        except Exception as error:  # the deadlock, named in the assertion below
            outcome[name] = error

    threads = [threading.Thread(target=two_claims, args=pair) for pair in (("a", "b"), ("b", "a"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcome.values(), key=str) == [([(first, 7)], None), ([(second, 7)], None)]
    assert assets.queue_counts(core_db)["pending"] == 20 - 16
    assert assets.verify(core_db) == []


DEADLOCK = "DO $$ BEGIN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01'; END $$"


def _a_deadlock_first(monkeypatch, module, name: str = "claim_into") -> list[object]:
    """The module's `name` (a claim's or a completion's writes) is ended, the first time,
    after its writes, as PostgreSQL ends a deadlock's victim: the server raises SQLSTATE
    40P01 in its transaction. Then it runs as always."""
    real, calls = getattr(module, name), []

    def writes_then_deadlock(conn, *args, **kwargs):
        calls.append(args or kwargs)
        written = real(conn, *args, **kwargs)
        if len(calls) == 1:
            conn.exec_driver_sql(DEADLOCK)
        return written

    monkeypatch.setattr(module, name, writes_then_deadlock)
    return calls


def count(db, sql: str) -> int:
    with db.connection() as conn:
        return conn.exec_driver_sql(sql).scalar_one()


CLAIMS = "SELECT count(*) FROM blockchain_audit_logs WHERE operation = 'claim_batch'"


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_claim_ended_by_a_deadlock_is_made_again(tree_db, monkeypatch):
    """PostgreSQL alone (SQLite's one writer never deadlocks): a claim in its own transaction
    is made again, the victim's batch and audit row gone with it; in the caller's
    transaction, the error is the caller's."""
    from chaindb.assets import claiming

    jobs = [enqueue(tree_db, f"d{n}") for n in range(3)]
    calls = _a_deadlock_first(monkeypatch, claiming)
    batch = assets.claim_batch(tree_db, worker_id="w", batch_size_max=2)
    assert len(calls) == 2 and [job.id for job in batch.jobs] == [job.id for job in jobs[:2]]
    assert count(tree_db, "SELECT count(*) FROM memory_batches") == count(tree_db, CLAIMS) == 1
    assert assets.verify(tree_db) == []
    calls.clear()
    with pytest.raises(DBAPIError, match="deadlock"), tree_db.transaction() as conn:
        assets.claim_batch(conn, worker_id="w", batch_size_max=2)
    assert len(calls) == 1 and assets.queue_counts(tree_db)["pending"] == 1


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_completion_ended_by_a_deadlock_is_recorded_again(tree_db, monkeypatch):
    """PostgreSQL alone: the completion's writes rolled back with the victim are written by
    the next attempt, once."""
    from chaindb.assets import completing

    for n in range(2):
        enqueue(tree_db, f"c{n}")
    batch = assets.claim_batch(tree_db, worker_id="w", batch_size_max=2)
    calls = _a_deadlock_first(monkeypatch, completing, "record_completion")
    outcome = assets.complete_batch(tree_db, batch, minter()(batch))
    assert len(calls) == 2 and outcome.status == "completed"
    assert sorted(outcome.completed_job_ids) == sorted(job.id for job in batch.jobs)
    assert count(tree_db, "SELECT count(*) FROM memory_assets") == 2
    assert assets.verify(tree_db) == []


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_worker_whose_claim_is_ended_by_a_deadlock_goes_on(tree_db, monkeypatch):
    """PostgreSQL alone: the batch completed with the failed claim is recorded, and the next
    batch claimed again; every job is completed once."""
    from chaindb.assets import worker

    for n in range(5):
        enqueue(tree_db, f"w{n}")
    calls = _a_deadlock_first(monkeypatch, worker)  # the claims made with a completion
    report = assets.run_worker(tree_db, mint=minter(), worker_id="w", batch_size_max=2, once=True)
    # The first ended its transaction, the first batch's completion with it; the two others
    # were made with the next completions (the last found nothing ready).
    assert len(calls) == 3
    assert (report.batches, report.completed) == (3, 5)
    assert assets.queue_counts(tree_db) == {"completed": 5}
    assert count(tree_db, "SELECT count(*) FROM memory_assets") == 5
    assert count(tree_db, "SELECT count(*) FROM memory_batches") == count(tree_db, CLAIMS) == 3
    assert assets.verify(tree_db) == []
