"""The migration lock: many processes migrating at once apply each migration exactly once.

PostgreSQL: a session-level advisory lock, taken by polling pg_try_advisory_lock until a
deadline (a blocking pg_advisory_lock deadlocks against CREATE INDEX CONCURRENTLY in another
session), released in `finally`; the server drops it if the holder dies. Behind a transaction
pooler (CHAINDB_POOLER=transaction) a session is not ours to keep: the lock is then
transaction-scoped (pg_try_advisory_xact_lock) in a transaction held open for the whole
migration, which pins one server connection until it ends. SQLite: a row in
`chaindb_migration_lock`, inserted in BEGIN IMMEDIATE when there is none; a row left by a
process of this host that is no longer running is taken over. Every step still runs in its own
transaction and re-reads what is applied, so the lock is what keeps waiters quiet and fair, not
what keeps them correct.

On both backends the holder writes who it is into `chaindb_migration_lock`: a waiter says once
"waiting for the migration lock held by ...", and gives up after
CHAINDB_MIGRATION_LOCK_TIMEOUT_S with a MigrationLockTimeout that names the holder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_delay, wait_random

from chaindb.database import Database
from chaindb.errors import MigrationLockTimeout
from chaindb.migrations.bookkeeping import LOCK_TABLE, actor, lock_table
from chaindb.sqlite_engine import busy_timeout_ms
from chaindb.types import utc_now

# A lock row with our own pid taken before this module was loaded is a previous process's.
_PROCESS_SEEN_AT = utc_now()
LOCK_POLL_MIN_S = 0.05
LOCK_POLL_MAX_S = 0.25
log = logging.getLogger("chaindb.migrations")


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, as far as a waiter can tell."""

    name: str
    since: datetime | None = None
    pid: int | None = None
    host: str | None = None

    def __str__(self) -> str:
        since = f" since {self.since:%Y-%m-%d %H:%M:%S} UTC" if self.since else ""
        return f"{self.name}{since}"

    def is_gone(self) -> bool:
        """A holder on this host whose process is no longer running left the lock behind: its
        pid runs nothing, or it is our own pid from before this process started (a container
        restarted gives the new process the old one's pid)."""
        if self.pid is None or self.host != socket.gethostname():
            return False
        if self.pid == os.getpid():
            return self.since is not None and self.since < _PROCESS_SEEN_AT
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # running, as another user
            return False
        return False


UNKNOWN_HOLDER = Holder("another process")


@contextmanager
def migration_lock(db: Database) -> Iterator[None]:
    """Hold the database's migration lock for the block (waiting for it as configured)."""
    lock = _lock_for(db)
    with lock.session():
        _wait_for(lock, db.settings.migration_lock_timeout_s)
        try:
            yield
        finally:
            lock.release()


def _lock_for(db: Database) -> _PostgresLock | _SqliteLock:
    if db.backend != "postgresql":
        return _SqliteLock(db)
    return _PooledPostgresLock(db) if db.settings.pooled else _PostgresLock(db)


def _wait_for(lock: _PostgresLock | _SqliteLock, timeout_s: float) -> None:
    announced: list[Holder] = []

    def announce_once(state: RetryCallState) -> None:
        if not announced and state.outcome is not None:
            announced.append(holder := state.outcome.result())
            log.warning(
                "waiting for the migration lock held by %s (up to %g s: "
                "CHAINDB_MIGRATION_LOCK_TIMEOUT_S)",
                holder,
                timeout_s,
            )

    def give_up(state: RetryCallState) -> None:
        holder = state.outcome.result() if state.outcome else UNKNOWN_HOLDER
        raise MigrationLockTimeout(
            f"the migration lock is held by {holder}: gave up after waiting "
            f"{state.seconds_since_start:.1f} s (CHAINDB_MIGRATION_LOCK_TIMEOUT_S={timeout_s:g})"
            f"{lock.stale_hint}"
        )

    retrying = Retrying(
        stop=stop_after_delay(timeout_s),
        wait=wait_random(LOCK_POLL_MIN_S, LOCK_POLL_MAX_S),
        retry=retry_if_result(lambda holder: holder is not None),
        before_sleep=announce_once,
        retry_error_callback=give_up,
    )
    retrying(lock.try_acquire)


class _PostgresLock:
    stale_hint = ""  # the server drops a dead session's advisory lock

    def __init__(self, db: Database) -> None:
        self.db = db
        self.token = secrets.token_hex(16)
        self.conn: Connection | None = None

    @contextmanager
    def session(self) -> Iterator[None]:
        """The advisory lock belongs to one server session: keep its connection open."""
        with self.db.connection() as conn:
            self.conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            self.key = _lock_key(self.conn)
            yield

    def try_acquire(self) -> Holder | None:
        assert self.conn is not None
        query = sa.text("SELECT pg_try_advisory_lock(:key)")
        if not self.conn.execute(query, {"key": self.key}).scalar_one():
            return _read_holder(self.conn) or UNKNOWN_HOLDER
        # Under the advisory lock, so no other chaindb creates the table at the same time.
        lock_table.create(self.conn, checkfirst=True)
        _write_holder(self.conn, self.token)
        return None

    def release(self) -> None:
        assert self.conn is not None
        try:
            _erase_holder(self.conn, self.token)
        finally:
            self.conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})


class _PooledPostgresLock(_PostgresLock):
    """The advisory lock of one transaction, held open while the migration runs on other
    connections. The holder's row is written in a transaction of its own, so that waiters
    see it at once."""

    @contextmanager
    def session(self) -> Iterator[None]:
        with self.db.connection() as conn:
            self.conn = conn
            self.key = _lock_key(conn)
            conn.rollback()  # no transaction is kept while waiting
            try:
                yield
            finally:
                conn.rollback()  # ends the transaction: the server lets the lock go

    def try_acquire(self) -> Holder | None:
        assert self.conn is not None
        query = sa.text("SELECT pg_try_advisory_xact_lock(:key)")
        if not self.conn.execute(query, {"key": self.key}).scalar_one():
            self.conn.rollback()
            with self.db.read() as conn:
                return _read_holder(conn) or UNKNOWN_HOLDER
        with self.db.transaction() as conn:
            lock_table.create(conn, checkfirst=True)
        with self.db.transaction() as conn:
            _write_holder(conn, self.token)
        return None

    def release(self) -> None:
        assert self.conn is not None
        try:
            with self.db.transaction() as conn:
                _erase_holder(conn, self.token)
        finally:
            self.conn.rollback()


class _SqliteLock:
    # A row left by a process of another host is not taken over (nothing here can tell it is
    # gone): say how to clear it.
    stale_hint = (
        "; if that process is gone for good, clear its row with the sqlite3 shell: "
        "DELETE FROM chaindb_migration_lock"
    )

    def __init__(self, db: Database) -> None:
        self.db = db
        self.token = secrets.token_hex(16)

    @contextmanager
    def session(self) -> Iterator[None]:
        yield

    def try_acquire(self) -> Holder | None:
        with self.db.read() as conn:  # readers never wait in WAL: no write lock to look
            holder = _read_holder(conn)
        if holder is not None and not holder.is_gone():
            return holder
        with self.db.connection() as conn:
            # BEGIN IMMEDIATE waits for other writers: a poll's worth, not SQLite's 30 s. On
            # the driver's connection: through SQLAlchemy the PRAGMA would begin a transaction.
            driver = conn.connection.dbapi_connection
            assert driver is not None
            driver.execute(f"PRAGMA busy_timeout = {int(LOCK_POLL_MAX_S * 1000)}")
            try:
                return self._insert_unless_held(conn)
            except OperationalError as error:
                if getattr(error.orig, "sqlite_errorname", "") != "SQLITE_BUSY":
                    raise
                return holder or Holder("another process's write transaction")
            finally:
                driver.execute(f"PRAGMA busy_timeout = {busy_timeout_ms(self.db.settings)}")

    def _insert_unless_held(self, conn: Connection) -> Holder | None:
        with conn.begin():
            lock_table.create(conn, checkfirst=True)
            holder = _read_holder(conn)
            if holder is not None and not holder.is_gone():
                return holder
            if holder is not None:
                log.warning("taking over the migration lock left by %s (no longer running)", holder)
            conn.execute(lock_table.delete())
            _write_holder(conn, self.token)
        return None

    def release(self) -> None:
        with self.db.transaction() as conn:
            _erase_holder(conn, self.token)


def _read_holder(conn: Connection) -> Holder | None:
    if not sa.inspect(conn).has_table(LOCK_TABLE):
        return None
    row = conn.execute(sa.select(lock_table)).mappings().first()
    if row is None:
        return None
    return Holder(row["holder"], row["acquired_at"], row["pid"], row["host"])


def _write_holder(conn: Connection, token: str) -> None:
    conn.execute(lock_table.delete())
    conn.execute(
        lock_table.insert().values(
            id=1,
            holder=actor(),
            host=socket.gethostname(),
            pid=os.getpid(),
            token=token,
            acquired_at=utc_now(),
        )
    )


def _erase_holder(conn: Connection, token: str) -> None:
    if sa.inspect(conn).has_table(LOCK_TABLE):
        conn.execute(lock_table.delete().where(lock_table.c.token == token))


def _lock_key(conn: Connection) -> int:
    """One lock per schema, so that tenants in separate schemas do not wait for each other."""
    schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
    digest = hashlib.sha256(f"chaindb.migrate:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
