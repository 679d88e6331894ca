"""Read replicas, PostgreSQL only (SQLite has none): a primary and a streaming replica of the
test's own on loopback (tests/pg_cluster.py, pg_basebackup -R). Stale-tolerant reads go to the
replica, read-your-writes holds, and a replica that lags or is down is skipped without an
error reaching the caller."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from chaindb import core, ledger, migrations
from chaindb.config import Settings, normalise_url
from chaindb.database import Database
from chaindb.health import check_health
from chaindb.ops.diagnose import diagnose
from tests.pg_cluster import Cluster, private_cluster, streaming_replica

CATCH_UP_WAIT_S = 2.0  # generous: the machine is shared (catching up takes ms)
pytestmark = pytest.mark.slow  # starts two servers of its own


@pytest.fixture(scope="module")
def clusters(pg_admin_url: str) -> Iterator[tuple[Cluster, Cluster]]:
    """A primary migrated to head, then its streaming replica (pg_admin_url: PostgreSQL's
    binaries are there, installed by scripts/with-postgres)."""
    with private_cluster() as primary:
        db = Database(normalise_url(primary.url))
        migrations.migrate(db)
        for user in ("alice", "bob", "carol"):
            core.create_user(db, user)
        db.close()
        with streaming_replica(primary) as replica:
            yield primary, replica


def connect(clusters: tuple[Cluster, Cluster], **settings: float) -> Database:
    primary, replica = clusters
    options = {"replica_wait_s": CATCH_UP_WAIT_S, "replica_lag_max_s": 60.0, **settings}
    return Database(normalise_url(primary.url), Settings(read_urls=(replica.url,), **options))


def on_replica(db: Database) -> bool:
    with db.replica_read() as conn:
        return bool(conn.execute(sa.text("SELECT pg_is_in_recovery()")).scalar_one())


def replay(replica: Cluster, *, paused: bool) -> None:
    engine = sa.create_engine(normalise_url(replica.url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        verb = "pause" if paused else "resume"
        conn.execute(sa.text(f"SELECT pg_wal_replay_{verb}()"))
    engine.dispose()


def deposit(db: Database, user: str, amount: int) -> None:
    ledger.transfer(
        db, debit="system:issuance", credit=f"user:{user}", amount=amount, kind="deposit"
    )


def board(db: Database) -> dict[str, int]:
    return {entry.user_id: entry.balance for entry in ledger.leaderboard(db)}


def test_stale_reads_go_to_the_replica_and_a_writer_reads_its_writes(clusters):
    _primary, replica = clusters
    writer, reader = connect(clusters), connect(clusters)
    assert on_replica(reader)
    with reader.replica_read(snapshot=False) as conn:  # in the replica's autocommit
        assert conn.execute(sa.text("SELECT pg_is_in_recovery()")).scalar_one()
    with reader.read() as conn:  # a plain read stays on the primary
        assert not conn.execute(sa.text("SELECT pg_is_in_recovery()")).scalar_one()
    deposit(writer, "alice", 100)
    assert board(writer)["alice"] == 100 and on_replica(writer)  # caught up within the wait

    replay(replica, paused=True)
    try:
        deposit(writer, "bob", 50)
        assert board(writer).get("bob") == 50  # the replica is behind: read on the primary
        assert not on_replica(writer)
        assert "bob" not in board(reader)  # no write of its own: the stale replica serves it
    finally:
        replay(replica, paused=False)
    assert board(writer).get("bob") == 50 and on_replica(writer)  # caught up again
    writer.close()
    reader.close()


def test_a_replica_lagging_past_the_bound_is_skipped(clusters):
    _primary, replica = clusters
    writer, reader = connect(clusters), connect(clusters, replica_lag_max_s=0.5)
    deposit(writer, "carol", 1)
    assert on_replica(writer)  # it replayed a transaction: its lag is measured from that one
    replay(replica, paused=True)
    try:
        deposit(writer, "carol", 1)
        time.sleep(1.0)  # the last transaction it replayed is now older than the bound
        assert not on_replica(reader)
        health = check_health(reader)
        assert health.status == "degraded" and health.replicas[0]["lag_s"] > 0.5
        codes = {(f.severity, f.code) for f in diagnose(reader).findings}
        assert ("warning", "replica-lag") in codes
    finally:
        replay(replica, paused=False)
    writer.close()
    reader.close()


def test_a_stopped_replica_is_skipped_and_reported(clusters, caplog):
    _primary, replica = clusters
    writer, reader = connect(clusters), connect(clusters)
    deposit(writer, "alice", 7)
    assert on_replica(writer)
    assert check_health(reader).status == "healthy"
    replica.stop()
    with caplog.at_level(logging.WARNING, logger="chaindb.replicas"):
        assert not on_replica(reader)  # no error reaches the caller
        assert board(reader)["alice"] >= 7
    assert "skipped" in caplog.text
    health = check_health(reader)
    assert health.status == "degraded" and health.replicas[0]["reachable"] is False
    assert "replica-down" in {f.code for f in diagnose(reader).findings}
    writer.close()
    reader.close()
