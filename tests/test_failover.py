"""Failover without losing a transfer, PostgreSQL only: Patroni with etcd and two nodes on
loopback, synchronous replication on (tests/patroni_cluster.py); chaindb connects with a
multi-host URL (target_session_attrs=read-write). While 4 writer processes send transfers with
idempotency keys, the leader's Patroni and PostgreSQL are killed (SIGKILL); Patroni promotes
the replica; the writers' bounded retries resend with the same keys. Every acknowledged
transfer is then there exactly once and the ledger check is clean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

import chaindb
from chaindb import core, ledger, migrations
from chaindb.ledger.schema import ledger_transfers
from tests.patroni_cluster import patroni_cluster

pytestmark = pytest.mark.slow  # etcd, two Patroni nodes, four writer processes
WRITERS = 4
ACKS_BEFORE = 20  # per writer, before the kill, and again after the failover
WAIT_S = 120
WRITER = Path(__file__).with_name("failover_writer.py")
ROOT = Path(__file__).parent.parent


def progress(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {"acked": {}, "errors": [], "unknown": []}


def wait_until(done, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not done():
        assert time.monotonic() < deadline, f"waited {WAIT_S} s for {what}"
        time.sleep(0.1)


def prepare(url: str) -> None:
    db = chaindb.connect(url)
    migrations.migrate(db, modules=["ledger"])
    for number in range(WRITERS):
        core.create_user(db, f"w{number}")
        ledger.transfer(
            db, debit="system:issuance", credit=f"user:w{number}", amount=10**9, kind="deposit"
        )
    core.create_user(db, "sink")
    db.close()


def test_a_killed_leader_loses_no_acknowledged_transfer(pg_admin_url, tmp_path):
    """pg_admin_url: PostgreSQL's binaries are there (scripts/with-postgres)."""
    with patroni_cluster() as cluster:
        prepare(cluster.url)
        outs = [tmp_path / f"w{n}.json" for n in range(WRITERS)]
        stop = tmp_path / "stop"
        writers = [
            subprocess.Popen(
                [sys.executable, str(WRITER), cluster.url, f"w{n}", str(out), str(stop)],
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stderr=subprocess.PIPE,
                text=True,
            )
            for n, out in enumerate(outs)
        ]
        try:
            wait_until(lambda: all(len(progress(o)["acked"]) >= ACKS_BEFORE for o in outs), "acks")
            killed_at = time.time()
            cluster.kill_leader()
            wait_until(lambda: cluster.leader() is not None, "Patroni to promote the replica")
            wait_until(
                lambda: all(
                    sum(at > killed_at for at in progress(o)["acked"].values()) >= ACKS_BEFORE
                    for o in outs
                ),
                "acks after the failover",
            )
        finally:
            stop.touch()
            for writer in writers:
                assert writer.wait(timeout=WAIT_S) == 0, writer.stderr.read()[-2000:]
        results = [progress(out) for out in outs]
        acked = {key for r in results for key in r["acked"]}
        assert [key for r in results for key in r["unknown"]] == []
        db = chaindb.connect(cluster.url)
        with db.read() as conn:
            stored = conn.execute(
                sa.select(ledger_transfers.c.idempotency_key, sa.func.count())
                .where(ledger_transfers.c.idempotency_key.is_not(None))
                .group_by(ledger_transfers.c.idempotency_key)
            ).all()
        counts = dict(stored)
        assert acked <= set(counts), "an acknowledged transfer was lost"
        assert set(counts.values()) == {1}
        assert ledger.check_ledger(db).ok
        db.close()
        first_ack_after = min(at for r in results for at in r["acked"].values() if at > killed_at)
        errors = [e for r in results for e in r["errors"]]
        print(
            json.dumps(
                {
                    "failover_s": round(first_ack_after - killed_at, 1),
                    "errors_reaching_writers": len(errors),
                    "acknowledged": len(acked),
                    "error_kinds": sorted({e["error"].split(":")[0] for e in errors}),
                }
            )
        )
