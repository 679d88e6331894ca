"""Is a pooled PostgreSQL connection still alive? Found out without a round trip when we can.

SQLAlchemy's pre-ping sends a statement before every checkout: a round trip, and on the
server a transaction of its own, for every transaction the application runs (measured: two
server transactions per ledger transfer). chaindb's policy, as mature pools keep it (HikariCP
skips its test for a connection used within the last 500 ms):

- at every checkout, for free: a connection the server has closed (a restart,
  pg_terminate_backend, an idle timeout) has something to read on its socket, its goodbye and
  its end; a non-blocking look at the socket finds that (then a ping confirms it), and the
  pool takes another connection;
- a connection idle longer than POOL_PING_IDLE_S is also pinged (an empty query: the
  cheapest round trip, though the server counts it as a transaction of its own), for what a
  socket cannot tell (a peer that vanished without a word);
- a disconnect that still slips through, found while a transaction runs and before its
  commit, is raised as ConnectionLost: nothing was committed, and a caller may run the whole
  transaction again on a fresh connection (the ledger does, once).

A connection given back is rolled back only if a transaction is open on it (SQLAlchemy's
rollback-on-return calls into the driver for every one). The ledger's plain transfer takes its
connection with `take` and returns it with `give_back`: the pool's own record, from the pool's
own queue, without the proxy SQLAlchemy builds around each checkout (same limits, same checks).
On both backends, a connection idle in the pool longer than the idle timeout is replaced when
next taken out.
"""

from __future__ import annotations

import select
import time
import weakref
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry, Pool

POOL_PING_IDLE_S = 1.0
CHECKOUT_ATTEMPTS_MAX = 2  # as SQLAlchemy's: a connection found closed is replaced, then again
_IDLE_SINCE = "chaindb_idle_since"
_IDLE = 0  # libpq's PQTRANS_IDLE: no transaction open on the connection


def keep_alive(engine: Engine, idle_timeout_s: float = 0.0) -> None:
    """Install the policy on a PostgreSQL engine (created with pool_pre_ping off and
    pool_reset_on_return=None), with close_idle's `idle_timeout_s` (0: none) in the same
    listener: one call per checkout, not two."""
    _note_check_ins(engine)

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_s = _idle_s(record)
        if 0 < idle_timeout_s < idle_s:
            record.info.pop(_IDLE_SINCE, None)
            raise DisconnectionError(f"idle for more than {idle_timeout_s:g} s")  # pool retries
        stale = idle_s > POOL_PING_IDLE_S and not _ping(dbapi_connection)
        if stale or _closed_by_the_server(dbapi_connection):
            raise DisconnectionError("the server closed this pooled connection")  # pool retries

    sa.event.listen(engine, "checkout", checked_out)
    sa.event.listen(engine, "reset", _roll_back_if_open)


def close_idle(engine: Engine, idle_timeout_s: float) -> None:
    """The seed's idle_timeout (SQLite; keep_alive has it on PostgreSQL): a pooled connection
    idle for longer is closed when next taken out, and the pool opens a fresh one in its
    place. SQLAlchemy's pools have no reaper thread: until then it stays open."""
    _note_check_ins(engine)

    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if _idle_s(record) > idle_timeout_s:
            record.info.pop(_IDLE_SINCE, None)
            raise DisconnectionError(f"idle for more than {idle_timeout_s:g} s")  # pool retries

    sa.event.listen(engine, "checkout", checked_out, insert=True)


def _note_check_ins(engine: Engine) -> None:
    if not sa.event.contains(engine, "checkin", _checked_in):
        sa.event.listen(engine, "checkin", _checked_in)


def _idle_s(record: Any) -> float:
    now = time.monotonic()
    return now - record.info.get(_IDLE_SINCE, now)


def _roll_back_if_open(dbapi_connection: Any, _record: Any, state: Any) -> None:
    """The pool's reset of a connection given back, as SQLAlchemy's rollback-on-return does
    it, less the call into the driver for a connection with no transaction open: the ledger's
    one-statement transfers, and every Connection that has rolled back or committed already.
    (That call cost a plain transfer more CPU than anything else of the pool's.)"""
    if state.transaction_was_reset or not state.asyncio_safe:
        return
    if dbapi_connection.pgconn.transaction_status != _IDLE:
        dbapi_connection.rollback()  # in a transaction, failed, or broken: psycopg decides


def is_disconnect(engine: Engine, error: BaseException, dbapi_connection: Any) -> bool:
    """Whether `error` means the connection is gone (as the dialect judges it)."""
    orig = getattr(error, "orig", error)
    return bool(engine.dialect.is_disconnect(orig, dbapi_connection, None))


def _checked_in(dbapi_connection: Any, record: Any) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _closed_by_the_server(dbapi_connection: Any) -> bool:
    """A pooled connection has nothing to read unless the server spoke: most likely its
    goodbye (a FATAL message, then the end of the stream). Only then is it pinged to be sure
    (a notice or a NOTIFY would be harmless)."""
    if dbapi_connection.closed or dbapi_connection.broken:
        return True
    readable, _, _ = select.select([dbapi_connection.pgconn.socket], [], [], 0)
    return bool(readable) and not _ping(dbapi_connection)


def _ping(dbapi_connection: Any) -> bool:
    """An empty query: no parse, no snapshot, no lock (the server still counts it in
    xact_commit: a ping is a server transaction, hence only for an idle connection)."""
    from psycopg import pq

    try:
        result = dbapi_connection.pgconn.exec_(b"")
    except Exception:
        return False
    return bool(result.status == pq.ExecStatus.EMPTY_QUERY)


# --- a checkout without SQLAlchemy's proxy, for one statement on the driver's own connection ---


class _Held:
    """What a record taken by `take` refers to while it is out: SQLAlchemy reads a record whose
    reference is set, and alive, as in use (never as one a lost proxy left behind)."""


_HELD = weakref.ref(_Held)


def take(pool: Pool) -> ConnectionPoolEntry:
    """A pooled connection for a hot path that runs one statement on the driver's own
    connection (the ledger's plain transfer), given back by `give_back`.

    engine.raw_connection() wraps each checkout in a proxy (a _ConnectionFairy) that registers a
    weakref.finalize, dispatches its events and undoes it all at its return: that cost a plain
    transfer more of its CPU than anything else of the pool's. This takes the pool's own record
    from the pool's own queue, as the proxy does: the same limits and waits (the pool's size,
    overflow and timeout), the same checkout listeners (the liveness check: a connection found
    closed is replaced, CHECKOUT_ATTEMPTS_MAX times, as SQLAlchemy does), the same checkin ones.
    The listeners get no proxy (None): chaindb's need none."""
    record = pool._do_get()  # the pool's queue (a subclass's hook): its limits, its wait
    record.fairy_ref = _HELD  # type: ignore[attr-defined]
    try:
        for _ in range(CHECKOUT_ATTEMPTS_MAX):
            dbapi_connection = record.get_connection()  # type: ignore[attr-defined]
            try:
                pool.dispatch.checkout(dbapi_connection, record, None)
                return record
            except DisconnectionError as error:
                record.invalidate(error)  # the next get_connection opens a new one
        raise DisconnectionError("a new connection was found closed too")
    except BaseException as error:
        record.invalidate(error)
        record.checkin()  # type: ignore[attr-defined]
        raise


def give_back(record: ConnectionPoolEntry) -> None:
    """Return what `take` gave. A connection with a transaction open (which a lone statement
    run outside a transaction block never leaves), or broken, is closed rather than reset:
    nothing goes back to the pool in a state the next user would inherit."""
    driver = record.driver_connection
    if driver is not None and (
        driver.broken or driver.closed or driver.pgconn.transaction_status != _IDLE
    ):
        record.invalidate()
    record.checkin()  # type: ignore[attr-defined]
