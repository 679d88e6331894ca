"""Queue workers: claim a batch, call the application's mint function, record what it did.

    from chaindb import assets
    assets.run_worker(db, mint=my_mint, worker_id="minter-1")   # until stop is set

The mint function is the application's task (as in a task queue): it gets a ClaimedBatch
(each job with its tree, leaf index and asset id) and returns a MintReceipt, or raises; chaindb
then completes the batch or schedules its retries. chaindb ships one: `SolanaMinter` builds
Bubblegum mint transactions and signs them locally, and sends them when it has an RPC node.
A stop (SIGTERM for the command) lets the batch in hand finish and be recorded first.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from chaindb.assets.claiming import claim_batch, claim_into
from chaindb.assets.completing import complete_batch, fail_batch, record_completion
from chaindb.assets.deadlocks import is_deadlock
from chaindb.assets.queue import LEASE_S_DEFAULT, BatchOutcome, ClaimedBatch, MintReceipt
from chaindb.database import Database

log = logging.getLogger("chaindb.assets")
MintFunction = Callable[[ClaimedBatch], MintReceipt]
IDLE_WAIT_S = 1.0  # between polls of an empty queue
BATCHES_PER_RUN_MAX = 10_000_000  # a bound on one run's loop; a long-lived worker is restarted


@dataclass
class WorkerReport:
    worker_id: str
    batches: int = 0
    completed: int = 0
    retried: int = 0
    dead: int = 0
    lost: int = 0
    outcomes: list[BatchOutcome] = field(default_factory=list)

    def record(self, outcome: BatchOutcome) -> None:
        self.batches += 1
        self.completed += len(outcome.completed_job_ids)
        self.retried += len(outcome.retried_job_ids)
        self.dead += len(outcome.dead_job_ids)
        self.lost += len(outcome.lost_job_ids)
        self.outcomes.append(outcome)

    def as_dict(self) -> dict[str, object]:
        return {
            "worker_id": self.worker_id,
            "batches": self.batches,
            "completed": self.completed,
            "retried": self.retried,
            "dead": self.dead,
            "lost": self.lost,
        }


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100_000}"


def work_once(
    db: Database,
    *,
    mint: MintFunction,
    worker_id: str,
    batch_size_max: int = 10,
    lease_s: float = LEASE_S_DEFAULT,
) -> BatchOutcome | None:
    """Claim one batch and see it through; None when nothing was ready."""
    batch = claim_batch(db, worker_id=worker_id, batch_size_max=batch_size_max, lease_s=lease_s)
    if batch is None:
        return None
    return _see_through(db, batch, mint=mint, claim=None)[0]


def run_worker(
    db: Database,
    *,
    mint: MintFunction,
    worker_id: str | None = None,
    batch_size_max: int = 10,
    lease_s: float = LEASE_S_DEFAULT,
    once: bool = False,
    stop: threading.Event | None = None,
    idle_wait_s: float = IDLE_WAIT_S,
) -> WorkerReport:
    """Work batches until `stop` is set (or, with `once`, until the queue has nothing ready).
    A batch in hand is always finished and recorded before the worker stops. A batch is
    completed and the next one claimed in one transaction (one commit a batch, not two)."""
    stop = stop or threading.Event()
    report = WorkerReport(worker_id=worker_id or default_worker_id())
    claim = {"worker_id": report.worker_id, "batch_size_max": batch_size_max, "lease_s": lease_s}
    batch: ClaimedBatch | None = None
    for _batch in range(BATCHES_PER_RUN_MAX):
        if batch is None:
            batch = None if stop.is_set() else claim_batch(db, **claim)
        if batch is None:  # stopped, or nothing ready
            if once or stop.is_set():
                break
            stop.wait(idle_wait_s)
            continue
        claiming = None if stop.is_set() else claim
        outcome, batch = _see_through(db, batch, mint=mint, claim=claiming)
        report.record(outcome)
        if batch is None and claiming is not None and outcome.status != "failed":
            if once:  # the claim made with the completion found nothing ready
                break
            stop.wait(idle_wait_s)
    return report


def _see_through(
    db: Database, batch: ClaimedBatch, *, mint: MintFunction, claim: dict[str, Any] | None
) -> tuple[BatchOutcome, ClaimedBatch | None]:
    """Mint the batch and record what happened; with `claim` (claim_batch's arguments), the
    next batch is claimed in the transaction that completes this one."""
    try:
        receipt = mint(batch)
    except Exception as error:  # the application's task failed: retry it, whatever it was
        log.warning("batch %s failed: %s", batch.batch_id, error)
        return fail_batch(db, batch, error=f"{type(error).__name__}: {error}"), None
    if claim is None:
        return complete_batch(db, batch, receipt), None
    try:
        with db.transaction() as conn:
            outcome = record_completion(conn, batch, receipt)
            return outcome, claim_into(conn, **claim)
    except SQLAlchemyError as error:
        # The claim's failure must not undo the completion: recorded on its own (run again
        # if a deadlock ends it too). A deadlock's victim (rare: claim_leaves.py) claims
        # again in a transaction of its own; any other error is raised.
        outcome = complete_batch(db, batch, receipt)
        if not is_deadlock(error):
            raise
        return outcome, claim_batch(db, **claim)
