"""A process that moves 1 unit from alice to bob every few milliseconds until told to stop,
writing each attempt's start, end and outcome as a JSON line (tests/test_pool.py)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import chaindb
from chaindb import ledger

PAUSE_S = 0.01


def main(url: str, out: Path, stop: Path) -> None:
    db = chaindb.connect(url)
    with out.open("w") as records:
        attempt = 0
        while not stop.exists():
            attempt += 1
            started = time.time()
            try:
                ledger.transfer(
                    db, debit="user:alice", credit="user:bob", amount=1, kind="transfer",
                    idempotency_key=f"poll:{attempt}",
                )  # fmt: skip
                error = None
            except Exception as failure:  # every error is the test's finding
                error = f"{type(failure).__name__}: {str(failure)[:200]}"
            record = {"start": started, "end": time.time(), "error": error}
            records.write(json.dumps(record) + "\n")
            records.flush()
            time.sleep(PAUSE_S)
    db.close()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
