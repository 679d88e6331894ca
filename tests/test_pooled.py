"""Behind PgBouncer in transaction mode (CHAINDB_POOLER=transaction), PostgreSQL only: a real
PgBouncer of the test's own (tests/pgbouncer.py) in front of the suite's server. What a
session-based client gets wrong there, chaindb does not: the migration lock still excludes a
second holder while other transactions go through the same server connections, the statement
timeout holds in every transaction, and a client not told it is pooled is told what to set.
(The ledger, lock, concurrency, security and query tests run through it too: `make test`.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from chaindb import ConnectionFailed, MigrationLockTimeout
from chaindb.config import Settings
from chaindb.database import Database
from chaindb.migrations.lock import migration_lock
from tests.pgbouncer import pgbouncer_in_front_of

POOLED = Settings(pooler="transaction", migration_lock_timeout_s=1.0, statement_timeout_s=7.0)
TRANSACTIONS_BETWEEN = 20  # enough to hand the lock's server connection to someone else


@pytest.fixture
def bouncer_url(pg_url: str, pg_admin_url: str) -> Iterator[sa.URL]:
    """The test's database, through PgBouncer (even under --through-pgbouncer: a bouncer of
    this test's own, in front of the server itself)."""
    name = make_url(pg_url).database
    with pgbouncer_in_front_of(pg_admin_url) as url:
        yield url.set(database=name, drivername="postgresql+psycopg")


def test_the_migration_lock_holds_through_the_pooler(bouncer_url):
    holder, other = Database(bouncer_url, POOLED), Database(bouncer_url, POOLED)
    with migration_lock(holder):
        for _ in range(TRANSACTIONS_BETWEEN):
            with other.read() as conn:
                conn.execute(sa.text("SELECT 1"))
        with pytest.raises(MigrationLockTimeout, match="held by"), migration_lock(other):
            pass
    with migration_lock(other):  # released with its transaction
        pass
    holder.close()
    other.close()


def test_the_statement_timeout_is_set_in_each_transaction(bouncer_url):
    db = Database(bouncer_url, POOLED)
    for _ in range(3):
        with db.transaction() as conn:
            assert conn.execute(sa.text("SHOW statement_timeout")).scalar_one() == "7s"
    db.close()


def test_a_client_not_told_it_is_pooled_is_told_what_to_set(bouncer_url):
    db = Database(bouncer_url, Settings())
    with pytest.raises(ConnectionFailed, match="CHAINDB_POOLER=transaction"), db.read():
        pass
    db.close()
