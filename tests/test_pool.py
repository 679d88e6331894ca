"""PostgreSQL only: the pool's liveness policy (chaindb/pool.py). A connection the server
closed is found without a round trip; a transfer costs one server transaction, not two; a
server restart costs a polling process only the errors of its window."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

import chaindb
from chaindb import core, ledger, migrations
from tests.pg_cluster import private_cluster

TRANSFERS = 200
POLLS_MAX = 100
POLLER = Path(__file__).with_name("pool_poller.py")
ROOT = Path(__file__).parent.parent
WAIT_S = 60


@pytest.fixture
def funded(pg_url):
    db = chaindb.connect(pg_url)
    migrations.migrate(db)
    for user in ("alice", "bob"):
        core.create_user(db, user)
    ledger.transfer(db, debit="system:issuance", credit="user:alice", amount=10**30, kind="deposit")
    yield db
    db.close()


def admin(pg_admin_url: str) -> sa.Engine:
    url = make_url(pg_admin_url).set(drivername="postgresql+psycopg")
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def warm(db, connections: int) -> None:
    """Hold `connections` pooled connections at once, then give them back to the pool."""
    ready, release = threading.Barrier(connections + 1), threading.Event()

    def hold() -> None:
        with db.connection() as conn:
            conn.exec_driver_sql("SELECT 1")
            ready.wait(30)
            release.wait(30)

    threads = [threading.Thread(target=hold) for _ in range(connections)]
    for thread in threads:
        thread.start()
    ready.wait(30)
    release.set()
    for thread in threads:
        thread.join()


def gone(killer: sa.Engine, name: str) -> None:
    """pg_terminate_backend returns once the signal is sent: wait until the backends ended (a
    connection closed while it sat in the pool, as after a restart or an idle timeout)."""
    with killer.connect() as conn:
        for _ in range(POLLS_MAX):
            alive = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = :name AND application_name = 'chaindb'"
                ),
                {"name": name},
            ).scalar_one()
            if alive == 0:
                return
            threading.Event().wait(0.05)
    raise AssertionError("the killed backends did not end")


def test_ten_kills_of_idle_pooled_connections_surface_no_error(funded, pg_url, pg_admin_url):
    name = make_url(pg_url).database
    killer = admin(pg_admin_url)
    for kill in range(10):
        warm(funded, connections=3)
        with killer.connect() as conn:
            killed = conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :name AND application_name = 'chaindb'"
                ),
                {"name": name},
            ).scalar_one()
        assert killed >= 1, kill
        gone(killer, name)
        for _ in range(3):  # a read first: nothing retries it, the checkout must pass over
            assert core.get_user(funded, "bob") is not None  # the connection the server closed
            ledger.transfer(
                funded, debit="user:alice", credit="user:bob", amount=1, kind="transfer"
            )
    assert ledger.get_balance(funded, "user:bob").available == 30
    killer.dispose()


def test_a_transfer_is_one_server_transaction(funded, pg_url, pg_admin_url):
    """No ping round trip before each checkout: xact_commit grows by one per transfer (plus
    what a new connection runs once to learn the server)."""
    name = make_url(pg_url).database
    funded.close()  # its backends flush their statistics as they end
    without_autovacuum(make_url(pg_admin_url).set(database=name))
    counter = admin(pg_admin_url)
    commits = sa.text("SELECT xact_commit FROM pg_stat_database WHERE datname = :name")

    def settled() -> int:
        with counter.connect() as conn:
            seen = None
            for _ in range(POLLS_MAX):  # until every ended backend's counts are in
                now = conn.execute(commits, {"name": name}).scalar_one()
                alive = conn.execute(
                    sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name"),
                    {"name": name},
                ).scalar_one()
                if now == seen and alive == 0:
                    return now
                seen = now
                threading.Event().wait(0.1)
        raise AssertionError("the statistics never settled")

    before = settled()
    db = chaindb.connect(pg_url)
    for _ in range(TRANSFERS):
        ledger.transfer(db, debit="user:alice", credit="user:bob", amount=1, kind="transfer")
    db.close()
    grown = settled() - before
    assert TRANSFERS <= grown <= TRANSFERS + 10, grown  # was 2 x TRANSFERS with a pre-ping
    counter.dispose()


def without_autovacuum(url: sa.URL) -> None:
    """Autovacuum's own transactions count in xact_commit too, and the ledger's tables are
    tuned to be vacuumed often (ledger_0003): one visiting during the count is not the
    transfers' doing. A clean slate first, then none during the count."""
    engine = sa.create_engine(
        url.set(drivername="postgresql+psycopg"),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
    )
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
        tables = conn.exec_driver_sql(
            "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema()"
        ).scalars()
        for table in list(tables):
            conn.exec_driver_sql(f"ALTER TABLE {table} SET (autovacuum_enabled = off)")
    engine.dispose()


def attempts(path: Path) -> list[dict]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line.endswith("}")]


def wait_until(done, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not done():
        assert time.monotonic() < deadline, f"waited {WAIT_S} s for {what}"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_poller_survives_a_restart_with_errors_only_in_its_window(pg_admin_url, tmp_path):
    """PostgreSQL only, on a cluster of the test's own: the suite's server is shared."""
    with private_cluster() as cluster:
        db = chaindb.connect(cluster.url)
        migrations.migrate(db)
        for user in ("alice", "bob"):
            core.create_user(db, user)
        ledger.transfer(
            db, debit="system:issuance", credit="user:alice", amount=10**6, kind="deposit"
        )
        out, stop = tmp_path / "attempts.jsonl", tmp_path / "stop"
        poller = subprocess.Popen(
            [sys.executable, str(POLLER), cluster.url, str(out), str(stop)],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until(lambda: sum(not a["error"] for a in attempts(out)) >= 20, "20 transfers")
            went_down = time.time()
            cluster.restart()
            came_up = time.time()
            wait_until(
                lambda: sum(a["start"] > came_up and not a["error"] for a in attempts(out)) >= 20,
                "20 transfers after the restart",
            )
        finally:
            stop.touch()
            assert poller.wait(timeout=WAIT_S) == 0, poller.stderr.read()[-2000:]
        done = attempts(out)
        failed = [a for a in done if a["error"]]
        assert [a for a in failed if a["start"] > came_up or a["end"] < went_down] == []
        moved = ledger.get_balance(db, "user:bob").available
        succeeded = len(done) - len(failed)
        # a commit the restart cut off before its answer may or may not have landed
        assert succeeded <= moved <= succeeded + len(failed)
        assert ledger.check_ledger(db).ok
        db.close()
