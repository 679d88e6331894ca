"""The embedded database: SQLite's engine and pragmas, SQLCipher encryption, WAL checkpoints.

With CHAINDB_SQLITE_KEY set, the file is encrypted by SQLCipher (the `sqlcipher3` binding, a
drop-in for the standard library's sqlite3 module: same API, same exceptions by name); every
connection is keyed before it reads a page. Anything else that opens a chaindb file (backup,
restore) opens it through `open_file`, keyed the same way.

The seed's `checkpoint_interval`: SQLite already checkpoints the WAL by itself every 1,000 pages,
but never shrinks the file, and a reader in the way makes that checkpoint stop short. So a
connection returned to the pool, when the interval has passed, runs a TRUNCATE checkpoint that
does not wait (no busy timeout): a reader or writer in the way only postpones it to the next
interval. No thread: the WAL grows only while the application writes, and then connections come
back to the pool all the time.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

from chaindb.config import Settings
from chaindb.errors import ConfigError
from chaindb.types import UintSumAggregate

SQLITE_CACHE_KIB = 64_000
SQLITE_MMAP_BYTES = 256 * 1024 * 1024
ONE_PASS_CACHE_KIB = 2_000  # a read that never comes back to a page needs few of them
SQLCIPHER_EXTRA = "pip install 'chaindb[sqlcipher]'"
log = logging.getLogger(__name__)


class Checkpoint(NamedTuple):
    """What `PRAGMA wal_checkpoint` answers: busy (1 when something kept it from finishing),
    the WAL's frames, and how many of them are now in the database file (-1, -1: no WAL)."""

    busy: int
    wal_frames: int
    checkpointed_frames: int


def sqlite_path(url: URL) -> Path | None:
    """The file behind a SQLite URL (also `sqlite:///file:path?mode=ro&uri=true`); None for
    PostgreSQL and in-memory databases."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if url.query.get("uri") == "true" and database.startswith("file:"):
        database = database.removeprefix("file:")
        return None if database == ":memory:" or "mode=memory" in str(url) else Path(database)
    return Path(database).expanduser()


def sqlite_driver(settings: Settings) -> ModuleType:
    """The DB-API module for the embedded database: SQLCipher's when a key is set."""
    if not settings.sqlite_key:
        return sqlite3
    try:
        from sqlcipher3 import dbapi2
    except ImportError:
        raise ConfigError(
            f"CHAINDB_SQLITE_KEY is set: an encrypted database needs SQLCipher: {SQLCIPHER_EXTRA}"
        ) from None
    return dbapi2


def dbapi_of(driver: Any) -> ModuleType:
    """The DB-API module a SQLite driver connection comes from (sqlite3 or SQLCipher's): its
    exception classes are its own."""
    return sys.modules[type(driver).__module__]


def busy_timeout_ms(settings: Settings) -> int:
    return int(settings.connection_timeout_s * 1000)


def open_file(path: Path, settings: Settings) -> Any:
    """A driver connection to a SQLite file beside the database (a backup's copy), encrypted
    with the database's key when it has one."""
    driver = sqlite_driver(settings).connect(path)
    if settings.sqlite_key:
        unlock(driver, settings.sqlite_key)
    return driver


def unlock(driver: Any, key: str) -> None:
    """Key a SQLCipher connection: before any other statement reads the file. A passphrase
    goes through SQLCipher's key derivation (PBKDF2, 256,000 rounds: measured 160 ms per new
    connection); a raw key, x'<64 hex digits>', skips it."""
    # A wrong key is reported by chaindb (see unreadable); SQLCipher would also log to stderr.
    driver.execute("PRAGMA cipher_log_level = NONE")
    driver.execute(f"PRAGMA key = '{key.replace(chr(39), chr(39) * 2)}'")


def unreadable(path: Path | None, settings: Settings) -> str:
    """What SQLite's 'file is not a database' means for a chaindb user."""
    where = f"the SQLite database at {path}" if path else "the SQLite database"
    if settings.sqlite_key:
        return (
            f"{where} cannot be opened with CHAINDB_SQLITE_KEY: the key is wrong, or the file "
            "is not encrypted (or not a database at all)"
        )
    return (
        f"{where} cannot be read: it is encrypted (set CHAINDB_SQLITE_KEY to its key) or not "
        "a SQLite database"
    )


def create_sqlite_engine(url: URL, settings: Settings) -> Engine:
    path = sqlite_path(url)
    if path is not None and not path.parent.is_dir():
        raise ConfigError(f"SQLite database directory {str(path.parent)!r} does not exist")
    busy_s = settings.connection_timeout_s
    pool: dict[str, Any] = {}
    if path is not None:  # a file: a pool of connections (in memory, one per thread)
        pool = {
            "pool_size": min(settings.pool_size, settings.max_connections),
            "max_overflow": settings.pool_max_overflow,
            "pool_timeout": busy_s,
        }
    engine = sa.create_engine(
        url,
        module=sqlite_driver(settings),
        connect_args={"timeout": busy_s, "check_same_thread": False},
        **pool,
    )
    if settings.sqlite_key:  # first: SQLAlchemy's own first query would read the file
        key = settings.sqlite_key
        sa.event.listen(engine, "connect", lambda driver, _record: unlock(driver, key), insert=True)
    sa.event.listen(engine, "connect", _pragmas(settings))
    sa.event.listen(engine, "begin", _begin)
    if path is not None and settings.checkpoint_interval_s > 0:
        sa.event.listen(engine, "checkin", PeriodicCheckpoint(settings.checkpoint_interval_s))
    return engine


def _pragmas(settings: Settings) -> Any:
    def configure(driver: Any, _record: object) -> None:
        # The driver's own transaction handling makes DDL non-transactional and starts
        # transactions lazily; chaindb begins them itself (see _begin below).
        driver.isolation_level = None
        for pragma in (
            f"busy_timeout = {busy_timeout_ms(settings)}",
            "journal_mode = WAL",
            f"synchronous = {settings.sqlite_synchronous}",
            f"cache_size = -{SQLITE_CACHE_KIB}",
            f"mmap_size = {SQLITE_MMAP_BYTES}",
            "temp_store = MEMORY",
            "foreign_keys = ON",
        ):
            driver.execute(f"PRAGMA {pragma}")
        driver.create_aggregate("chaindb_uint_sum", 1, UintSumAggregate)

    return configure


@contextmanager
def one_pass_reads(conn: Connection) -> Iterator[None]:
    """For a read that passes once over tables of any size (an export), on SQLite: no memory
    map and a small page cache while it runs, the connection's own settings back after it.
    Through the map, every page read stays mapped into the process until the connection closes
    (file-backed: the kernel may drop it, but it counts in the process's resident size, up to
    SQLITE_MMAP_BYTES), and the cache would fill with pages the read never comes back to.
    Measured on a 500k-row export: 222 MB resident (156 MB of them the map's) became 96 MB,
    as fast."""
    if conn.dialect.name != "sqlite":
        yield
        return
    driver = conn.connection.driver_connection
    assert driver is not None
    kept = [
        (name, driver.execute(f"PRAGMA {name}").fetchone()[0])
        for name in ("mmap_size", "cache_size")
    ]
    driver.execute("PRAGMA mmap_size = 0")
    driver.execute(f"PRAGMA cache_size = -{ONE_PASS_CACHE_KIB}")
    try:
        yield
    finally:
        for name, value in kept:
            driver.execute(f"PRAGMA {name} = {int(value)}")


def _begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")


def wal_checkpoint(driver: Any, *, wait: bool) -> Checkpoint:
    """PRAGMA wal_checkpoint(TRUNCATE): the WAL copied into the database file and emptied.
    `wait`: wait as long as the busy timeout for readers and writers in the way; else take no
    lock that anyone waits for, and do what can be done now."""
    if wait:
        return Checkpoint(*driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())
    busy_ms = driver.execute("PRAGMA busy_timeout").fetchone()[0]
    driver.execute("PRAGMA busy_timeout = 0")
    try:
        return Checkpoint(*driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())
    finally:
        driver.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")


class PeriodicCheckpoint:
    """A pool check-in listener: a non-waiting TRUNCATE checkpoint once `interval_s` has
    passed since the last one (one at a time per engine)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._due = time.monotonic() + interval_s
        self._running = threading.Lock()
        self.last: Checkpoint | None = None

    def __call__(self, driver: Any, _record: object) -> None:
        if driver is None or time.monotonic() < self._due or driver.in_transaction:
            return
        if not self._running.acquire(blocking=False):
            return  # another thread is checkpointing right now
        try:
            self._due = time.monotonic() + self.interval_s
            self.last = wal_checkpoint(driver, wait=False)
        except Exception as error:  # a checkpoint is housekeeping: never the caller's failure
            log.warning("periodic WAL checkpoint failed: %s", error)
        finally:
            self._running.release()
