"""Many writers at once: every rule still holds and no database error reaches a caller."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from chaindb import core, ledger

WRITERS = 8
TRANSFERS_PER_WRITER = 600  # each writer overlaps the others for its whole run
ACCOUNTS = 50
START_BALANCE = 2**65  # enough for many 2**64-sized transfers, past 64 bits from the start
WRITER = Path(__file__).with_name("concurrent_writer.py")


@pytest.mark.slow
def test_eight_writer_processes_at_once_keep_the_ledger_exact(core_db, db_url):
    for number in range(ACCOUNTS):
        core.create_user(core_db, f"u{number}")
    ledger.transfer_batch(
        core_db,
        [
            {
                "debit": "system:issuance",
                "credit": f"user:u{n}",
                "amount": START_BALANCE,
                "kind": "deposit",
            }
            for n in range(ACCOUNTS)
        ],
    )
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                str(WRITER),
                db_url,
                str(seed),
                str(TRANSFERS_PER_WRITER),
                str(ACCOUNTS),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in range(WRITERS)
    ]
    outcomes = [(w.wait(timeout=900), *w.communicate()) for w in writers]
    assert [(code, err[-2000:]) for code, _out, err in outcomes if code != 0] == []
    tallies = [json.loads(out) for _code, out, _err in outcomes]
    written = sum(t["written"] for t in tallies)
    assert written + sum(t["refused"] for t in tallies) == WRITERS * TRANSFERS_PER_WRITER
    assert written > WRITERS * TRANSFERS_PER_WRITER // 2

    report = ledger.check_ledger(core_db)
    assert report.ok, report.problems()
    with core_db.read() as conn:
        transfers = conn.execute(
            sa.text("SELECT count(*) FROM ledger_transfers WHERE kind = 'transfer'")
        ).scalar_one()
    assert transfers == written
    balances = [ledger.get_balance(core_db, f"user:u{n}").available for n in range(ACCOUNTS)]
    assert min(balances) >= 0
    assert sum(balances) == ACCOUNTS * START_BALANCE


def test_concurrent_retries_of_one_key_write_one_transfer(ledger_db):
    """Eight threads send the same keyed transfer at the same moment: one is written."""
    ledger.transfer(
        ledger_db, debit="system:issuance", credit="user:alice", amount=1_000, kind="deposit"
    )
    barrier = threading.Barrier(WRITERS)
    results: list[object] = []

    def retry() -> None:
        barrier.wait()
        try:
            results.append(
                ledger.transfer(
                    ledger_db,
                    debit="user:alice",
                    credit="user:bob",
                    amount=300,
                    kind="transfer",
                    idempotency_key="payout:challenge:42",
                )
            )
        except Exception as error:
            results.append(error)

    threads = [threading.Thread(target=retry) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(isinstance(r, ledger.Transfer) for r in results), results
    assert len({r.id for r in results}) == 1
    assert ledger.get_balance(ledger_db, "user:alice").available == 700
    assert ledger.get_balance(ledger_db, "user:bob").available == 300
    assert ledger.check_ledger(ledger_db).ok


def test_concurrent_different_payloads_for_one_key_write_one_and_refuse_the_rest(ledger_db):
    ledger.transfer(
        ledger_db, debit="system:issuance", credit="user:alice", amount=1_000, kind="deposit"
    )
    barrier = threading.Barrier(4)
    results: list[object] = []

    def send(receiver: str) -> None:
        barrier.wait()
        try:
            results.append(
                ledger.transfer(
                    ledger_db,
                    debit="user:alice",
                    credit=f"user:{receiver}",
                    amount=100,
                    kind="transfer",
                    idempotency_key="one-key",
                )
            )
        except Exception as error:
            results.append(error)

    threads = [
        threading.Thread(target=send, args=(name,)) for name in ("bob", "carol", "dave", "bob")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    written = {r.id for r in results if isinstance(r, ledger.Transfer)}
    refused = [r for r in results if not isinstance(r, ledger.Transfer)]
    assert len(written) == 1
    assert all(isinstance(r, chaindb_conflict()) for r in refused), refused
    assert ledger.get_balance(ledger_db, "user:alice").available == 900


def chaindb_conflict() -> type:
    from chaindb import Conflict

    return Conflict
