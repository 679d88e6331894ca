"""Engines, pragmas, pools and transactions for SQLite and PostgreSQL.

Every write runs in a transaction from `Database.transaction()` (on SQLite: BEGIN IMMEDIATE, so
that a writer waits for the lock instead of failing halfway). Operations accept either a
`Database` (they open their own transaction) or a `Connection` already in one (they join it), so
writes that belong together share one transaction.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
import sqlalchemy.dialects.postgresql
import sqlalchemy.dialects.sqlite
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import ConnectionPoolEntry

from chaindb.config import Settings, mask_text, masked, normalise_url, secrets_of
from chaindb.errors import (
    ConfigError,
    ConnectionFailed,
    ConnectionLost,
    DatabaseMissing,
    EncryptionKeyError,
)
from chaindb.pool import close_idle, give_back, is_disconnect, keep_alive, take
from chaindb.replicas import PRIMARY_POSITION, REPLICA_CONNECT_TIMEOUT_S, ReplicaSet, ReplicaState
from chaindb.sqlite_engine import create_sqlite_engine, sqlite_path, unreadable

LIBPQ_CONNECT_TIMEOUT_MIN_S = 2  # libpq reads 1 as 2: say what it does


class Database:
    """A chaindb database: one engine, its dialect quirks, and its transactions."""

    def __init__(self, url: URL, settings: Settings | None = None) -> None:
        self.url = url
        self.settings = settings or Settings()
        self.engine = _create_engine(url, self.settings)
        self.replicas = self._replica_set()

    def _replica_set(self) -> ReplicaSet | None:
        if not self.settings.read_urls or self.backend != "postgresql":
            return None
        return ReplicaSet(
            [normalise_url(url) for url in self.settings.read_urls],
            lambda url: _create_postgres_engine(
                url, self.settings, connect_timeout_s=REPLICA_CONNECT_TIMEOUT_S
            ),
            lag_max_s=self.settings.replica_lag_max_s,
            wait_s=self.settings.replica_wait_s,
        )

    @property
    def backend(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    @property
    def display_url(self) -> str:
        return masked(self.url)

    def __repr__(self) -> str:
        return f"Database({self.display_url!r})"

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A pooled connection, no transaction begun."""
        try:
            with self._checkout() as conn:
                yield conn
        finally:
            self._written()  # the caller may have written: replicas must catch up first

    @contextmanager
    def _checkout(self) -> Iterator[Connection]:
        try:
            conn = self.engine.connect()
        except (DBAPIError, sa.exc.TimeoutError) as error:
            raise self._connect_failed(error) from None
        with conn:
            yield conn

    def _written(self) -> None:
        if self.replicas is not None:
            self.replicas.written()

    @contextmanager
    def transaction(self, *, as_wallet: str | None = None) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on any error. A connection
        lost before the commit raises ConnectionLost (nothing was written: it may run again);
        one lost in the commit itself raises as it came (did it commit? the caller must look).

        `as_wallet`: on PostgreSQL, the wallet the transaction acts for (the setting
        `app.current_user`, which row-level security policies read, such as the assets
        module's `owner_access`); it ends with the transaction, so a pooled connection never
        carries it to the next user. Ignored on SQLite, which has no row-level security."""
        with self.connection() as conn:
            transaction = conn.begin()
            try:
                if as_wallet is not None:
                    set_current_wallet(conn, as_wallet)
                yield conn
            except DBAPIError as error:
                lost = self._lost(conn, error)
                _roll_back(conn, transaction, lost)
                if lost:
                    raise ConnectionLost(
                        f"the connection was lost before the commit, nothing was written: "
                        f"{self.describe_error(error)}"
                    ) from error
                raise
            except BaseException:
                transaction.rollback()
                raise
            transaction.commit()

    def raw_connection(self) -> ConnectionPoolEntry:
        """PostgreSQL: a pooled connection as the driver's own, idle (no transaction begun),
        for a hot path that runs one statement through the driver (driver.LibpqStatement) and
        wants none of SQLAlchemy's per-call work: the pool's record itself, without the proxy
        engine.raw_connection() builds (pool.take). Give it back with give_back_raw, in a
        `finally` (not a context manager: a generator's cost, on a path that is all overhead)."""
        try:
            return take(self.engine.pool)
        except (DBAPIError, sa.exc.TimeoutError) as error:
            raise self._connect_failed(error) from None

    def give_back_raw(self, record: ConnectionPoolEntry) -> None:
        """What raw_connection gave, back to the pool (one found broken, or left in a
        transaction, leaves it); the caller may have written: replicas must catch up first."""
        self._written()
        give_back(record)

    def _connect_failed(self, error: Exception) -> ConnectionFailed:
        """Why no connection could be had, in the settings' words where one of them is why."""
        if isinstance(error, sa.exc.TimeoutError):  # every pooled connection stayed busy
            return ConnectionFailed(
                f"all {self.settings.max_connections} connections of this process are in use "
                f"and none came back within {self.settings.connection_timeout_s:g} s "
                "(CHAINDB_MAX_CONNECTIONS, CHAINDB_CONNECTION_TIMEOUT_S)"
            )
        if getattr(getattr(error, "orig", None), "sqlite_errorname", "") == "SQLITE_NOTADB":
            return EncryptionKeyError(unreadable(sqlite_path(self.url), self.settings))
        text = self.describe_error(error)
        if "unsupported startup parameter" in text:  # PgBouncer refusing `options`
            text += " (behind PgBouncer in transaction mode? set CHAINDB_POOLER=transaction)"
        return ConnectionFailed(text)

    def _lost(self, conn: Connection, error: DBAPIError) -> bool:
        if error.connection_invalidated or conn.invalidated:  # SQLAlchemy saw it already
            return True
        return is_disconnect(self.engine, error, conn.connection.dbapi_connection)

    @contextmanager
    def read(self, *, snapshot: bool = True) -> Iterator[Connection]:
        """A transaction for reads: one consistent snapshot for all its statements (SQLite: a
        deferred transaction reads one WAL snapshot and takes no write lock; PostgreSQL:
        REPEATABLE READ, where READ COMMITTED would give each statement its own).
        `snapshot=False`, for a read whose statements need not agree (or a single one): on
        PostgreSQL no transaction, each statement in autocommit, one round trip where BEGIN
        and COMMIT made three (on a busy machine each round trip can wait for a core)."""
        with self._checkout() as conn:
            if self.backend == "postgresql" and not snapshot:
                yield conn.execution_options(isolation_level="AUTOCOMMIT")
                return
            if self.backend == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            else:
                conn = conn.execution_options(sqlite_begin="DEFERRED")
            with conn.begin():
                yield conn

    @contextmanager
    def replica_read(self, *, snapshot: bool = True) -> Iterator[Connection]:
        """As read(), on a replica (CHAINDB_READ_URLS) when one is up, not lagging, and has
        replayed this Database's last write; else on the primary. For reads that may be
        slightly stale: never for a read whose result decides a write."""
        replica = self.replicas.checkout(self._primary_position) if self.replicas else None
        if replica is None:
            with self.read(snapshot=snapshot) as conn:
                yield conn
            return
        if not snapshot:  # the replica's connection comes in autocommit
            with replica:
                yield replica
            return
        with replica:
            replica.execution_options(isolation_level="REPEATABLE READ")
            with replica.begin():
                yield replica

    def _primary_position(self) -> int:
        with self._checkout() as conn:
            return int(conn.execute(PRIMARY_POSITION).scalar_one())

    def replica_states(self) -> list[ReplicaState]:
        """Each replica's reachability and lag, asked now (health, diagnose)."""
        return self.replicas.states() if self.replicas else []

    def exists(self) -> bool:
        """False only for a SQLite file that is not there yet (connecting would create it)."""
        path = sqlite_path(self.url)
        return path is None or path.exists()

    def require_exists(self) -> None:
        """Refuse a SQLite file that is not there (connecting would create an empty one)."""
        if not self.exists():
            raise DatabaseMissing(
                f"no database at {sqlite_path(self.url)}: `chaindb migrate` creates it "
                "(check CHAINDB_URL / DATABASE_URL if you meant another one)"
            )

    def describe_error(self, error: BaseException) -> str:
        """An error's text with the password removed, fit to print or log."""
        text = str(getattr(error, "orig", None) or error)
        for secret in [*secrets_of(self.url), self.settings.sqlite_key]:
            text = mask_text(text, secret)
        return mask_text(text)

    def close(self) -> None:
        self.engine.dispose()
        if self.replicas is not None:
            self.replicas.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _roll_back(conn: Connection, transaction: sa.RootTransaction, lost: bool) -> None:
    if lost:  # nothing to roll back on a dead connection: let the pool drop it
        if not conn.invalidated:
            conn.invalidate()
        return
    transaction.rollback()


@contextmanager
def writing(target: Database | Connection) -> Iterator[Connection]:
    """A transaction for a write: a new one on a Database, a savepoint inside a caller's."""
    if isinstance(target, Database):
        with target.transaction() as conn:
            yield conn
    elif target.in_transaction():
        with target.begin_nested():
            yield target
    else:
        with target.begin():
            yield target


@contextmanager
def reading(
    target: Database | Connection, *, stale_ok: bool = False, snapshot: bool = True
) -> Iterator[Connection]:
    """A read: a snapshot of its own on a Database, the caller's transaction on a Connection.
    `stale_ok`: the read may run on a replica (see Database.replica_read); `snapshot=False`:
    its statements need not share one (see Database.read)."""
    if isinstance(target, Database):
        read = target.replica_read if stale_ok else target.read
        with read(snapshot=snapshot) as conn:
            yield conn
    else:
        yield target


def set_current_wallet(conn: Connection, wallet: str) -> None:
    """PostgreSQL: `app.current_user` = wallet until the end of the current transaction
    (set_config(..., true)); what row-level security policies compare owners with."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.text("SELECT set_config('app.current_user', :wallet, true)"), {"wallet": wallet}
        )


def dialect_insert(conn: Connection, table: sa.Table) -> Any:
    """INSERT with the dialect's ON CONFLICT clauses (SQLite and PostgreSQL spell them alike)."""
    if conn.dialect.name == "postgresql":
        return sa.dialects.postgresql.insert(table)
    return sa.dialects.sqlite.insert(table)


def _create_engine(url: URL, settings: Settings) -> Engine:
    if url.get_backend_name() != "sqlite":
        return _create_postgres_engine(url, settings, idle_timeout_s=settings.idle_timeout_s)
    engine = create_sqlite_engine(url, settings)
    if settings.idle_timeout_s > 0:
        close_idle(engine, settings.idle_timeout_s)
    return engine


def _create_postgres_engine(
    url: URL,
    settings: Settings,
    *,
    connect_timeout_s: float | None = None,
    idle_timeout_s: float = 0.0,
) -> Engine:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise ConfigError(
            "PostgreSQL needs the psycopg driver: pip install 'chaindb[postgres]'"
        ) from None
    # UTF-8 whatever the server's or the URL's encoding: the hot paths that read the
    # server's bytes themselves (driver.LibpqStatement's rows, the export's lines) take them
    # as UTF-8, and the server converts from any database encoding.
    connect_args: dict[str, Any] = {"application_name": "chaindb", "client_encoding": "UTF8"}
    if connect_timeout_s is not None:
        connect_args["connect_timeout"] = connect_timeout_s
    timeout_ms = int(settings.statement_timeout_s * 1000)
    if settings.pooled:
        # PgBouncer refuses the `options` startup parameter, and a server connection serves
        # other clients between our transactions: no statement is prepared on it (psycopg
        # prepares one run 5 times by default; PgBouncer 1.18 cannot track them).
        connect_args["prepare_threshold"] = None
    else:
        options = (url.query.get("options"), f"-c statement_timeout={timeout_ms}")
        connect_args["options"] = " ".join(part for part in options if isinstance(part, str))
    if connect_timeout_s is None and "connect_timeout" not in url.query:
        # a URL's own connect_timeout wins
        connect_timeout_s = math.ceil(settings.connection_timeout_s)
        connect_args["connect_timeout"] = max(connect_timeout_s, LIBPQ_CONNECT_TIMEOUT_MIN_S)
    engine = sa.create_engine(
        url,
        pool_size=min(settings.pool_size, settings.max_connections),
        max_overflow=settings.pool_max_overflow,
        pool_timeout=settings.connection_timeout_s,
        connect_args=connect_args,
        pool_reset_on_return=None,  # keep_alive's reset rolls back only what is open
    )
    keep_alive(engine, idle_timeout_s)  # liveness without a round trip per checkout (pool.py)
    if settings.pooled:
        _statement_timeout_per_transaction(engine, timeout_ms)
    return engine


def _statement_timeout_per_transaction(engine: Engine, timeout_ms: int) -> None:
    """Behind a transaction pooler, the statement timeout is set in each transaction (SET
    LOCAL: it ends with it). A statement in autocommit (the ledger's one-statement transfers)
    gets the server's own: set it on the role too (ALTER ROLE ... SET statement_timeout)."""

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        if not conn.connection.driver_connection.autocommit:  # type: ignore[union-attr]
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {timeout_ms}")


def elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
