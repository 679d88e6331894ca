"""One worker process of the queue concurrency test.

    python queue_worker.py URL NAME LEASE_S [MARKER]
Works batches (run_worker) until the queue has nothing pending or processing (or its
deadline passes), then prints a JSON tally. With MARKER it is the victim: its first mint
writes MARKER and hangs, until the test kills it with SIGKILL.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import chaindb
from chaindb import assets
from tests.assets.conftest import minter

DEADLINE_S = 240.0
IDLE_WAIT_S = 0.1
MINT_PAUSE_S = 0.02  # long enough for the workers' batches to interleave


def main() -> None:
    url, name, lease_s = sys.argv[1], sys.argv[2], float(sys.argv[3])
    marker = Path(sys.argv[4]) if len(sys.argv) > 4 else None
    db = chaindb.connect(url)
    real = minter()

    def mint(batch: assets.ClaimedBatch) -> assets.MintReceipt:
        if marker is not None:
            marker.write_text(json.dumps([job.id for job in batch.jobs]))
            time.sleep(DEADLINE_S)  # hangs mid-job until killed
        time.sleep(MINT_PAUSE_S)
        return real(batch)

    tally = {"batches": 0, "completed": 0, "lost": 0}
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        # Until nothing is ready; each batch completed in the transaction claiming the next.
        report = assets.run_worker(
            db, mint=mint, worker_id=name, batch_size_max=3, lease_s=lease_s, once=True
        )
        tally["batches"] += report.batches
        tally["completed"] += report.completed
        tally["lost"] += report.lost
        counts = assets.queue_counts(db)
        if not counts.get("pending") and not counts.get("processing"):
            break
        time.sleep(IDLE_WAIT_S)
    db.close()
    print(json.dumps(tally))


if __name__ == "__main__":
    main()
