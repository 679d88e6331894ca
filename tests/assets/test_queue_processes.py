"""The queue under four worker processes, one of them killed with SIGKILL in the middle of a
batch: every job is completed exactly once and no leaf is given twice (both backends)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from chaindb import assets
from tests.assets.conftest import enqueue, register

WORKERS = 4
JOBS = 40
LEASE_S = 2.0
WORKER = Path(__file__).with_name("queue_worker.py")
ROOT = Path(__file__).parent.parent.parent
MARKER_WAIT_S = 60.0


def start_worker(db_url: str, name: str, marker: Path | None = None) -> subprocess.Popen:
    args = [sys.executable, str(WORKER), db_url, name, str(LEASE_S)]
    return subprocess.Popen(
        args + ([str(marker)] if marker else []),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.slow
def test_four_workers_one_killed_mid_batch_complete_every_job_once(core_db, db_url, tmp_path):
    register(core_db, depth=6, buffer=16)  # 64 leaves for 40 jobs
    jobs = [enqueue(core_db, f"job{n}").id for n in range(JOBS)]
    marker = tmp_path / "victim-holds"
    victim = start_worker(db_url, "victim", marker)
    deadline = time.monotonic() + MARKER_WAIT_S
    # Written by write_text, which creates the file before it writes: wait for its content.
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), victim.stderr.read() if victim.poll() is not None else "no claim"
    held = json.loads(marker.read_text())
    others = [start_worker(db_url, f"w{n}") for n in range(WORKERS - 1)]
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    outcomes = [(w.wait(timeout=600), *w.communicate()) for w in others]
    assert [(code, err[-2000:]) for code, _out, err in outcomes if code != 0] == []
    tallies = [json.loads(out) for _code, out, _err in outcomes]
    assert sum(t["completed"] for t in tallies) == JOBS

    assert assets.queue_counts(core_db) == {"completed": JOBS}
    with core_db.read() as conn:
        minted = conn.execute(
            sa.text("SELECT queue_id, merkle_tree, leaf_index FROM memory_assets")
        ).all()
        mint_audits = conn.execute(
            sa.text("SELECT count(*) FROM blockchain_audit_logs WHERE operation = 'mint'")
        ).scalar_one()
    assert sorted(row.queue_id for row in minted) == jobs  # each job once
    assert sorted(row.leaf_index for row in minted) == list(range(JOBS))  # no leaf twice
    assert mint_audits == JOBS
    (tree,) = assets.list_trees(core_db)
    assert tree.next_leaf_index == JOBS  # the victim's leaves went to its jobs' retries
    for job_id in held:
        job = assets.get_job(core_db, job_id)
        assert job.attempts == 2 and job.worker_id != "victim"
    assert assets.verify(core_db) == []
