"""PostgreSQL only: the pool's liveness policy (chaindb/pool.py). A connection the server
closed is found without a round trip; a transfer costs one server transaction, not two."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

import chaindb
from chaindb import core, ledger, migrations

TRANSFERS = 200
POLLS_MAX = 100


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
