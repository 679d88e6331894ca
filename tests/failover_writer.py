"""A writer for the failover test: transfers of 1 unit from its own account, each with an
idempotency key, each retried with the same key (bounded) until acknowledged. Writes a JSON
summary: the keys acknowledged (with when), and every error that reached it."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import chaindb
from chaindb import ledger

TRANSFERS_MAX = 100_000
RETRIES_MAX = 120  # x RETRY_PAUSE_S: a minute, several times Patroni's failover
RETRY_PAUSE_S = 0.5
PAUSE_S = 0.01


def send(db: chaindb.Database, writer: str, key: str, errors: list[dict]) -> float | None:
    """The time of the acknowledgement, or None when the retries ran out."""
    for _ in range(RETRIES_MAX):
        try:
            ledger.transfer(
                db, debit=f"user:{writer}", credit="user:sink", amount=1, kind="transfer",
                idempotency_key=key,
            )  # fmt: skip
            return time.time()
        except Exception as failure:  # every error that reaches a writer is the test's finding
            errors.append(
                {"at": time.time(), "error": f"{type(failure).__name__}: {failure}"[:300]}
            )
            time.sleep(RETRY_PAUSE_S)
    return None


def main(url: str, writer: str, out: Path, stop: Path) -> None:
    db = chaindb.connect(url)
    acked: dict[str, float] = {}
    errors: list[dict] = []
    unknown: list[str] = []
    for number in range(TRANSFERS_MAX):
        if stop.exists():
            break
        key = f"{writer}:{number}"
        at = send(db, writer, key, errors)
        if at is None:
            unknown.append(key)
            break
        acked[key] = at
        if number % 20 == 0:
            report(out, acked, errors, unknown)
        time.sleep(PAUSE_S)
    report(out, acked, errors, unknown)
    db.close()


def report(out: Path, acked: dict[str, float], errors: list[dict], unknown: list[str]) -> None:
    """Replaced whole (a reader never sees half of it)."""
    partial = out.with_suffix(".partial")
    partial.write_text(json.dumps({"acked": acked, "errors": errors, "unknown": unknown}))
    partial.replace(out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
